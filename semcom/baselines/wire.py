"""What a baseline's stream carries over the link: its file, less what the receiver rebuilds.

The rule, the same for every codec (MTGC's container follows it too, see docs/metrics.md):
a stream carries what the receiver cannot rebuild from what the session fixes (the codec,
its library and setting table, the image size) and from the stream's length (the link
signals every transport block's size). Format boilerplate (magic numbers, quantisation
and Huffman tables a setting fixes, box and chunk lengths, image sizes) is stripped at the
sender and rebuilt at the receiver, byte for byte.

Stream layout::

    byte 0   the setting: its index in ``settings(codec)`` (factor × quality × encoder
             variant, < 255), or 255: the codec's whole file follows unchanged
    rest     the file's bytes between the setting's boilerplate prefix and suffix

The boilerplate of a setting is found the same way by sender and receiver: the codec codes
six fixed synthetic images at that setting and size; the longest prefix and suffix their
*normalised* files share is the boilerplate. Normalising zeroes the length fields the
receiver recomputes from the stream's length (WebP's RIFF and chunk sizes, JPEG 2000's
tile-part length, AVIF's ``mdat`` size and item extent) and moves WebP's frame tag behind
its fixed start code and size, so that they join the prefix. The sender checks that the
stream rebuilds to the very same file and otherwise sends the whole file (setting 255);
off-grid settings are sent whole as well. JPEG has two encoder variants, optimised Huffman
tables (in the stream) and the standard tables (rebuilt, so free); the sender sends
whichever stream is shorter (at 128×128 the standard tables win from factor 2 on).
"""

from __future__ import annotations

import struct
from functools import lru_cache

import numpy as np

from semcom.errors import SemcomError

#: The setting byte of a stream that carries its codec's whole file.
RAW = 255
#: Longest boilerplate suffix per format: the end-of-image markers of JPEG and JPEG 2000;
#: the other formats end with coded data, whose frequent trailing zeros are not boilerplate.
MAX_SUFFIX: dict[str, int] = {"jpeg": 2, "jpeg2000": 2}
#: Longest boilerplate prefix where it is shorter than what the templates share: JPEG XL's
#: header is bit-packed and only its first four bytes are fixed for real scenes.
MAX_PREFIX: dict[str, int] = {"jpegxl": 4}


class FormatError(ValueError):
    """A file whose layout the normaliser does not know (it is then sent whole)."""


def settings(codec) -> tuple[tuple[int, int, int], ...]:
    """(factor, quality, encoder variant) of every setting index of ``codec`` (a
    ConventionalCodec)."""
    from semcom.baselines.standard import FACTORS

    variants = range(codec.variants)
    table = tuple((f, q, v) for f in FACTORS for q in codec.qualities for v in variants)
    if len(table) >= RAW:
        raise SemcomError(f"{codec.name} has {len(table)} settings; a stream can name {RAW}.")
    return table


def pack(
    codec, data: bytes, factor: int, quality: int, height: int, width: int, variant: int = 0
) -> bytes:
    """The stream for ``data`` (the codec's file, by encoder ``variant``, of an image of
    height × width coded at ``factor`` and ``quality``): its setting byte and the file less
    its boilerplate."""
    data = bytes(data)
    try:
        index = settings(codec).index((factor, quality, variant))
    except ValueError:
        return bytes([RAW]) + data
    try:
        prefix, suffix = boilerplate(codec, factor, quality, height, width, variant)
        norm = normalise(codec.name, data)
    except FormatError:
        return bytes([RAW]) + data
    end = len(norm) - len(suffix)
    if norm.startswith(prefix) and norm.endswith(suffix) and end >= len(prefix):
        stream = bytes([index]) + norm[len(prefix) : end]
        try:
            if unpack(codec, stream, height, width) == data:
                return stream
        except SemcomError:
            pass
    return bytes([RAW]) + data


def unpack(codec, stream: bytes, height: int, width: int) -> bytes:
    """The codec's file back from a stream for an image of height × width; SemcomError
    when the stream names no setting or does not rebuild to a file."""
    stream = bytes(stream)
    if not stream:
        raise SemcomError(f"the {codec.name} stream is empty.")
    if stream[0] == RAW:
        return stream[1:]
    table = settings(codec)
    if stream[0] >= len(table):
        raise SemcomError(f"the {codec.name} stream is corrupted (unknown setting {stream[0]}).")
    factor, quality, variant = table[stream[0]]
    prefix, suffix = boilerplate(codec, factor, quality, height, width, variant)
    try:
        return denormalise(codec.name, prefix + stream[1:] + suffix)
    except FormatError as err:
        raise SemcomError(f"the {codec.name} stream is corrupted ({err}).") from err


def setting_of(codec, stream: bytes) -> tuple[int, int, int] | None:
    """(factor, quality, variant) a stream names, or None for a whole file (setting 255)."""
    if not stream or stream[0] == RAW:
        return None
    table = settings(codec)
    if stream[0] >= len(table):
        raise SemcomError(f"the {codec.name} stream is corrupted (unknown setting {stream[0]}).")
    return table[stream[0]]


# -- boilerplate -----------------------------------------------------------------------
def templates(height: int, width: int) -> list[np.ndarray]:
    """Six fixed [height,width,3] uint8 images (two noises, two flat colours, a ramp, a
    checkerboard): different enough that bytes they share are the format's."""
    rng = np.random.default_rng(20261129)
    noise = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(2)]
    flat = [np.full((height, width, 3), c, np.uint8) for c in ((118, 118, 118), (200, 30, 60))]
    y, x = np.mgrid[0:height, 0:width]
    ramp = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256])
    check = np.repeat((((x // 4 + y // 4) % 2) * 255)[..., None], 3, axis=2)
    pictures = [ramp.transpose(1, 2, 0), check]
    return noise + flat + [np.ascontiguousarray(p.astype(np.uint8)) for p in pictures]


def boilerplate(
    codec, factor: int, quality: int, height: int, width: int, variant: int = 0
) -> tuple[bytes, bytes]:
    """(prefix, suffix) every normalised file of this setting shares (cached per process)."""
    from semcom.baselines.standard import small_size

    return _boilerplate(codec.name, quality, variant, *small_size(height, width, factor))


@lru_cache(maxsize=1024)
def _boilerplate(name: str, quality: int, variant: int, h: int, w: int) -> tuple[bytes, bytes]:
    from semcom.baselines.standard import get_codec

    codec = get_codec(name)
    files = [normalise(name, codec.encode_array(t, quality, variant)) for t in templates(h, w)]
    n = 0
    shortest = min(len(f) for f in files)
    while n < min(shortest, MAX_PREFIX.get(name, shortest)) and len({f[n] for f in files}) == 1:
        n += 1
    s = 0
    while s < min(shortest - n, MAX_SUFFIX.get(name, 0)) and len({f[-1 - s] for f in files}) == 1:
        s += 1
    return files[0][:n], files[0][len(files[0]) - s :]


# -- normalising: length fields zeroed, WebP's frame tag moved -------------------------
def normalise(name: str, data: bytes) -> bytes:
    """The file with the fields the receiver recomputes zeroed (FormatError if unknown)."""
    return _FORMATS[name][0](bytes(data)) if name in _FORMATS else bytes(data)


def denormalise(name: str, data: bytes) -> bytes:
    """Inverse of :func:`normalise` (FormatError when the bytes do not fit the format)."""
    return _FORMATS[name][1](bytes(data)) if name in _FORMATS else bytes(data)


def _u32(data: bytes, pos: int, fmt: str = ">I") -> int:
    if pos + 4 > len(data):
        raise FormatError("truncated")
    return struct.unpack_from(fmt, data, pos)[0]


def _webp_normalise(data: bytes) -> bytes:
    # RIFF size · WEBP · "VP8 " size · frame tag (3) · start code (3) · width, height (4)
    if data[:4] != b"RIFF" or data[8:16] != b"WEBPVP8 " or len(data) < 30:
        raise FormatError("not a simple lossy WebP")
    size = _u32(data, 16, "<I")
    if len(data) != 20 + size + (size & 1) or _u32(data, 4, "<I") != len(data) - 8:
        raise FormatError("WebP sizes do not match the file")
    vp8 = data[20 : 20 + size]
    return b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0" + vp8[3:10] + vp8[:3] + vp8[10:]


def _webp_denormalise(data: bytes) -> bytes:
    if data[:20] != b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0" or len(data) < 30:
        raise FormatError("not a normalised WebP")
    vp8 = data[27:30] + data[20:27] + data[30:]
    pad = b"\0" * (len(vp8) & 1)
    riff = struct.pack("<I", 12 + len(vp8) + len(pad))
    return b"RIFF" + riff + b"WEBPVP8 " + struct.pack("<I", len(vp8)) + vp8 + pad


def _j2k_sot(data: bytes) -> int:
    """Offset of the first SOT marker of a J2K codestream (walking the main header)."""
    if data[:2] != b"\xff\x4f":
        raise FormatError("not a J2K codestream")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos : pos + 2] == b"\xff\x90":
            return pos
        if data[pos] != 0xFF:
            raise FormatError("bad J2K marker")
        pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
    raise FormatError("no J2K tile")


def _j2k_normalise(data: bytes) -> bytes:
    sot = _j2k_sot(data)
    if _u32(data, sot + 6) != len(data) - sot - 2 or data[-2:] != b"\xff\xd9":
        raise FormatError("not one tile-part")
    return data[: sot + 6] + b"\0\0\0\0" + data[sot + 10 :]


def _j2k_denormalise(data: bytes) -> bytes:
    sot = _j2k_sot(data)
    if len(data) < sot + 12:
        raise FormatError("truncated")
    return data[: sot + 6] + struct.pack(">I", len(data) - sot - 2) + data[sot + 10 :]


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of the ISOBMFF boxes in data[start:end]."""
    out, pos = [], start
    while pos + 8 <= end:
        size = _u32(data, pos)
        if size < 8 or pos + size > end:
            raise FormatError("bad box size")
        out.append((data[pos + 4 : pos + 8], pos, size))
        pos += size
    if pos != end:
        raise FormatError("trailing bytes")
    return out


def _avif_fields(data: bytes, mdat_size: int | None = None) -> tuple[int, int, int]:
    """(offset of the mdat box, offset of the single extent's offset field, its byte size);
    ``mdat_size`` overrides the (zeroed) size of a normalised file's last box."""
    if mdat_size is not None:
        data = data[:-mdat_size] + struct.pack(">I", mdat_size) + data[-mdat_size + 4 :]
    top = _boxes(data, 0, len(data))
    if [t for t, _, _ in top] != [b"ftyp", b"meta", b"mdat"]:
        raise FormatError("not ftyp · meta · mdat")
    _, meta, meta_size = top[1]
    iloc = [(o, s) for t, o, s in _boxes(data, meta + 12, meta + meta_size) if t == b"iloc"]
    if len(iloc) != 1:
        raise FormatError("no iloc box")
    pos, _ = iloc[0]
    version = data[pos + 8]
    off_size, len_size = data[pos + 12] >> 4, data[pos + 12] & 15
    base_size, index_size = data[pos + 13] >> 4, data[pos + 13] & 15
    pos += 14
    count_size = 2 if version < 2 else 4
    items = int.from_bytes(data[pos : pos + count_size], "big")
    if items != 1 or off_size != 4 or len_size != 4 or base_size:
        raise FormatError("not one item with 32-bit extents")
    pos += count_size + count_size  # item count, item ID
    if version in (1, 2):
        pos += 2  # construction method
    pos += 2  # data reference index
    if int.from_bytes(data[pos : pos + 2], "big") != 1:
        raise FormatError("not one extent")
    pos += 2 + (index_size if version in (1, 2) else 0)
    return top[2][1], pos, top[2][2]


def _avif_normalise(data: bytes) -> bytes:
    mdat, field, size = _avif_fields(data)
    offset, length = _u32(data, field), _u32(data, field + 4)
    if mdat + size != len(data) or offset + length != len(data) or offset < mdat + 8:
        raise FormatError("the item is not the end of the mdat box")
    out = bytearray(data)
    out[mdat : mdat + 4] = bytes(4)
    out[field + 4 : field + 8] = bytes(4)
    return bytes(out)


def _avif_denormalise(data: bytes) -> bytes:
    # the mdat box is last; its size is what follows ftyp and meta
    ftyp = _u32(data, 0)
    meta = _u32(data, ftyp)
    mdat = ftyp + meta
    if mdat + 8 > len(data):
        raise FormatError("truncated")
    mdat_size = len(data) - mdat
    _, field, _ = _avif_fields(data, mdat_size)
    offset = _u32(data, field)
    if not mdat + 8 <= offset <= len(data):
        raise FormatError("bad extent offset")
    out = bytearray(data)
    out[mdat : mdat + 4] = struct.pack(">I", mdat_size)
    out[field + 4 : field + 8] = struct.pack(">I", len(data) - offset)
    return bytes(out)


_FORMATS = {
    "webp": (_webp_normalise, _webp_denormalise),
    "jpeg2000": (_j2k_normalise, _j2k_denormalise),
    "avif": (_avif_normalise, _avif_denormalise),
}
