"""The mutation operators: byte-level, dimension fields, .mtgc containers, payloads that
keep their header, and one input per target."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np

from fuzzing.targets import BASELINES, DECODE_MAX_SIDE, SELFTESTS, pack_delivered

_INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF, 0x8000, 0xFFFFFFFF, 0x7FFFFFFF)
_SIDES = (1, 2, 3, 15, 16, 17, 63, 64, 65, 127, 129, 255, 256, 257, 1000, 4096, 4097, 65535)


# -- mutations -------------------------------------------------------------------------------
def _rand_bytes(rng: np.random.Generator, n: int) -> bytes:
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def mutate_bytes(data: bytes, rng: np.random.Generator, seeds: Sequence[bytes] = ()) -> bytes:
    """One to three stacked byte-level mutations of ``data``."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(11))
        n = len(out)
        pos = int(rng.integers(0, n + 1))
        if kind == 0 and n:  # bit flips
            for _ in range(int(rng.integers(1, 9))):
                j = int(rng.integers(n))
                out[j] ^= 1 << int(rng.integers(8))
        elif kind == 1:  # truncation
            del out[pos:]
        elif kind == 2:  # insertion
            out[pos:pos] = _rand_bytes(rng, int(rng.integers(1, 17)))
        elif kind == 3 and n:  # deletion
            del out[pos : pos + int(rng.integers(1, 17))]
        elif kind == 4 and n:  # overwrite with random bytes
            k = int(rng.integers(1, 9))
            out[pos : pos + k] = _rand_bytes(rng, len(out[pos : pos + k]))
        elif kind == 5 and n:  # interesting values, 1, 2 or 4 bytes, either endianness
            width = int(rng.choice([1, 2, 4]))
            value = int(rng.choice(_INTERESTING)) & ((1 << (8 * width)) - 1)
            raw = value.to_bytes(width, "big" if rng.random() < 0.5 else "little")
            j = int(rng.integers(n))
            out[j : j + width] = raw
        elif kind == 6 and n:  # duplicate a chunk elsewhere
            a = int(rng.integers(n))
            chunk = out[a : a + int(rng.integers(1, 33))]
            out[pos:pos] = chunk
        elif kind == 7 and seeds:  # splice with another seed
            other = seeds[int(rng.integers(len(seeds)))]
            cut = int(rng.integers(0, len(other) + 1))
            out = out[:pos] + bytearray(other[cut:])
        elif kind == 8:  # extension with a run of one byte value
            out += bytes([int(rng.choice([0, 0xFF, int(rng.integers(256))]))]) * int(
                rng.integers(1, 4097)
            )
        elif kind == 9 and n:  # a run filled with 0x00 or 0xFF (rANS bypass, long codes)
            k = len(out[pos : pos + int(rng.integers(1, 257))])
            out[pos : pos + k] = bytes([0xFF if rng.random() < 0.5 else 0]) * k
        elif n:  # header region: mutate one of the first 32 bytes
            j = int(rng.integers(min(n, 32)))
            out[j] = int(rng.integers(256)) if rng.random() < 0.5 else out[j] ^ 0xFF
    return bytes(out)


def mutate_dimensions(data: bytes, rng: np.random.Generator) -> bytes:
    """Overwrite a field that may hold an image dimension (8..128 or one less, as a 2- or
    4-byte integer in the first KiB) with a huge or degenerate value."""
    spots = []
    head = data[:1024]
    for v in (8, 16, 32, 64, 128, 7, 15, 31, 63, 127):
        for width, order in ((2, "big"), (2, "little"), (4, "big"), (4, "little")):
            pattern = v.to_bytes(width, order)  # type: ignore[arg-type]
            j = head.find(pattern)
            while j >= 0:
                spots.append((j, width, order))
                j = head.find(pattern, j + 1)
    if not spots:
        return mutate_bytes(data, rng)
    j, width, order = spots[int(rng.integers(len(spots)))]
    values = (0, 1, 0x3FFF, 0x7FFF, 0xFFFF, 4096, 16384, 1 << 20, 0x7FFFFFFF, 0xFFFFFFFF)
    value = int(rng.choice(values)) & ((1 << (8 * width)) - 1)
    return data[:j] + value.to_bytes(width, order) + data[j + width :]


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


def _container_parts(data: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """(header before the section count, [(type, payload)]) of a valid container."""
    from semcom.mtgc.container import STREAM_TYPES, Bitstream

    bs = Bitstream.from_bytes(data)
    n = len(bs.preset)
    head = data[: 4 + 3 + n + 8]
    return head, [(STREAM_TYPES[k], bs.streams[k]) for k in STREAM_TYPES if k in bs.streams]


def _varint(n: int) -> bytes:
    from semcom.formats import encode_varint

    return encode_varint(n)


def _assemble(head: bytes, sections: list[tuple[int, bytes]]) -> bytes:
    out = bytearray(head) + bytes([len(sections)])
    for code, payload in sections:
        out += bytes([code]) + _varint(len(payload)) + payload
    return _with_crc(bytes(out))


def mutate_container(
    data: bytes, rng: np.random.Generator, seeds: Sequence[bytes], max_side: int = 65535
) -> bytes:
    """A structure-aware mutation of a valid .mtgc container; the CRC32 always matches."""
    head, sections = _container_parts(data)
    kind = int(rng.integers(8))
    if kind == 0 and sections:  # garbage bodies
        sections = [
            (code, _rand_bytes(rng, int(rng.integers(0, 2 * len(p) + 64))))
            if rng.random() < 0.6
            else (code, p)
            for code, p in sections
        ]
    elif kind == 1 and sections:  # one body mutated
        i = int(rng.integers(len(sections)))
        code, p = sections[i]
        sections[i] = (code, mutate_bytes(p, rng))
    elif kind == 2:  # image size
        sides = [s for s in _SIDES if s <= max_side]
        h = int(rng.choice(sides)) if rng.random() < 0.7 else int(rng.integers(1, max_side + 1))
        w = int(rng.choice(sides)) if rng.random() < 0.7 else int(rng.integers(1, max_side + 1))
        head = head[:-4] + struct.pack(">HH", h, w)
    elif kind == 3:  # sections swapped in from another container, or dropped
        _, other = _container_parts(seeds[int(rng.integers(len(seeds)))])
        mix = {code: p for code, p in sections}
        for code, p in other:
            if rng.random() < 0.5:
                mix[code] = p
        for code in list(mix):
            if rng.random() < 0.2:
                del mix[code]
        sections = sorted(mix.items())
    elif kind == 4:  # any byte-level mutation, then a fresh CRC32
        return _with_crc(mutate_bytes(data[:-4], rng))
    elif kind == 5:  # huge or non-minimal varint section length
        code = int(rng.choice([1, 2, 3]))
        length = bytes(
            rng.choice([b"\xff\xff\xff\x7f", b"\x80\x80\x80\x80\x01", b"\x81\x00", b"\xff\xff\x7f"])
        )
        tail = _rand_bytes(rng, int(rng.integers(0, 64)))
        return _with_crc(head + b"\x01" + bytes([code]) + length + tail)
    elif kind == 6 and sections:  # a payload that is empty or far too long
        i = int(rng.integers(len(sections)))
        code, p = sections[i]
        r = rng.random()
        if r < 0.1:  # up to 4 MB: what a padding or copy per byte would amplify
            big = _rand_bytes(rng, 4096) * int(rng.integers(1, 1025))
            sections[i] = (code, p[:8] + big)
        else:
            sections[i] = (code, b"" if r < 0.35 else p * int(rng.integers(2, 200)))
    else:  # header fields: version, flags, preset, fingerprint
        raw = bytearray(head)
        j = int(rng.integers(4, len(raw)))
        raw[j] = int(rng.integers(256))
        head = bytes(raw)
    return _assemble(head, sections)


def mutate_payload(data: bytes, rng: np.random.Generator, seeds: Sequence[bytes]) -> bytes:
    """A stream payload with a header kept: garbage body, swapped header, or both mutated."""
    keep = int(rng.integers(1, min(len(data), 64) + 1)) if data else 0
    kind = int(rng.integers(4))
    if kind == 0:  # header kept, garbage after it
        return data[:keep] + _rand_bytes(rng, int(rng.integers(0, 2 * len(data) + 64)))
    if kind == 1:  # header kept, body of another seed
        other = seeds[int(rng.integers(len(seeds)))]
        return data[:keep] + other[keep:]
    if kind == 2:  # first byte replaced (HCI: kind/factor/quality; compressai: quality)
        return bytes([int(rng.integers(256))]) + data[1:]
    return data[:keep] + mutate_bytes(data[keep:], rng)


def make_input(target: str, rng: np.random.Generator, seeds: dict[str, list[bytes]]) -> bytes:
    """One fuzz input for ``target``."""
    if target in SELFTESTS:
        return _rand_bytes(rng, 8)
    pool = seeds[target]
    base = pool[int(rng.integers(len(pool)))]
    u = rng.random()
    if target == "receiver":
        return _receiver_input(rng, seeds)
    if u < 0.12:  # random bytes (what a CRC collision would deliver)
        return _rand_bytes(rng, int(rng.integers(0, max(64, 2 * len(base)))))
    if target == "mtgc-decode":
        while True:  # a full decode costs time in proportion to the declared size
            data = mutate_container(base, rng, pool, DECODE_MAX_SIDE)
            if _declared_pixels(data) <= DECODE_MAX_SIDE**2:
                return data
    if target in ("container", "mtgc-streams"):
        if target != "container" or u < 0.6:
            return mutate_container(base, rng, pool)
        return mutate_bytes(base, rng, pool)
    if target in ("spw", "spw-coded") and u < 0.4:  # garbage of exactly the right length
        return _rand_bytes(rng, len(base))
    if target in (*BASELINES, "hci") and u < 0.3:
        return mutate_dimensions(base, rng)
    if u < 0.55:
        return mutate_bytes(base, rng, pool)
    return mutate_payload(base, rng, pool)


def _declared_pixels(data: bytes) -> int:
    """Height × width of a container that parses, else 0."""
    from semcom.errors import SemcomError
    from semcom.mtgc.container import Bitstream

    try:
        bs = Bitstream.from_bytes(data)
    except SemcomError:
        return 0
    return bs.height * bs.width


def _receiver_input(rng: np.random.Generator, seeds: dict[str, list[bytes]]) -> bytes:
    which = int(rng.integers(0, 1 + len(BASELINES)))
    if which == 0:
        _, sections = _container_parts(seeds["container"][int(rng.integers(3))])
        names = {1: "caption", 2: "hci", 3: "spw"}
        delivered: dict[str, bytes | None] = {}
        for code, p in sections:
            r = rng.random()
            if r < 0.2:
                delivered[names[code]] = None
            elif r < 0.5:
                delivered[names[code]] = _rand_bytes(rng, int(rng.integers(0, 2 * len(p) + 8)))
            elif r < 0.8:
                delivered[names[code]] = mutate_bytes(p, rng)
            elif r < 0.95:
                delivered[names[code]] = p
        if rng.random() < 0.05:
            delivered["image"] = b"\x00"
        return pack_delivered(0, delivered)
    pool = seeds[BASELINES[which - 1]]
    base = pool[int(rng.integers(len(pool)))]
    r = rng.random()
    stream: bytes | None = (
        None if r < 0.1 else mutate_payload(base, rng, pool) if r < 0.7 else mutate_bytes(base, rng)
    )
    return pack_delivered(which, {"caption": stream} if rng.random() < 0.95 else {})
