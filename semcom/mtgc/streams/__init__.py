"""The three MTGC guidance streams: caption, HCI and SPW; each encodes to bytes."""

from semcom.errors import SemcomError


class StreamError(SemcomError):
    """A stream payload that does not decode (corrupted, truncated or foreign)."""
