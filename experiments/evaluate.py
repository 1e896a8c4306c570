"""``semcom evaluate``: codecs on ShapesWorld test (or validation) scenes, semantic and
pixel fidelity, or on a folder of natural images (``dataset="folder:PATH"``,
:mod:`experiments.folder_data`), pixel and perceptual fidelity only
(:mod:`experiments.eval_natural`: no ground truth, so no semantic figures).

Every codec is a registered digital codec (:mod:`semcom.registry`, ``semcom list
codecs``); ``--codec`` names them, plus ablations of the reference codec:

- the *reference* (``reference``, default ``mtgc``): each image encoded once
  (:meth:`~semcom.protocol.DigitalCodec.encode`) and planned into ``target_bpp`` of its
  pixels by the link planner's rule on bits (:func:`experiments.rate_match.plan_bits`:
  streams in priority order, each its first option that fits what is left). For MTGC the
  caption and SPWs go first and the HCI is the best-decoding setting that fits the rest.
- its ablations ``<reference>-<stream>[-<stream>…]`` (``mtgc-caption``,
  ``mtgc-caption-hci``, …): the same plan with the other streams left out (the receiver's
  fallback fills them); their rate counts only the streams they send. By default every
  single stream and every leave-one-out set.
- ``<reference>-oracle``: where the codec offers ``encode_oracle(image, objects)`` (MTGC:
  the ground-truth caption instead of the captioner's), the same plan from that encoding:
  an upper bound, labelled as such, never a default.
- every other digital codec (the conventional codecs, ``compressai``, a plug-in's) at the
  reference's rate. "equal" (the default) runs it "below" and "above" each image's
  reference bits and interpolates that image's figures linearly in bits between the two
  (its semantic counts too, so pooled F1 is that of the interpolated counts): the codec's
  score at exactly the reference's bits along its own rate-quality curve, image by image;
  where it cannot go as low, its lowest point, and the row's note counts those images.
  The other rules: per image, the plan the planner's rule makes at the reference's bits
  ("below"; where the codec cannot go that low, its smallest plan), the smallest plan it
  makes at or above them ("above": the codec gets at least the reference's bits, or its
  largest plan), or the nearer of the two ("nearest"); :mod:`experiments.rate_match`. The
  real bpp is
  reported. "interpolate" runs "below" and "above" and reports every figure linearly
  interpolated in bpp to the reference's mean rate (the codec's score *at* that rate
  along its rate-quality curve; intervals bootstrap the interpolated statistic); where
  the codec cannot go as low, the figures are those of its lowest points, and the row's
  note says so.

Every codec decodes each image with ``seed``. Figures per codec: mean bpp, semantic
accuracy (the mean of shape, colour, size and position accuracy over true objects),
object F1, hallucination rate, PSNR and MS-SSIM, and the mean of every field of the extra
``metrics`` (``--metric lpips`` …), each with a 95 % bootstrap confidence interval over
images (the pooled statistic recomputed on images drawn with replacement, percentile
interval). Per-image figures come from :func:`experiments.scoring.score`, the sweep's
scoring path; the semantic ones are pooled from the probe's per-image counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from experiments.eval_natural import NaturalPlan
from experiments.eval_report import (
    check_claim,
    columns_of,
    format_differences,
    format_markdown,
    format_table,
    rate_figure,
    reconstruction_figure,
)
from experiments.eval_stats import (
    COLUMNS,
    CodecResult,
    difference_keys,
    interpolated_stats_of,
    paired_differences,
    per_image_interpolated,
    stats_of,
    summarize,
    summarize_interpolated,
)
from semcom.errors import SemcomError
from semcom.metrics.semantic import count_scene

__all__ = [
    "COLUMNS",
    "EVAL_SPLITS",
    "MATCHES",
    "CodecResult",
    "EvalConfig",
    "ablation_streams",
    "check_claim",
    "columns_of",
    "default_codecs",
    "evaluate",
    "format_differences",
    "format_markdown",
    "format_table",
    "rate_figure",
    "reconstruction_figure",
    "run_matched",
    "summarize",
    "summarize_interpolated",
]

#: Rate-matching rules of the other codecs (``--match``).
MATCHES = ("equal", "above", "nearest", "below", "interpolate")
#: Splits ``semcom evaluate`` scores on: test for results, val for choosing (never train).
EVAL_SPLITS = ("test", "val")
#: The suffix of the reference codec's oracle variant.
ORACLE = "oracle"


def ablation_streams(name: str, reference: str) -> tuple[str, ...] | None:
    """The streams ablation ``name`` of ``reference`` keeps (``mtgc-caption-hci`` →
    (caption, hci)); None when ``name`` is not of the form ``<reference>-…``, SemcomError
    when it is but names a stream the codec lacks, repeats one or keeps them all."""
    from semcom.registry import codec_class

    prefix = f"{reference}-"
    if not name.startswith(prefix) or name == f"{reference}-{ORACLE}":
        return None
    streams = codec_class(reference).streams
    keep = tuple(name[len(prefix) :].split("-"))
    if any(s not in streams for s in keep) or len(set(keep)) != len(keep):
        raise SemcomError(
            f"{name}: an ablation keeps some of {reference}'s streams "
            f"({', '.join(streams)}), each once, joined by '-' (e.g. {reference}-{streams[0]})."
        )
    if len(keep) == len(streams):
        raise SemcomError(f"{name} keeps every stream: that is {reference} itself.")
    return keep


def default_codecs(reference: str = "mtgc") -> tuple[str, ...]:
    """The reference, each of its streams alone, each leave-one-out set, then every other
    installed digital codec (by name)."""
    from semcom.registry import codec_class, codec_names

    streams = codec_class(reference).streams
    singles = [(s,) for s in streams] if len(streams) > 1 else []
    leave_one = [tuple(t for t in streams if t != s) for s in streams] if len(streams) > 2 else []
    ablations = [f"{reference}-{'-'.join(k)}" for k in (*singles, *leave_one)]
    others = [n for n in codec_names() if n != reference and codec_class(n).kind == "digital"]
    return (reference, *ablations, *others)


@dataclass
class EvalConfig:
    """What to evaluate: codecs (None: :func:`default_codecs`), scenes (``split``: the
    test split for results, the validation split for choosing models and settings), the
    reference codec and its rate, decoding settings."""

    codecs: tuple[str, ...] | None = None
    n: int = 200
    #: ShapesWorld split the scenes come from (:data:`EVAL_SPLITS`).
    split: str = "test"
    seed: int = 0
    target_bpp: float = 0.05
    match: str = "equal"
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
    #: The codec whose rate the others match, and whose ablations may be named.
    reference: str = "mtgc"
    #: The reference codec's own options besides the flags above (its YAML keys).
    options: dict[str, Any] = field(default_factory=dict)
    #: Where the reference codec's models run (a resolved device: cpu, cuda, cuda:N).
    device: str = "cpu"
    #: ``shapes`` (ShapesWorld) or ``folder:PATH`` (the images of a folder).
    dataset: str = "shapes"
    #: A folder's images are resized to this side (None: the reference's natural size).
    image_size: int | None = None
    #: A folder's captions file (None: PATH/captions.jsonl when present).
    captions: str | None = None
    #: A local CLIP model folder for the CLIP score (folders only; None: skipped).
    clip: str | None = None
    #: Inception-v3 safetensors file for FID/KID (None: the perceptual weights folder's).
    inception: str | None = None
    #: FID/KID patch side (None: :func:`experiments.eval_natural.default_patch`).
    fid_patch: int | None = None

    def __post_init__(self) -> None:
        self._check_dataset()
        if self.codecs is None:
            _registered(self.reference)
            self.codecs = default_codecs(self.reference)
        for name in self.codecs:
            if ablation_streams(name, self.reference) is None and name != self.oracle:
                _registered(name)
        if self.oracle in self.codecs and not hasattr(_registered(self.reference), "encode_oracle"):
            raise SemcomError(f"{self.reference} has no oracle encoding to evaluate.")
        from semcom.data.shapes import BLOCK, dataset_seeds

        if not 1 <= self.n <= BLOCK:
            raise SemcomError(f"--n must be between 1 and {BLOCK} scenes.")
        if self.split not in EVAL_SPLITS:
            raise SemcomError(
                f"--split must be {' or '.join(EVAL_SPLITS)}, not {self.split!r} (the "
                "training scenes are what the models learned from)."
            )
        if not 0 <= self.seed < dataset_seeds(self.split):
            raise SemcomError(
                f"--seed must be in [0, {dataset_seeds(self.split)}): the {self.split} split "
                f"holds that many datasets of {BLOCK} scenes."
            )
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

    def _check_dataset(self) -> None:
        """SemcomError for an unknown data set, a folder without images, an oracle on a
        folder, or a folder's options given for ShapesWorld."""
        from experiments.folder_data import folder_of, image_files

        if self.fid_patch is not None and self.fid_patch < 1:
            raise SemcomError("--fid-patch must be a positive number of pixels.")
        if self.image_size is not None and self.image_size < 1:
            raise SemcomError("--image-size must be a positive number of pixels.")
        folder = folder_of(self.dataset)
        if folder is None and self.dataset != "shapes":
            raise SemcomError(
                f"--dataset {self.dataset} is not available: semantic scores need ground "
                "truth, which only ShapesWorld (shapes) has; for pixel and perceptual "
                "figures on your own images use --dataset folder:PATH."
            )
        if folder is None:
            given = {
                "--image-size": self.image_size,
                "--captions": self.captions,
                "--clip": self.clip,
                "--inception": self.inception,
                "--fid-patch": self.fid_patch,
            }
            named = [k for k, v in given.items() if v is not None]
            if named:
                raise SemcomError(
                    f"{', '.join(named)} apply to --dataset folder:PATH, not to ShapesWorld."
                )
            return
        if self.codecs is not None and self.oracle in self.codecs:
            raise SemcomError(
                f"{self.oracle} sends ShapesWorld's ground-truth caption; a folder has none "
                "(give your own captions with --captions)."
            )
        image_files(folder, self.n)

    @property
    def oracle(self) -> str:
        """The name of the reference's oracle variant."""
        return f"{self.reference}-{ORACLE}"

    def reference_options(self) -> dict[str, Any]:
        """The reference codec's options: ``options`` plus the flags that were given."""
        flags = {
            "steps": self.steps,
            "hci_lowpass": self.hci_lowpass,
            "init_strength": self.init_strength,
        }
        return {**self.options, **{k: v for k, v in flags.items() if v is not None}}


def _score(
    result: CodecResult,
    reference: torch.Tensor,
    truths: list | None,
    probe,
    metrics: Sequence[str] = (),
    natural: NaturalPlan | None = None,
) -> None:
    """Fill ``result``'s per-image figures: the probe's counts (pooled later; ShapesWorld
    only, ``truths`` None for a folder) and, through the sweep's
    :func:`~experiments.scoring.score`, PSNR, MS-SSIM and ``metrics``; on a folder the
    CLIP score where ``natural`` has a CLIP model."""
    from experiments.eval_natural import clip_extra
    from experiments.scoring import EXTRA, score

    if truths is not None and probe is not None:
        reads = probe.read(result.images.float().clamp(0, 1))
        result.counts = [count_scene(t, r) for t, r in zip(truths, reads, strict=True)]
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


@dataclass
class EvalData:
    """The originals [N,3,H,W] in [0, 1], their ShapesWorld objects (None: a folder, no
    ground truth), the user's captions (None entries: the codec's own) and, for a
    folder, its file names, captions file and the figures it can get."""

    images: torch.Tensor
    truths: list | None
    captions: list[str | None]
    names: list[str] = field(default_factory=list)
    captions_file: str | None = None
    natural: NaturalPlan | None = None


def load_data(cfg: EvalConfig, ref: Any) -> EvalData:
    """``cfg``'s images: ShapesWorld scenes, or a folder's images at ``cfg.image_size``
    (default: the reference ``ref``'s natural size) with their captions."""
    from experiments.eval_natural import plan_natural
    from experiments.folder_data import folder_of, load_folder
    from experiments.reference_codec import check_size, has_captioner, natural_size
    from experiments.reference_codec import takes_captions as captioned

    folder = folder_of(cfg.dataset)
    if folder is None:
        from semcom.data.shapes import ShapesWorld

        data = ShapesWorld(cfg.split, n=cfg.n, seed=cfg.seed)
        items = [data[i] for i in range(cfg.n)]
        images = torch.stack([it.image for it in items])
        return EvalData(images, [it.objects for it in items], [None] * cfg.n)
    size = cfg.image_size if cfg.image_size is not None else natural_size(ref)
    if size is None:
        raise SemcomError(
            f"--image-size is needed: the reference {cfg.reference} states no natural image size."
        )
    check_size(ref, cfg.reference, size)
    given = Path(cfg.captions) if cfg.captions is not None else None
    if given is not None and not captioned(ref):
        raise SemcomError(
            f"--captions gives the transmitter's caption, but {cfg.reference} sends none; "
            "leave --captions out."
        )
    fs = load_folder(folder, size, cfg.n, given, with_captions=captioned(ref))
    bare = [k for k, c in zip(fs.names, fs.captions, strict=True) if c is None]
    if bare and captioned(ref) and not has_captioner(ref):
        raise SemcomError(
            f"{len(bare)} images ({bare[0]} first) have no caption and {cfg.reference}'s model "
            "has no captioner; give each one in --captions (or PATH/captions.jsonl) or add "
            "captioner/ to the weights directory."
        )
    natural = plan_natural(
        len(fs.names), size, tuple(cfg.metrics), cfg.clip, cfg.inception, cfg.fid_patch
    )
    return EvalData(
        fs.images,
        None,
        fs.captions,
        fs.names,
        str(fs.captions_file) if fs.captions_file is not None else None,
        natural,
    )


def evaluate(
    cfg: EvalConfig,
    progress: Callable[[str], None] | None = None,
    about: dict[str, Any] | None = None,
) -> tuple[list[dict], dict[str, CodecResult], torch.Tensor]:
    """Run every codec of ``cfg``; returns (summaries, results by codec, references).

    ``about``, when given, receives what the run was on: ``images`` (count),
    ``image_size``, and for a folder ``files``, ``captions_file`` and ``notes`` (one line
    per figure skipped here, and why).
    """
    from experiments.eval_natural import reference_features, set_figures
    from experiments.rate_match import plan_bits
    from experiments.reference_codec import encode as encode_reference
    from semcom.metrics.semantic import load_probe

    say = progress or (lambda msg: None)
    codecs = tuple(cfg.codecs or ())
    options = cfg.reference_options()
    ref = _registered(cfg.reference, options, weights=cfg.weights, device=cfg.device)
    data = load_data(cfg, ref)
    reference, truths, natural = data.images, data.truths, data.natural
    count = reference.shape[0]
    h, w = reference.shape[-2:]
    if about is not None:
        about.update(images=count, image_size=[h, w])
        if natural is not None:
            about.update(
                files=data.names,
                captions_file=data.captions_file,
                captions=sum(c is not None for c in data.captions),
                notes=list(natural.notes),
            )
    budget = int(cfg.target_bpp * h * w)
    probe = load_probe() if truths is not None else None
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
            result.stream_bits = {
                s: float(np.mean([8 * len(r.get(s, b"")) for r in received[name]])) for s in keep
            }
            _score(result, reference, truths, probe, metrics, natural)
            results[name] = result
            say(f"{name}: decoded ({time.time() - t_ref:.0f} s since decoding began)")
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
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
    return summaries, results, reference
