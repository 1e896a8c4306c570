"""``semcom verify DIR`` on a ``semcom evaluate --out DIR`` result set: re-run a seeded
sample of its (codec, image) rows and say, field by field, whether today's code gives the
same per-image figures.

``DIR/results.json`` records the evaluation's config (its ``config``: split, seed, data
set, target bpp, match rule, steps, weights …) and names its per-image rows
(``image_rows``: ``images.parquet``, :mod:`experiments.evaluation.rows`). ``--points N``
rows are drawn with ``--seed``; each sampled codec runs on its sampled images through the
evaluation's own code (:func:`experiments.evaluation.measure` with the recorded config,
on those images only: every image is coded on its own with the config's seed, so its
figures do not depend on the others), and the rows it gives are compared with the stored
ones as for a sweep (:func:`experiments.verify.compare`). The reference codec is encoded
on every sampled image (the others are matched to its bits). Nothing in ``DIR`` is
written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semcom.errors import SemcomError

if TYPE_CHECKING:
    import pandas as pd

    from experiments.evaluation import EvalConfig

#: The file an evaluate result set is recognised by.
REPORT_FILE = "results.json"
#: Recorded config keys left out of the command's plain flags (no effect on an image's
#: figures, or written apart below).
_NOT_FIGURES = ("workers", "batch", "bootstrap", "codecs", "options", "device")


def is_evaluation(folder: Path) -> bool:
    """Whether ``folder`` is an evaluate result set: a results.json and no sweep rows."""
    sweep = any((folder / n).is_file() for n in ("results.parquet", "results.sqlite"))
    return (folder / REPORT_FILE).is_file() and not sweep


def command_of(config: dict[str, Any], folder: Path) -> str:
    """The ``semcom evaluate`` command line that makes ``config``'s results into ``folder``
    (the options that differ from their defaults; every codec when not the default set)."""
    from experiments.evaluation import EvalConfig

    defaults = {f.name: f.default for f in fields(EvalConfig)}
    parts = ["semcom evaluate"]
    for key, value in config.items():
        if key in _NOT_FIGURES or key not in defaults or value == defaults[key]:
            continue
        if key == "metrics":
            parts += [f"--metric {m}" for m in value]
        elif value not in (None, ()):
            parts.append(f"--{key.replace('_', '-')} {value}")
    options = config.get("options")
    if isinstance(options, dict) and options.get("half"):
        parts.append("--half")
    if config.get("device", "cpu") != "cpu":
        parts.append(f"--device {config['device']}")
    codecs = config.get("codecs") or []
    try:
        from experiments.evaluation import default_codecs

        default = list(default_codecs(config.get("reference", "mtgc")))
    except SemcomError:
        default = []
    if codecs and codecs != default:
        parts += [f"--codec {c}" for c in codecs]
    return " ".join([*parts, f"--out {folder}"])


def load_evaluation(folder: Path) -> tuple[EvalConfig, pd.DataFrame]:
    """(the recorded config, the per-image rows) of the evaluate result set ``folder``;
    SemcomError, one sentence, for a results.json without rows (an older semcom's) or a
    malformed one."""
    from experiments.evaluation.rows import read_rows

    path = folder / REPORT_FILE
    try:
        report = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SemcomError(f"{path} cannot be read as semcom evaluate's results ({err}).") from None
    config = report.get("config") if isinstance(report, dict) else None
    if not isinstance(config, dict) or not isinstance(report.get("results"), list):
        raise SemcomError(
            f"{path} holds no 'config' and 'results': it is not what semcom evaluate --out writes."
        )
    name = report.get("image_rows")
    if name is None:
        raise SemcomError(
            f"{path} has no per-image rows to re-run: it was made by an older semcom; re-run "
            f"`{command_of(config, folder)}` to get them."
        )
    if not isinstance(name, str) or Path(name).name != name or name.startswith("."):
        raise SemcomError(f"{path} names its per-image rows {name!r}, not a file beside it.")
    if not (folder / name).is_file():
        raise SemcomError(
            f"{path} names per-image rows {name}, which are not in {folder}; re-run "
            f"`{command_of(config, folder)}`."
        )
    return eval_config(config, path), read_rows(folder / name)


def eval_config(config: dict[str, Any], path: Path) -> EvalConfig:
    """The :class:`~experiments.evaluation.EvalConfig` recorded as ``config`` in
    ``path``, decoding on one worker (the figures are the same on any number)."""
    from experiments.evaluation import EvalConfig

    known = {f.name for f in fields(EvalConfig)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise SemcomError(
            f"{path}'s config has {unknown[0]!r}, which this semcom's evaluate does not know; "
            "verify it with the semcom that made it."
        )
    given = dict(config)
    for key in ("codecs", "metrics"):
        if key in given:
            given[key] = tuple(given[key] or ())
    given["workers"] = 1
    from semcom.devices import resolve_device

    device = str(given.get("device", "cpu"))
    try:
        given["device"] = resolve_device(device)
    except SemcomError:
        raise SemcomError(
            f"{path} was made on {device}, which this machine lacks; verify it where that "
            "device is (figures move between devices)."
        ) from None
    try:
        return EvalConfig(**given)
    except (TypeError, ValueError, AttributeError) as err:
        raise SemcomError(f"{path}'s config is not one semcom evaluate takes ({err}).") from None


def rerun(
    cfg: EvalConfig,
    picked: pd.DataFrame,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The rows today's code gives for the ``picked`` (codec, side, image) rows of
    ``cfg``: each sampled codec on its sampled images, through the evaluation's code."""
    import pandas as pd

    from experiments.evaluation import measure
    from experiments.evaluation.rows import KEYS, image_rows

    codecs = tuple(cfg.codecs or ())
    named = sorted(set(picked["codec"]) - set(codecs))
    if named:
        raise SemcomError(
            f"the per-image rows name {named[0]!r}, which results.json's config does not run."
        )
    order = [c for c in codecs if c in set(picked["codec"])]
    built = None
    frames = []
    for n, name in enumerate(order, start=1):
        images = sorted({int(i) for i in picked.loc[picked["codec"] == name, "image"]})
        outside = [i for i in images if not 0 <= i < cfg.n]
        if outside:
            raise SemcomError(
                f"the per-image rows name image {outside[0]} of {name}, outside the "
                f"config's {cfg.n} images."
            )
        measured = measure(replace(cfg, codecs=(name,)), indices=images, codec=built)
        built = measured.codec
        frames.append(image_rows(measured, (name,)))
        if progress is not None:
            progress(f"codec {n}/{len(order)}: {name} on image(s) {images}")
    rows = pd.concat(frames, ignore_index=True)
    wanted = set(picked[list(KEYS)].itertuples(index=False, name=None))
    keep = [k in wanted for k in rows[list(KEYS)].itertuples(index=False, name=None)]
    return rows[keep].reset_index(drop=True)
