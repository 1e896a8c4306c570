"""The training-set mean image every receiver shows when nothing arrived."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.data.mean_image import MEAN_IMAGE_FILE, compute_mean_image, mean_image
from tests._mtgc import single_thread, small_codec  # noqa: F401


@pytest.mark.slow
def test_the_shipped_file_is_the_mean_of_the_training_scenes() -> None:
    with Image.open(MEAN_IMAGE_FILE) as img:
        shipped = np.asarray(img.convert("RGB"))
    assert np.array_equal(shipped, compute_mean_image())
    m = mean_image()
    assert m.shape == (3, 128, 128) and m.dtype == torch.float32
    # ShapesWorld's light backgrounds: far from the old mid-grey fallback
    assert float(m.mean()) > 0.6
    small = mean_image(64, 48)
    assert small.shape == (3, 64, 48)
    assert abs(float(small.mean()) - float(m.mean())) < 0.01
    m[:] = 0  # a copy: the cache is not changed
    assert float(mean_image().mean()) > 0.6


def test_an_mtgc_transmission_of_which_nothing_arrived_is_the_mean_image(tmp_path) -> None:
    """The same failure as a lost WebP image (``fallback_image``), not MTGC's prior."""
    from semcom.baselines import fallback_image
    from semcom.codecs.mtgc import MTGCCodec
    from semcom.data.shapes import ShapesWorld

    small_codec(0).save_pretrained(tmp_path / "model")
    codec = MTGCCodec(weights=tmp_path / "model")
    sent = codec.encode(ShapesWorld("test", n=1, seed=0)[0].image)
    assert torch.equal(codec.decode(sent.header, {}, seed=0), fallback_image(128, 128))
    some = {"caption": sent.streams[0].options[0].payload}
    assert not torch.equal(codec.decode(sent.header, some, seed=0), fallback_image(128, 128))
