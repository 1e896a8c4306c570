"""Channel models found through entry points: the built-ins and any installed plug-in alike.

A package makes a channel available by declaring it in the ``semcom.channels`` entry-point
group (pyproject.toml)::

    [project.entry-points."semcom.channels"]
    mychannel = "mypackage.channel:MyChannel"

The object is a :class:`~channels.models.ChannelModel` subclass (or a factory returning
one) called as ``factory(device=..., **options)``: its keyword arguments are the options a
sweep config or ``semcom transmit --channel-option`` may give, and it raises
:class:`~channels.errors.LinkError` (or TypeError for an unknown keyword) on a bad one.
Adaptive MCS selection reads the thresholds calibrated for the model's ``name``, or for
the channel named by its ``thresholds_from`` (see docs/extending.md). semcom's own
channels are declared the same way.
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib.metadata import entry_points
from typing import Any

from channels.errors import LinkError

#: The entry-point group of channel models.
CHANNELS_GROUP = "semcom.channels"


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=CHANNELS_GROUP)}


def refresh() -> None:
    """Forget the entry points read so far (after installing a plug-in in this process)."""
    _entry_points.cache_clear()
    channel_factory.cache_clear()


def channel_names() -> tuple[str, ...]:
    """Names of the installed channels, sorted; LinkError when there are none."""
    names = tuple(sorted(_entry_points()))
    if not names:
        raise LinkError(
            "no channels are registered (the semcom.channels entry points are missing); "
            "reinstall semcom with `make install` (or `pip install -e .`), and remove a stale "
            "semcom.egg-info folder beside pyproject.toml if there is one."
        )
    return names


@cache
def channel_factory(name: str) -> Any:
    """The class or factory registered as ``name``; LinkError naming the installed ones."""
    eps = _entry_points()
    key = name.lower()
    if key not in eps:
        raise LinkError(
            f"unknown channel {name!r}; the installed channels are {', '.join(channel_names())}."
        )
    try:
        factory = eps[key].load()
    except Exception as err:  # a broken plug-in must not take the others down
        raise LinkError(f"the channel {key!r} failed to load ({eps[key].value}): {err}") from err
    if not callable(factory):
        raise LinkError(f"the channel {key!r} ({eps[key].value}) is not a class or factory.")
    return factory


def channel_summary(name: str) -> str:
    """The first line of the channel's docstring (for ``semcom list channels``)."""
    doc = (channel_factory(name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def make_channel(name: str, *, device: str | None = None, **options: Any) -> Any:
    """Build channel ``name`` with ``options`` (validated by the channel itself)."""
    factory = channel_factory(name)
    try:
        return factory(device=device, **options)
    except TypeError as err:
        raise LinkError(f"bad option for channel {name!r}: {err}.") from err
