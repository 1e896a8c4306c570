"""What a fidelity metric states, so that sweeps, the store, plots and ``semcom evaluate``
can use any metric without knowing it (no torch at import).

A metric is a class registered in the ``semcom.metrics`` entry-point group
(:mod:`semcom.metrics.registry`) with:

- ``name`` (str), ``summary`` (one line for ``semcom list metrics``);
- ``fields``: the :class:`Field` s it writes per point (column names unique across the
  metrics of a sweep);
- ``needs_truth`` (bool): it reads the scene's ground truth (scoring only);
- ``status() -> str``: ``"ok"``, or why it cannot score here and what to do (missing
  weights); a sweep asked for an unavailable metric stops before it starts;
- ``score(reference, images, truths) -> list[dict]``: per image, a value (or None) for
  each field, from ``reference`` and ``images`` [B,3,H,W] in [0,1] and ``truths`` (each
  image's objects, or None when the data set has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

#: How a field's values compare: higher is better, lower is better, or neither (counts
#: that are pooled over points rather than plotted).
BETTER = ("higher", "lower", "none")


@dataclass(frozen=True)
class Field:
    """One figure a metric writes per point.

    name: its column (a Python identifier). label: axis label. low/high: its range (None:
    unbounded; a plot's confidence band is clipped to it). better: one of :data:`BETTER`.
    panel: plotted by ``semcom plot`` against SNR and budget.
    """

    name: str
    label: str
    low: float | None = None
    high: float | None = None
    better: str = "higher"
    panel: bool = True

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"field name {self.name!r} must be an identifier")
        if self.better not in BETTER:
            raise ValueError(f"field {self.name}: better must be one of {', '.join(BETTER)}")


class Metric(Protocol):
    """A fidelity metric (see the module docstring)."""

    name: str
    summary: str
    fields: tuple[Field, ...]
    needs_truth: bool

    def status(self) -> str: ...

    def score(
        self, reference: Any, images: Any, truths: Sequence[Sequence[object]] | None
    ) -> list[dict[str, float | int | None]]: ...
