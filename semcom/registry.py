"""Codecs found through entry points: the built-ins and any installed plug-in alike.

A package makes a codec available by declaring it in the ``semcom.codecs`` entry-point
group (pyproject.toml)::

    [project.entry-points."semcom.codecs"]
    mycodec = "mypackage.codec:MyCodec"

The object is a class (or factory) with ``kind`` ("digital" or "analog", see
:mod:`semcom.protocol`), ``name``, ``streams``, ``summary``, ``check_options(options) ->
dict`` (ValueError on a bad option) and ``from_options(options, **context) -> codec``
(context: ``weights``, a model folder from the command line, and ``model``, a loaded model
handed in by tests; a codec ignores what it does not use). semcom's own codecs are
declared the same way. See docs/extending.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, lru_cache
from importlib.metadata import entry_points
from typing import Any

from semcom.errors import SemcomError

#: The entry-point group of codecs.
CODECS_GROUP = "semcom.codecs"
#: Attributes every registered codec class states.
_REQUIRED = ("kind", "name", "streams", "check_options", "from_options")


@lru_cache(maxsize=1)
def _codec_entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=CODECS_GROUP)}


def refresh() -> None:
    """Forget the entry points read so far (after installing a plug-in in this process)."""
    _codec_entry_points.cache_clear()
    codec_class.cache_clear()


def codec_names() -> tuple[str, ...]:
    """Names of the installed codecs, sorted; SemcomError when there are none (semcom's
    own entry points missing: an install that did not register them)."""
    names = tuple(sorted(_codec_entry_points()))
    if not names:
        raise SemcomError(
            "no codecs are registered (the semcom.codecs entry points are missing); "
            "reinstall semcom with `make install` (or `pip install -e .`), and remove a stale "
            "semcom.egg-info folder beside pyproject.toml if there is one."
        )
    return names


@cache
def codec_class(name: str) -> Any:
    """The class registered as ``name``; SemcomError naming the installed ones otherwise."""
    eps = _codec_entry_points()
    if name not in eps:
        raise SemcomError(
            f"unknown codec {name!r}; the installed codecs are {', '.join(codec_names())}."
        )
    try:
        cls = eps[name].load()
    except Exception as err:  # a broken plug-in must not take the others down
        raise SemcomError(f"the codec {name!r} failed to load ({eps[name].value}): {err}") from err
    missing = [a for a in _REQUIRED if not hasattr(cls, a)]
    if missing or getattr(cls, "kind", None) not in ("digital", "analog"):
        what = f"lacks {', '.join(missing)}" if missing else "has a kind other than digital/analog"
        raise SemcomError(f"the codec {name!r} ({eps[name].value}) {what}; see docs/extending.md.")
    return cls


def make_codec(name: str, options: Mapping[str, Any] | None = None, **context: Any) -> Any:
    """An instance of codec ``name`` with ``options`` (validated by the codec)."""
    cls = codec_class(name)
    try:
        return cls.from_options(dict(options or {}), **context)
    except ValueError as err:
        raise SemcomError(f"codec {name}: {str(err).rstrip('.')}.") from err
