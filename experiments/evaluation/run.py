"""One evaluation from config to tables (:func:`evaluate`): every codec run on every
image (:func:`measure`, per-image results), then pooled (:func:`pooled`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from experiments.evaluation.config import EvalConfig, ablation_streams
from experiments.evaluation.data import load_data
from experiments.evaluation.natural import NaturalPlan
from experiments.evaluation.pool import (
    _decode_in_worker,
    _decode_job,
    _init_worker,
    _registered,
    _score,
    run_matched,
)
from experiments.evaluation.stats import (
    CodecResult,
    difference_keys,
    interpolated_stats_of,
    paired_differences,
    per_image_interpolated,
    stats_of,
    summarize,
    summarize_interpolated,
)


def world_notice(cfg: EvalConfig, ref: Any, images: torch.Tensor) -> str | None:
    """The line (:func:`semcom.worlds.dataset_notice`) saying which of ``cfg``'s codecs
    were trained on other images than ``cfg.dataset``'s ``images`` [N,3,H,W], and what to
    expect and use instead; None when every codec knows them (or states no world). The
    reference's ablations and oracle are the reference's weights: it is named once."""
    from semcom.worlds import codec_label, codec_world, dataset_notice

    named: dict[str, tuple[str, str | None]] = {}
    for name in cfg.codecs or ():
        own = ablation_streams(name, cfg.reference) is not None or name == cfg.oracle
        base = cfg.reference if own else name
        if base not in named:
            codec = ref if base == cfg.reference else _registered(base, {})
            named[base] = (codec_label(codec, base), codec_world(codec))
    return dataset_notice(list(named.values()), cfg.dataset, images)


@dataclass
class Measured:
    """An evaluation's per-image results, before pooling (:func:`measure`)."""

    #: Each codec's per-image results (by ``cfg.codecs``' names; "interpolate": the
    #: "above" side, both sides in ``brackets``).
    results: dict[str, CodecResult]
    #: "interpolate" only: each other codec matched (below, above) each image's target.
    brackets: dict[str, tuple[CodecResult, CodecResult]]
    #: The reference's bits per image (what the others are matched to).
    targets: list[int]
    #: The originals [N,3,H,W] in [0, 1].
    reference: torch.Tensor
    #: Each original's index in the evaluated set (0 … cfg.n − 1; a subset for a verify).
    indices: list[int]
    #: A folder's file names, one per original (empty for a synthetic world).
    names: list[str] = field(default_factory=list)
    #: A folder's figures beyond the per-image ones (None for a synthetic world).
    natural: NaturalPlan | None = None
    #: The reference codec as built (models loaded), for another call to reuse.
    codec: Any = None

    @property
    def pixels(self) -> int:
        """Pixels per image (H·W)."""
        return int(self.reference.shape[-2] * self.reference.shape[-1])


def evaluate(
    cfg: EvalConfig,
    progress: Callable[[str], None] | None = None,
    about: dict[str, Any] | None = None,
    warn: Callable[[str], None] | None = None,
) -> tuple[list[dict], dict[str, CodecResult], torch.Tensor]:
    """Run every codec of ``cfg``; returns (summaries, results by codec, references):
    :func:`measure`, then :func:`pooled`. ``about`` and ``warn``: :func:`measure`'s."""
    measured = measure(cfg, progress, about, warn)
    return pooled(cfg, measured), measured.results, measured.reference


def measure(
    cfg: EvalConfig,
    progress: Callable[[str], None] | None = None,
    about: dict[str, Any] | None = None,
    warn: Callable[[str], None] | None = None,
    indices: Sequence[int] | None = None,
    codec: Any = None,
) -> Measured:
    """Run every codec of ``cfg`` on its images; the per-image results, not pooled.

    ``indices``: only these of ``cfg``'s images (indices into its ``cfg.n``; None: all).
    Every image is coded on its own with ``cfg.seed``, so an image's figures do not
    depend on which others run beside it (``semcom verify`` re-runs a sample this way).
    ``codec``: the reference codec already built from ``cfg`` (None: built here).
    ``about``, when given, receives what the run was on: ``images`` (count),
    ``image_size``, and for a folder ``files``, ``captions_file`` and ``notes`` (one line
    per figure skipped here, and why); and ``world``, the line :func:`world_notice`
    writes when a codec was trained on other images than these (also handed to ``warn``
    once, before any coding).
    """
    from experiments.rate_match import plan_bits
    from experiments.reference_codec import encode as encode_reference
    from semcom.metrics.readers import load_reader

    say = progress or (lambda msg: None)
    codecs = tuple(cfg.codecs or ())
    options = cfg.reference_options()
    ref = codec
    if ref is None:
        ref = _registered(cfg.reference, options, weights=cfg.weights, device=cfg.device)
    data = load_data(cfg, ref)
    if indices is not None:
        data = data.take(indices)
    picked = list(range(data.images.shape[0])) if indices is None else [int(i) for i in indices]
    reference, truths, natural = data.images, data.truths, data.natural
    count = reference.shape[0]
    h, w = reference.shape[-2:]
    notice = world_notice(cfg, ref, reference)
    if notice is not None and warn is not None:
        warn(notice)
    if about is not None:
        about.update(images=count, image_size=[h, w], world=notice)
        if natural is not None:
            about.update(
                files=data.names,
                captions_file=data.captions_file,
                captions=sum(c is not None for c in data.captions),
                notes=list(natural.notes),
            )
    budget = int(cfg.target_bpp * h * w)
    probe = load_reader(cfg.dataset) if truths is not None else None
    metrics = natural.metrics if natural is not None else cfg.metrics
    results: dict[str, CodecResult] = {}
    brackets: dict[str, tuple[CodecResult, CodecResult]] = {}

    t0 = time.time()
    encoded = [
        encode_reference(ref, img, cap) for img, cap in zip(reference, data.captions, strict=True)
    ]
    plans = [plan_bits(e, budget) for e in encoded]
    kind = "scenes" if truths is not None else "images"
    say(f"encoded {count} {kind} at {cfg.target_bpp} bpp in {time.time() - t0:.0f} s")
    targets = [p.bits for p in plans]
    variants: dict[str, tuple[list, list, tuple[str, ...]]] = {}
    for name in codecs:
        keep = ablation_streams(name, cfg.reference)
        if name == cfg.reference:
            variants[name] = (encoded, plans, tuple(ref.streams))
        elif keep is not None:
            variants[name] = (encoded, plans, keep)
        elif name == cfg.oracle:
            oracle = [ref.encode_oracle(img, t) for img, t in zip(reference, truths, strict=True)]
            variants[name] = (oracle, [plan_bits(e, budget) for e in oracle], tuple(ref.streams))
    received = {
        name: [{s: p.payloads[s] for s in keep if s in p.payloads} for p in ps]
        for name, (_, ps, keep) in variants.items()
    }
    jobs = {}
    for name, (encs, _, _) in variants.items():
        pairs = [(e.header, r) for e, r in zip(encs, received[name], strict=True)]
        for i in range(0, count, cfg.batch):
            jobs[(name, i)] = pairs[i : i + cfg.batch]

    # The reference's variants decode on `workers` processes (each builds the codec once)
    # while this process runs the other codecs; results are identical to decoding here.
    pool = None
    futures = {}
    t_ref = time.time()
    if cfg.workers > 1 and jobs:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            cfg.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(cfg.reference, options, cfg.weights, torch.get_num_threads(), cfg.device),
        )
        futures = {key: pool.submit(_decode_in_worker, job, cfg.seed) for key, job in jobs.items()}

    try:
        for name in codecs:
            if name in variants:
                continue
            t1 = time.time()
            if cfg.match in ("interpolate", "equal"):
                sides = []
                for side in ("below", "above"):
                    recon, bits, files = run_matched(name, reference, targets, side, cfg.seed)
                    sides.append(
                        CodecResult(name, recon, bits, seconds=time.time() - t1, file_bits=files)
                    )
                    _score(sides[-1], reference, truths, probe, metrics, natural)
                if cfg.match == "equal":
                    results[name] = per_image_interpolated(sides[0], sides[1], targets)
                else:
                    brackets[name] = (sides[0], sides[1])
                    results[name] = sides[1]
            else:
                recon, bits, files = run_matched(name, reference, targets, cfg.match, cfg.seed)
                results[name] = CodecResult(
                    name, recon, bits, seconds=time.time() - t1, file_bits=files
                )
                _score(results[name], reference, truths, probe, metrics, natural)
            say(f"{name}: {time.time() - t1:.0f} s")
        for name, (_, _, keep) in variants.items():
            chunks = [
                futures[(name, i)].result()
                if pool is not None
                else _decode_job(ref, jobs[(name, i)], cfg.seed)
                for i in range(0, count, cfg.batch)
            ]
            note = (
                "ground truth where the transmitter would estimate (upper bound, not a transmitter)"
                if name == cfg.oracle
                else ""
            )
            bits = [8 * sum(len(v) for v in r.values()) for r in received[name]]
            result = CodecResult(
                name, torch.cat(chunks), bits, seconds=time.time() - t_ref, note=note
            )
            result.streams = {s: [8 * len(r.get(s, b"")) for r in received[name]] for s in keep}
            result.stream_bits = {s: float(np.mean(v)) for s, v in result.streams.items()}
            _score(result, reference, truths, probe, metrics, natural)
            results[name] = result
            say(f"{name}: decoded ({time.time() - t_ref:.0f} s since decoding began)")
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return Measured(results, brackets, targets, reference, picked, list(data.names), natural, ref)


def pooled(cfg: EvalConfig, measured: Measured) -> list[dict]:
    """``measured``'s figures pooled per codec of ``cfg``: point estimates with 95 %
    bootstrap intervals, a folder's set figures, and each codec's paired difference from
    the reference."""
    from experiments.evaluation.natural import reference_features, set_figures

    results, brackets, targets = measured.results, measured.brackets, measured.targets
    reference = measured.reference
    codecs = tuple(cfg.codecs or ())
    count = reference.shape[0]
    h, w = reference.shape[-2:]
    natural = measured.natural
    summaries = [
        summarize_interpolated(*brackets[c], targets, h * w, cfg.bootstrap, cfg.seed)
        if c in brackets
        else summarize(results[c], h * w, cfg.bootstrap, cfg.seed)
        for c in codecs
    ]
    if natural is not None:
        originals = reference_features(natural, reference)
        for s in summaries:
            figures = set_figures(natural, originals, results[s["codec"]].images, cfg.seed)
            s.update(figures)
            s["set_fields"] = list(figures)
    if cfg.reference in results:
        ref_stats = stats_of(results[cfg.reference], h * w)
        keys = difference_keys(ref_stats(np.arange(count)))
        for s in summaries:
            name = s["codec"]
            if name == cfg.reference:
                continue
            other = (
                interpolated_stats_of(*brackets[name], targets, h * w)[0]
                if name in brackets
                else stats_of(results[name], h * w)
            )
            s["vs_reference"] = paired_differences(
                ref_stats, other, count, cfg.bootstrap, cfg.seed, keys
            )
    return summaries
