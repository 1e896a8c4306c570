"""What the sender knows of one image (experiments.planning.sender) and its reader."""

from __future__ import annotations

import pytest
import torch

from experiments.planning.reader import READER_DIR, load_reader, reader_figures
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


def test_the_reader_is_its_own_model_and_reads_clean_scenes():
    """The sender's reader is not the scoring probe (other weights), and on 100 clean test
    scenes it reads back the true objects (F1 against the truth ≥ 0.98)."""
    from semcom.data.shapes import ShapesWorld
    from semcom.metrics.semantic import DEFAULT_PROBE_DIR, count_scene, load_probe

    probe = load_probe(DEFAULT_PROBE_DIR)
    reader = load_reader()
    assert READER_DIR != DEFAULT_PROBE_DIR
    w_reader, w_probe = reader.state_dict(), probe.state_dict()
    assert any(not torch.equal(w_reader[k], w_probe[k]) for k in w_reader)
    data = ShapesWorld("test", 100, 128, 0)
    images = torch.stack([data[i].image for i in range(100)])
    read = reader.read(images)
    exact = true = got = 0
    for i, objects in enumerate(read):
        c = count_scene(data[i].objects, objects)
        exact, true, got = exact + c.exact, true + c.objects_true, got + c.objects_read
    assert 2 * exact / (true + got) >= 0.98
    # the original against itself: every object found, nothing hallucinated
    fig = reader_figures(images[0], images[:1])[0]
    assert fig["f1"] == 1.0 and fig["hallucinated"] == 0


def test_a_conventional_image_is_known_at_the_sender():
    """For a one-stream codec the planner reads, per option, the PSNR of the image the
    receiver will decode (exactly) and the reader's F1 of it; for the lost image, the PSNR
    of the receiver's fallback. Other subsets and fields stay the table's."""
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
    for option, bits in zip(options, sizes, strict=True):
        if sizes.count(bits) > 1:
            continue
        decoded = codec.decode(encoded.header, {"image": option.payload}, 0).clamp(0, 1)
        want = float(psnr(image.unsqueeze(0), decoded.unsqueeze(0))[0])
        assert float(known.value(["image"], "psnr", bits)) == pytest.approx(want, abs=1e-6)
        f1 = reader_figures(image, decoded.unsqueeze(0))[0]["f1"]
        assert float(known.value(["image"], "f1", bits)) == pytest.approx(f1)
    lost = codec.decode(encoded.header, {}, 0).clamp(0, 1)
    want = float(psnr(image.unsqueeze(0), lost.unsqueeze(0))[0])
    assert float(known.value([], "psnr")) == pytest.approx(want, abs=1e-6)
    # the best option reads as the original does; the lost (mean) image shows no object
    assert float(known.value(["image"], "f1", max(sizes))) == 1.0
    assert float(known.value([], "f1")) == 0.0
    assert known.curves[""].values.keys() == table.curves[""].values.keys()
