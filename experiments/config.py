"""Sweep configurations: YAML (safe loader) → a validated :class:`SweepConfig`.

Every error names the key and says what is accepted, in one sentence (a
:class:`~semcom.errors.SemcomError`). Example (``experiments/configs/default.yaml``)::

    name: default
    dataset: {split: test, n: 4, size: 128, seed: 0}
    codecs:
      - mtgc                       # or {name: mtgc, steps: 10, protection: {hci: mcs9}}
      - {name: webp, mcs: adaptive}
      - {name: webp, label: webp-harq, harq: 4}  # a label tells two entries of one codec
                                   # apart; a codec's own harq overrides the sweep's
    channels: [awgn, rayleigh, tdl-a]  # or {name: rayleigh, label: fast, coherence: 1}
    snr_db: [-4, 0, 4, 8, 12, 16, 20]
    budget_cpp: [0.03, 0.1, 0.3]
    metrics: [pixel, semantic]     # the default; add lpips, dists or a plug-in's
    trials: 1
    seed: 0
    frame: shared                  # one frame per image; per-stream: the old layout
    harq: 4                        # optional: HARQ, up to 4 transmissions per stream (or a
                                   # mapping: max_transmissions, rv_order, combining, budget)
    device: cpu                    # cuda, cuda:N or auto: models and link on a GPU

The config hash (:meth:`SweepConfig.hash`) covers everything that changes a result,
the metric set and the frame layout included (a config with the default metrics keeps the
hash it had before metrics could be chosen; every config's hash changed when the frame
layout became a key, since the shared frame changed the results).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import MISSING, asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from semcom.errors import SemcomError

SPLITS = ("train", "val", "test")
_TOP_KEYS = (
    "name",
    "dataset",
    "codecs",
    "channels",
    "snr_db",
    "budget_cpp",
    "metrics",
    "trials",
    "seed",
    "decode_seed",
    "save_images",
    "frame",
    "harq",
    "device",
)
_DATASET_KEYS = ("name", "split", "n", "size", "seed")
#: Keys of a codec entry that every codec takes; the rest are the codec's own options.
_SPEC_KEYS = ("name", "label", "mcs", "protection", "harq", "objective", "tolerance")


@dataclass(frozen=True)
class DatasetSpec:
    """Scenes of a synthetic world (``name``: :mod:`semcom.data.datasets`): ``n`` images of
    ``split`` at ``size``×``size`` from dataset ``seed``."""

    name: str = "shapes"
    split: str = "test"
    n: int = 4
    size: int = 128
    seed: int = 0


#: Options that were fields of :class:`CodecSpec` before every option became the codec's
#: own: a codec entry's canonical form keeps them as keys, with these defaults, so that
#: configs keep their hash.
LEGACY_OPTIONS: dict[str, Any] = {"steps": None, "preset": "tiny"}


@dataclass(frozen=True)
class CodecSpec:
    """One codec of a sweep: a registered codec (:mod:`semcom.registry`) and its settings.

    ``mcs``: the protection of the codec's adaptive streams; ``protection``: per-stream MCS
    (wins over ``mcs``); ``options``: the options the entry gives, checked by the codec's
    own ``check_options`` (MTGC's ``steps``, ``preset``, ``hci_lowpass``, a plug-in's), as
    sorted (key, value) pairs; ``own_label``: the name its rows and curves
    carry when the config gives one (needed for two entries of one codec that differ in
    protection or options); ``harq``: this codec's HARQ policy (fields as sorted pairs;
    ``max_transmissions`` 1 for none), overriding the sweep's ``harq`` (None: the sweep's).
    """

    name: str
    mcs: str = "adaptive"
    protection: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()
    own_label: str = ""
    harq: tuple[tuple[str, Any], ...] | None = None
    #: ``mcs: planned``: what the planner maximises (:class:`experiments.planning.Objective`
    #: text; None: ``f1``) and its tie-break tolerance (None: the default).
    objective: str | None = None
    tolerance: float | None = None

    def harq_policy(self, default=None):
        """This codec's :class:`channels.harq.HarqPolicy` (None: one transmission), or
        ``default`` (the sweep's) when the entry gives none."""
        from channels.harq import HarqPolicy

        if self.harq is None:
            return default
        policy = HarqPolicy(**dict(self.harq))
        return None if policy.max_transmissions == 1 else policy

    @property
    def label(self) -> str:
        """A unique, readable name: the config's ``label``, else ``webp`` or ``webp@mcs9``."""
        if self.own_label:
            return self.own_label
        if self.mcs == "planned" and self.objective not in (None, "f1"):
            return f"{self.name}@planned-" + re.sub(r"[^A-Za-z0-9_.]+", "_", self.objective)
        return self.name if self.mcs == "adaptive" else f"{self.name}@{self.mcs}"

    def planner_objective(self):
        """The :class:`experiments.planning.Objective` of a planned codec."""
        from experiments.planning import Objective

        return Objective.parse(self.objective or "f1", self.tolerance)

    def codec_options(self) -> dict[str, Any]:
        """The options the entry gives the codec (its own defaults fill the rest)."""
        return dict(self.options)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in the form configs have always been hashed in: ``steps`` and
        ``preset`` as keys of their own (:data:`LEGACY_OPTIONS`), ``options`` (the rest)
        only when there are any."""
        d = asdict(self)
        rest = dict(self.options)
        legacy = {k: rest.pop(k, default) for k, default in LEGACY_OPTIONS.items()}
        d = {"name": d.pop("name"), "mcs": d.pop("mcs"), "protection": d.pop("protection"),
             **legacy, **d}  # fmt: skip
        d["options"] = tuple(sorted(rest.items()))
        if not rest:
            d.pop("options")
        if not self.own_label:
            d.pop("own_label")
        for key in ("objective", "tolerance"):  # only when set: older configs keep their hash
            if d[key] is None:
                d.pop(key)
        if self.harq is None:
            d.pop("harq")
        else:
            d["harq"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.harq}
        return d


@dataclass(frozen=True)
class ChannelSpec:
    """One channel of a sweep: a registered channel model (:mod:`channels.registry`), its
    options as sorted (key, value) pairs, and the label its rows carry."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    def to_dict(self) -> str | dict[str, Any]:
        """The bare name when there are no options and no own label (so configs written
        before channel options existed keep their hash), else a mapping."""
        if not self.options and self.label == self.name:
            return self.name
        return {"name": self.name, "label": self.label, **dict(self.options)}


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: every combination of codec, channel, SNR, budget, image, trial."""

    name: str
    dataset: DatasetSpec
    codecs: tuple[CodecSpec, ...]
    channels: tuple[ChannelSpec, ...]
    snr_db: tuple[float, ...]
    budget_cpp: tuple[float, ...]
    trials: int = 1
    seed: int = 0
    decode_seed: int = 0
    save_images: int = 2
    metrics: tuple[str, ...] = ("pixel", "semantic")
    #: The link's frame layout: ``shared`` (one frame and one channel realisation per
    #: transmitted image) or ``per-stream`` (:mod:`channels.frame`).
    frame: str = "shared"
    #: HARQ per stream (:class:`channels.harq.HarqPolicy` fields as sorted pairs), or None.
    harq: tuple[tuple[str, Any], ...] | None = None
    #: Where the models and the link run (``cpu``, ``cuda``, ``cuda:N``; ``auto`` resolves
    #: when the config loads). The hash holds ``cuda`` for every GPU, nothing for the CPU.
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        """The canonical form the hash is taken over (``metrics`` only when not the
        default set, so older configs keep their hash)."""
        from semcom.metrics.registry import DEFAULT_METRICS

        d = asdict(self)
        d["codecs"] = [c.to_dict() for c in self.codecs]
        d["channels"] = [c.to_dict() for c in self.channels]
        if tuple(self.metrics) == DEFAULT_METRICS:
            del d["metrics"]
        else:
            d["metrics"] = list(self.metrics)
        if self.device == "cpu":  # CPU configs keep their hash; a GPU's rounding may differ
            del d["device"]
        else:
            d["device"] = "cuda"
        if self.harq is None:  # configs without HARQ keep their hash
            del d["harq"]
        else:
            d["harq"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.harq}
        return d

    def harq_policy(self):
        """The :class:`channels.harq.HarqPolicy` of ``harq`` (None: one transmission)."""
        from channels.harq import HarqPolicy

        return None if self.harq is None else HarqPolicy(**dict(self.harq))

    def identity(self) -> dict[str, Any]:
        """The config's normalised content (:func:`identity_of` its :meth:`to_dict`)."""
        return identity_of(self.to_dict())

    def hash(self) -> str:
        """16 hex digits of SHA-256 over the config's :meth:`identity` (canonical JSON)."""
        return identity_hash(self.identity())

    @property
    def num_points(self) -> int:
        """Rows the sweep writes: images × trials × codecs × channels × SNRs × budgets."""
        return (
            self.dataset.n
            * self.trials
            * len(self.codecs)
            * len(self.channels)
            * len(self.snr_db)
            * len(self.budget_cpp)
        )


@lru_cache(maxsize=8)
def _defaults(cls) -> dict[str, Any]:
    """A dataclass's field defaults, as :meth:`to_dict` writes them (JSON values)."""
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = json.loads(json.dumps(f.default))
    return out


def _codec_identity(entry: dict[str, Any]) -> dict[str, Any]:
    """One codec entry less its defaults: the spec's, and among its options those equal to
    what the codec takes by default (and ``steps``/``preset`` when it takes neither)."""
    from semcom.registry import codec_class

    defaults = {**_defaults(CodecSpec), **LEGACY_OPTIONS}
    out = {k: v for k, v in entry.items() if defaults.get(k, MISSING) != v}
    try:
        cls = codec_class(entry["name"])
        declared = tuple(getattr(cls, "option_names", ()))
        taken = json.loads(json.dumps(cls.check_options({})))
    except (SemcomError, ValueError, TypeError):
        return out  # not installed here: keep what the entry says
    for key in ("steps", "preset"):
        if key not in declared:
            out.pop(key, None)
    options = [[k, v] for k, v in out.pop("options", []) if taken.get(k, MISSING) != v]
    if options:
        out["options"] = options
    return out


def identity_of(canonical: dict[str, Any]) -> dict[str, Any]:
    """The normalised content of a config's canonical dict (:meth:`SweepConfig.to_dict`,
    or the ``config`` an older store kept): every entry that holds its default dropped, at
    every level (the sweep, its dataset, each codec and its options), so a field added to
    the schema with a default changes no config's identity."""
    d = json.loads(json.dumps(canonical))
    out = {k: v for k, v in d.items() if _defaults(SweepConfig).get(k, MISSING) != v}
    if isinstance(out.get("dataset"), dict):
        data = {k: v for k, v in out["dataset"].items() if _defaults(DatasetSpec).get(k) != v}
        out["dataset"] = data
    out["codecs"] = [_codec_identity(c) for c in out.get("codecs", [])]
    return out


def identity_hash(identity: dict[str, Any]) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of a config's identity."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_config(data: Any) -> SweepConfig:
    """Validate a parsed YAML document (a mapping) into a :class:`SweepConfig`; every
    problem is one sentence naming the key (:mod:`experiments.config_parse`)."""
    from experiments.config_parse import parse

    return parse(data)


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a YAML sweep config (``yaml.safe_load``: no arbitrary objects)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise SemcomError(f"the sweep config {p} does not exist.")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SemcomError(f"the sweep config {p} is not valid YAML{where}.") from err
    except UnicodeDecodeError as err:
        raise SemcomError(f"the sweep config {p} is not UTF-8 text.") from err
    if data is None:
        raise SemcomError(f"the sweep config {p} is empty.")
    return parse_config(data)
