"""The shipped tiny weights: trained by all three stages, loaded by default, usable."""

from __future__ import annotations

import json

import pytest
import torch

from semcom.data.shapes import ShapesWorld
from semcom.metrics.semantic import semantic_scores
from semcom.mtgc.presets.tiny import WEIGHTS_DIR, load_tiny
from tests._mtgc import load_shipped, shipped_record, single_thread  # noqa: F401


@pytest.fixture(scope="module")
def codec():
    return load_shipped(load_tiny)


def test_every_stage_trained_the_shipped_weights():
    record = shipped_record(WEIGHTS_DIR, min_steps=100)
    # every part's measured gates are recorded next to the weights
    assert {"val_psnr", "val_probe_accuracy", "solid_colour_max_error_255"} <= set(
        record["parts"]["vae"]
    )
    assert "val_task_f1" in record["parts"]["spw"]
    assert "val_full_f1" in record["parts"]["decoder"]
    sizes = [path.stat().st_size for path in WEIGHTS_DIR.rglob("*") if path.is_file()]
    assert max(sizes) < 50 * 2**20 and sum(sizes) <= 30_000_000  # every file: ≤ 30 MB
    # the transmitter keeps to the HCI factors the decoder trained on
    config = json.loads((WEIGHTS_DIR / "mtgc.json").read_text())
    assert config["hci_factors"] == record["config"]["hci_factors"]


def test_the_captioner_reads_test_scenes(codec):
    data = ShapesWorld("test", n=40, seed=0)
    images = torch.stack([data[i].image for i in range(40)])
    scores = semantic_scores([data[i].objects for i in range(40)], codec.captioner.scenes(images))
    assert scores.f1 > 0.9


def test_encode_decode_within_the_budget_and_deterministic(codec):
    image = ShapesWorld("test", n=1, seed=0)[0].image[None]
    bs = codec.encode(image, target_bpp=0.05)[0]
    assert bs.payload_bits <= 0.05 * 128 * 128
    assert set(bs.streams) == {"caption", "hci", "spw"}
    # one 9-bit SPW per cell of the 3×3 grid: 81 bits, sent as 11 bytes
    assert bs.stream_bits()["spw"] == 88
    a = codec.decode(bs, steps=3)
    b = codec.decode(bs, steps=3)
    assert a.shape == (1, 3, 128, 128) and torch.equal(a, b)
    # The decoder draws something like the scene, not noise: closer than a grey image.
    assert float(((a - image) ** 2).mean()) < float(((0.5 - image) ** 2).mean())
