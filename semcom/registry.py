"""Codecs found through entry points: the built-ins and any installed plug-in alike.

A package makes a codec available by declaring it in the ``semcom.codecs`` entry-point
group (pyproject.toml)::

    [project.entry-points."semcom.codecs"]
    mycodec = "mypackage.codec:MyCodec"

The object is a class (or factory) with ``kind`` ("digital" or "analog", see
:mod:`semcom.protocol`), ``name``, ``streams``, ``summary``, ``check_options(options) ->
dict`` (ValueError on a bad option) and ``from_options(options, **context) -> codec``
(context: ``weights``, a model folder from the command line, ``model``, a loaded model
handed in by tests, ``device``, where its models run, resolved by
:func:`semcom.devices.resolve_device`, and ``dataset``, the name of the data set a sweep
sends; a codec ignores what it does not use). A codec that loads a model folder states
``takes_weights = True`` and may check its options against ``--weights`` with a
``check_weights(options, weights)`` classmethod (SemcomError when they cannot run).
semcom's own codecs are declared the same way. See docs/extending.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from plugin_registry import EntryPointRegistry
from semcom.errors import SemcomError

#: The entry-point group of codecs.
CODECS_GROUP = "semcom.codecs"
#: The installed codecs (entry points read once; :func:`refresh` re-reads them).
CODECS = EntryPointRegistry(CODECS_GROUP, "codec", SemcomError)
#: Attributes every registered codec class states.
_REQUIRED = ("kind", "name", "streams", "check_options", "from_options")


def refresh() -> None:
    """Forget the entry points read so far (after installing a plug-in in this process)."""
    CODECS.refresh()
    codec_class.cache_clear()


def codec_names() -> tuple[str, ...]:
    """Names of the installed codecs, sorted; SemcomError when there are none (semcom's
    own entry points missing: an install that did not register them)."""
    return CODECS.names()


@cache
def codec_class(name: str) -> Any:
    """The class registered as ``name``; SemcomError naming the installed ones otherwise."""
    cls = CODECS.load(name)
    missing = [a for a in _REQUIRED if not hasattr(cls, a)]
    if missing or getattr(cls, "kind", None) not in ("digital", "analog"):
        what = f"lacks {', '.join(missing)}" if missing else "has a kind other than digital/analog"
        raise SemcomError(
            f"the codec {name!r} ({CODECS.source(name)}) {what}; see docs/extending.md."
        )
    return cls


def codec_title(name: str) -> str:
    """How reports name codec ``name``: its class's ``title`` (MTGC: "MTGC") when it states
    one and is installed, else the name itself."""
    try:
        return str(getattr(codec_class(name), "title", name))
    except SemcomError:
        return name


def make_codec(name: str, options: Mapping[str, Any] | None = None, **context: Any) -> Any:
    """An instance of codec ``name`` with ``options`` (validated by the codec)."""
    cls = codec_class(name)
    try:
        return cls.from_options(dict(options or {}), **context)
    except ValueError as err:
        raise SemcomError(f"codec {name}: {str(err).rstrip('.')}.") from err
