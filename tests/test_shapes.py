"""ShapesWorld scenes: deterministic, and the pixels show the objects they claim."""

from __future__ import annotations

import numpy as np
import torch
from _mtgc import single_thread  # noqa: F401 (fixture)

from semcom.data.captions import COLOURS, SHAPES, ShapeObject
from semcom.data.shapes import COLOUR_RGB, ShapesWorld, render_scene


def test_items_are_deterministic_and_splits_differ() -> None:
    a, b = ShapesWorld("train", n=5, seed=3)[2], ShapesWorld("train", n=5, seed=3)[2]
    assert torch.equal(a.image, b.image) and a.objects == b.objects and a.caption == b.caption
    assert not torch.equal(a.image, ShapesWorld("test", n=5, seed=3)[2].image)


def test_items_have_the_documented_shape_and_range() -> None:
    item = ShapesWorld(n=1, size=96)[0]
    assert item.image.shape == (3, 96, 96) and item.image.dtype == torch.float32
    assert float(item.image.min()) >= 0 and float(item.image.max()) <= 1
    assert 1 <= len(item.objects) <= 3


def test_each_object_colours_the_centre_of_its_cell() -> None:
    for shape in range(len(SHAPES)):
        for colour in range(len(COLOURS)):
            obj = ShapeObject(shape=shape, colour=colour, size=1, cell=4)
            img = render_scene([obj], size=96, seed=0, jitter=0.0)
            assert tuple(img[48, 48]) == COLOUR_RGB[COLOURS[colour]], (shape, colour)


def test_large_objects_cover_more_pixels_than_small_ones() -> None:
    def area(size: int) -> int:
        img = render_scene([ShapeObject(0, 0, size, 0)], size=96, seed=0)
        return int((np.abs(img.astype(int) - img[-1, -1].astype(int)).sum(-1) > 60).sum())

    assert area(1) > 2 * area(0)
