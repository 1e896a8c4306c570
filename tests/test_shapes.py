"""ShapesWorld scenes: deterministic, and the pixels show the objects they claim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom.data.captions import CELLS, COLOURS, SHAPES, SIZES, ShapeObject, random_scene
from semcom.data.shapes import (
    BACKGROUNDS,
    COLOUR_RGB,
    SPLITS,
    ShapesWorld,
    render_background,
    render_scene,
    render_scene_labels,
    scene_seed,
)
from tests._mtgc import single_thread  # noqa: F401 (fixture)


def test_items_are_deterministic_and_splits_differ() -> None:
    a, b = ShapesWorld("train", n=5, seed=3)[2], ShapesWorld("train", n=5, seed=3)[2]
    assert torch.equal(a.image, b.image) and a.objects == b.objects and a.caption == b.caption
    assert not torch.equal(a.image, ShapesWorld("test", n=5, seed=3)[2].image)


def test_items_have_the_documented_shape_and_range() -> None:
    item = ShapesWorld(n=1, size=96)[0]
    assert item.image.shape == (3, 96, 96) and item.image.dtype == torch.float32
    assert float(item.image.min()) >= 0 and float(item.image.max()) <= 1


def test_scenes_hold_one_to_four_objects_of_every_kind() -> None:
    items = [ShapesWorld("val", n=300)[i] for i in range(300)]
    counts = {len(it.objects) for it in items}
    assert counts == {1, 2, 3, 4}
    objs = [o for it in items for o in it.objects]
    assert {o.shape for o in objs} == set(range(len(SHAPES))) and len(SHAPES) >= 5
    assert {o.colour for o in objs} == set(range(len(COLOURS))) and len(COLOURS) >= 8
    assert {o.size for o in objs} == set(range(len(SIZES)))
    assert {o.cell for o in objs} == set(range(len(CELLS)))
    assert all(len({o.cell for o in it.objects}) == len(it.objects) for it in items)


def test_splits_are_disjoint_seed_ranges() -> None:
    ranges = sorted(SPLITS.values())
    assert all(a[1] <= b[0] for a, b in zip(ranges[:-1], ranges[1:], strict=True))
    for split, (start, stop) in SPLITS.items():
        assert start <= scene_seed(split, 0, 0) and scene_seed(split, 5, 17) < stop
        assert ShapesWorld(split, n=3, seed=2)[1].scene_seed == scene_seed(split, 2, 1)


def test_a_dataset_seed_outside_its_split_is_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        ShapesWorld("test", n=3, seed=10**6)


def test_each_object_colours_the_centre_of_its_cell() -> None:
    for shape in range(len(SHAPES)):
        for colour in range(len(COLOURS)):
            obj = ShapeObject(shape=shape, colour=colour, size=1, cell=4)
            img = render_scene([obj], size=96, seed=0, jitter=0.0)
            assert tuple(img[48, 48]) == COLOUR_RGB[COLOURS[colour]], (shape, colour)


def test_the_items_pixels_show_its_objects_in_their_colours_and_cells() -> None:
    data = ShapesWorld("train", n=40, seed=1)
    for i in range(40):
        item = data[i]
        rng = np.random.default_rng(item.scene_seed)  # replay the item's draws
        assert random_scene(rng, 4) == item.objects
        img, labels = render_scene_labels(item.objects, 128, seed=int(rng.integers(2**31)))
        assert torch.equal(torch.from_numpy(img).permute(2, 0, 1).float() / 255, item.image)
        for k, obj in enumerate(item.objects):
            mask = labels == k
            assert (img[mask] == COLOUR_RGB[COLOURS[obj.colour]]).all()
            ys, xs = np.nonzero(mask)
            row, col = int(ys.mean() // (128 / 3)), int(xs.mean() // (128 / 3))
            assert 3 * row + col == obj.cell


def test_occlusion_happens_but_every_object_stays_mostly_visible() -> None:
    scene = [ShapeObject(0, 0, 1, 3), ShapeObject(0, 2, 1, 4), ShapeObject(0, 4, 1, 5)]
    occluded = 0
    for seed in range(60):
        _, labels = render_scene_labels(scene, 128, seed=seed)
        full = [render_scene_labels([o], 128, seed=seed)[1] == 0 for o in scene]
        alone = [int(m.sum()) for m in full]
        seen = [int((labels == k).sum()) for k in range(3)]
        occluded += any(s < a for s, a in zip(seen, alone, strict=True))
        assert all(s >= 0.8 * a for s, a in zip(seen, alone, strict=True)), (seed, seen, alone)
    assert occluded > 0


def test_small_objects_never_touch_another_object() -> None:
    rng = np.random.default_rng(0)
    for seed in range(50):
        cells = rng.choice(9, size=4, replace=False)
        scene = [
            ShapeObject(int(rng.integers(6)), 0, int(i == 0), int(c)) for i, c in enumerate(cells)
        ]
        _, labels = render_scene_labels(scene, 128, seed=seed)
        for k in range(1, 4):  # the small ones
            alone = render_scene_labels([scene[k]], 128, seed=seed)[1] == 0
            assert int((labels == k).sum()) == int(alone.sum())


def test_backgrounds_are_textured_varied_and_muted() -> None:
    kinds = set()
    colours = np.array(list(COLOUR_RGB.values()), dtype=float)
    for seed in range(120):
        bg, kind = render_background(128, seed)
        kinds.add(kind)
        px = bg.reshape(-1, 3).astype(float)
        assert px.std(0).max() > 1.0, kind  # not flat
        distance = np.sqrt(((px[:, None] - colours[None]) ** 2).sum(-1)).min()
        assert distance > 50, (seed, kind)  # every named colour stays legible
    assert kinds == set(BACKGROUNDS)


def test_large_objects_cover_more_pixels_than_small_ones() -> None:
    def area(size: int) -> int:
        _, labels = render_scene_labels([ShapeObject(0, 0, size, 0)], size=96, seed=0)
        return int((labels == 0).sum())

    assert area(1) > 4 * area(0)
