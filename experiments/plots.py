"""Figures of a sweep, drawn from its results store (never from memory).

- ``vs_snr_<channel>``: fidelity against Es/N0 at one budget, one line per codec;
- ``vs_budget_<channel>``: fidelity against the budget (cpp) at one SNR;
- ``erasure_<channel>``: per-stream erasure rate (sent streams whose CRC failed; analog
  streams, which have no CRC, are left out);
- ``grid_<channel>``: reconstructions of one image across SNR, one row per codec.

Means carry 95 % confidence bands (Student t over images × trials; Wilson intervals for
rates). House style of :mod:`channels.plotting`: black and grey lines told apart by marker
and dash, so the figures read in black and white; PNG and PDF.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from channels.plotting import line_style, save_png_pdf
from experiments.paths import check_name, inside
from experiments.store import Store
from experiments.sweep_tables import counts_filled, image_draws, pooled_f1
from semcom.metrics.protocol import Field
from semcom.metrics.semantic import wilson_interval

#: Object F1 pooled over a point's images and trials (an object counts only when shape,
#: colour, size and position are all right), drawn first when the probe's counts are
#: stored; its band is a bootstrap over images.
OBJECT_F1 = Field("object_f1", "object F1 (strict)", 0.0, 1.0)
#: Bits per pixel sent (a codec's plan at that SNR and budget), drawn last.
BPP_SENT = Field("bpp", "bits per pixel sent", low=0.0, better="none")
#: Channel uses per pixel spent, retransmissions included (drawn when HARQ resent any
#: stream: they may exceed the budget).
CPP_SPENT = Field("cpp_spent", "channel uses per pixel spent", low=0.0, better="lower")


def add_spent(store: Store, df):
    """``df`` with ``cpp_spent``: each point's channel uses (its first transmission's, or
    the sum over its streams with their retransmissions, whichever is larger) per pixel,
    when HARQ resent any stream; else ``df`` unchanged."""
    import json

    resent = [c for c in df.columns if c.endswith("_transmissions")]
    if not resent or not (df[resent].fillna(1) > 1).any().any():
        return df
    text = store.get_meta("config")
    size = json.loads(text)["dataset"]["size"] if text else None
    if not size:
        return df
    per_stream = [c[: -len("_transmissions")] + "_channel_uses" for c in resent]
    per_stream = [c for c in per_stream if c in df.columns]
    spent = df[per_stream].fillna(0).sum(axis=1).combine(df["channel_uses"], max)
    return df.assign(cpp_spent=spent / size**2)


def panels_of(store: Store, df) -> list:
    """The fields plotted for the sweep in ``store``: object F1 when the probe's counts
    are stored, then each ``panel`` field of the metrics its config names (those of an
    uninstalled plug-in are left out) that ``df`` holds, then the bits per pixel sent and
    (when ``df`` has them, :func:`add_spent`) the channel uses per pixel spent."""
    import json

    from semcom.errors import SemcomError
    from semcom.metrics.registry import DEFAULT_METRICS, metric

    text = store.get_meta("config")
    names = json.loads(text).get("metrics", DEFAULT_METRICS) if text else DEFAULT_METRICS
    fields = []
    for name in names:
        try:
            fields += [f for f in metric(name).fields if f.panel]
        except SemcomError:
            continue
    fields = [f for f in fields if f.name in df and df[f.name].notna().any()]
    if "exact" in df and df["exact"].notna().any() and "objects_true" in df:
        fields.insert(0, OBJECT_F1)
    fields += [BPP_SENT] if "bpp" in df else []
    return fields + ([CPP_SPENT] if "cpp_spent" in df else [])


def _style(i: int) -> dict:
    return line_style(i, markersize=4, linewidth=1.1)


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % confidence interval (Student t) of a sample; NaNs are dropped."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, m, m
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, m - half, m + half


def wilson(k: int, n: int) -> tuple[float, float, float]:
    """A proportion k/n and its Wilson 95 % interval (NaNs when n is 0)."""
    if n == 0:
        return math.nan, math.nan, math.nan
    lo, hi = wilson_interval(k, n)
    return k / n, lo, hi


def _pick(values, wanted: float | None, middle: bool) -> float:
    values = sorted(set(values))
    if wanted is None:
        return values[len(values) // 2] if middle else values[-1]
    best = min(values, key=lambda v: abs(v - wanted))
    if abs(best - wanted) > 1e-9:
        from semcom.errors import SemcomError

        raise SemcomError(f"the sweep has no point at {wanted:g}; it has {values}.")
    return best


def _lines(ax, df, x: str, field, codecs: list[str]) -> None:
    column = field.name
    if field is OBJECT_F1:
        df = counts_filled(df)
        images = np.sort(df["image"].unique())
        draws = image_draws(images)
    for i, codec in enumerate(codecs):
        g = df[df["codec"] == codec]
        xs, ms, lo, hi = [], [], [], []
        for xv, gg in g.groupby(x):
            if field is OBJECT_F1:
                m, a, b = pooled_f1(gg, images, draws)
            else:
                m, a, b = mean_ci(gg[column].to_numpy())
            if math.isfinite(m):
                xs.append(xv)
                ms.append(m)
                lo.append(a)
                hi.append(b)
        if not xs:
            continue
        if field.low is not None or field.high is not None:  # keep the band in range
            lo, hi = np.clip(lo, field.low, field.high), np.clip(hi, field.low, field.high)
        ax.plot(xs, ms, label=codec, **_style(i))
        ax.fill_between(xs, lo, hi, color="0.5", alpha=0.15, linewidth=0)


def _figure(
    df, panels: list, x: str, xlabel: str, title: str, path: Path, log_x: bool = False
) -> list[Path]:
    import matplotlib.pyplot as plt

    codecs = list(dict.fromkeys(df["codec"]))
    cols = len(panels) if len(panels) <= 4 else math.ceil(len(panels) / 2)
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.7 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, field in zip(axes.flat, panels, strict=False):
        _lines(ax, df, x, field, codecs)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(field.label)
        if log_x:
            ticks = sorted(set(df[x]))
            ax.set_xscale("log")
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
        ax.grid(True, linewidth=0.3, color="0.8")
    axes[0][-1].legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_png_pdf(fig, path)


def erasure_figure(df, channel: str, budget: float, path: Path) -> list[Path]:
    """Per-stream erasure rate (of sent streams) against SNR, one line per codec/stream."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    streams = [c[: -len("_sent")] for c in df.columns if c.endswith("_sent")]
    i = 0
    for codec in dict.fromkeys(df["codec"]):
        g = df[(df["codec"] == codec)]
        for s in streams:
            sent = g[g[f"{s}_sent"] == True]  # noqa: E712 - object column with NaN
            if sent.empty or sent[f"{s}_crc_ok"].isna().all():
                continue  # not sent, or analog (Deep JSCC: no CRC, never erased)
            xs, ps, lo, hi = [], [], [], []
            for snr, gg in sent.groupby("snr_db"):
                k = int((gg[f"{s}_crc_ok"] != True).sum())  # noqa: E712
                p, a, b = wilson(k, len(gg))
                xs.append(snr)
                ps.append(p)
                lo.append(a)
                hi.append(b)
            ax.plot(xs, ps, label=f"{codec}: {s}", **_style(i))
            ax.fill_between(xs, lo, hi, color="0.5", alpha=0.12, linewidth=0)
            i += 1
    ax.set_xlabel(r"$E_s/N_0$ (dB)")
    ax.set_ylabel("erasure rate (sent streams)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, linewidth=0.3, color="0.8")
    ax.set_title(f"{channel.upper()}, budget {budget:g} cpp", fontsize=9)
    ax.legend(fontsize=6, frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save_png_pdf(fig, path)


def grid_figure(store: Store, channel: str, budget: float, path: Path) -> list[Path]:
    """Reconstructions of the first stored image across SNR, one row per codec."""
    import matplotlib.pyplot as plt
    from PIL import Image

    rows = [r for r in store.images() if r[0] == 0]
    original = next((r[5] for r in rows if r[1] == "original"), None)
    cells = {(r[1], r[3]): r[5] for r in rows if r[2] == channel and abs(r[4] - budget) < 1e-12}
    if not cells or original is None:
        return []
    codecs = list(dict.fromkeys(c for c, _ in sorted(cells, key=lambda k: k[0])))
    snrs = sorted({s for _, s in cells})
    fig, axes = plt.subplots(
        len(codecs),
        len(snrs) + 1,
        figsize=(1.1 * (len(snrs) + 1), 1.15 * len(codecs)),
        squeeze=False,
    )
    for r, codec in enumerate(codecs):
        for c in range(len(snrs) + 1):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            data = original if c == 0 else cells.get((codec, snrs[c - 1]))
            if data is not None:
                ax.imshow(np.asarray(Image.open(io.BytesIO(data))))
            if r == 0:
                ax.set_title("original" if c == 0 else f"{snrs[c - 1]:g} dB", fontsize=7)
            if c == 0:
                ax.set_ylabel(codec, fontsize=7)
    fig.suptitle(f"{channel.upper()}, budget {budget:g} cpp", fontsize=8)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 0.96))
    return save_png_pdf(fig, path)


def plot_all(
    folder: str | Path,
    out: str | Path,
    *,
    budget_cpp: float | None = None,
    snr_db: float | None = None,
) -> list[Path]:
    """Every figure of the sweep in ``folder``; returns the files written (PNG and PDF).

    ``budget_cpp``: budget of the against-SNR figures (default: the middle one);
    ``snr_db``: SNR of the against-budget figures (default: the highest).
    """
    import matplotlib

    matplotlib.use("Agg")
    from semcom.errors import SemcomError

    store = Store(folder, create=False)
    try:
        df = store.frame()
        if df.empty:
            raise SemcomError(f"{folder} holds no results yet; run the sweep first.")
        out = Path(out)
        df = add_spent(store, df)
        budget = _pick(df["budget_cpp"], budget_cpp, middle=True)
        snr = _pick(df["snr_db"], snr_db, middle=False)
        panels = panels_of(store, df)
        paths: list[Path] = []
        for channel in dict.fromkeys(df["channel"]):
            d = df[df["channel"] == channel]
            name = check_name(channel.replace("-", "_"), "the stored channel")
            paths += _figure(
                d[d["budget_cpp"] == budget],
                panels,
                "snr_db",
                r"$E_s/N_0$ (dB)",
                f"{channel.upper()}, budget {budget:g} cpp",
                inside(out, f"vs_snr_{name}"),
            )
            if d["budget_cpp"].nunique() > 1:
                paths += _figure(
                    d[d["snr_db"] == snr],
                    panels,
                    "budget_cpp",
                    "budget (channel uses per pixel)",
                    f"{channel.upper()}, {snr:g} dB",
                    inside(out, f"vs_budget_{name}"),
                    log_x=True,
                )
            paths += erasure_figure(
                d[d["budget_cpp"] == budget], channel, budget, inside(out, f"erasure_{name}")
            )
            paths += grid_figure(store, channel, budget, inside(out, f"grid_{name}"))
        return paths
    finally:
        store.close()
