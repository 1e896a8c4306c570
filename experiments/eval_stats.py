"""``semcom evaluate``'s statistics: a codec's per-image results (:class:`CodecResult`)
pooled into point estimates with 95 % bootstrap intervals (:func:`summarize`), or
interpolated in bpp to MTGC's rate (:func:`summarize_interpolated`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from semcom.metrics.semantic import SemanticCounts, scores_from_counts

#: Table columns: (key, heading, higher is better).
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("bpp", "bpp", False),
    ("semantic_accuracy", "sem. acc.", True),
    ("f1", "object F1", True),
    ("hallucination_rate", "halluc.", False),
    ("psnr", "PSNR dB", True),
    ("ms_ssim", "MS-SSIM", True),
)


@dataclass
class CodecResult:
    """One codec's reconstructions [N,3,H,W] and per-image figures."""

    name: str
    images: torch.Tensor
    bits: list[int]
    counts: list[SemanticCounts] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ms_ssim: list[float] = field(default_factory=list)
    #: Per-image values of the extra metrics' fields (field name → [N]).
    extra: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""
    #: Mean payload bits per stream (MTGC variants only).
    stream_bits: dict[str, float] = field(default_factory=dict)


def _pooled(counts: Sequence[SemanticCounts]) -> dict[str, float]:
    total = SemanticCounts()
    for c in counts:
        total = total + c
    s = scores_from_counts(total)
    return {"semantic_accuracy": s.semantic_accuracy, **s.as_dict()}


def summarize(result: CodecResult, pixels: int, bootstrap: int, seed: int) -> dict:
    """Point estimates and 95 % bootstrap intervals of every figure of one codec."""
    n = len(result.bits)
    bpp = np.asarray(result.bits, dtype=float) / pixels
    psnr = np.asarray(result.psnr, dtype=float)
    msssim = np.asarray(result.ms_ssim, dtype=float)

    extra = {k: np.asarray(v, dtype=float) for k, v in result.extra.items()}

    def stats(idx: np.ndarray) -> dict[str, float]:
        out = _pooled([result.counts[i] for i in idx])
        out.update(
            bpp=float(bpp[idx].mean()),
            psnr=float(psnr[idx].mean()),
            ms_ssim=float(msssim[idx].mean()),
        )
        out.update({k: float(np.nanmean(v[idx])) for k, v in extra.items()})
        return out

    point = stats(np.arange(n))
    rng = np.random.default_rng(seed)
    samples = [stats(rng.integers(0, n, n)) for _ in range(bootstrap)]
    ci = {
        k: [
            float(np.percentile([s[k] for s in samples], 2.5)),
            float(np.percentile([s[k] for s in samples], 97.5)),
        ]
        for k in point
    }
    return {
        "codec": result.name,
        "n": n,
        **point,
        "ci95": ci,
        "bpp_max": float(bpp.max()),
        "bpp_min": float(bpp.min()),
        "seconds": round(result.seconds, 1),
        "note": result.note,
        "stream_bits": result.stream_bits,
        "extra_fields": sorted(result.extra),
    }


def summarize_interpolated(
    below: CodecResult,
    above: CodecResult,
    target_bits: Sequence[int],
    pixels: int,
    bootstrap: int,
    seed: int,
) -> dict:
    """One codec's figures interpolated linearly in bpp to the mean of ``target_bits``.

    ``below``/``above``: the codec matched below and above each image's target. For images
    drawn with replacement (the same draw for both sides and the targets), every pooled
    figure f is f_below + t·(f_above − f_below) with t = (target − bpp_below) /
    (bpp_above − bpp_below), clamped to [0, 1] (no extrapolation); the point estimate
    uses every image, the 95 % interval the percentiles of the draws.
    """
    n = len(below.bits)
    targets = np.asarray(target_bits, dtype=float) / pixels
    every = np.arange(n)
    sides = [_side_stats(r, every, pixels) for r in (below, above)]
    clamped = False

    def stats(idx: np.ndarray) -> dict[str, float]:
        nonlocal clamped
        lo, hi = (_side_stats(r, idx, pixels) for r in (below, above))
        goal = float(targets[idx].mean())
        span = hi["bpp"] - lo["bpp"]
        if not lo["bpp"] - 1e-12 <= goal <= hi["bpp"] + 1e-12:
            clamped = True  # the codec cannot reach the goal: no extrapolation
        t = 0.0 if span <= 0 else min(max((goal - lo["bpp"]) / span, 0.0), 1.0)
        out = {k: lo[k] + t * (hi[k] - lo[k]) for k in lo}
        out["bpp"] = lo["bpp"] + t * span
        return out

    point = stats(every)
    point_clamped = clamped
    rng = np.random.default_rng(seed)
    samples = [stats(rng.integers(0, n, n)) for _ in range(bootstrap)]
    ci = {
        k: [
            float(np.percentile([s[k] for s in samples], 2.5)) if samples else point[k],
            float(np.percentile([s[k] for s in samples], 97.5)) if samples else point[k],
        ]
        for k in point
    }
    note = (
        f"interpolated to MTGC's rate between {sides[0]['bpp']:.4f} and {sides[1]['bpp']:.4f} bpp"
    )
    if point_clamped:
        note = (
            f"cannot reach MTGC's rate ({sides[0]['bpp']:.4f}–{sides[1]['bpp']:.4f} bpp): "
            "figures at its nearest points"
        )
    return {
        "codec": above.name,
        "n": n,
        **point,
        "ci95": ci,
        "bpp_max": float(np.asarray(above.bits).max() / pixels),
        "bpp_min": float(np.asarray(below.bits).min() / pixels),
        "seconds": round(below.seconds + above.seconds, 1),
        "note": note,
        "stream_bits": {},
        "extra_fields": sorted(above.extra),
        "interpolated_from": {"below": _public(sides[0]), "above": _public(sides[1])},
    }


def _side_stats(result: CodecResult, idx: np.ndarray, pixels: int) -> dict[str, float]:
    out = _pooled([result.counts[i] for i in idx])
    out.update(
        bpp=float(np.asarray(result.bits, dtype=float)[idx].mean() / pixels),
        psnr=float(np.asarray(result.psnr, dtype=float)[idx].mean()),
        ms_ssim=float(np.asarray(result.ms_ssim, dtype=float)[idx].mean()),
    )
    out.update(
        {k: float(np.nanmean(np.asarray(v, dtype=float)[idx])) for k, v in result.extra.items()}
    )
    return out


def _public(summary: dict) -> dict:
    """The headline figures of a summary (no intervals)."""
    return {k: summary[k] for k, _, _ in COLUMNS}
