"""The .mtgc bitstream: a header, one section per stream, and a CRC32.

Layout (all integers big-endian)::

    magic        4 bytes  b"MTGC"
    version      u8       FORMAT_VERSION
    flags        u8       0 (reserved)
    preset       u8 n, then n ASCII bytes ([a-z0-9_.-], 1..32)
    fingerprint  u32      CRC32 identity of the preset's configs and weights
    height       u16      image height in pixels (1..65535)
    width        u16      image width in pixels (1..65535)
    sections     u8 count (0..3), then per section:
                   type   u8 (1 caption, 2 hci, 3 spw), each type at most once, ascending
                   length unsigned LEB128 varint, minimal, at most MAX_SECTION_BYTES
                   payload
    crc32        u32      zlib.crc32 of every byte before it

A stream that is absent (never sent, or erased by the link) has no section. The parser
is strict: any deviation raises :class:`BitstreamError` with one sentence.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from semcom.errors import SemcomError
from semcom.formats import encode_varint

MAGIC = b"MTGC"
FORMAT_VERSION = 1
MAX_SECTION_BYTES = 1 << 24
#: Stream names and their section type codes, in canonical order.
STREAM_TYPES: dict[str, int] = {"caption": 1, "hci": 2, "spw": 3}
STREAMS: tuple[str, ...] = tuple(STREAM_TYPES)
_TYPE_NAMES = {v: k for k, v in STREAM_TYPES.items()}
_PRESET_RE = re.compile(r"[a-z0-9_.\-]{1,32}")


class BitstreamError(SemcomError):
    """A .mtgc file or byte string that is truncated, corrupted or foreign."""


@dataclass
class Bitstream:
    """One coded image: header fields and the payload bytes of each present stream.

    ``streams`` maps a stream name in :data:`STREAMS` to its payload; a missing key is an
    absent (erased) stream. Rates count payload bits only: the header is side
    information the link signals once per session.
    """

    preset: str
    fingerprint: int
    height: int
    width: int
    streams: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _PRESET_RE.fullmatch(self.preset):
            raise BitstreamError(f"preset name {self.preset!r} is not 1-32 of [a-z0-9_.-].")
        if not (0 <= self.fingerprint < 1 << 32):
            raise BitstreamError("the preset fingerprint must be an unsigned 32-bit integer.")
        if not (1 <= self.height < 1 << 16 and 1 <= self.width < 1 << 16):
            raise BitstreamError(
                f"image size {self.height}x{self.width} is outside 1..65535 pixels per side."
            )
        for name, payload in self.streams.items():
            if name not in STREAM_TYPES:
                raise BitstreamError(f"unknown stream {name!r}; streams are {list(STREAMS)}.")
            if not isinstance(payload, bytes | bytearray):
                raise BitstreamError(f"stream {name!r} must be bytes.")
            if len(payload) > MAX_SECTION_BYTES:
                raise BitstreamError(f"stream {name!r} is larger than {MAX_SECTION_BYTES} bytes.")

    # -- rates ------------------------------------------------------------------------
    def stream_bits(self) -> dict[str, int]:
        """Payload bits of each present stream, in canonical order."""
        return {n: 8 * len(self.streams[n]) for n in STREAMS if n in self.streams}

    @property
    def payload_bits(self) -> int:
        """Total payload bits over the present streams."""
        return sum(self.stream_bits().values())

    @property
    def bpp(self) -> float:
        """Payload bits per pixel."""
        return self.payload_bits / (self.height * self.width)

    def without(self, *names: str) -> Bitstream:
        """A copy with the named streams erased."""
        keep = {k: v for k, v in self.streams.items() if k not in names}
        return Bitstream(self.preset, self.fingerprint, self.height, self.width, keep)

    def keeping(self, *names: str) -> Bitstream:
        """A copy with only the named streams (the others erased)."""
        return self.without(*[s for s in self.streams if s not in names])

    def with_received(self, received: Mapping[str, bytes | None]) -> Bitstream:
        """The receiver's view: this header with the streams the link delivered.

        ``received`` maps stream names to delivered bytes, or None for an erasure (the
        shape of ``channels.link.Transmission.received``); streams it does not name are
        absent.
        """
        unknown = set(received) - set(STREAM_TYPES)
        if unknown:
            raise BitstreamError(f"unknown streams {sorted(unknown)}; streams are {list(STREAMS)}.")
        got = {k: bytes(v) for k, v in received.items() if v is not None}
        return Bitstream(self.preset, self.fingerprint, self.height, self.width, got)

    # -- bytes ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise to the .mtgc layout."""
        name = self.preset.encode("ascii")
        out = bytearray(MAGIC)
        out += struct.pack(">BBB", FORMAT_VERSION, 0, len(name)) + name
        out += struct.pack(">IHH", self.fingerprint, self.height, self.width)
        present = [n for n in STREAMS if n in self.streams]
        out.append(len(present))
        for n in present:
            payload = bytes(self.streams[n])
            out.append(STREAM_TYPES[n])
            out += encode_varint(len(payload)) + payload
        out += struct.pack(">I", zlib.crc32(out))
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Bitstream:
        """Parse and validate; every defect raises :class:`BitstreamError`."""
        return _Parser(bytes(data)).parse()

    def save(self, path: str | Path) -> None:
        """Write the .mtgc file."""
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: str | Path) -> Bitstream:
        """Read and parse a .mtgc file."""
        p = Path(path)
        if not p.is_file():
            raise BitstreamError(f"{p} does not exist or is not a file.")
        return cls.from_bytes(p.read_bytes())


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise BitstreamError(f"the bitstream is truncated (it ends inside the {what}).")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def varint(self, what: str) -> int:
        value, shift = 0, 0
        for i in range(4):
            byte = self.take(1, what)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                if i > 0 and byte == 0:
                    raise BitstreamError(f"the bitstream is corrupted (non-minimal {what}).")
                return value
        raise BitstreamError(f"the bitstream is corrupted ({what} is too long).")

    def parse(self) -> Bitstream:
        if len(self.data) < len(MAGIC) or self.data[:4] != MAGIC:
            raise BitstreamError("this is not an .mtgc bitstream (wrong magic bytes).")
        self.pos = 4
        version, flags, n = struct.unpack(">BBB", self.take(3, "header"))
        if version != FORMAT_VERSION:
            raise BitstreamError(
                f"the bitstream has format version {version}; this semcom reads version "
                f"{FORMAT_VERSION}."
            )
        if flags != 0:
            raise BitstreamError("the bitstream is corrupted (reserved header flags are set).")
        raw_name = self.take(n, "preset name")
        try:
            preset = raw_name.decode("ascii")
        except UnicodeDecodeError as err:
            raise BitstreamError("the bitstream is corrupted (preset name is not ASCII).") from err
        if not _PRESET_RE.fullmatch(preset):
            raise BitstreamError("the bitstream is corrupted (invalid preset name).")
        fingerprint, height, width = struct.unpack(">IHH", self.take(8, "header"))
        if height == 0 or width == 0:
            raise BitstreamError("the bitstream is corrupted (zero image size).")
        count = self.take(1, "section count")[0]
        if count > len(STREAMS):
            raise BitstreamError(f"the bitstream is corrupted ({count} sections, at most 3).")
        streams: dict[str, bytes] = {}
        last = 0
        for _ in range(count):
            code = self.take(1, "section type")[0]
            if code not in _TYPE_NAMES:
                raise BitstreamError(f"the bitstream is corrupted (unknown section type {code}).")
            if code <= last:
                raise BitstreamError("the bitstream is corrupted (sections repeated or unordered).")
            last = code
            length = self.varint("section length")
            if length > MAX_SECTION_BYTES:
                raise BitstreamError("the bitstream is corrupted (section length too large).")
            streams[_TYPE_NAMES[code]] = self.take(length, f"{_TYPE_NAMES[code]} section")
        body_end = self.pos
        (crc,) = struct.unpack(">I", self.take(4, "CRC32"))
        if self.pos != len(self.data):
            raise BitstreamError(
                f"the bitstream has {len(self.data) - self.pos} unexpected bytes after its CRC32."
            )
        if zlib.crc32(self.data[:body_end]) != crc:
            raise BitstreamError("the bitstream is corrupted (CRC32 mismatch).")
        return Bitstream(preset, fingerprint, height, width, streams)
