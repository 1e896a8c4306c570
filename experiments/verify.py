"""``semcom verify DIR``: re-run a seeded sample of a shipped result set's points and say,
field by field, whether today's code gives the same results.

``DIR`` holds sweep rows (``results.parquet`` as shipped under docs/results/, or a sweep's
``results.sqlite``); a ``semcom evaluate --out`` result set is verified the same way by
:mod:`experiments.verify_evaluate`. The config that made them is ``--config`` (default:
``experiments/configs/<DIR's name>.yaml``). ``--points N`` points are drawn with ``--seed``
from the stored rows; each (codec, channel, SNR, budget) group of the sample runs through
the sweep engine (:class:`~experiments.runner.GroupRunner`, the same code as ``semcom
sweep``) and its rows are read back as the store reads them. Per field: **equal** (to the
last bit), **within precision** (equal once rounded as the outcome digest rounds:
:data:`~experiments.store.OUTCOME_DECIMALS`; a codec library's last digits) or
**different**. Nothing in ``DIR`` is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.config import SweepConfig
from experiments.store import _rounded
from semcom.errors import SemcomError

#: The columns that name a point.
KEYS = ("image", "codec", "channel", "snr_db", "budget_cpp", "trial")
#: Columns not compared: which config hash wrote a row, and the receiver-input key of an
#: analog codec (a hash of float symbols; deliveries are compared through the streams).
SKIP = ("config_hash", "received_key")


@dataclass
class Verdict:
    """Per field: how many sampled points are equal, within precision, different; and the
    first few differences (point, stored, re-run)."""

    points: int = 0
    equal: dict[str, int] = field(default_factory=dict)
    close: dict[str, int] = field(default_factory=dict)
    different: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.different.values())


def _missing(v) -> bool:
    """A cell with no value (a stream the codec does not have): None or NaN, as a table
    reader gives it."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def _same(a, b) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    return a == b


def _value(v):
    """A stored cell as a plain Python value (numpy scalars unwrapped, NaN kept)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def compare(
    stored: pd.DataFrame,
    rerun: pd.DataFrame,
    examples: int = 5,
    keys: tuple[str, ...] = KEYS,
) -> Verdict:
    """Compare the rows of ``rerun`` with the stored rows of the same points (named by
    the columns ``keys``: a sweep's :data:`KEYS`, or an evaluation's
    :data:`experiments.evaluation.rows.KEYS`)."""
    verdict = Verdict(points=len(rerun))
    old = stored.set_index(list(keys))
    new = rerun.set_index(list(keys))
    columns = [c for c in new.columns if c in old.columns and c not in SKIP]
    for key, row in new.iterrows():
        was = old.loc[key]
        for c in columns:
            a, b = _value(was[c]), _value(row[c])
            if _same(a, b):
                verdict.equal[c] = verdict.equal.get(c, 0) + 1
            elif _same(_rounded(c, a), _rounded(c, b)):
                verdict.close[c] = verdict.close.get(c, 0) + 1
            else:
                verdict.different[c] = verdict.different.get(c, 0) + 1
                if len(verdict.examples) < examples:
                    named = zip(keys, key, strict=True)
                    point = ", ".join(f"{k}={v}" for k, v in named if v != "")
                    verdict.examples.append(f"{c} at {point}: stored {a!r}, now {b!r}")
    return verdict


def default_config(folder: Path) -> Path:
    """``experiments/configs/<folder name>.yaml``, the shipped config of a shipped folder."""
    return Path(__file__).parent / "configs" / f"{folder.name}.yaml"


def sample(rows: pd.DataFrame, points: int, seed: int) -> pd.DataFrame:
    """``points`` rows drawn without replacement with ``seed`` (all when fewer)."""
    if points < 1:
        raise SemcomError(f"--points must be at least 1, not {points}.")
    if points >= len(rows):
        return rows
    pick = np.random.default_rng(seed).choice(len(rows), size=points, replace=False)
    return rows.iloc[np.sort(pick)]


def rerun(
    config: SweepConfig,
    picked: pd.DataFrame,
    workdir: Path,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The rows today's code gives for the ``picked`` points of ``config``, through the
    sweep engine, written to a scratch store in ``workdir`` and read back."""
    from experiments.groups import Group
    from experiments.runner import GroupRunner
    from experiments.store import Store

    specs = {s.label: s for s in config.codecs}
    channels = {c.label: c for c in config.channels}
    missing = sorted(set(picked["codec"]) - set(specs)) + sorted(
        set(picked["channel"]) - set(channels)
    )
    if missing:
        raise SemcomError(
            f"the rows name {missing[0]!r}, which the config does not hold; name the config "
            "that made them with --config."
        )
    runner = GroupRunner(config, threads=1)
    store = Store(workdir)
    try:
        by = picked.groupby(["codec", "channel", "snr_db", "budget_cpp"], sort=True)
        for n, ((codec, channel, snr, cpp), g) in enumerate(by, start=1):
            todo = tuple(
                sorted((int(i), int(t)) for i, t in zip(g["image"], g["trial"], strict=True))
            )
            group = Group(channels[channel], specs[codec], float(snr), float(cpp), todo)
            result = runner.run(group)
            store.write(result.rows)
            if progress is not None:
                progress(f"group {n}/{by.ngroups}: {codec} {channel} {snr:g} dB {cpp:g} cpp")
        return store.frame(config.hash())
    finally:
        store.close()


def format_verdict(verdict: Verdict) -> str:
    """The report: one line per field (equal / within precision / different), then the
    first differences."""
    fields = sorted(set(verdict.equal) | set(verdict.close) | set(verdict.different))
    lines = [f"{verdict.points} points re-run; per field: equal / within precision / different"]
    width = max((len(f) for f in fields), default=5)
    for f in fields:
        e, c, d = (verdict.equal.get(f, 0), verdict.close.get(f, 0), verdict.different.get(f, 0))
        mark = "  ✗" if d else ""
        lines.append(f"  {f:<{width}}  {e:>5} / {c:>5} / {d:>5}{mark}")
    if verdict.examples:
        lines.append("First differences:")
        lines += [f"  {x}" for x in verdict.examples]
    lines.append(
        "verified: every sampled point gives the stored results"
        if verdict.ok
        else "NOT verified: some fields differ beyond their precision"
    )
    return "\n".join(lines)
