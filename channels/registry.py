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

from typing import Any

from channels.errors import LinkError
from plugin_registry import EntryPointRegistry

#: The entry-point group of channel models.
CHANNELS_GROUP = "semcom.channels"
#: The installed channels (names matched in lower case; :func:`refresh` re-reads them).
CHANNELS = EntryPointRegistry(CHANNELS_GROUP, "channel", LinkError, lower=True)


def refresh() -> None:
    """Forget the entry points read so far (after installing a plug-in in this process)."""
    CHANNELS.refresh()


def channel_names() -> tuple[str, ...]:
    """Names of the installed channels, sorted; LinkError when there are none."""
    return CHANNELS.names()


def channel_factory(name: str) -> Any:
    """The class or factory registered as ``name``; LinkError naming the installed ones."""
    factory = CHANNELS.load(name)
    if not callable(factory):
        raise LinkError(
            f"the channel {CHANNELS.key(name)!r} ({CHANNELS.source(name)}) is not a class "
            "or factory."
        )
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
