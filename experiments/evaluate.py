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
- any other registered digital codec (a plug-in's, `semcom list codecs`): per image, the
  plan the link's planner rule makes at MTGC's bits ("below"), or the smallest plan it can
  make at or above them ("above"; :mod:`experiments.rate_match`), decoded with ``seed``.

Figures per codec: mean bpp, semantic accuracy (the mean of shape, colour, size and
position accuracy over true objects), object F1, hallucination rate, PSNR and MS-SSIM,
and the mean of every field of the extra ``metrics`` (``--metric lpips`` …), each with a
95 % bootstrap confidence interval over images (the pooled statistic recomputed on images
drawn with replacement, percentile interval). Per-image figures come from
:func:`experiments.scoring.score`, the sweep's scoring path; the semantic ones are pooled
from the probe's per-image counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from experiments.eval_report import (
    check_claim,
    columns_of,
    format_markdown,
    format_table,
    reconstruction_figure,
)
from experiments.eval_stats import COLUMNS, CodecResult, summarize, summarize_interpolated
from semcom.baselines.conventional import CODEC_NAMES as CONVENTIONAL
from semcom.errors import SemcomError
from semcom.metrics.semantic import count_scene

__all__ = [
    "ALL_CODECS",
    "COLUMNS",
    "DEFAULT_CODECS",
    "MATCHES",
    "MTGC_VARIANTS",
    "CodecResult",
    "EvalConfig",
    "check_claim",
    "columns_of",
    "evaluate",
    "format_markdown",
    "format_table",
    "reconstruction_figure",
    "run_conventional",
    "run_registered",
    "summarize",
    "summarize_interpolated",
]

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
    #: Override the decoder's ``init_strength`` (1: sample from noise; None: the model's).
    init_strength: float | None = None
    #: Metrics scored beside pixel and semantic ones (registered names, e.g. lpips).
    metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.codecs:
            if name not in ALL_CODECS:
                _registered(name)
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
        if self.init_strength is not None:
            from semcom.mgdd import check_strength

            check_strength(self.init_strength, "--init-strength")
        if self.metrics:
            from experiments.scoring import check_available
            from semcom.metrics.registry import check_metrics

            extra = tuple(self.metrics)
            if {"pixel", "semantic"} & set(extra):
                raise SemcomError(
                    "pixel and semantic figures are always scored; --metric adds others."
                )
            check_metrics(("pixel", *extra))
            check_available(extra)


def _score(
    result: CodecResult, reference: torch.Tensor, truths: list, probe, metrics: Sequence[str] = ()
) -> None:
    """Fill ``result``'s per-image figures: the probe's counts (pooled later) and, through
    the sweep's :func:`~experiments.scoring.score`, PSNR, MS-SSIM and ``metrics``."""
    from experiments.scoring import EXTRA, score

    reads = probe.read(result.images.float().clamp(0, 1))
    result.counts = [count_scene(t, r) for t, r in zip(truths, reads, strict=True)]
    rows = score(reference, result.images, None, ("pixel", *metrics))
    result.psnr = [float(r["psnr"]) for r in rows]  # type: ignore[arg-type]
    result.ms_ssim = [float(r["ms_ssim"]) for r in rows]  # type: ignore[arg-type]
    names = {k for r in rows for k in (r[EXTRA] or {})}
    result.extra = {k: [_nan((r[EXTRA] or {}).get(k)) for r in rows] for k in sorted(names)}


def _nan(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def _match(points: list[tuple[int, object]], target_bits: int, match: str):
    """Pick (bits, item) from ``points`` sorted by bits, by the matching rule."""
    if match == "nearest":
        return min(points, key=lambda p: abs(p[0] - target_bits))
    if match == "above":
        above = [p for p in points if p[0] >= target_bits]
        return above[0] if above else points[-1]
    below = [p for p in points if p[0] <= target_bits]
    return below[-1] if below else points[0]


def _registered(name: str):
    """The registered digital codec ``name`` (a plug-in's or semcom's own) for evaluate."""
    from semcom.registry import codec_class, make_codec

    try:
        cls = codec_class(name)
    except SemcomError as err:
        raise SemcomError(
            f"unknown codec {name!r}; choose from {', '.join(ALL_CODECS)} or an installed "
            "digital codec (`semcom list codecs`)."
        ) from err
    if cls.kind != "digital":
        raise SemcomError(
            f"{name} is an analog codec: it has no bit rate to match; compare it over the "
            "link with `semcom sweep`."
        )
    return make_codec(name)


def run_registered(name: str, images: torch.Tensor, targets: list[int], match: str, seed: int):
    """A registered digital codec matched per image to ``targets`` (bits) by the planner's
    rule on bits (:mod:`experiments.rate_match`); decoded with ``seed``."""
    from experiments.rate_match import match_plan

    codec = _registered(name)
    recon, bits = [], []
    for img, target in zip(images, targets, strict=True):
        encoded = codec.encode(img)
        chosen = match_plan(encoded, target, match)
        recon.append(codec.decode(encoded.header, chosen.payloads, seed).float().clamp(0, 1))
        bits.append(chosen.bits)
    return torch.stack(recon), bits


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


def _load(weights: str | None, hci_lowpass: int | None, init_strength: float | None = None):
    """The tiny codec of ``weights``, with ``hci_lowpass`` and the decoder's
    ``init_strength`` overridden when given."""
    from semcom.errors import SemcomError
    from semcom.presets.tiny import load_tiny

    codec = load_tiny(weights)
    if hci_lowpass is not None:
        codec.config.hci_lowpass = hci_lowpass
    if init_strength is not None:
        if init_strength < 1.0 and not codec.mgdd.config.guide_channels:
            raise SemcomError(
                "--init-strength below 1 starts from the scene sketch, which this model lacks."
            )
        codec.mgdd.config.init_strength = init_strength
    return codec


def _init_worker(
    weights: str | None,
    threads: int,
    hci_lowpass: int | None = None,
    init_strength: float | None = None,
) -> None:
    """Decoding worker: one thread, the model loaded once."""
    global _WORKER_CODEC
    import warnings

    torch.set_num_threads(max(1, threads))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _WORKER_CODEC = _load(weights, hci_lowpass, init_strength)


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
    codec = _load(cfg.weights, cfg.hci_lowpass, cfg.init_strength)
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
            initargs=(cfg.weights, torch.get_num_threads(), cfg.hci_lowpass, cfg.init_strength),
        )
        for name, i in jobs:
            futures[(name, i)] = pool.submit(
                _decode_chunk, streams_of[name][i : i + cfg.batch], cfg.steps
            )

    def run_baseline(name: str, images: torch.Tensor, targets: list[int], match: str):
        if name in ALL_CODECS:
            return run_conventional(name, images, targets, match)
        return run_registered(name, images, targets, match, cfg.seed)

    try:
        for name in cfg.codecs:
            if name in MTGC_VARIANTS:
                continue
            t1 = time.time()
            if cfg.match == "interpolate":
                sides = []
                for side in ("below", "above"):
                    recon, bits = run_baseline(name, reference, targets, side)
                    sides.append(CodecResult(name, recon, bits, seconds=time.time() - t1))
                    _score(sides[-1], reference, truths, probe, cfg.metrics)
                brackets[name] = (sides[0], sides[1])
                results[name] = sides[1]
            else:
                recon, bits = run_baseline(name, reference, targets, cfg.match)
                results[name] = CodecResult(name, recon, bits, seconds=time.time() - t1)
                _score(results[name], reference, truths, probe, cfg.metrics)
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
            _score(result, reference, truths, probe, cfg.metrics)
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
