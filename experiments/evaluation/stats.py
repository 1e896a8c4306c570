"""``semcom evaluate``'s statistics: a codec's per-image results (:class:`CodecResult`)
pooled into point estimates with 95 % bootstrap intervals (:func:`summarize`), or
interpolated in bpp to the reference's rate (:func:`summarize_interpolated`), and each
codec's difference from the reference with a paired bootstrap interval
(:func:`paired_differences`: both codecs scored on the same draws of images)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, field

import numpy as np
import torch

from semcom.metrics.detector import DetectionCounts, scores_from_detection_counts
from semcom.metrics.semantic import SemanticCounts, scores_from_counts

#: Table columns, strict figures first: (key, heading, higher is better). Object F1,
#: precision and recall count an object only when all four attributes are right.
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("bpp", "bpp", False),
    ("f1", "object F1", True),
    ("precision", "precision", True),
    ("recall", "recall", True),
    ("semantic_accuracy", "sem. acc.", True),
    ("hallucinations_per_image", "halluc./image", False),
    ("psnr", "PSNR dB", True),
    ("ms_ssim", "MS-SSIM", True),
)
#: Columns that only ShapesWorld-Complex summaries hold, shown after "sem. acc." in
#: place of hallucinations per image (the issue's headline set for that world).
COMPLEX_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("count_accuracy", "count acc.", True),
    ("relation_accuracy", "relations", True),
    ("hallucination_rate", "halluc./object", False),
)
#: Figures whose difference from the reference :func:`paired_differences` reports.
DIFFERENCE_KEYS: tuple[str, ...] = ("f1", "semantic_accuracy", "shape_accuracy", "psnr")
#: The same without ground truth (a folder of images): pixel figures, then every extra
#: per-image field the results hold (LPIPS, DISTS, CLIP score …).
PIXEL_DIFFERENCE_KEYS: tuple[str, ...] = ("psnr", "ms_ssim")
#: The semantic columns of :data:`COLUMNS` (absent without ground truth).
SEMANTIC_KEYS: tuple[str, ...] = (
    "f1",
    "precision",
    "recall",
    "semantic_accuracy",
    "hallucinations_per_image",
)
#: A codec's figures on a draw of image indices (pooled counts, means of the rest).
Stats = Callable[[np.ndarray], dict[str, float]]


@dataclass
class CodecResult:
    """One codec's reconstructions [N,3,H,W] and per-image figures."""

    name: str
    images: torch.Tensor
    #: Bits per image (fractions for a per-image interpolated result).
    bits: list[float]
    #: Per-image semantic counts: the ShapesWorld probe's or (ShapesWorld-Complex) the
    #: detector's.
    counts: list[SemanticCounts | DetectionCounts] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ms_ssim: list[float] = field(default_factory=list)
    #: Per-image values of the extra metrics' fields (field name → [N]).
    extra: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    note: str = ""
    #: Mean payload bits per stream (MTGC variants only).
    stream_bits: dict[str, float] = field(default_factory=dict)
    #: Bits per image of the codec's whole standard files at the chosen points (baselines
    #: only; ``bits`` is what crosses the link: the file less its rebuilt boilerplate).
    file_bits: list[float] = field(default_factory=list)
    #: Payload bits per stream per image (stream → [N]; MTGC variants only).
    streams: dict[str, list[int]] = field(default_factory=dict)


def _pooled(counts: np.ndarray, kind: type = SemanticCounts) -> dict[str, float]:
    """Rates from summed counts ([len(fields of ``kind``)]; integers, or fractions for
    :func:`per_image_interpolated` results); ``kind``: the counts' class."""
    if kind is DetectionCounts:
        return scores_from_detection_counts(DetectionCounts(*(float(v) for v in counts)))
    s = scores_from_counts(SemanticCounts(*(float(v) for v in counts)))
    return {"semantic_accuracy": s.semantic_accuracy, **s.as_dict()}


def stats_of(result: CodecResult, pixels: int) -> Stats:
    """``idx`` → ``result``'s figures on images ``idx`` (drawn with replacement or not)."""
    counts = np.asarray([astuple(c) for c in result.counts], dtype=float)
    semantic = bool(result.counts)
    kind = type(result.counts[0]) if semantic else SemanticCounts
    bpp = np.asarray(result.bits, dtype=float) / pixels
    psnr = np.asarray(result.psnr, dtype=float)
    msssim = np.asarray(result.ms_ssim, dtype=float)
    extra = {k: np.asarray(v, dtype=float) for k, v in result.extra.items()}

    def stats(idx: np.ndarray) -> dict[str, float]:
        out = _pooled(counts[idx].sum(0), kind) if semantic else {}
        out.update(
            bpp=float(bpp[idx].mean()),
            psnr=float(psnr[idx].mean()),
            ms_ssim=float(msssim[idx].mean()),
        )
        out.update({k: float(np.nanmean(v[idx])) for k, v in extra.items()})
        return out

    return stats


def _bootstrap(stats: Stats, n: int, bootstrap: int, seed: int) -> tuple[dict, dict]:
    """(point estimates, 95 % percentile intervals) of ``stats``."""
    point = stats(np.arange(n))
    rng = np.random.default_rng(seed)
    samples = [stats(rng.integers(0, n, n)) for _ in range(bootstrap)]
    ci = {
        k: [
            float(np.percentile([s[k] for s in samples], 2.5)) if samples else point[k],
            float(np.percentile([s[k] for s in samples], 97.5)) if samples else point[k],
        ]
        for k in point
    }
    return point, ci


def summarize(result: CodecResult, pixels: int, bootstrap: int, seed: int) -> dict:
    """Point estimates and 95 % bootstrap intervals of every figure of one codec."""
    n = len(result.bits)
    bpp = np.asarray(result.bits, dtype=float) / pixels
    point, ci = _bootstrap(stats_of(result, pixels), n, bootstrap, seed)
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
        "file_bpp": float(np.mean(result.file_bits)) / pixels if result.file_bits else None,
        "extra_fields": sorted(result.extra),
    }


def difference_keys(point: dict[str, float]) -> tuple[str, ...]:
    """The figures :func:`paired_differences` reports for stats like ``point``: the
    semantic ones and PSNR where there is ground truth, else PSNR, MS-SSIM and every
    extra per-image field."""
    if "f1" in point:
        return DIFFERENCE_KEYS
    known = {k for k, _, _ in COLUMNS} | set(SEMANTIC_KEYS)
    extra = tuple(k for k in point if k not in known and k not in PIXEL_DIFFERENCE_KEYS)
    return (*PIXEL_DIFFERENCE_KEYS, *extra)


def paired_differences(
    reference: Stats,
    other: Stats,
    n: int,
    bootstrap: int,
    seed: int,
    keys: Sequence[str] = DIFFERENCE_KEYS,
) -> dict[str, dict]:
    """reference − other for each of ``keys``, with a paired 95 % bootstrap interval:
    both codecs' figures computed on the same draws of images, so the interval is that of
    the difference itself (narrower than comparing two separate intervals, and the right
    test of "above": the interval lies above 0)."""
    every = np.arange(n)
    a, b = reference(every), other(every)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(bootstrap):
        idx = rng.integers(0, n, n)
        ra, rb = reference(idx), other(idx)
        for k in keys:
            draws[k].append(ra[k] - rb[k])
    return {
        k: {
            "diff": a[k] - b[k],
            "ci95": [
                float(np.percentile(draws[k], 2.5)) if bootstrap else a[k] - b[k],
                float(np.percentile(draws[k], 97.5)) if bootstrap else a[k] - b[k],
            ],
        }
        for k in keys
    }


def per_image_interpolated(
    below: CodecResult, above: CodecResult, target_bits: Sequence[int]
) -> CodecResult:
    """One codec at exactly each image's ``target_bits``: every per-image figure (bits,
    semantic counts, PSNR, MS-SSIM, extra fields) interpolated linearly in bits between
    the image's ``below`` and ``above`` points, t = (target − bits_below) / (bits_above −
    bits_below) clamped to [0, 1] (no extrapolation: where the codec cannot go as low as
    the target, its lowest point). Counts become fractions; pooled rates stay defined.
    Images: the nearer side's. The note counts the images the codec could not reach."""
    lo_bits = np.asarray(below.bits, dtype=float)
    hi_bits = np.asarray(above.bits, dtype=float)
    goal = np.asarray(target_bits, dtype=float)
    span = hi_bits - lo_bits
    t = np.where(span > 0, (goal - lo_bits) / np.where(span > 0, span, 1.0), 0.0).clip(0, 1)
    unreachable = int(((lo_bits > goal) | (hi_bits < goal)).sum())

    def mix(a: Sequence[float], b: Sequence[float]) -> list[float]:
        return list((1 - t) * np.asarray(a, dtype=float) + t * np.asarray(b, dtype=float))

    counts = (
        [
            type(cb)(
                *((1 - ti) * x + ti * y for x, y in zip(astuple(cb), astuple(ca), strict=True))
            )
            for ti, cb, ca in zip(t, below.counts, above.counts, strict=True)
        ]
        if below.counts and above.counts
        else []
    )
    nearer = torch.stack([(above if ti >= 0.5 else below).images[i] for i, ti in enumerate(t)])
    note = "interpolated per image to the reference's bits"
    if unreachable:
        note += f"; {unreachable} of {len(t)} images out of the codec's range (nearest point)"
    return CodecResult(
        above.name,
        nearer,
        mix(below.bits, above.bits),
        counts,
        mix(below.psnr, above.psnr),
        mix(below.ms_ssim, above.ms_ssim),
        {k: mix(below.extra[k], above.extra[k]) for k in above.extra if k in below.extra},
        seconds=below.seconds + above.seconds,
        note=note,
        file_bits=mix(below.file_bits, above.file_bits)
        if below.file_bits and above.file_bits
        else [],
    )


def interpolated_stats_of(
    below: CodecResult, above: CodecResult, target_bits: Sequence[int], pixels: int
) -> tuple[Stats, Callable[[], bool]]:
    """``idx`` → one codec's figures on images ``idx`` interpolated linearly in bpp to the
    mean of their ``target_bits``, and a function saying whether any call had to clamp
    (the codec could not reach the goal: no extrapolation).

    ``below``/``above``: the codec matched below and above each image's target. Every
    pooled figure f is f_below + t·(f_above − f_below) with t = (target − bpp_below) /
    (bpp_above − bpp_below), clamped to [0, 1].
    """
    targets = np.asarray(target_bits, dtype=float) / pixels
    lo_stats, hi_stats = stats_of(below, pixels), stats_of(above, pixels)
    clamped = [False]

    def stats(idx: np.ndarray) -> dict[str, float]:
        lo, hi = lo_stats(idx), hi_stats(idx)
        goal = float(targets[idx].mean())
        span = hi["bpp"] - lo["bpp"]
        if not lo["bpp"] - 1e-12 <= goal <= hi["bpp"] + 1e-12:
            clamped[0] = True
        t = 0.0 if span <= 0 else min(max((goal - lo["bpp"]) / span, 0.0), 1.0)
        out = {k: lo[k] + t * (hi[k] - lo[k]) for k in lo}
        out["bpp"] = lo["bpp"] + t * span
        return out

    return stats, lambda: clamped[0]


def summarize_interpolated(
    below: CodecResult,
    above: CodecResult,
    target_bits: Sequence[int],
    pixels: int,
    bootstrap: int,
    seed: int,
) -> dict:
    """One codec's figures interpolated linearly in bpp to the mean of ``target_bits``
    (:func:`interpolated_stats_of`): the point estimate uses every image, the 95 %
    interval the percentiles of the bootstrap draws (the same draw for both sides and
    the targets)."""
    n = len(below.bits)
    every = np.arange(n)
    sides = [stats_of(r, pixels)(every) for r in (below, above)]
    stats, was_clamped = interpolated_stats_of(below, above, target_bits, pixels)
    stats(every)
    point_clamped = was_clamped()
    point, ci = _bootstrap(stats, n, bootstrap, seed)
    note = (
        f"interpolated to the reference's rate between {sides[0]['bpp']:.4f} and "
        f"{sides[1]['bpp']:.4f} bpp"
    )
    if point_clamped:
        note = (
            f"cannot reach the reference's rate ({sides[0]['bpp']:.4f}–{sides[1]['bpp']:.4f} "
            "bpp): figures at its nearest points"
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


def _public(summary: dict) -> dict:
    """The headline figures of a summary (no intervals; the semantic ones where held)."""
    return {k: summary[k] for k, _, _ in COLUMNS if k in summary}
