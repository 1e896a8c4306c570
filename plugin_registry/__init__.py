"""One entry-point group read as a registry of named plug-ins (codecs, channels, metrics,
commands).

A neutral leaf package (the standard library only): :mod:`semcom.registry`,
:mod:`channels.registry` and :mod:`semcom.metrics.registry` each hold one
:class:`EntryPointRegistry` and add the checks their kind of plug-in needs, and the CLI
reads its command groups with one. It sits below both ``channels`` and ``semcom`` so that
neither owns what both use (semcom imports channels, never the other way round).
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any


class EntryPointRegistry:
    """The entry points of ``group``, read once (until :meth:`refresh`).

    ``kind`` names one plug-in in messages ("codec"); ``error`` is the exception type the
    caller's users see (its message one sentence). Names are matched in lower case when
    ``lower`` is set (channels: ``Rayleigh`` is ``rayleigh``).
    """

    def __init__(self, group: str, kind: str, error: type[Exception], lower: bool = False):
        self.group, self.kind, self.error, self.lower = group, kind, error, lower
        self._points = cache(self._read)
        self.load = cache(self._load)

    def _read(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def entry_points(self) -> dict[str, Any]:
        """name → ``importlib.metadata.EntryPoint`` of every installed plug-in."""
        return self._points()

    def refresh(self) -> None:
        """Forget what was read and loaded (after installing a plug-in in this process)."""
        self._points.cache_clear()
        self.load.cache_clear()

    def names(self) -> tuple[str, ...]:
        """Installed names, sorted; ``error`` when there are none (an install that did not
        register semcom's own entry points)."""
        names = tuple(sorted(self.entry_points()))
        if not names:
            raise self.error(
                f"no {self.kind}s are registered (the {self.group} entry points are "
                "missing); reinstall semcom with `make install` (or `pip install -e .`), "
                "and remove a stale semcom.egg-info folder beside pyproject.toml if there "
                "is one."
            )
        return names

    def key(self, name: str) -> str:
        """``name`` as registered (lower case where names are matched so); ``error``
        naming the installed ones when there is no such plug-in."""
        key = name.lower() if self.lower else name
        if key not in self.entry_points():
            raise self.error(
                f"unknown {self.kind} {name!r}; the installed {self.kind}s are "
                f"{', '.join(self.names())}."
            )
        return key

    def source(self, name: str) -> str:
        """Where plug-in ``name`` comes from (``module:object``)."""
        return str(self.entry_points()[self.key(name)].value)

    def _load(self, name: str) -> Any:
        """The object registered as ``name`` (loaded once)."""
        key = self.key(name)
        point = self.entry_points()[key]
        try:
            return point.load()
        except Exception as err:  # a broken plug-in must not take the others down
            raise self.error(
                f"the {self.kind} {key!r} failed to load ({point.value}): {err}"
            ) from err
