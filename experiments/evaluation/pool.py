"""Running the codecs: one matched encode per image and target rate, decodes in a worker
pool, and scoring."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from experiments.evaluation.natural import NaturalPlan
from experiments.evaluation.stats import (
    CodecResult,
)
from semcom.errors import SemcomError
from semcom.metrics.readers import image_counts


def _score(
    result: CodecResult,
    reference: torch.Tensor,
    truths: list | None,
    probe,
    metrics: Sequence[str] = (),
    natural: NaturalPlan | None = None,
) -> None:
    """Fill ``result``'s per-image figures: the probe's counts (pooled later; synthetic
    worlds only, ``truths`` None for a folder; ``probe``: the world's reader, the
    ShapesWorld probe or the ShapesWorld-Complex detector) and, through the sweep's
    :func:`~semcom.metrics.scoring.score`, PSNR, MS-SSIM and ``metrics``; on a folder the
    CLIP score where ``natural`` has a CLIP model."""
    from experiments.evaluation.natural import clip_extra
    from semcom.metrics.scoring import EXTRA, score

    if truths is not None and probe is not None:
        result.counts = image_counts(probe, result.images, truths)
    rows = score(reference, result.images, None, ("pixel", *metrics))
    result.psnr = [float(r["psnr"]) for r in rows]  # type: ignore[arg-type]
    result.ms_ssim = [float(r["ms_ssim"]) for r in rows]  # type: ignore[arg-type]
    names = {k for r in rows for k in (r[EXTRA] or {})}
    result.extra = {k: [_nan((r[EXTRA] or {}).get(k)) for r in rows] for k in sorted(names)}
    if natural is not None:
        result.extra.update(clip_extra(natural, reference, result.images))


def _nan(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def _registered(name: str, options: dict[str, Any] | None = None, **context: Any):
    """The registered digital codec ``name`` (a plug-in's or semcom's own)."""
    from semcom.registry import codec_class, make_codec

    cls = codec_class(name)
    if cls.kind != "digital":
        raise SemcomError(
            f"{name} is an analog codec: it has no bit rate to match; compare it over the "
            "link with `semcom sweep`."
        )
    return make_codec(name, options, **context) if options is not None else cls


def run_matched(name: str, images: torch.Tensor, targets: list[int], match: str, seed: int):
    """Registered digital codec ``name`` matched per image to ``targets`` (bits) by the
    planner's rule on bits (:mod:`experiments.rate_match`); decoded with ``seed``.
    Returns (reconstructions [N,3,H,W], bits per image, whole-file bits per image where
    the codec's options record them (``file_bits``), else an empty list)."""
    from experiments.rate_match import match_plan

    codec = _registered(name, {})
    recon, bits, files = [], [], []
    for img, target in zip(images, targets, strict=True):
        encoded = codec.encode(img)
        chosen = match_plan(encoded, target, match)
        recon.append(codec.decode(encoded.header, chosen.payloads, seed).float().clamp(0, 1))
        bits.append(chosen.bits)
        files.append(chosen.detail.get("file_bits"))
    return torch.stack(recon), bits, files if all(f is not None for f in files) else []


#: A decoding job: (header, received payloads) per image.
Job = list[tuple[bytes, dict[str, bytes]]]

_WORKER_CODEC = None


def _init_worker(
    reference: str, options: dict, weights: str | None, threads: int, device: str = "cpu"
) -> None:
    """Decoding worker: one thread, the reference codec built (and its model loaded) once."""
    global _WORKER_CODEC
    import warnings

    torch.set_num_threads(max(1, threads))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _WORKER_CODEC = _registered(reference, options, weights=weights, device=device)


def _decode_job(codec, job: Job, seed: int) -> torch.Tensor:
    return torch.stack(
        [codec.decode(header, received, seed).float().clamp(0, 1) for header, received in job]
    )


def _decode_in_worker(job: Job, seed: int) -> torch.Tensor:
    return _decode_job(_WORKER_CODEC, job, seed)
