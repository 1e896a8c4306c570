"""Is the planner right? Its predictions against what the sweep measured.

Every row a planned codec writes carries its plan's predicted figures
(``detail.predicted``: the expected per-image figures over the link's outcomes). Per
(codec, channel, budget, SNR) point, :func:`compare` sets the mean predicted object F1 and
PSNR against the measured means of the same rows, with the measured means' 95 % intervals
(1.96 standard errors over the rows), and counts the points within the tolerances
(F1 ±0.04, PSNR ±0.7 dB). ``semcom plan --check DIR`` prints the table and draws the
figure.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

#: How far a prediction may lie from the measured mean and still count as holding.
TOLERANCE = {"f1": 0.04, "psnr": 0.7}


def compare(store_dir: str | Path):
    """A DataFrame, one row per planned (codec, channel, budget, SNR) point: points, the
    measured and predicted means of F1 and PSNR, the measured 95 % half-widths, and whether
    each prediction holds."""
    import pandas as pd

    from experiments.store import Store
    from semcom.errors import SemcomError
    from semcom.values import per_image_f1

    store = Store(store_dir, create=False)
    try:
        df = store.frame()
    finally:
        store.close()
    if df.empty:
        raise SemcomError(f"the store in {store_dir} holds no rows.")
    details = [json.loads(d) if isinstance(d, str) else (d or {}) for d in df["detail"]]
    pred = [d.get("predicted") for d in details]
    df = df.assign(
        pred_f1=[p.get("f1") if p else None for p in pred],
        pred_psnr=[p.get("psnr") if p else None for p in pred],
    )
    df = df[df["pred_psnr"].notna()]
    if df.empty:
        raise SemcomError(
            f"no rows in {store_dir} were planned (codecs with mcs: planned carry predictions)."
        )
    df = df.assign(f1=[per_image_f1(r) for _, r in df.iterrows()])
    out = []
    for key, g in df.groupby(["codec", "channel", "budget_cpp", "snr_db"], sort=True):
        row = dict(zip(("codec", "channel", "budget_cpp", "snr_db"), key, strict=True))
        row["points"] = len(g)
        for f in ("f1", "psnr"):
            vals = g[f].astype(float)
            row[f] = float(vals.mean())
            row[f"{f}_ci"] = 1.96 * float(vals.std(ddof=1)) / math.sqrt(len(g)) if len(g) > 1 else 0
            row[f"pred_{f}"] = float(g[f"pred_{f}"].astype(float).mean())
            row[f"{f}_holds"] = abs(row[f] - row[f"pred_{f}"]) <= TOLERANCE[f]
        out.append(row)
    return pd.DataFrame(out)


def markdown(table) -> str:
    """The comparison as a Markdown table and a summary line."""
    lines = [
        "| codec | channel | cpp | SNR (dB) | points | F1 measured | F1 predicted | "
        "PSNR measured (dB) | PSNR predicted (dB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        flag = {f: "" if r[f"{f}_holds"] else " ✗" for f in ("f1", "psnr")}
        lines.append(
            f"| {r['codec']} | {r['channel']} | {r['budget_cpp']:g} | {r['snr_db']:g} | "
            f"{r['points']} | {r['f1']:.3f} ± {r['f1_ci']:.3f} | {r['pred_f1']:.3f}{flag['f1']} | "
            f"{r['psnr']:.2f} ± {r['psnr_ci']:.2f} | {r['pred_psnr']:.2f}{flag['psnr']} |"
        )
    n = len(table)
    both = int((table["f1_holds"] & table["psnr_holds"]).sum())
    lines.append("")
    lines.append(
        f"Predictions within F1 ±{TOLERANCE['f1']} and PSNR ±{TOLERANCE['psnr']} dB of the "
        f"measured means: F1 at {int(table['f1_holds'].sum())}/{n} points, PSNR at "
        f"{int(table['psnr_holds'].sum())}/{n}, both at {both}/{n} ({100 * both / n:.0f} %); "
        "✗ marks a miss; ± is the measured mean's 95 % half-width."
    )
    return "\n".join(lines)


def figure(table, path: Path) -> None:
    """Predicted against measured F1 and PSNR, one point per (codec, channel, budget, SNR),
    the tolerance band around the diagonal; PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from channels.plotting import save_png_pdf

    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.8))
    markers = {"awgn": "o", "rayleigh": "s"}
    for ax, f, label in ((axes[0], "f1", "object F1"), (axes[1], "psnr", "PSNR (dB)")):
        lo = min(table[f].min(), table[f"pred_{f}"].min())
        hi = max(table[f].max(), table[f"pred_{f}"].max())
        pad = 0.05 * (hi - lo + 1e-9)
        grid = [lo - pad, hi + pad]
        tol = TOLERANCE[f]
        ax.fill_between(grid, [g - tol for g in grid], [g + tol for g in grid], color="0.9")
        ax.plot(grid, grid, color="0.5", lw=0.8)
        for (codec, channel), g in table.groupby(["codec", "channel"]):
            ax.errorbar(
                g[f"pred_{f}"],
                g[f],
                yerr=g[f"{f}_ci"],
                fmt=markers.get(channel, "^"),
                ms=4,
                lw=0.6,
                label=f"{codec}, {channel}",
            )
        ax.set_xlabel(f"predicted {label}")
        ax.set_ylabel(f"measured {label}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    fig.suptitle("Planned protection: predicted against measured (band: the tolerance)", fontsize=9)
    fig.tight_layout()
    save_png_pdf(fig, path)
