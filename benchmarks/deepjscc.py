"""Deep JSCC against MTGC and the best conventional codec at the same budget: a table.

Run after the sweep of ``experiments/configs/deepjscc.yaml``::

    semcom sweep experiments/configs/deepjscc.yaml --out runs/deepjscc
    .venv/bin/python benchmarks/deepjscc.py runs/deepjscc [--channel awgn] [--markdown]

For every channel, budget and SNR it prints the mean PSNR (dB) and the mean attribute
accuracy (the ShapesWorld probe; "-" without it) over the scenes of Deep JSCC, MTGC and
the conventional codec (jpeg, webp, jpeg2000, avif, jpegxl) with the highest mean PSNR
at that point, named in the last column. Figures come from the results store only.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from experiments.store import Store
from semcom.baselines import CODEC_NAMES

COLUMNS = ("channel", "budget_cpp", "snr_db")


def _fmt(value: float, digits: int) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def table(folder: Path, channels: list[str] | None = None) -> list[dict]:
    """One row per (channel, budget, SNR): PSNR and attribute accuracy of deepjscc, mtgc
    and the best conventional codec (by mean PSNR)."""
    store = Store(folder, create=False)
    try:
        df = store.frame()
    finally:
        store.close()
    if "attribute_accuracy" not in df.columns:
        df["attribute_accuracy"] = math.nan
    means = df.groupby(["codec", *COLUMNS])[["psnr", "attribute_accuracy"]].mean().reset_index()
    rows = []
    for key, g in means.groupby(list(COLUMNS)):
        if channels and key[0] not in channels:
            continue
        by = g.set_index("codec")
        conv = by[by.index.isin(CODEC_NAMES)]
        best = conv["psnr"].idxmax() if not conv.empty else None
        row = dict(zip(COLUMNS, key, strict=True))
        for label, codec in (("deepjscc", "deepjscc"), ("mtgc", "mtgc"), ("best", best)):
            have = codec is not None and codec in by.index
            row[f"{label}_psnr"] = float(by.loc[codec, "psnr"]) if have else math.nan
            row[f"{label}_acc"] = float(by.loc[codec, "attribute_accuracy"]) if have else math.nan
        row["best_codec"] = best or "-"
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path, help="The sweep's --out folder.")
    parser.add_argument("--channel", action="append", help="Only this channel (repeatable).")
    parser.add_argument("--markdown", action="store_true", help="Print a Markdown table.")
    args = parser.parse_args()
    rows = table(args.store, args.channel)
    head = (
        "channel",
        "cpp",
        "SNR dB",
        "Deep JSCC PSNR",
        "acc",
        "MTGC PSNR",
        "acc",
        "best conv. PSNR",
        "acc",
        "best conv.",
    )
    body = [
        (
            r["channel"],
            f"{r['budget_cpp']:g}",
            f"{r['snr_db']:g}",
            _fmt(r["deepjscc_psnr"], 2),
            _fmt(r["deepjscc_acc"], 3),
            _fmt(r["mtgc_psnr"], 2),
            _fmt(r["mtgc_acc"], 3),
            _fmt(r["best_psnr"], 2),
            _fmt(r["best_acc"], 3),
            r["best_codec"],
        )
        for r in rows
    ]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for line in body:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for line in body:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
