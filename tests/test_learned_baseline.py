"""The compressai baseline: the tiny preset's learned HCI codec used alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from semcom.baselines import BASELINE_NAMES, closest_to_bpp, get_codec, learned
from semcom.data.shapes import ShapesWorld
from semcom.errors import SemcomError
from tests._mtgc import single_thread  # noqa: F401


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return ShapesWorld("test", n=1, seed=0)[0].image


def test_round_trip_reads_the_header_and_fits_a_rate(image: torch.Tensor):
    codec = get_codec("compressai")
    assert "compressai" in BASELINE_NAMES
    data = codec.encode(image, quality=8, factor=4)
    file = codec.file_of(data, 128, 128)
    assert learned.size_of(file) == (32, 32) and file[0] == 8
    assert len(data) == len(file) - 2  # setting byte in; quality and both sizes out
    assert codec.factor_of(file, 128, 128) == 4
    out = codec.decode(data, 128, 128)
    assert out.shape == (3, 128, 128) and 0 <= float(out.min()) <= float(out.max()) <= 1
    assert torch.equal(out, codec.decode(data, 128, 128))  # deterministic
    mse = float(((out - image) ** 2).mean())
    assert mse < float(((0.5 - image) ** 2).mean())  # better than the mean image
    v = closest_to_bpp(image, 0.05, "compressai", side="below")
    assert v.bits <= 0.05 * 128 * 128 and v.codec == "compressai"


def test_corrupted_streams_are_errors_or_the_fallback(image: torch.Tensor):
    codec = get_codec("compressai")
    data = codec.encode(image, quality=3, factor=8)
    file = b"\xff" + codec.file_of(data, 128, 128)  # the whole file, as setting 255 sends it
    bad_varint = b"\xff" + bytes([3, 0x80, 0x80, 0x80, 0x80])
    for bad in (b"", bytes([99, 16, 16, 0]), file[:3], bad_varint):
        with pytest.raises(SemcomError):
            codec.decode(bad, 128, 128)
    wrong_size = b"\xff" + codec.file_of(codec.encode(image[:, :40, :40], 3, 1), 40, 40)
    with pytest.raises(SemcomError, match="not for a 128×128 image"):
        codec.decode(wrong_size, 128, 128)
    from semcom.data.mean_image import mean_image

    assert torch.equal(codec.decode(None, 128, 128, fallback="mean"), mean_image(128, 128))


def test_missing_weights_say_how_to_train_them(monkeypatch, tmp_path: Path, image):
    learned._model.cache_clear()
    monkeypatch.setattr(learned, "weights_dir", lambda: tmp_path / "nothing")
    try:
        with pytest.raises(SemcomError, match="semcom train --stage 1 --part hci"):
            get_codec("compressai").encode(image, quality=3, factor=8)
    finally:
        learned._model.cache_clear()
