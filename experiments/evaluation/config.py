"""What an evaluation runs: the codecs, matching rules, splits and the ablations
(:class:`EvalConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from experiments.evaluation.pool import _registered
from semcom.errors import SemcomError

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
    #: A named data set (``shapes``: ShapesWorld, ``shapes-complex``: ShapesWorld-Complex;
    #: :mod:`semcom.data.datasets`) or ``folder:PATH`` (the images of a folder).
    dataset: str = "shapes"
    #: A folder's images are resized to this side (None: the reference's natural size).
    image_size: int | None = None
    #: A folder's captions file (None: PATH/captions.jsonl when present).
    captions: str | None = None
    #: A local CLIP model folder for the CLIP score (folders only; None: skipped).
    clip: str | None = None
    #: Inception-v3 safetensors file for FID/KID (None: the perceptual weights folder's).
    inception: str | None = None
    #: FID/KID patch side (None: :func:`experiments.evaluation.natural.default_patch`).
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
        own = {"hci_lowpass": self.hci_lowpass, "init_strength": self.init_strength}
        own = {k: v for k, v in own.items() if v is not None}
        if own:  # the reference codec's own options: the codec says what it takes
            from semcom.registry import codec_class

            try:
                codec_class(self.reference).check_options(own)
            except ValueError as err:
                named = next((k for k in own if k in str(err)), next(iter(own)))
                flag = "--" + named.replace("_", "-")
                raise SemcomError(f"{flag}: {str(err).rstrip('.')}.") from None
        if self.metrics:
            from semcom.metrics.registry import check_metrics
            from semcom.metrics.scoring import check_available

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
        from semcom.data.folder import folder_of, image_files

        if self.fid_patch is not None and self.fid_patch < 1:
            raise SemcomError("--fid-patch must be a positive number of pixels.")
        if self.image_size is not None and self.image_size < 1:
            raise SemcomError("--image-size must be a positive number of pixels.")
        folder = folder_of(self.dataset)
        from semcom.data.datasets import dataset_names

        if folder is None and self.dataset not in dataset_names():
            raise SemcomError(
                f"--dataset {self.dataset} is not available: semantic scores need ground "
                f"truth, which the synthetic worlds have ({', '.join(dataset_names())}); for "
                "pixel and perceptual figures on your own images use --dataset folder:PATH."
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
                    f"{', '.join(named)} apply to --dataset folder:PATH, not to {self.dataset}."
                )
            if self.dataset != "shapes" and self.codecs is not None and self.oracle in self.codecs:
                raise SemcomError(
                    f"{self.oracle} sends ShapesWorld's ground-truth caption; {self.dataset} "
                    "has no oracle encoding (leave it out)."
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
        """The reference codec's options: ``options`` plus the flags that were given; on
        ShapesWorld-Complex, without ``--weights`` or a ``preset`` option, a codec that
        takes a preset (MTGC) gets the one trained for that world (``tiny-complex``)."""
        flags = {
            "steps": self.steps,
            "hci_lowpass": self.hci_lowpass,
            "init_strength": self.init_strength,
        }
        options = {**self.options, **{k: v for k, v in flags.items() if v is not None}}
        if self.dataset == "shapes-complex" and self.weights is None and "preset" not in options:
            from semcom.mtgc.config import DATASET_PRESETS
            from semcom.registry import codec_class

            if "preset" in getattr(codec_class(self.reference), "option_names", ()):
                options["preset"] = DATASET_PRESETS[self.dataset]
        return options
