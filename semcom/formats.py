"""Byte-level helpers of the image formats and containers (a leaf module: it imports
nothing from semcom but its errors): LEB128 varints, and the declared image size of a
JPEG, WebP, JPEG 2000, AVIF or JPEG XL stream, read from its header.

The receiver checks the size a stream declares before handing it to the native decoder:
a bit error in a size field can make a decoder allocate gigabytes (a flipped bit in a
JPEG 2000 SIZ marker declares a 128 × 1 048 704 image) or run for seconds. A stream whose
declared size is not one the receiver expects is rejected as corrupted, cheaply.

Every function takes the stream's bytes and returns ``(height, width)`` in pixels, or
raises :class:`~semcom.errors.SemcomError` when the header cannot be read.
"""

from __future__ import annotations

from semcom.errors import SemcomError

#: JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic variants).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: JPEG XL SizeHeader aspect ratios (numerator, denominator), index 1..7.
_JXL_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


def encode_varint(n: int) -> bytes:
    """n ≥ 0 as an unsigned LEB128 varint (minimal: no trailing zero groups)."""
    if n < 0:
        raise ValueError(f"a varint holds n ≥ 0, not {n}")
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            return bytes(out)


def read_varint(data: bytes, max_bytes: int = 4) -> tuple[int, int]:
    """(value, bytes used) of the LEB128 varint at the start of ``data``; ValueError when
    it does not end within ``max_bytes`` bytes (or ``data``)."""
    value = 0
    for i in range(min(max_bytes, len(data))):
        value |= (data[i] & 0x7F) << (7 * i)
        if not data[i] & 0x80:
            return value, i + 1
    raise ValueError(f"no varint ends within {max_bytes} bytes")


def _corrupted(codec: str, what: str) -> SemcomError:
    return SemcomError(f"the {codec} stream is corrupted ({what}).")


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(height, width) from the first SOF marker of a JPEG stream."""
    if data[:2] != b"\xff\xd8":
        raise _corrupted("jpeg", "no start-of-image marker")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise _corrupted("jpeg", "bad marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                break
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return height, width
        if marker == 0xDA or length < 2:
            break
        pos += 2 + length
    raise _corrupted("jpeg", "no frame header")


def webp_size(data: bytes) -> tuple[int, int]:
    """(height, width) from a RIFF WebP stream's VP8, VP8L or VP8X chunk."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _corrupted("webp", "no RIFF/WEBP header")
    chunk, body = data[12:16], data[20:30]
    if chunk == b"VP8 ":
        if body[3:6] != b"\x9d\x01\x2a":
            raise _corrupted("webp", "bad VP8 start code")
        width = int.from_bytes(body[6:8], "little") & 0x3FFF
        height = int.from_bytes(body[8:10], "little") & 0x3FFF
        return height, width
    if chunk == b"VP8L":
        if body[0] != 0x2F:
            raise _corrupted("webp", "bad VP8L signature")
        bits = int.from_bytes(body[1:5], "little")
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return height, width
    raise _corrupted("webp", "unknown chunk")


def jpeg2000_size(data: bytes) -> tuple[int, int]:
    """(height, width) from a J2K codestream's SIZ marker.

    Only single-tile, zero-offset, three-component codestreams (what the encoder here
    writes) are accepted: a corrupted tile size could otherwise split the image into
    millions of tiles.
    """
    if len(data) < 42 or data[:4] != b"\xff\x4f\xff\x51":
        raise _corrupted("jpeg2000", "no SOC/SIZ marker")
    xsiz, ysiz, xo, yo, xt, yt, xto, yto = (
        int.from_bytes(data[i : i + 4], "big") for i in range(8, 40, 4)
    )
    components = int.from_bytes(data[40:42], "big")
    if xo or yo or xto or yto or xt < xsiz or yt < ysiz or components != 3:
        raise _corrupted("jpeg2000", "unexpected image or tile geometry")
    return ysiz, xsiz


def avif_size(data: bytes) -> tuple[int, int]:
    """(height, width) from an AVIF file's ``ispe`` (image spatial extents) property."""
    pos = data.find(b"ispe", 0, 4096)
    if pos < 0 or pos + 16 > len(data):
        raise _corrupted("avif", "no ispe property")
    width = int.from_bytes(data[pos + 8 : pos + 12], "big")
    height = int.from_bytes(data[pos + 12 : pos + 16], "big")
    return height, width


class _Bits:
    """LSB-first bit reader (the JPEG XL bit order)."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "little")
        self.pos = 0
        self.limit = 8 * len(data)

    def read(self, n: int) -> int:
        if self.pos + n > self.limit:
            raise _corrupted("jpegxl", "truncated size header")
        out = (self.value >> self.pos) & ((1 << n) - 1)
        self.pos += n
        return out

    def u32_size(self) -> int:
        """U32(Bits(9)+1, Bits(13)+1, Bits(18)+1, Bits(30)+1) of the SizeHeader."""
        return self.read((9, 13, 18, 30)[self.read(2)]) + 1


def jpegxl_size(data: bytes) -> tuple[int, int]:
    """(height, width) from a bare JPEG XL codestream's SizeHeader."""
    if data[:2] != b"\xff\x0a":
        raise _corrupted("jpegxl", "no codestream signature")
    bits = _Bits(data[2:14])
    small = bits.read(1)
    height = (bits.read(5) + 1) * 8 if small else bits.u32_size()
    ratio = bits.read(3)
    if ratio == 0:
        width = (bits.read(5) + 1) * 8 if small else bits.u32_size()
    else:
        num, den = _JXL_RATIOS[ratio]
        width = height * num // den
    return height, width
