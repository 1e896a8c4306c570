"""What is fuzzed: the targets (fixed ones and one per registered digital codec), the
decoders with the valid inputs that seed the mutations, and the receiver-input format."""

from __future__ import annotations

import struct
from collections.abc import Callable

#: Target name → (share of --n, what it decodes).
TARGETS: dict[str, tuple[float, str]] = {
    "container": (0.10, "Bitstream.from_bytes on .mtgc files (round trip when accepted)"),
    "caption": (0.12, "CaptionCoder.decode: arithmetic decoding under the trigram model"),
    "hci": (0.22, "HCICodec.decode, tiny preset: learned rANS decoding, WebP, JPEG"),
    "hci-hyperprior": (0.08, "HCICodec.decode, ScaleHyperprior learned codec (sd21 arch)"),
    "spw": (0.04, "SPWCoder.decode"),
    "spw-coded": (0.04, "SPWCoder.decode, arithmetic-coded under tiny-complex's SPW model"),
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
#: Prefix of the targets made from the codec registry, and each one's share of --n.
REGISTRY_PREFIX = "codec:"
REGISTRY_SHARE = 0.01
#: Options a registered codec is fuzzed with (MTGC: one diffusion step per decode).
REGISTRY_OPTIONS: dict[str, dict[str, object]] = {"mtgc": {"steps": 1}}
BASELINES: tuple[str, ...] = ("jpeg", "webp", "jpeg2000", "avif", "jpegxl", "compressai")
#: Image side of the seed scenes; raw stream payloads are decoded for this size.
SIZE = 128
#: Largest image side the structure-aware mutations give a full MTGC decode (it runs the
#: diffusion decoder over every pixel; larger sizes are legitimately slow).
DECODE_MAX_SIDE = 256


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
        from semcom.data.shapes import ShapesWorld
        from semcom.mtgc.container import Bitstream
        from semcom.mtgc.presets import load_codec
        from semcom.mtgc.streams.hci import HCICodec, HCISetting, LearnedHCICodec

        torch.set_num_threads(1)
        self.codec = load_codec("tiny")
        self.complex = load_codec("tiny-complex")  # its SPWs are arithmetic-coded
        torch.manual_seed(seed)
        self.hyper = HCICodec(
            LearnedHCICodec(n=16, m=24, arch="hyperprior"), HCISetting("learned", 2, 8)
        )
        self.baselines = {name: get_codec(name) for name in BASELINES}
        items = [ShapesWorld("test", n=n_images, size=SIZE, seed=seed)[i] for i in range(n_images)]
        self.images = torch.stack([it.image for it in items])
        self.captions = [it.caption for it in items]
        self._seeds = self._make_seeds(HCISetting)
        self.registered = {}
        self.encoded = {}
        for target in registry_targets():
            name = target.removeprefix(REGISTRY_PREFIX)
            codec = make_registered(name, self.codec)
            self.registered[target] = codec
            self.encoded[target] = codec.encode(self.images[0])
            self._seeds[target] = [
                bytes([k]) + option.payload
                for k, stream in enumerate(self.encoded[target].streams)
                for option in stream.options[:3]
            ] or [b"\x00"]
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
            "spw-coded": self._coded_spws(),
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

    def _coded_spws(self) -> list[bytes]:
        """tiny-complex's SPW payloads of three ShapesWorld-Complex test scenes."""
        import torch

        from semcom.data.complex import ShapesWorldComplex

        world = ShapesWorldComplex("test", n=3, size=SIZE, seed=0)
        images = torch.stack([world[i].image for i in range(3)])
        coder = self.complex.spw
        return [coder.encode(row) for row in self.complex.spw_indices(images)]

    def seeds(self) -> dict[str, list[bytes]]:
        """Target name → valid inputs (the mutations' starting points)."""
        return self._seeds

    def run(self, target: str, data: bytes) -> None:
        """Decode ``data`` with ``target``'s decoder and check what comes out.

        Returns on a valid decode; raises SemcomError for a rejected input, anything
        else (AssertionError for a bad output) is a finding.
        """
        from semcom.mtgc.container import Bitstream

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
        elif target in ("spw", "spw-coded"):
            coder = (c if target == "spw" else self.complex).spw
            idx = coder.decode(data)
            if coder.encode(idx) != data:
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
        elif target in self.registered:
            self._protocol(target, data)
        else:
            raise ValueError(f"unknown target {target!r}")

    def _protocol(self, target: str, data: bytes) -> None:
        """``data`` = stream selector byte + that stream's payload; the other streams carry
        their first option's valid payload, decoded through the codec protocol."""
        enc = self.encoded[target]
        received = {s.name: s.options[0].payload for s in enc.streams if s.options}
        if enc.streams and data:
            received[enc.streams[data[0] % len(enc.streams)].name] = data[1:]
        img = self.registered[target].decode(enc.header, received, 0)
        _check_image(img, (3, enc.height, enc.width))

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


def registry_targets() -> list[str]:
    """``codec:NAME`` for every digital codec in the codec registry, sorted."""
    from semcom.registry import codec_class, codec_names

    return [f"{REGISTRY_PREFIX}{n}" for n in codec_names() if codec_class(n).kind == "digital"]


def all_targets() -> list[str]:
    """The fixed targets, then the registry's."""
    return [*TARGETS, *registry_targets()]


def make_registered(name: str, mtgc: object) -> object:
    """Registered codec ``name`` with its fuzzing options (MTGC reuses the loaded model)."""
    from semcom.registry import make_codec

    context = {"model": mtgc} if name == "mtgc" else {}
    return make_codec(name, REGISTRY_OPTIONS.get(name, {}), **context)


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
