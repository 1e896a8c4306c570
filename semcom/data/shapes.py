"""ShapesWorld: synthetic scenes of coloured shapes on a 3×3 grid, with their truth.

Each item carries the image, its objects (shape, colour, size, cell) and captions, so
semantic fidelity can be scored exactly. Everything is deterministic from (seed, split,
index): no files, no downloads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from semcom.data.captions import (
    CELLS,
    ShapeObject,
    canonical_caption,
    caption_for,
    random_scene,
)

#: sRGB of each named colour, in the order of semcom.data.captions.COLOURS.
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 20),
    "orange": (250, 140, 0),
    "purple": (140, 40, 180),
    "pink": (250, 120, 190),
    "cyan": (20, 210, 220),
}
#: Object radius as a fraction of the cell side, per size word.
SIZE_RADIUS: dict[str, float] = {"small": 0.22, "large": 0.42}
_SPLIT_OFFSET = {"train": 0, "val": 1_000_003, "test": 2_000_029}


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        pts = [(math.pi / 4 + k * math.pi / 2) for k in range(4)]
        return [(cx + r * math.cos(a + angle), cy + r * math.sin(a + angle)) for a in pts]
    if shape == "diamond":
        return [(cx, cy - r), (cx + 0.7 * r, cy), (cx, cy + r), (cx - 0.7 * r, cy)]
    if shape == "triangle":
        pts = [(-math.pi / 2 + k * 2 * math.pi / 3) for k in range(3)]
        return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in pts]
    if shape == "hexagon":
        return [
            (cx + r * math.cos(k * math.pi / 3), cy + r * math.sin(k * math.pi / 3))
            for k in range(6)
        ]
    if shape == "star":
        out = []
        for k in range(10):
            rad = r if k % 2 == 0 else 0.45 * r
            a = -math.pi / 2 + k * math.pi / 5
            out.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        return out
    raise ValueError(f"no polygon for {shape}")


def render_scene(
    scene: list[ShapeObject], size: int = 128, seed: int = 0, jitter: float = 0.08
) -> np.ndarray:
    """Draw a scene → [size,size,3] uint8. ``seed`` moves objects by ≤ jitter·cell and
    picks the pale background tone; the objects stay inside their cells."""
    rng = np.random.default_rng(seed)
    bg = tuple(int(v) for v in 235 + rng.integers(-15, 16, 3))
    img = Image.new("RGB", (size, size), bg)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(img)
    cell = size / 3
    for obj in scene:
        shape, colour, size_word, _ = obj.words()
        row, col = divmod(obj.cell, 3)
        dx, dy = rng.uniform(-jitter, jitter, 2) * cell
        cx, cy = (col + 0.5) * cell + dx, (row + 0.5) * cell + dy
        r = SIZE_RADIUS[size_word] * cell
        fill = COLOUR_RGB[colour]
        if shape == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        else:
            draw.polygon(_polygon(shape, cx, cy, r, 0.0), fill=fill)
    return np.asarray(img, dtype=np.uint8).copy()


@dataclass
class ShapesItem:
    """One scene: image [3,H,W] float32 in [0,1], its objects and two captions."""

    image: torch.Tensor
    objects: list[ShapeObject]
    caption: str
    canonical_caption: str


class ShapesWorld:
    """An indexable, deterministic dataset of ShapesWorld scenes.

    ``ShapesWorld("train", n=10000, seed=0)[i]`` is the same item on every machine.
    """

    def __init__(
        self,
        split: str = "train",
        n: int = 1000,
        size: int = 128,
        seed: int = 0,
        max_objects: int = 3,
    ) -> None:
        if split not in _SPLIT_OFFSET:
            raise ValueError(f"split must be one of {list(_SPLIT_OFFSET)}")
        self.split, self.n, self.size, self.seed, self.max_objects = (
            split,
            n,
            size,
            seed,
            max_objects,
        )

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> ShapesItem:
        if not 0 <= index < self.n:
            raise IndexError(index)
        item_seed = (self.seed * 7_919_993 + _SPLIT_OFFSET[self.split] + index) % (2**63)
        rng = np.random.default_rng(item_seed)
        scene = random_scene(rng, self.max_objects)
        pixels = render_scene(scene, self.size, seed=int(rng.integers(2**31)))
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
        return ShapesItem(image, scene, caption_for(scene, rng), canonical_caption(scene))


def cell_of(obj: ShapeObject) -> str:
    """The cell's name, e.g. "top left"."""
    return CELLS[obj.cell]
