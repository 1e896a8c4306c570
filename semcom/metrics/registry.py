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
from functools import cache, lru_cache
from importlib.metadata import entry_points
from typing import Any

from semcom.errors import SemcomError
from semcom.metrics.protocol import Field

#: The entry-point group of metrics.
METRICS_GROUP = "semcom.metrics"
#: The metrics a sweep scores when its config names none.
DEFAULT_METRICS: tuple[str, ...] = ("pixel", "semantic")
_REQUIRED = ("name", "summary", "fields", "needs_truth", "status", "score")


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=METRICS_GROUP)}


def refresh() -> None:
    """Forget the entry points read so far (after installing a plug-in in this process)."""
    _entry_points.cache_clear()
    metric.cache_clear()


def metric_names() -> tuple[str, ...]:
    """Names of the installed metrics, sorted; SemcomError when there are none."""
    names = tuple(sorted(_entry_points()))
    if not names:
        raise SemcomError(
            "no metrics are registered (the semcom.metrics entry points are missing); "
            "reinstall semcom with `make install` (or `pip install -e .`), and remove a stale "
            "semcom.egg-info folder beside pyproject.toml if there is one."
        )
    return names


def metric_source(name: str) -> str:
    """Where metric ``name`` comes from (``module:object``)."""
    return str(_entry_points()[name].value)


@cache
def metric(name: str) -> Any:
    """The (shared) instance of metric ``name``; SemcomError naming the installed ones."""
    eps = _entry_points()
    if name not in eps:
        raise SemcomError(
            f"unknown metric {name!r}; the installed metrics are {', '.join(metric_names())}."
        )
    try:
        obj = eps[name].load()()
    except Exception as err:  # a broken plug-in must not take the others down
        raise SemcomError(f"the metric {name!r} failed to load ({eps[name].value}): {err}") from err
    missing = [a for a in _REQUIRED if not hasattr(obj, a)]
    fields = getattr(obj, "fields", ())
    if missing or not fields or not all(isinstance(f, Field) for f in fields):
        what = f"lacks {', '.join(missing)}" if missing else "does not list its Field s"
        raise SemcomError(f"the metric {name!r} ({eps[name].value}) {what}; see docs/extending.md.")
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
