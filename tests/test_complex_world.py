"""ShapesWorld-Complex: deterministic, disjoint splits, and the stated ranges hold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom.data.complex import (
    COLOUR_RGB,
    COLOURS,
    MIN_VISIBLE,
    OBJECTS_RANGE,
    SHAPES,
    SIZE_RADIUS,
    SIZES,
    TEXTURED_SIZES,
    TEXTURES,
    ShapesWorldComplex,
    concise_caption,
    pattern_colour,
    shape_mask,
)
from semcom.data.shapes import ShapesWorld, scene_seed


@pytest.fixture(scope="module")
def scenes() -> list:
    """1000 validation scenes (about 4 s)."""
    data = ShapesWorldComplex("val", n=1000)
    return [data[i] for i in range(1000)]


def test_items_are_deterministic_and_unlike_other_splits_and_shapesworld() -> None:
    a, b = ShapesWorldComplex("train", n=5, seed=2)[3], ShapesWorldComplex("train", n=5, seed=2)[3]
    assert torch.equal(a.image, b.image) and a.objects == b.objects and a.caption == b.caption
    assert torch.equal(a.labels, b.labels)
    other = ShapesWorldComplex("test", n=5, seed=2)[3]
    assert not torch.equal(a.image, other.image)
    # the same scene seed draws an unrelated scene in ShapesWorld
    assert a.scene_seed == ShapesWorld("train", n=5, seed=2)[3].scene_seed
    assert a.scene_seed == scene_seed("train", 2, 3)


def test_splits_take_disjoint_scene_seeds() -> None:
    seeds = {
        split: {
            ShapesWorldComplex(split, n=50, seed=s)[i].scene_seed for s in (0, 1) for i in range(50)
        }
        for split in ("train", "val", "test")
    }
    assert not seeds["train"] & seeds["val"] and not seeds["val"] & seeds["test"]
    assert not seeds["train"] & seeds["test"]
    with pytest.raises(ValueError, match="split"):
        ShapesWorldComplex("dev")


def test_stated_ranges_hold_on_1000_scenes(scenes: list) -> None:
    counts = [len(it.objects) for it in scenes]
    assert min(counts) >= OBJECTS_RANGE[0] and max(counts) <= OBJECTS_RANGE[1]
    assert set(counts) == set(range(OBJECTS_RANGE[0], OBJECTS_RANGE[1] + 1))
    objs = [o for it in scenes for o in it.objects]
    assert {o.shape for o in objs} == set(range(len(SHAPES))) and len(SHAPES) >= 8
    assert {o.colour for o in objs} == set(range(len(COLOURS))) and len(COLOURS) >= 10
    assert {o.size for o in objs} == set(range(len(SIZES))) == {0, 1, 2}
    assert {o.texture for o in objs} == set(range(len(TEXTURES)))
    # at most 40 % of any object hidden, and partial occlusion does happen
    assert min(o.visible for o in objs) >= MIN_VISIBLE - 1e-3
    assert sum(o.visible < 0.95 for o in objs) > 100
    for o in objs:
        lo, hi = SIZE_RADIUS[SIZES[o.size]]
        assert lo <= o.radius <= hi
        if SIZES[o.size] not in TEXTURED_SIZES:
            assert TEXTURES[o.texture] == "solid"
    # the concise caption: at most 12 words on every scene, and it starts with the count
    for it in scenes:
        words = it.caption.split()
        assert len(words) <= 12
        assert it.caption.startswith(
            ("three", "four", "five", "six", "seven", "eight", "nine", "ten")
        )


def test_labels_boxes_and_pixels_agree_with_the_truth(scenes: list) -> None:
    for it in scenes[:200]:
        labels = it.labels.numpy()
        pixels = (it.image.permute(1, 2, 0).numpy() * 255).round().astype(int)
        for k, o in enumerate(it.objects):
            seen = labels == k
            assert seen.any()
            ys, xs = np.nonzero(seen)
            x0, y0, x1, y1 = o.box
            assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
            # every visible pixel is the object's colour or its texture's second colour
            allowed = {COLOUR_RGB[COLOURS[o.colour]], pattern_colour(COLOURS[o.colour])}
            colours = {tuple(c) for c in pixels[seen]}
            assert colours <= allowed
            assert (len(colours) == 2) == (TEXTURES[o.texture] != "solid")
            full = shape_mask(SHAPES[o.shape], o.cx, o.cy, o.radius, o.angle, 128)
            assert o.visible == round(seen.sum() / full.sum(), 4) and not (seen & ~full).any()


def test_objects_that_touch_have_different_colours(scenes: list) -> None:
    for it in scenes[:200]:
        labels = it.labels.numpy()
        # 4-neighbour pixel pairs with two different objects
        for a, b in ((labels[1:], labels[:-1]), (labels[:, 1:], labels[:, :-1])):
            pairs = {
                (int(x), int(y))
                for x, y in zip(a.ravel(), b.ravel(), strict=True)
                if x >= 0 and y >= 0 and x != y
            }
            for x, y in pairs:
                assert it.objects[x].colour != it.objects[y].colour


def test_caption_names_the_two_most_visible_objects() -> None:
    item = ShapesWorldComplex("test", n=3)[1]
    labels = item.labels.numpy()
    area = [(labels == k).sum() for k in range(len(item.objects))]
    top = item.objects[int(np.argmax(area))]
    assert f"{COLOURS[top.colour]} {SHAPES[top.shape]}" in item.caption
    assert concise_caption([]) == "no shapes"


def test_caption_regions_follow_the_image_size() -> None:
    """Regions are thirds of the image the object's pixels refer to, at any size."""
    from semcom.data.complex import REGIONS, ComplexObject

    obj = ComplexObject(0, 0, 2, 0, cx=50.0, cy=10.0, radius=9.0, angle=0.0)
    assert REGIONS[obj.region(64)] == "top right" and REGIONS[obj.region(128)] == "top"
    others = [ComplexObject(1, 1, 0, 0, cx=5.0, cy=60.0, radius=4.0, angle=0.0, depth=1)]
    caption = concise_caption([obj, *others], size=64)
    assert caption == "two shapes, large red circle top right, green square bottom left"
    item = ShapesWorldComplex("val", n=2, size=64)[1]
    assert len(item.caption.split()) <= 12
