"""``semcom evaluate``: codecs on ShapesWorld test scenes, semantic and pixel fidelity.

Codecs (names accepted by ``--codec``):

- ``mtgc``: the full codec, every image encoded at ``target_bpp`` (the HCI takes what the
  caption and SPWs leave); the caption comes from the transmitter's captioner.
- the ablations ``mtgc-caption``, ``mtgc-hci``, ``mtgc-spw``, ``mtgc-caption-hci``: the
  same bitstreams with the other streams left out (the receiver's fallback fills them);
  their rate counts only the streams they send.
- ``mtgc-oracle-caption``: the full codec sending the ground-truth caption (an upper
  bound, labelled as such; never the default transmitter).
- ``jpeg``, ``webp``, ``jpeg2000``, ``avif``, ``jpegxl``: per image, the operating point
  (quality × downsampling factor) matched to that image's full-MTGC rate: ``match``
  "above" takes the smallest rate at or above it (the codec gets at least MTGC's bits),
  "nearest" the closest, "below" the largest at or below it. The real bpp is reported,
  including where a codec cannot go that low. "interpolate" runs both "below" and
  "above" and reports every figure linearly interpolated in bpp to MTGC's mean rate (the
  codec's score *at* MTGC's rate along its rate-quality curve; intervals bootstrap the
  interpolated statistic); where the codec cannot go as low as MTGC the figures are those
  of its lowest points, and the row's note says so.
- ``compressai``: the shipped learned HCI codec (compressai FactorizedPrior, trained with
  MTGC-tiny) alone as an image codec (:mod:`semcom.baselines.learned`), matched the same
  way.

Figures per codec: mean bpp, semantic accuracy (the mean of shape, colour, size and
position accuracy over true objects), object F1, hallucination rate, PSNR and MS-SSIM,
each with a 95 % bootstrap confidence interval over images (the pooled statistic
recomputed on images drawn with replacement, percentile interval).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from semcom.baselines.conventional import CODEC_NAMES as CONVENTIONAL
from semcom.errors import SemcomError
from semcom.metrics.semantic import SemanticCounts, count_scene, scores_from_counts

#: MTGC variants: codec name → the streams it sends.
MTGC_VARIANTS: dict[str, tuple[str, ...]] = {
    "mtgc": ("caption", "hci", "spw"),
    "mtgc-caption": ("caption",),
    "mtgc-hci": ("hci",),
    "mtgc-spw": ("spw",),
    "mtgc-caption-hci": ("caption", "hci"),
    "mtgc-oracle-caption": ("caption", "hci", "spw"),
}
#: What ``semcom evaluate`` runs without ``--codec``.
DEFAULT_CODECS: tuple[str, ...] = (
    "mtgc",
    "mtgc-caption",
    "mtgc-hci",
    "mtgc-spw",
    "mtgc-caption-hci",
    *CONVENTIONAL,
    "compressai",
)
ALL_CODECS: tuple[str, ...] = (*DEFAULT_CODECS, "mtgc-oracle-caption")
#: Table columns: (key, heading, higher is better).
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("bpp", "bpp", False),
    ("semantic_accuracy", "sem. acc.", True),
    ("f1", "object F1", True),
    ("hallucination_rate", "halluc.", False),
    ("psnr", "PSNR dB", True),
    ("ms_ssim", "MS-SSIM", True),
)


#: Rate-matching rules of the baselines (``--match``).
MATCHES = ("above", "nearest", "below", "interpolate")


@dataclass
class EvalConfig:
    """What to evaluate: codecs, scenes (test split), target rate, decoding settings."""

    codecs: tuple[str, ...] = DEFAULT_CODECS
    n: int = 200
    seed: int = 0
    target_bpp: float = 0.05
    match: str = "above"
    steps: int | None = None
    batch: int = 8
    bootstrap: int = 1000
    weights: str | None = None
    workers: int = 1
    #: Override the model's ``hci_lowpass`` (None keeps the model's own setting).
    hci_lowpass: int | None = None

    def __post_init__(self) -> None:
        unknown = [c for c in self.codecs if c not in ALL_CODECS]
        if unknown:
            raise SemcomError(f"unknown codec {unknown[0]!r}; choose from {', '.join(ALL_CODECS)}.")
        if self.n < 1:
            raise SemcomError("--n must be at least 1.")
        if not self.target_bpp > 0:
            raise SemcomError("--target-bpp must be positive.")
        if self.match not in MATCHES:
            raise SemcomError(f"--match must be {', '.join(MATCHES)}.")
        if self.workers < 1:
            raise SemcomError("--workers must be at least 1.")
        if self.hci_lowpass is not None and self.hci_lowpass < 0:
            raise SemcomError("--hci-lowpass must be 0 (off) or a downsampling factor.")


@dataclass
class CodecResult:
    """One codec's reconstructions [N,3,H,W] and per-image figures."""

    name: str
    images: torch.Tensor
    bits: list[int]
    counts: list[SemanticCounts] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ms_ssim: list[float] = field(default_factory=list)
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

    def stats(idx: np.ndarray) -> dict[str, float]:
        out = _pooled([result.counts[i] for i in idx])
        out.update(
            bpp=float(bpp[idx].mean()),
            psnr=float(psnr[idx].mean()),
            ms_ssim=float(msssim[idx].mean()),
        )
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
        "interpolated_from": {"below": _public(sides[0]), "above": _public(sides[1])},
    }


def _side_stats(result: CodecResult, idx: np.ndarray, pixels: int) -> dict[str, float]:
    out = _pooled([result.counts[i] for i in idx])
    out.update(
        bpp=float(np.asarray(result.bits, dtype=float)[idx].mean() / pixels),
        psnr=float(np.asarray(result.psnr, dtype=float)[idx].mean()),
        ms_ssim=float(np.asarray(result.ms_ssim, dtype=float)[idx].mean()),
    )
    return out


def _public(summary: dict) -> dict:
    """The headline figures of a summary (no intervals)."""
    return {k: summary[k] for k, _, _ in COLUMNS}


def _score(result: CodecResult, reference: torch.Tensor, truths: list, probe) -> None:
    from semcom.metrics.pixel import ms_ssim, psnr

    reads = probe.read(result.images.float().clamp(0, 1))
    result.counts = [count_scene(t, r) for t, r in zip(truths, reads, strict=True)]
    result.psnr = psnr(reference, result.images).tolist()
    result.ms_ssim = ms_ssim(reference, result.images).tolist()


def _match(points: list[tuple[int, object]], target_bits: int, match: str):
    """Pick (bits, item) from ``points`` sorted by bits, by the matching rule."""
    if match == "nearest":
        return min(points, key=lambda p: abs(p[0] - target_bits))
    if match == "above":
        above = [p for p in points if p[0] >= target_bits]
        return above[0] if above else points[-1]
    below = [p for p in points if p[0] <= target_bits]
    return below[-1] if below else points[0]


def run_conventional(name: str, images: torch.Tensor, targets: list[int], match: str):
    """One conventional codec matched per image to ``targets`` (bits)."""
    from semcom.baselines.conventional import get_codec
    from semcom.baselines.rate import operating_points, pareto_front

    codec = get_codec(name)
    recon, bits = [], []
    for img, target in zip(images, targets, strict=True):
        front = pareto_front(operating_points(img, codec))
        b, v = _match([(p.bits, p) for p in front], target, match)
        recon.append(codec.decode(v.data, img.shape[-2], img.shape[-1]))
        bits.append(b)
    return torch.stack(recon), bits


_WORKER_CODEC = None


def _load(weights: str | None, hci_lowpass: int | None):
    """The tiny codec of ``weights``, with ``hci_lowpass`` overridden when given."""
    from semcom.presets.tiny import load_tiny

    codec = load_tiny(weights)
    if hci_lowpass is not None:
        codec.config.hci_lowpass = hci_lowpass
    return codec


def _init_worker(weights: str | None, threads: int, hci_lowpass: int | None = None) -> None:
    """Decoding worker: one thread, the model loaded once."""
    global _WORKER_CODEC
    import warnings

    torch.set_num_threads(max(1, threads))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _WORKER_CODEC = _load(weights, hci_lowpass)


def _decode_chunk(streams: list, steps: int | None) -> torch.Tensor:
    return _WORKER_CODEC.decode(streams, steps=steps)


def evaluate(
    cfg: EvalConfig, progress: Callable[[str], None] | None = None
) -> tuple[list[dict], dict[str, CodecResult], torch.Tensor]:
    """Run every codec of ``cfg``; returns (summaries, results by codec, references)."""
    from semcom.data.captions import canonical_caption
    from semcom.data.shapes import ShapesWorld
    from semcom.metrics.semantic import load_probe

    say = progress or (lambda msg: None)
    data = ShapesWorld("test", n=cfg.n, seed=cfg.seed)
    items = [data[i] for i in range(cfg.n)]
    reference = torch.stack([it.image for it in items])
    truths = [it.objects for it in items]
    h, w = reference.shape[-2:]
    probe = load_probe()
    codec = _load(cfg.weights, cfg.hci_lowpass)
    results: dict[str, CodecResult] = {}
    brackets: dict[str, tuple[CodecResult, CodecResult]] = {}

    t0 = time.time()
    sent = []
    for i in range(0, cfg.n, cfg.batch):
        sent += codec.encode(reference[i : i + cfg.batch], target_bpp=cfg.target_bpp)
    say(f"encoded {cfg.n} scenes at {cfg.target_bpp} bpp in {time.time() - t0:.0f} s")
    targets = [bs.payload_bits for bs in sent]
    oracle = None
    if "mtgc-oracle-caption" in cfg.codecs:
        oracle = []
        for i in range(0, cfg.n, cfg.batch):
            chunk = reference[i : i + cfg.batch]
            caps = [canonical_caption(t) for t in truths[i : i + cfg.batch]]
            oracle += codec.encode(chunk, captions=caps, target_bpp=cfg.target_bpp)

    # MTGC variants decode on `workers` processes (each loads the model once) while this
    # process runs the baselines; results are identical to decoding here.
    variants = [c for c in cfg.codecs if c in MTGC_VARIANTS]
    streams_of = {}
    for name in variants:
        base = oracle if name == "mtgc-oracle-caption" else sent
        keep = MTGC_VARIANTS[name]
        streams_of[name] = [bs.keeping(*keep) for bs in base]
    jobs = [(name, i) for name in variants for i in range(0, cfg.n, cfg.batch)]
    pool = None
    futures = {}
    t_mtgc = time.time()
    if cfg.workers > 1 and jobs:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            cfg.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(cfg.weights, torch.get_num_threads(), cfg.hci_lowpass),
        )
        for name, i in jobs:
            futures[(name, i)] = pool.submit(
                _decode_chunk, streams_of[name][i : i + cfg.batch], cfg.steps
            )
    try:
        for name in cfg.codecs:
            if name in MTGC_VARIANTS:
                continue
            t1 = time.time()
            if cfg.match == "interpolate":
                sides = []
                for side in ("below", "above"):
                    recon, bits = run_conventional(name, reference, targets, side)
                    sides.append(CodecResult(name, recon, bits, seconds=time.time() - t1))
                    _score(sides[-1], reference, truths, probe)
                brackets[name] = (sides[0], sides[1])
                results[name] = sides[1]
            else:
                recon, bits = run_conventional(name, reference, targets, cfg.match)
                results[name] = CodecResult(name, recon, bits, seconds=time.time() - t1)
                _score(results[name], reference, truths, probe)
            say(f"{name}: {time.time() - t1:.0f} s")
        for name in variants:
            chunks = []
            for i in range(0, cfg.n, cfg.batch):
                if pool is not None:
                    chunks.append(futures[(name, i)].result())
                else:
                    chunks.append(
                        codec.decode(streams_of[name][i : i + cfg.batch], steps=cfg.steps)
                    )
            note = (
                "ground-truth caption (upper bound, not a transmitter)"
                if name == "mtgc-oracle-caption"
                else ""
            )
            bits = [bs.payload_bits for bs in streams_of[name]]
            result = CodecResult(
                name, torch.cat(chunks), bits, seconds=time.time() - t_mtgc, note=note
            )
            result.stream_bits = {
                s: float(np.mean([bs.stream_bits().get(s, 0) for bs in streams_of[name]]))
                for s in MTGC_VARIANTS[name]
            }
            _score(result, reference, truths, probe)
            results[name] = result
            say(f"{name}: decoded ({time.time() - t_mtgc:.0f} s since decoding began)")
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    summaries = [
        summarize_interpolated(*brackets[c], targets, h * w, cfg.bootstrap, cfg.seed)
        if c in brackets
        else summarize(results[c], h * w, cfg.bootstrap, cfg.seed)
        for c in cfg.codecs
    ]
    return summaries, results, reference


def format_table(summaries: list[dict]) -> str:
    """A plain-text table: one row per codec, figures with their 95 % intervals."""
    head = ["codec", *[c[1] for c in COLUMNS]]
    rows = []
    for s in summaries:
        row = [s["codec"]]
        for key, _, _ in COLUMNS:
            lo, hi = s["ci95"][key]
            digits = 4 if key == "bpp" else (2 if key == "psnr" else 3)
            row.append(f"{s[key]:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]")
        rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(head))]
    lines.append("  ".join("-" * wd for wd in widths))
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)) for r in rows]
    return "\n".join(lines)


def format_markdown(summaries: list[dict]) -> str:
    """The same table in Markdown (for the README)."""
    head = "| codec | " + " | ".join(c[1] for c in COLUMNS) + " |"
    sep = "|---" * (len(COLUMNS) + 1) + "|"
    lines = [head, sep]
    for s in summaries:
        cells = []
        for key, _, _ in COLUMNS:
            lo, hi = s["ci95"][key]
            digits = 4 if key == "bpp" else (2 if key == "psnr" else 3)
            cells.append(f"{s[key]:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})")
        lines.append(f"| {s['codec']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reconstruction_figure(
    results: dict[str, CodecResult],
    reference: torch.Tensor,
    summaries: list[dict],
    path,
    rows: int = 4,
) -> list:
    """Originals and each codec's reconstructions side by side (PNG and PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from channels.plotting import save_png_pdf

    names = [s["codec"] for s in summaries]
    bpp = {s["codec"]: s["bpp"] for s in summaries}
    rows = min(rows, reference.shape[0])
    cols = len(names) + 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.15 * rows + 0.4), squeeze=False)
    for r in range(rows):
        panels = [("original", reference[r])] + [(n, results[n].images[r]) for n in names]
        for c, (name, img) in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                label = name if name == "original" else f"{name}\n{bpp[name]:.3f} bpp"
                ax.set_title(label, fontsize=6)
    fig.tight_layout(pad=0.2)
    return save_png_pdf(fig, path)


def check_claim(summaries: list[dict]) -> list[str]:
    """Where full MTGC does not beat a rival on semantic accuracy and hallucination rate.

    Rivals: every conventional codec whose mean bpp is at least MTGC's, and every
    ablation. Returns one sentence per failure (empty when the claim holds).
    """
    by = {s["codec"]: s for s in summaries}
    if "mtgc" not in by:
        return []
    full = by["mtgc"]
    out = []
    for s in summaries:
        name = s["codec"]
        rival = name in CONVENTIONAL and s["bpp"] >= full["bpp"] - 1e-12
        rival |= name in MTGC_VARIANTS and name not in ("mtgc", "mtgc-oracle-caption")
        rival |= name == "compressai" and s["bpp"] >= full["bpp"] - 1e-12
        if not rival:
            continue
        if not full["semantic_accuracy"] > s["semantic_accuracy"]:
            out.append(
                f"{name} has semantic accuracy {s['semantic_accuracy']:.3f} >= MTGC's "
                f"{full['semantic_accuracy']:.3f}"
            )
        if not full["hallucination_rate"] < s["hallucination_rate"]:
            out.append(
                f"{name} has hallucination rate {s['hallucination_rate']:.3f} <= MTGC's "
                f"{full['hallucination_rate']:.3f}"
            )
    return out
