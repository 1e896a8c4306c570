"""Fuzz every decoder of the receiver with mutated .mtgc files and raw stream payloads.

    python benchmarks/fuzz.py [--n 12000] [--seed 0] [--targets caption hci ...]
                              [--timeout 5] [--json fuzz.json]

Valid seed inputs come from encoding ShapesWorld test scenes with the real codecs (the
shipped MTGC-tiny preset, the conventional and compressai baselines). Each input is a
seed mutated by byte-level operators (bit flips, truncation, insertion, deletion,
overwrites, interesting values, chunk duplication, splicing, extension), by
structure-aware ones (a well-formed .mtgc container with a correct CRC32 carrying garbage
or mutated stream bodies, or mutated header fields; huge varint section lengths; stream
payloads that keep their header but carry garbage; garbage behind a valid image-codec
header) or is random bytes. Raw stream payloads are fed straight to the stream decoders,
as if the link's CRC had passed on garbage.

The decoders run in a worker subprocess (address space capped at ``--mem-limit-gb``), so
the parent sees every crash (a signal, an abort, an uncaught exception that is not a
:class:`~semcom.errors.SemcomError`, an output of the wrong shape or range), every hang
(no answer within ``--timeout`` seconds: the worker is killed and restarted) and the
worker's memory (RSS after warm-up and at the end of each target, peak RSS, and any input
that raises the peak by more than ``--mem-jump-mb``). A finding's input bytes go into the
JSON report (hex) as its reproducer. Exit status 1 when anything was found.

Targets (``--targets``; default all): see :data:`TARGETS`.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import select
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: Target name → (share of --n, what it decodes).
TARGETS: dict[str, tuple[float, str]] = {
    "container": (0.10, "Bitstream.from_bytes on .mtgc files (round trip when accepted)"),
    "caption": (0.12, "CaptionCoder.decode: arithmetic decoding under the trigram model"),
    "hci": (0.22, "HCICodec.decode, tiny preset: learned rANS decoding, WebP, JPEG"),
    "hci-hyperprior": (0.08, "HCICodec.decode, ScaleHyperprior learned codec (sd21 arch)"),
    "spw": (0.04, "SPWCoder.decode"),
    "mtgc-streams": (0.14, "Bitstream.from_bytes + MTGC.decode_streams, tiny preset"),
    "mtgc-decode": (0.02, "Bitstream.from_bytes + MTGC.decode(steps=1), tiny preset"),
    "receiver": (0.04, "experiments.transmission delivered + the codecs' receivers"),
    "jpeg": (0.04, "ConventionalCodec('jpeg').decode (libjpeg via imagecodecs)"),
    "webp": (0.04, "ConventionalCodec('webp').decode (libwebp)"),
    "jpeg2000": (0.04, "ConventionalCodec('jpeg2000').decode (OpenJPEG)"),
    "avif": (0.04, "ConventionalCodec('avif').decode (libavif)"),
    "jpegxl": (0.04, "ConventionalCodec('jpegxl').decode (libjxl)"),
    "compressai": (0.04, "ConventionalCodec('compressai').decode (learned baseline)"),
}
#: Harness self-checks: a decoder that aborts, one that hangs, one that raises KeyError.
SELFTESTS: tuple[str, ...] = ("selftest-abort", "selftest-hang", "selftest-raise")
SEEDS_REQUEST = "seeds"
BASELINES: tuple[str, ...] = ("jpeg", "webp", "jpeg2000", "avif", "jpegxl", "compressai")
#: Image side of the seed scenes; raw stream payloads are decoded for this size.
SIZE = 128
#: Largest image side the structure-aware mutations give a full MTGC decode (it runs the
#: diffusion decoder over every pixel; larger sizes are legitimately slow).
DECODE_MAX_SIDE = 256
_INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF, 0x8000, 0xFFFFFFFF, 0x7FFFFFFF)
_SIDES = (1, 2, 3, 15, 16, 17, 63, 64, 65, 127, 129, 255, 256, 257, 1000, 4096, 4097, 65535)


# -- frames between parent and worker --------------------------------------------------------
def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack(">I", len(data)) + data


def _send(fd: int, obj: object) -> None:
    _write_all(fd, _frame(obj))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return bytes(out)


def _recv(fd: int) -> object:
    (n,) = struct.unpack(">I", _read_exact(fd, 4))
    return pickle.loads(_read_exact(fd, n))


# -- the worker: decoders, seeds, checks -----------------------------------------------------
def _rss_mb() -> float:
    """Resident memory in MB, after handing freed heap pages back to the system (glibc
    keeps freed large buffers otherwise, which would read as growth)."""
    _trim()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _trim() -> None:
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Delivered:
    """A stand-in for channels.link.Transmission: only what the receiver reads."""

    def __init__(self, received: dict[str, bytes | None]) -> None:
        self._received = received

    def received(self) -> dict[str, bytes | None]:
        return dict(self._received)


def _check_image(x: object, shape: tuple[int, ...]) -> None:
    import torch

    if not isinstance(x, torch.Tensor) or tuple(x.shape) != shape:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise AssertionError(f"decoded image has shape {got}, expected {shape}")
    if not bool(torch.isfinite(x).all()) or float(x.min()) < 0 or float(x.max()) > 1:
        raise AssertionError("decoded image is non-finite or outside [0, 1]")


class Decoders:
    """Every decoder under test, with the valid inputs that seed the mutations."""

    def __init__(self, seed: int, n_images: int = 3) -> None:
        import torch

        from semcom.baselines import get_codec
        from semcom.container import Bitstream
        from semcom.data.shapes import ShapesWorld
        from semcom.presets import load_codec
        from semcom.streams.hci import HCICodec, HCISetting, LearnedHCICodec

        torch.set_num_threads(1)
        self.codec = load_codec("tiny")
        torch.manual_seed(seed)
        self.hyper = HCICodec(
            LearnedHCICodec(n=16, m=24, arch="hyperprior"), HCISetting("learned", 2, 8)
        )
        self.baselines = {name: get_codec(name) for name in BASELINES}
        items = [ShapesWorld("test", n=n_images, size=SIZE, seed=seed)[i] for i in range(n_images)]
        self.images = torch.stack([it.image for it in items])
        self.captions = [it.caption for it in items]
        self._seeds = self._make_seeds(HCISetting)
        self.header = Bitstream.from_bytes(self._seeds["container"][0])

    def _make_seeds(self, setting: Callable) -> dict[str, list[bytes]]:
        c = self.codec
        natural = ["A Red circle, top-left; 3 éclairs!", "", "two blue stars near the Zebra"]
        texts = self.captions + natural
        bitstreams = c.encode(self.images, captions=list(self.captions))
        hci, hyper = [], []
        for i, img in enumerate(self.images[:, None]):
            for kind, factor, q in (
                ("learned", 8, 8),
                ("learned", 2, 15),
                ("learned", 16, 0),
                ("learned", 4, 4),
                ("webp", 4, 3),
                ("jpeg", 8, 5),
            ):
                hci.append(c.hci.encode(img, setting(kind, factor, (q + i) % 16))[0])
            hyper.append(self.hyper.encode(img, setting("learned", 2, (5 * i) % 16))[0])
        containers = [bs.to_bytes() for bs in bitstreams]
        for bs, payload in zip(bitstreams, hci[1::6], strict=False):
            containers.append(bs.with_received({**bs.streams, "hci": payload}).to_bytes())
            containers.append(bs.without("caption", "spw").to_bytes())
        seeds: dict[str, list[bytes]] = {
            "container": containers,
            "caption": [c.caption_coder.encode(t) for t in texts],
            "hci": hci,
            "hci-hyperprior": hyper,
            "spw": [bs.streams["spw"] for bs in bitstreams],
            "mtgc-streams": containers,
            "mtgc-decode": containers,
            "receiver": containers,
        }
        for name, codec in self.baselines.items():
            q = codec.qualities
            seeds[name] = [
                codec.encode(img, q[(3 * i + 2 * f) % len(q)], factor)
                for i, img in enumerate(self.images)
                for f, factor in enumerate((1, 2, 4, 8))
            ]
        return seeds

    def seeds(self) -> dict[str, list[bytes]]:
        """Target name → valid inputs (the mutations' starting points)."""
        return self._seeds

    def run(self, target: str, data: bytes) -> None:
        """Decode ``data`` with ``target``'s decoder and check what comes out.

        Returns on a valid decode; raises SemcomError for a rejected input, anything
        else (AssertionError for a bad output) is a finding.
        """
        from semcom.container import Bitstream

        c = self.codec
        if target == "container":
            bs = Bitstream.from_bytes(data)
            if bs.to_bytes() != data:
                raise AssertionError("the parser accepted a non-canonical container")
        elif target == "caption":
            text = c.caption_coder.decode(data)
            if not isinstance(text, str) or len(text.encode("utf-8")) > 1024:
                raise AssertionError("caption decoder returned an over-long or non-text caption")
        elif target in ("hci", "hci-hyperprior"):
            codec = c.hci if target == "hci" else self.hyper
            _check_image(codec.decode(data, SIZE, SIZE), (1, 3, SIZE, SIZE))
        elif target == "spw":
            idx = c.spw.decode(data)
            if c.spw.encode(idx) != data:
                raise AssertionError("SPW decode does not re-encode to its payload")
        elif target == "mtgc-streams":
            bs = Bitstream.from_bytes(data)
            out = c.decode_streams(bs)
            if out.hci is not None:
                _check_image(out.hci, (1, 3, bs.height, bs.width))
        elif target == "mtgc-decode":
            bs = Bitstream.from_bytes(data)
            _check_image(c.decode(bs, steps=1), (1, 3, bs.height, bs.width))
        elif target == "receiver":
            self._receive(data)
        elif target in self.baselines:
            _check_image(self.baselines[target].decode(data, SIZE, SIZE), (3, SIZE, SIZE))
        else:
            raise ValueError(f"unknown target {target!r}")

    def _receive(self, data: bytes) -> None:
        """``data`` = selector byte + delivered streams (see :func:`pack_delivered`)."""
        from experiments.transmission import delivered as delivered_streams
        from semcom.codecs.conventional import IMAGE_STREAM

        which, sent = unpack_delivered(data)
        if which == 0:
            bs = self.header.with_received(delivered_streams(_Delivered(sent)))
            out = self.codec.decode_streams(bs)
            if out.hci is not None:
                _check_image(out.hci, (1, 3, SIZE, SIZE))
            return
        name = BASELINES[(which - 1) % len(BASELINES)]
        got = delivered_streams(_Delivered({IMAGE_STREAM: sent.get("caption")}))
        img = self.baselines[name].decode(got.get(IMAGE_STREAM), SIZE, SIZE, fallback="mean")
        _check_image(img, (3, SIZE, SIZE))


def pack_delivered(which: int, delivered: dict[str, bytes | None]) -> bytes:
    """Receiver input: selector byte (0 MTGC, k ≥ 1 the k-th baseline), then per stream
    (caption, hci, spw, an unknown name) a flag (0 not named, 1 erased, 2 delivered), a
    u16 length and the bytes. A baseline reads its stream from the caption slot."""
    out = bytearray([which])
    for name in ("caption", "hci", "spw", "image"):
        if name not in delivered:
            out += b"\x00\x00\x00"
        elif delivered[name] is None:
            out += b"\x01\x00\x00"
        else:
            body = bytes(delivered[name] or b"")[:65535]
            out += b"\x02" + struct.pack(">H", len(body)) + body
    return bytes(out)


def unpack_delivered(data: bytes) -> tuple[int, dict[str, bytes | None]]:
    """Inverse of :func:`pack_delivered`, lenient (lengths are clipped to what is left)."""
    which = data[0] % (1 + len(BASELINES)) if data else 0
    pos, out = 1, {}
    for name in ("caption", "hci", "spw", "image"):
        if pos >= len(data):
            break
        flag = data[pos] % 3
        n = int.from_bytes(data[pos + 1 : pos + 3], "big")
        body = data[pos + 3 : pos + 3 + n]
        pos += 3 + n
        if flag == 1:
            out[name] = None
        elif flag == 2:
            out[name] = body
    return which, out


def worker_main(seed: int, mem_limit_gb: float) -> None:
    """Serve decode requests on fd 0/1 (frames); library output goes to stderr."""
    import resource
    import warnings

    warnings.simplefilter("ignore")
    out_fd = os.dup(1)
    os.dup2(2, 1)
    if mem_limit_gb > 0:
        limit = int(mem_limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from semcom.errors import SemcomError

    decoders: Decoders | None = None
    _send(out_fd, {"ready": True})
    while True:
        try:
            target, data, measure = _recv(0)  # type: ignore[misc]
        except EOFError:
            return
        if target == SEEDS_REQUEST:
            decoders = decoders or Decoders(seed)
            _send(out_fd, {"seeds": decoders.seeds()})
            continue
        t0 = time.perf_counter()
        try:
            if target in SELFTESTS:
                _selftest(target)
            else:
                decoders = decoders or Decoders(seed)
                decoders.run(target, data)
            status, detail = "ok", ""
        except SemcomError as err:
            status, detail = "clean", str(err)[:200]
            if _out_of_memory(err):
                status, detail = "error", f"out of memory, reported as: {detail}"
        except BaseException as err:  # noqa: BLE001 - every other exception is a finding
            status, detail = "error", f"{type(err).__name__}: {str(err)[:300]}"
        _send(
            out_fd,
            {
                "status": status,
                "detail": detail,
                "seconds": time.perf_counter() - t0,
                "rss": _rss_mb() if measure else None,
                "peak": _peak_mb(),
            },
        )


def _out_of_memory(err: BaseException) -> bool:
    """Whether a MemoryError is anywhere in ``err``'s cause chain (a clean error that
    hides a failed allocation: without the worker's memory cap it would have succeeded)."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        if isinstance(e, MemoryError):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _selftest(target: str) -> None:
    """Misbehaving decoders that check the harness itself (tests/test_fuzz_decoders.py)."""
    if target == "selftest-abort":
        os.abort()
    if target == "selftest-hang":
        time.sleep(3600)
    if target == "selftest-raise":
        raise KeyError("an uncaught exception")


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
    from semcom.container import STREAM_TYPES, Bitstream

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
    if target == "spw" and u < 0.4:  # garbage of exactly the right length
        return _rand_bytes(rng, len(base))
    if target in (*BASELINES, "hci") and u < 0.3:
        return mutate_dimensions(base, rng)
    if u < 0.55:
        return mutate_bytes(base, rng, pool)
    return mutate_payload(base, rng, pool)


def _declared_pixels(data: bytes) -> int:
    """Height × width of a container that parses, else 0."""
    from semcom.container import Bitstream
    from semcom.errors import SemcomError

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


# -- the parent: worker control, bookkeeping, report -----------------------------------------
@dataclass
class TargetStats:
    """One target's tally."""

    target: str
    inputs: int = 0
    ok: int = 0
    clean: int = 0
    errors: int = 0
    crashes: int = 0
    hangs: int = 0
    mem_jumps: int = 0
    max_seconds: float = 0.0
    total_seconds: float = 0.0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    peak_mb: float = 0.0
    restarts: int = 0

    @property
    def findings(self) -> int:
        return self.errors + self.crashes + self.hangs + self.mem_jumps


@dataclass
class Finding:
    """A reproducer: the target, what happened and the input."""

    target: str
    kind: str
    detail: str
    input_hex: str
    index: int


@dataclass
class Report:
    """Everything one run measured."""

    config: dict
    stats: list[TargetStats] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    wall_seconds: float = 0.0


class Worker:
    """The decoding subprocess: start, request with a timeout, kill."""

    def __init__(self, seed: int, mem_limit_gb: float, log: Path | None) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._log = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--seed", str(seed)]
            + ["--mem-limit-gb", str(mem_limit_gb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=ROOT,
        )
        if not isinstance(self._answer(600.0), dict):
            raise RuntimeError(f"the fuzz worker did not start (exit {self.proc.poll()}).")

    def seeds(self) -> dict[str, list[bytes]]:
        """Load the decoders (slow: the tiny preset) and return the seed inputs."""
        answer = self.ask(SEEDS_REQUEST, b"", 900.0)
        if not isinstance(answer, dict) or "seeds" not in answer:
            raise RuntimeError(f"the fuzz worker could not load the decoders ({answer}).")
        return answer["seeds"]

    def _answer(self, timeout: float) -> object | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return None
        try:
            return _recv(fd)
        except EOFError:
            return "died"

    def ask(self, target: str, data: bytes, timeout: float, measure: bool = False) -> dict | str:
        """The worker's answer, or "hang" / "crash: <how>"; ``measure`` asks for its RSS."""
        assert self.proc.stdin is not None
        try:
            _write_all(self.proc.stdin.fileno(), _frame((target, data, measure)))
        except (BrokenPipeError, OSError):
            return f"crash: {self._exit()}"
        answer = self._answer(timeout)
        if answer is None:
            self.kill()
            return "hang"
        if answer == "died":
            return f"crash: {self._exit()}"
        return answer  # type: ignore[return-value]

    def _exit(self) -> str:
        code = self.proc.wait(timeout=30)
        return f"signal {-code}" if code < 0 else f"exit status {code}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        if self._log is not subprocess.DEVNULL:
            self._log.close()


def target_counts(n: int, targets: Sequence[str]) -> dict[str, int]:
    """Inputs per target: ``n`` split by the targets' shares (at least one each)."""
    shares = {t: TARGETS[t][0] if t in TARGETS else 0.05 for t in targets}
    total = sum(shares.values())
    return {t: max(1, round(n * shares[t] / total)) for t in targets}


def run(
    n: int,
    seed: int = 0,
    targets: Sequence[str] | None = None,
    timeout: float = 5.0,
    mem_limit_gb: float = 6.0,
    mem_jump_mb: float = 256.0,
    max_failures: int = 25,
    log: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Fuzz ``targets`` (default all) with about ``n`` inputs in total."""
    targets = list(targets or TARGETS)
    unknown = set(targets) - set(TARGETS) - set(SELFTESTS)
    if unknown:
        raise SystemExit(f"unknown targets {sorted(unknown)}; choose from {list(TARGETS)}")
    report = Report(
        config={"n": n, "seed": seed, "targets": targets, "timeout_s": timeout,
                "mem_limit_gb": mem_limit_gb, "mem_jump_mb": mem_jump_mb}
    )  # fmt: skip
    t_start = time.perf_counter()
    needs_decoders = any(t not in SELFTESTS for t in targets)
    worker = Worker(seed, mem_limit_gb, log)
    seeds = worker.seeds() if needs_decoders else {}
    warmup = 20
    for target, count in target_counts(n, targets).items():
        st = TargetStats(target)
        report.stats.append(st)
        rng = np.random.default_rng([seed, zlib.crc32(target.encode())])
        baseline_peak = None
        for i in range(count):
            data = make_input(target, rng, seeds)
            measure = i + 1 in (min(warmup, count), count)
            answer = worker.ask(target, data, timeout, measure)
            st.inputs += 1
            if isinstance(answer, str):
                kind = "hang" if answer == "hang" else "crash"
                st.hangs += kind == "hang"
                st.crashes += kind == "crash"
                report.findings.append(Finding(target, kind, answer, data.hex(), i))
                worker.kill()
                worker = Worker(seed, mem_limit_gb, log)
                if needs_decoders:
                    worker.seeds()
                st.restarts += 1
                baseline_peak = None
                if st.crashes + st.hangs + st.errors >= max_failures:
                    break
                continue
            status = answer["status"]
            st.ok += status == "ok"
            st.clean += status == "clean"
            if status == "error":
                st.errors += 1
                report.findings.append(Finding(target, "error", answer["detail"], data.hex(), i))
            st.max_seconds = max(st.max_seconds, answer["seconds"])
            st.total_seconds += answer["seconds"]
            st.rss_end_mb = answer["rss"] if measure else st.rss_end_mb
            st.peak_mb = max(st.peak_mb, answer["peak"])
            if i + 1 == min(warmup, count):
                st.rss_start_mb = answer["rss"]
            jump = answer["peak"] - (baseline_peak or answer["peak"])
            if i >= warmup and jump > mem_jump_mb:
                st.mem_jumps += 1
                detail = f"peak RSS {baseline_peak:.0f} -> {answer['peak']:.0f} MB"
                report.findings.append(Finding(target, "memory", detail, data.hex(), i))
            baseline_peak = answer["peak"]
            if st.findings >= max_failures:
                break
            if progress:
                progress(target, i + 1, count)
    worker.close()
    report.wall_seconds = time.perf_counter() - t_start
    return report


def table(report: Report) -> str:
    """The per-target table, as Markdown."""
    head = (
        "| target | inputs | ok decodes | clean errors | crashes | hangs | other findings "
        "| max s/input | mean ms/input | RSS start/end/peak MB |"
    )
    rows = [head, "|" + "---|" * 10]
    for s in report.stats:
        mean_ms = 1000 * s.total_seconds / max(1, s.inputs - s.crashes - s.hangs)
        rows.append(
            f"| {s.target} | {s.inputs} | {s.ok} | {s.clean} | {s.crashes} | {s.hangs} "
            f"| {s.errors + s.mem_jumps} | {s.max_seconds:.3f} | {mean_ms:.1f} "
            f"| {s.rss_start_mb:.0f} / {s.rss_end_mb:.0f} / {s.peak_mb:.0f} |"
        )
    tot = [sum(getattr(s, k) for s in report.stats) for k in ("inputs", "ok", "clean")]
    bad = [sum(getattr(s, k) for s in report.stats) for k in ("crashes", "hangs")]
    other = sum(s.errors + s.mem_jumps for s in report.stats)
    worst = max((s.max_seconds for s in report.stats), default=0.0)
    rows.append(
        f"| **total** | {tot[0]} | {tot[1]} | {tot[2]} | {bad[0]} | {bad[1]} | {other} "
        f"| {worst:.3f} | | |"
    )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12000, help="inputs in total")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", nargs="+", choices=[*TARGETS, *SELFTESTS], default=None)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per input")
    parser.add_argument("--mem-limit-gb", type=float, default=6.0, help="worker address space")
    parser.add_argument("--mem-jump-mb", type=float, default=256.0)
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--log", type=Path, default=None, help="worker stderr goes here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.seed, args.mem_limit_gb)
        return 0

    def progress(target: str, i: int, count: int) -> None:
        if i % 500 == 0 or i == count:
            print(f"  {target}: {i}/{count}", file=sys.stderr, flush=True)

    report = run(
        args.n,
        args.seed,
        args.targets,
        args.timeout,
        args.mem_limit_gb,
        args.mem_jump_mb,
        log=args.log,
        progress=progress,
    )
    print(table(report))
    print(f"\n{len(report.findings)} findings; wall time {report.wall_seconds:.0f} s")
    for f in report.findings[:20]:
        print(f"  {f.target} #{f.index} {f.kind}: {f.detail}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "config": report.config,
                    "wall_seconds": report.wall_seconds,
                    "stats": [asdict(s) for s in report.stats],
                    "findings": [asdict(f) for f in report.findings],
                },
                indent=1,
            )
        )
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
