"""The codec protocols: what a codec gives the link and what its receiver gets back.

A leaf module (no torch, nothing from semcom) so that a third-party codec can implement it
without importing the simulator. Two kinds:

- :class:`DigitalCodec`: an image becomes :class:`Encoded` — side information (the
  ``header``, which the receiver is assumed to hold) and named byte :class:`Stream`\\ s in
  priority order, each with its payload options in order of preference and a default
  protection. The link's planner walks the streams in order and sends, for each, the first
  option that fits what is left of the budget (the same rule for every codec); the
  receiver decodes whatever subset arrived (an absent stream is an erasure).
- :class:`AnalogCodec`: images become complex channel symbols for a given number of
  symbols and SNR, and symbols (after the channel) become images.

Both state an ``identity`` (a hash of their weights, or None) that the results store and
the decode cache key on, and ``from_options``, which validates a config's options for them
(every error a :class:`ValueError` naming the option). Codecs are found through the
``semcom.codecs`` entry-point group (:mod:`semcom.registry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable


@dataclass(frozen=True)
class Option:
    """One payload a stream can send, and what to record about it if it is chosen."""

    payload: bytes
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stream:
    """A named stream: its options, most preferred first, and its default protection
    (an MCS name such as ``qpsk:1/3`` or ``mcs9``; ``adaptive``: the best the link has
    for the SNR; ``robust``: the same with 3 dB more margin, below the table QPSK 1/5 repeated)."""

    name: str
    options: tuple[Option, ...]
    protection: str = "adaptive"


@dataclass(frozen=True)
class Encoded:
    """One image encoded by a :class:`DigitalCodec`.

    ``header``: side information the receiver holds (e.g. the image size and the model's
    fingerprint), not sent over the link; ``streams``: in priority order, what is kept
    first when the budget is short; ``height`` × ``width``: the image's size in pixels.
    """

    header: bytes
    streams: tuple[Stream, ...]
    height: int
    width: int

    @property
    def stream_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.streams)


@runtime_checkable
class DigitalCodec(Protocol):
    """A codec whose streams are bytes sent through the protected link.

    ``encode(image [3,H,W] float in [0,1]) -> Encoded``;
    ``decode(header, received {stream: bytes}, seed) -> [3,H,W] float in [0,1]`` (any
    subset of the streams may be missing); ``received_key(header, received)`` the bytes
    the decode cache hashes (equal keys decode to equal images for one seed).
    """

    kind: ClassVar[str]  # "digital"
    name: str
    streams: ClassVar[tuple[str, ...]]

    @property
    def identity(self) -> str | None: ...

    def encode(self, image: Any) -> Encoded: ...

    def decode(self, header: bytes, received: Mapping[str, bytes], seed: int) -> Any: ...

    def received_key(self, header: bytes, received: Mapping[str, bytes]) -> bytes: ...


@runtime_checkable
class AnalogCodec(Protocol):
    """A codec that maps images straight to complex channel symbols.

    ``max_symbols(h, w)``: the most symbols it can use for an h×w image;
    ``encode(images [B,3,H,W], snr_db, n) -> [B,n] complex``;
    ``decode(received [B,n] complex, effective_snr_db [B], h, w) -> [B,3,H,W] in [0,1]``.
    """

    kind: ClassVar[str]  # "analog"
    name: str

    @property
    def identity(self) -> str | None: ...

    def max_symbols(self, height: int, width: int) -> int: ...

    def encode(self, images: Any, snr_db: float, symbols: int) -> Any: ...

    def decode(self, received: Any, effective_snr_db: Any, height: int, width: int) -> Any: ...


def received_key(header: bytes, received: Mapping[str, bytes]) -> bytes:
    """A canonical byte string of (header, delivered streams): the default decode-cache key
    (length-prefixed, streams sorted by name)."""
    parts = [len(header).to_bytes(4, "big"), header]
    for name in sorted(received):
        data = received[name]
        raw = name.encode()
        parts += [len(raw).to_bytes(2, "big"), raw, len(data).to_bytes(4, "big"), data]
    return b"".join(parts)
