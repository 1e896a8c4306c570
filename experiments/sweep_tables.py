"""Markdown tables of a sweep's results (``semcom export DIR --format markdown``).

For every channel and budget: object F1 (an object counts only when shape, colour, size
and position are all right; pooled over images and trials) with a 95 % bootstrap interval
over images (an image's trials are drawn together), and the share of transmissions
whose every sent stream arrived and the bits per pixel sent (means over images and trials;
what a codec sends at an SNR and budget is fixed by its plan, whether or not it arrives).
Rows are codecs, columns Es/N0 in dB.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns a store's frame must hold for the tables.
NEEDED = ("codec", "channel", "snr_db", "budget_cpp", "image", "exact", "objects_true")


def image_counts(g: pd.DataFrame, images: np.ndarray) -> np.ndarray:
    """Per image of ``images`` (in that order), the rows' summed (exact, true, read) object
    counts [n_images, 3] (0 for an image without rows)."""
    per = g.groupby("image")[["exact", "objects_true", "objects_read"]].sum()
    return per.reindex(images, fill_value=0).to_numpy(dtype=float)


def pooled(counts: np.ndarray) -> np.ndarray:
    """Pooled object F1 of summed (exact, true, read) counts [..., 3]: 2·exact / (true +
    read), 0 without objects."""
    return 2 * counts[..., 0] / np.maximum(counts[..., 1] + counts[..., 2], 1.0)


def pooled_f1(g: pd.DataFrame, images: np.ndarray, draws: np.ndarray) -> tuple[float, float, float]:
    """Pooled object F1 of the rows ``g`` (2·exact / (true + read), summed over rows) and
    its 95 % percentile interval over ``draws`` ([bootstrap, n_images] indices into the
    image ids ``images``; an image's rows are drawn together)."""
    per = image_counts(g, images)
    f1 = pooled(per.sum(0))
    lo, hi = np.percentile(pooled(per[draws].sum(1)), [2.5, 97.5])
    return float(f1), float(lo), float(hi)


def image_draws(images: np.ndarray, bootstrap: int = 1000, seed: int = 0) -> np.ndarray:
    """``bootstrap`` draws (with replacement) of len(images) indices into ``images``."""
    return np.random.default_rng(seed).integers(0, len(images), size=(bootstrap, len(images)))


def counts_filled(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the object counts' NaNs (points without a probe reading) as 0."""
    df = df.copy()
    if "objects_read" not in df.columns:
        df["objects_read"] = 0.0
    cols = ["exact", "objects_true", "objects_read"]
    df[cols] = df[cols].fillna(0.0)
    return df


def _f1_cell(g: pd.DataFrame, images: np.ndarray, draws: np.ndarray) -> str:
    f1, lo, hi = pooled_f1(g, images, draws)
    return f"{f1:.2f} ({lo:.2f}–{hi:.2f})"


def sweep_tables(df: pd.DataFrame, bootstrap: int = 1000, seed: int = 0) -> str:
    """The tables of one sweep's rows ``df`` (``Store.frame``) as Markdown text.

    Intervals: percentile bootstrap over images, ``bootstrap`` draws from ``seed``, the
    same draws for every cell (so the text is deterministic)."""
    missing = [c for c in NEEDED if c not in df.columns]
    if missing:
        raise ValueError(f"the results lack the columns {', '.join(missing)}.")
    df = counts_filled(df)
    images = np.sort(df["image"].unique())
    draws = image_draws(images, bootstrap, seed)
    codecs = list(dict.fromkeys(df["codec"]))
    out: list[str] = []
    for (channel, budget), g in df.groupby(["channel", "budget_cpp"], sort=True):
        snrs = sorted(g["snr_db"].unique())
        head = "| codec | " + " | ".join(f"{s:g} dB" for s in snrs) + " |"
        rule = "|---" * (len(snrs) + 1) + "|"
        trials = g.groupby("image")["trial"].nunique().max() if "trial" in g else 1
        out.append(
            f"### {channel}, {budget:g} cpp: object F1 (95 % interval over "
            f"{len(images)} images × {trials} trials)\n"
        )
        out += [head, rule]
        for codec in codecs:
            c = g[g["codec"] == codec]
            if len(c):
                cells = [_f1_cell(c[c["snr_db"] == s], images, draws) for s in snrs]
                out.append(f"| {codec} | " + " | ".join(cells) + " |")
        out.append("")
        out.append(
            f"### {channel}, {budget:g} cpp: share of transmissions whose every sent stream "
            "arrived / bits per pixel sent\n"
        )
        out += [head, rule]
        for codec in codecs:
            c = g[g["codec"] == codec]
            if len(c):
                cells = [
                    f"{c[c['snr_db'] == s]['success'].mean():.2f} / "
                    f"{c[c['snr_db'] == s]['bpp'].mean():.4f}"
                    for s in snrs
                ]
                out.append(f"| {codec} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)
