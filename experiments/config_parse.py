"""Validation of a sweep config's keys (:func:`parse`, which
:func:`experiments.config.parse_config` calls): each check names the key and says what is
accepted, in one sentence (a :class:`~semcom.errors.SemcomError`)."""

from __future__ import annotations

import math
from typing import Any

from experiments.config import (
    _DATASET_KEYS,
    _SPEC_KEYS,
    _TOP_KEYS,
    SPLITS,
    ChannelSpec,
    CodecSpec,
    DatasetSpec,
    SweepConfig,
)
from experiments.paths import SAFE_NAME
from semcom.errors import SemcomError


def _fail(where: str, what: str) -> SemcomError:
    return SemcomError(f"config {where}: {what}.")


def _int(value: Any, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(where, f"must be an integer ≥ {low}, not {value!r}")
    return value


def _number_list(value: Any, where: str, positive: bool = False) -> tuple[float, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise _fail(where, "needs at least one value")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise _fail(where, f"{v!r} is not a finite number")
        if positive and v <= 0:
            raise _fail(where, f"{v!r} must be positive")
        out.append(float(v))
    if len(set(out)) != len(out):
        raise _fail(where, "lists a value twice")
    return tuple(out)


def _check_keys(d: Any, allowed: tuple[str, ...], where: str) -> dict:
    if not isinstance(d, dict):
        raise _fail(where, f"must be a mapping, not {type(d).__name__}")
    unknown = [k for k in d if k not in allowed]
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r}; the keys are {', '.join(allowed)}")
    return d


def _check_mcs(text: Any, where: str, planned: bool = False) -> str:
    from channels.errors import LinkError
    from channels.mcs import parse_mcs, protection_keyword

    if not isinstance(text, str):
        raise _fail(
            where,
            f"{text!r} is not an MCS; write 'adaptive', 'robust', 'planned', 'mcsN', 'qam16:1/2' "
            "or 'polar:qpsk:1/5'",
        )
    if planned and text.strip().lower() == "planned":  # a codec's mcs, not a stream's
        return "planned"
    if keyword := protection_keyword(text):
        return keyword
    try:
        parse_mcs(text)
    except LinkError as err:
        raise _fail(where, str(err).rstrip(".")) from err
    return text.strip().lower()


def _codec(entry: Any, i: int) -> CodecSpec:
    from semcom.registry import codec_class, codec_names

    where = f"codecs[{i}]"
    if isinstance(entry, str):
        d: dict = {"name": entry}
    elif isinstance(entry, dict):
        d = dict(entry)
    else:
        raise _fail(where, f"must be a codec name or a mapping, not {type(entry).__name__}")
    name = d.get("name")
    if not isinstance(name, str) or name not in codec_names():
        raise _fail(
            f"{where}.name", f"{name!r} is not a codec; choose from {', '.join(codec_names())}"
        )
    try:
        cls = codec_class(name)
    except SemcomError as err:
        raise _fail(f"{where}.name", str(err).rstrip(".")) from err
    mcs = _check_mcs(d.get("mcs", "adaptive"), f"{where}.mcs", planned=True)
    if cls.kind == "analog" and (mcs != "adaptive" or "protection" in d):
        key = "mcs" if mcs != "adaptive" else "protection"
        raise _fail(f"{where}.{key}", f"{name} sends analog symbols and takes no MCS")
    objective, tolerance = _objective(d, mcs, where)
    protection: tuple[tuple[str, str], ...] = ()
    if "protection" in d and mcs == "planned":
        raise _fail(f"{where}.protection", "planned protection chooses every stream's MCS; drop it")
    if "protection" in d:
        prot = _check_keys(d["protection"], tuple(cls.streams), f"{where}.protection")
        protection = tuple(
            sorted((k, _check_mcs(v, f"{where}.protection.{k}")) for k, v in prot.items())
        )
    given = {k: v for k, v in d.items() if k not in _SPEC_KEYS}
    try:
        checked = dict(cls.check_options(given))
    except ValueError as err:
        raise _fail(where, str(err).rstrip(".")) from err
    options = tuple(sorted((k, v) for k, v in checked.items() if k in given))
    label = d.get("label", "")
    if label and (not isinstance(label, str) or not SAFE_NAME.match(label)):
        raise _fail(f"{where}.label", f"must be a plain name, not {label!r}")
    harq = None
    if "harq" in d:
        if cls.kind == "analog":
            raise _fail(f"{where}.harq", f"{name} sends analog symbols and has no HARQ")
        harq = _harq(d["harq"], f"{where}.harq") or (("max_transmissions", 1),)
    return CodecSpec(
        name,
        mcs,
        protection,
        options,
        own_label=label,
        harq=harq,
        objective=objective,
        tolerance=tolerance,
    )


def _objective(d: dict, mcs: str, where: str) -> tuple[str | None, float | None]:
    """A codec entry's ``objective`` and ``tolerance`` (only with ``mcs: planned``)."""
    from experiments.planning import Objective

    if mcs != "planned":
        for key in ("objective", "tolerance"):
            if key in d:
                raise _fail(f"{where}.{key}", "applies to mcs: planned only")
        return None, None
    objective, tolerance = d.get("objective"), d.get("tolerance")
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, int | float)
    ):
        raise _fail(f"{where}.tolerance", f"must be a number, not {tolerance!r}")
    try:
        parsed = Objective.parse("f1" if objective is None else objective, tolerance)
    except SemcomError as err:
        raise _fail(f"{where}.objective", str(err).rstrip(".")) from err
    return (None if objective is None else str(parsed)), (
        None if tolerance is None else float(tolerance)
    )


def _channel(entry: Any, index: int) -> ChannelSpec:
    """A channel entry: a registered name, or a mapping {name, label?, **options}; the
    options are checked by building the channel once (on the CPU)."""
    from channels.errors import LinkError
    from channels.registry import channel_names, make_channel

    where = f"channels[{index}]"
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise _fail(where, "must be a channel name or a mapping with a name")
    name = entry["name"].lower()
    try:
        known = channel_names()
    except LinkError as err:
        raise _fail(where, str(err).rstrip(".")) from err
    if name not in known:
        raise _fail(where, f"{entry['name']!r} is not a channel; choose from {', '.join(known)}")
    label = entry.get("label", "")
    if label and (not isinstance(label, str) or not SAFE_NAME.match(label)):
        raise _fail(f"{where}.label", f"must be a plain name, not {label!r}")
    options = {k: v for k, v in entry.items() if k not in ("name", "label")}
    if options and not label:
        raise _fail(where, "has options: give it a label (the name its rows and curves carry)")
    try:
        make_channel(name, **options)
    except LinkError as err:
        raise _fail(where, str(err).rstrip(".")) from err
    return ChannelSpec(name, tuple(sorted(options.items())), label or name)


def parse(data: Any) -> SweepConfig:
    """Validate a parsed YAML document (a mapping) into a :class:`SweepConfig`."""
    d = _check_keys(data, _TOP_KEYS, "file")
    for key in ("codecs", "channels", "snr_db", "budget_cpp"):
        if key not in d:
            raise _fail(key, "is missing")
    ds = _check_keys(d.get("dataset", {}), _DATASET_KEYS, "dataset")
    from semcom.data.datasets import dataset_names

    if ds.get("name", "shapes") not in dataset_names():
        raise _fail(
            "dataset.name", f"{ds['name']!r} is not a data set; use {' or '.join(dataset_names())}"
        )
    split = ds.get("split", "test")
    if split not in SPLITS:
        raise _fail("dataset.split", f"{split!r} is not a split; choose {', '.join(SPLITS)}")
    dataset = DatasetSpec(
        ds.get("name", "shapes"),
        split,
        _int(ds.get("n", 4), "dataset.n", 1),
        _int(ds.get("size", 128), "dataset.size", 32),
        _int(ds.get("seed", 0), "dataset.seed", 0),
    )
    from semcom.data.shapes import BLOCK, dataset_seeds

    if dataset.n > BLOCK:
        raise _fail("dataset.n", f"must be at most {BLOCK} (the scenes of one dataset seed)")
    if dataset.seed >= dataset_seeds(split):
        raise _fail(
            "dataset.seed", f"must be below {dataset_seeds(split)} (the {split} split's datasets)"
        )
    if not isinstance(d["codecs"], list) or not d["codecs"]:
        raise _fail("codecs", "must be a non-empty list")
    codecs = tuple(_codec(c, i) for i, c in enumerate(d["codecs"]))
    labels = [c.label for c in codecs]
    dup = next((x for x in labels if labels.count(x) > 1), None)
    if dup:
        raise _fail("codecs", f"lists {dup} twice (give one of them another label)")
    entries = d["channels"] if isinstance(d["channels"], list) else [d["channels"]]
    if not entries:
        raise _fail("channels", "needs at least one channel")
    channels = tuple(_channel(c, i) for i, c in enumerate(entries))
    labels = [c.label for c in channels]
    dup = next((x for x in labels if labels.count(x) > 1), None)
    if dup:
        raise _fail("channels", f"lists {dup} twice (give one of them another label)")
    name = d.get("name", "sweep")
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        raise _fail(
            "name", f"must be a plain name (letters, digits, _ . @ + -, no slashes), not {name!r}"
        )
    sweep_harq = _harq(d.get("harq"))
    from channels.harq import HarqPolicy

    default = None if sweep_harq is None else HarqPolicy(**dict(sweep_harq))
    for i, spec in enumerate(codecs):
        policy = spec.harq_policy(default)
        if spec.mcs == "planned" and policy is not None and policy.budget != "extra":
            raise _fail(
                f"codecs[{i}]",
                "planned protection models HARQ retransmissions beyond the budget only; "
                "set harq budget: extra or protect this codec's streams with a fixed rule",
            )
    return SweepConfig(
        metrics=_metrics(d.get("metrics")),
        name=name,
        dataset=dataset,
        codecs=codecs,
        channels=channels,
        snr_db=_number_list(d["snr_db"], "snr_db"),
        budget_cpp=_number_list(d["budget_cpp"], "budget_cpp", positive=True),
        trials=_int(d.get("trials", 1), "trials", 1),
        seed=_int(d.get("seed", 0), "seed", 0),
        decode_seed=_int(d.get("decode_seed", 0), "decode_seed", 0),
        save_images=_int(d.get("save_images", 2), "save_images", 0),
        frame=_frame(d.get("frame", "shared")),
        harq=sweep_harq,
        device=_device(d.get("device", "cpu")),
    )


def _harq(value: Any, where: str = "harq") -> tuple[tuple[str, Any], ...] | None:
    """``harq``: a number of transmissions per stream or a mapping of HARQ settings."""
    from dataclasses import asdict

    from channels.errors import LinkError
    from channels.harq import HarqPolicy

    try:
        policy = HarqPolicy.parse(value)
    except (LinkError, TypeError) as err:
        raise _fail(where, str(err).rstrip(".")) from err
    if policy is None:
        return None
    return tuple(sorted(asdict(policy).items()))


def _device(value: Any) -> str:
    """``device``: cpu, cuda, cuda:N or auto, resolved on this machine (cuda needs a GPU)."""
    from semcom.devices import resolve_device

    if not isinstance(value, str):
        raise _fail("device", f"must be cpu, cuda, cuda:N or auto, not {value!r}")
    try:
        return resolve_device(value, "device")
    except SemcomError as err:
        raise _fail("device", str(err).rstrip(".")) from None


def _frame(value: Any) -> str:
    from channels.frame import FRAMES

    if value not in FRAMES:
        raise _fail("frame", f"{value!r} is not a frame layout; choose {' or '.join(FRAMES)}")
    return value


def _metrics(value: Any) -> tuple[str, ...]:
    """The ``metrics`` list: installed metric names, each once (default pixel, semantic)."""
    from semcom.metrics.registry import DEFAULT_METRICS, check_metrics

    if value is None:
        return DEFAULT_METRICS
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _fail("metrics", "must be a list of metric names (see `semcom list metrics`)")
    try:
        return check_metrics(names)
    except SemcomError as err:
        raise _fail("metrics", str(err).rstrip(".")) from err
