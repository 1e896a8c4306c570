"""Metrics found through entry points: the built-ins and any installed plug-in alike.

A package makes a metric available by declaring it in the ``semcom.metrics`` entry-point
group (pyproject.toml)::

    [project.entry-points."semcom.metrics"]
    mymetric = "mypackage.metric:MyMetric"

The object is a class taking no arguments that implements
:class:`~semcom.metrics.protocol.Metric`. semcom's own metrics are declared the same way
(``pixel``, ``semantic``, ``lpips``, ``dists``). See docs/extending.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from plugin_registry import EntryPointRegistry
from semcom.errors import SemcomError
from semcom.metrics.protocol import Field

#: The entry-point group of metrics.
METRICS_GROUP = "semcom.metrics"
#: The installed metrics (entry points read once; :func:`refresh` re-reads them).
METRICS = EntryPointRegistry(METRICS_GROUP, "metric", SemcomError)
#: The metrics a sweep scores when its config names none.
DEFAULT_METRICS: tuple[str, ...] = ("pixel", "semantic")
_REQUIRED = ("name", "summary", "fields", "needs_truth", "status", "score")


def refresh() -> None:
    """Forget the entry points read so far (after installing a plug-in in this process)."""
    METRICS.refresh()
    metric.cache_clear()


def metric_names() -> tuple[str, ...]:
    """Names of the installed metrics, sorted; SemcomError when there are none."""
    return METRICS.names()


def metric_source(name: str) -> str:
    """Where metric ``name`` comes from (``module:object``)."""
    return METRICS.source(name)


@cache
def metric(name: str) -> Any:
    """The (shared) instance of metric ``name``; SemcomError naming the installed ones."""
    cls = METRICS.load(name)
    try:
        obj = cls()
    except Exception as err:  # a broken plug-in must not take the others down
        raise SemcomError(
            f"the metric {name!r} failed to load ({metric_source(name)}): {err}"
        ) from err
    missing = [a for a in _REQUIRED if not hasattr(obj, a)]
    fields = getattr(obj, "fields", ())
    if missing or not fields or not all(isinstance(f, Field) for f in fields):
        what = f"lacks {', '.join(missing)}" if missing else "does not list its Field s"
        raise SemcomError(
            f"the metric {name!r} ({metric_source(name)}) {what}; see docs/extending.md."
        )
    return obj


def check_metrics(names: Iterable[str]) -> tuple[str, ...]:
    """Validate a list of metric names (installed, each once, field names unique)."""
    names = tuple(names)
    if not names:
        raise SemcomError("name at least one metric.")
    seen: dict[str, str] = {}
    for name in names:
        if names.count(name) > 1:
            raise SemcomError(f"the metric {name} is listed twice.")
        for f in metric(name).fields:
            if f.name in seen:
                raise SemcomError(
                    f"the metrics {seen[f.name]} and {name} both write a field {f.name!r}."
                )
            seen[f.name] = name
    return names


def fields_of(names: Iterable[str]) -> tuple[Field, ...]:
    """Every field of the metrics ``names``, in order."""
    return tuple(f for name in names for f in metric(name).fields)


def unavailable(names: Iterable[str]) -> dict[str, str]:
    """The metrics among ``names`` that cannot score here, with why."""
    out = {}
    for name in names:
        status = metric(name).status()
        if status != "ok":
            out[name] = status
    return out
