"""The shipped tiny weights: trained by all three stages, loaded by default, usable."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from semcom.data.shapes import ShapesWorld
from semcom.metrics.semantic import semantic_scores
from semcom.presets.tiny import WEIGHTS_DIR, load_tiny
from semcom.train import STAGE_PARTS
from tests._mtgc import single_thread  # noqa: F401


@pytest.fixture(scope="module")
def codec():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the untrained fallback warns; the shipped must not
        return load_tiny()


def test_every_stage_trained_the_shipped_weights():
    record = json.loads((WEIGHTS_DIR / "training.json").read_text())
    for stage, parts in STAGE_PARTS.items():
        for part in parts:
            assert record["parts"][part]["stage"] == stage
            assert record["parts"][part]["steps"] >= 100
    for path in WEIGHTS_DIR.rglob("*.safetensors"):
        assert path.stat().st_size < 50 * 2**20, path


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
    a = codec.decode(bs, steps=3)
    b = codec.decode(bs, steps=3)
    assert a.shape == (1, 3, 128, 128) and torch.equal(a, b)
    # The decoder draws something like the scene, not noise: closer than a grey image.
    assert float(((a - image) ** 2).mean()) < float(((0.5 - image) ** 2).mean())
