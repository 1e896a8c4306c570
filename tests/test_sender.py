"""What the sender knows of one image (experiments.planning.sender)."""

from __future__ import annotations

import pytest

from experiments.planning.sender import sender_cases, sender_values
from semcom.protocol import Encoded, Option, Stream


def test_the_sender_decodes_the_one_option_streams_and_a_lone_image():
    three = Encoded(
        b"h",
        (
            Stream("caption", (Option(b"c"),)),
            Stream("spw", (Option(b""), Option(b"s"))),  # an empty option is not sent
            Stream("hci", (Option(b"a"), Option(b"bb"))),
        ),
        8,
        8,
    )
    assert sender_cases(three) == [
        ((), {}),
        (("caption",), {"caption": b"c"}),
        (("spw",), {"spw": b"s"}),
        (("caption", "spw"), {"caption": b"c", "spw": b"s"}),
    ]
    one = Encoded(b"h", (Stream("image", (Option(b"x"), Option(b"yy"), Option(b"x"))),), 8, 8)
    assert sender_cases(one) == [
        ((), {}),
        (("image",), {"image": b"x"}),
        (("image",), {"image": b"yy"}),
    ]


def test_a_conventional_image_is_known_at_the_sender():
    """For a one-stream codec the planner reads, per option, the PSNR of the image the
    receiver will decode (exactly); for the lost image, the PSNR of the receiver's fallback.
    Semantic fields and other subsets stay the table's."""
    from semcom.data.shapes import ShapesWorld
    from semcom.metrics.pixel import psnr
    from semcom.registry import make_codec
    from semcom.values import values_for

    codec = make_codec("jpeg", {})
    image = ShapesWorld("test", 1, 128, 0)[0].image
    encoded = codec.encode(image)
    table = values_for(codec)
    known = sender_values(table, codec, encoded, image, 0)
    options = [o for o in encoded.streams[0].options if o.payload]
    sizes = [8 * len(o.payload) for o in options]
    checked = 0
    for option, bits in zip(options, sizes, strict=True):
        if sizes.count(bits) > 1:
            continue
        decoded = codec.decode(encoded.header, {"image": option.payload}, 0).clamp(0, 1)
        want = float(psnr(image.unsqueeze(0), decoded.unsqueeze(0))[0])
        assert float(known.value(["image"], "psnr", bits)) == pytest.approx(want, abs=1e-6)
        assert float(known.value(["image"], "f1", bits)) == pytest.approx(
            float(table.value(["image"], "f1", bits))
        )
        checked += 1
    assert checked >= 3
    lost = codec.decode(encoded.header, {}, 0).clamp(0, 1)
    want = float(psnr(image.unsqueeze(0), lost.unsqueeze(0))[0])
    assert float(known.value([], "psnr")) == pytest.approx(want, abs=1e-6)
    assert float(known.value([], "f1")) == float(table.value([], "f1"))


def test_the_sweep_s_receiver_reuses_the_sender_s_decodes():
    """Planned in a sweep, the sender's decodes go through the decode cache: MTGC-like
    codecs decode each subset once, whether the sender or the receiver asks first."""
    from experiments.config import CodecSpec
    from experiments.runner import DecodeCache, _decode
    from semcom.data.shapes import ShapesWorld
    from semcom.registry import make_codec

    codec = make_codec("jpeg", {})
    image = ShapesWorld("test", 1, 128, 0)[0].image
    encoded = codec.encode(image)
    cache = DecodeCache()
    spec = CodecSpec("jpeg", mcs="planned")

    def decode(received):
        return _decode(cache, spec, codec, encoded, 0, received)[1]

    from semcom.values import values_for

    sender_values(values_for(codec), codec, encoded, image, 0, decode)
    made = cache.calls[spec.label]
    assert made == len(sender_cases(encoded))
    payload = next(o.payload for o in encoded.streams[0].options if o.payload)
    _, again = cache.get(
        spec.label,
        codec.received_key(encoded.header, {"image": payload}),
        0,
        spec.options,
        lambda: pytest.fail("decoded twice"),
    )
    assert cache.calls[spec.label] == made and again.shape == image.shape
