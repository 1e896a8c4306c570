"""What the baselines send: the file less the boilerplate the receiver rebuilds, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from semcom.baselines import BASELINE_NAMES, FACTORS, get_codec, wire
from semcom.baselines.standard import as_arrays, resize, small_size, to_uint8
from semcom.data.shapes import ShapesWorld
from semcom.errors import SemcomError

#: Bytes the boilerplate saves at least, per codec, on 128×128 scenes (measured: JPEG 181
#: with optimised tables, WebP 26, JPEG 2000 134–155, AVIF 288, JPEG XL 3, compressai 2).
MIN_SAVED = {"jpeg": 150, "webp": 25, "jpeg2000": 120, "avif": 250, "jpegxl": 2, "compressai": 1}


@pytest.fixture(scope="module")
def scenes() -> list[np.ndarray]:
    data = ShapesWorld("test", n=3, seed=0)
    return [to_uint8(as_arrays(data[i].image)[0]) for i in range(3)]


@pytest.mark.parametrize("name", BASELINE_NAMES)
def test_streams_rebuild_the_very_file_and_strip_the_boilerplate(name, scenes):
    codec = get_codec(name)
    qualities = codec.qualities[:: max(1, len(codec.qualities) // 4)]
    for arr in scenes:
        for factor in FACTORS:
            small = resize(arr, *small_size(128, 128, factor))
            for quality in qualities:
                for variant in range(codec.variants):
                    file = codec.encode_array(small, quality, variant)
                    stream = wire.pack(codec, file, factor, quality, 128, 128, variant)
                    assert stream[0] != wire.RAW, (factor, quality, variant)
                    assert wire.setting_of(codec, stream) == (factor, quality, variant)
                    assert wire.unpack(codec, stream, 128, 128) == file
                    assert len(file) - len(stream) >= MIN_SAVED[name]


def test_jpeg_sends_the_shorter_table_variant(scenes):
    codec = get_codec("jpeg")
    assert codec.variants == 2
    small = resize(scenes[0], 16, 16)
    optimised, standard = (
        wire.pack(codec, codec.encode_array(small, 10, v), 8, 10, 128, 128, v) for v in (0, 1)
    )
    assert len(standard) < len(optimised)  # at 16×16 the tables cost more than they save
    assert codec.encode_stream(small, 10, 8, 128, 128) == standard
    full = codec.encode_stream(scenes[0], 1, 1, 128, 128)
    assert wire.setting_of(codec, full)[2] == 0  # at 128×128 and quality 1, optimised wins


def test_off_grid_settings_and_unknown_formats_travel_whole(scenes):
    codec = get_codec("webp")
    assert 37 not in codec.qualities
    file = codec.encode_array(scenes[0], 37)
    stream = wire.pack(codec, file, 1, 37, 128, 128)
    assert stream == bytes([wire.RAW]) + file
    assert codec.decode(stream, 128, 128).shape == (3, 128, 128)
    assert wire.pack(codec, b"not a webp file", 1, codec.qualities[0], 128, 128)[0] == wire.RAW


@pytest.mark.parametrize("name", BASELINE_NAMES)
def test_every_setting_fits_the_byte_and_bad_bytes_are_errors(name):
    codec = get_codec(name)
    table = wire.settings(codec)
    assert len(table) < wire.RAW and len(set(table)) == len(table)
    with pytest.raises(SemcomError, match="empty"):
        wire.unpack(codec, b"", 128, 128)
    if len(table) < wire.RAW - 1:
        with pytest.raises(SemcomError, match="unknown setting"):
            wire.unpack(codec, bytes([wire.RAW - 1, 1, 2, 3]), 128, 128)


def test_boilerplate_is_a_function_of_the_setting_alone():
    codec = get_codec("avif")
    first = wire.boilerplate(codec, 4, 20, 128, 128)
    wire._boilerplate.cache_clear()
    assert wire.boilerplate(codec, 4, 20, 128, 128) == first
    assert wire.boilerplate(codec, 4, 20, 125, 127) == first  # same 32×32 coded size
    assert wire.boilerplate(codec, 2, 20, 128, 128) != first


def test_rate_control_counts_the_stream(scenes):
    from semcom.baselines import operating_points

    points = operating_points(scenes_tensor(scenes[0]), "avif", factors=(8,), qualities=(0,))
    (point,) = points
    assert point.data[0] != wire.RAW and point.bits == 8 * len(point.data)
    file = get_codec("avif").file_of(point.data, 128, 128)
    assert point.bits < 8 * len(file) - 8 * MIN_SAVED["avif"]


def scenes_tensor(arr: np.ndarray):
    import torch

    return torch.from_numpy(arr.transpose(2, 0, 1).astype(np.float32) / 255)
