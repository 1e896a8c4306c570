"""ShapesWorld: synthetic scenes of coloured shapes on a 3×3 grid, with their truth.

A scene holds one to four objects (6 shapes, 8 named colours, 2 sizes, one cell of a 3×3
grid each) drawn in flat colours over a muted procedural texture (gradient, stripes,
checks or smooth noise). Large objects may overlap a neighbouring large object (occlusion),
small ones never touch another object. Each item carries the image, its objects and
captions, so semantic fidelity can be scored exactly. Everything is deterministic from
(split, seed, index): no files, no downloads.

Splits are fixed ranges of scene seeds (:data:`SPLITS`); dataset seed ``s`` of a split
takes the block of :data:`BLOCK` consecutive scene seeds starting at ``start + s·BLOCK``,
so no scene of one split appears in another.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field

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
#: Object radius as a fraction of the cell side, per size word. With the default jitter
#: (0.08) a large object reaches at most 0.1 cell into a neighbouring cell, where only
#: another large object can be (a small one stays 0.18 cell away from its cell's border).
SIZE_RADIUS: dict[str, float] = {"small": 0.24, "large": 0.52}
#: Background texture kinds, chosen uniformly per scene.
BACKGROUNDS: tuple[str, ...] = ("gradient", "stripes", "checks", "noise")
#: Most objects a ShapesWorld scene holds by default.
MAX_OBJECTS = 4
#: Scene seeds per dataset seed: the largest ``n`` of a :class:`ShapesWorld`.
BLOCK = 1 << 24
#: Scene-seed range [start, stop) of each split.
SPLITS: dict[str, tuple[int, int]] = {
    "train": (0, 1 << 40),
    "val": (1 << 40, (1 << 40) + (1 << 32)),
    "test": ((1 << 40) + (1 << 32), (1 << 40) + (1 << 33)),
}
# Background colours: saturation and value ranges (HSV in [0, 1]) that keep every named
# colour legible on every background (checked in tests/test_shapes.py).
_BG_SATURATION = (0.03, 0.22)
_BG_VALUE = (0.55, 0.92)
_BG_CONTRAST = (0.05, 0.16)


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        pts = [(math.pi / 4 + k * math.pi / 2) for k in range(4)]
        return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in pts]
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


def _muted_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two close, low-saturation colours, float [3] in [0, 1] each."""
    hue = rng.random()
    s1, s2 = rng.uniform(*_BG_SATURATION, 2)
    v1 = rng.uniform(*_BG_VALUE)
    v2 = v1 + rng.choice([-1.0, 1.0]) * rng.uniform(*_BG_CONTRAST)
    if not _BG_VALUE[0] <= v2 <= _BG_VALUE[1]:
        v2 = 2 * v1 - v2
    hue2 = (hue + rng.uniform(-0.12, 0.12)) % 1.0
    c1 = np.array(colorsys.hsv_to_rgb(hue, s1, v1))
    c2 = np.array(colorsys.hsv_to_rgb(hue2, s2, float(np.clip(v2, *_BG_VALUE))))
    return c1, c2


def render_background(size: int = 128, seed: int = 0) -> tuple[np.ndarray, str]:
    """A muted procedural texture → ([size,size,3] uint8, its kind in :data:`BACKGROUNDS`).

    The texture blends two close low-saturation colours with a pattern t in [0, 1]: a
    linear gradient, soft or hard stripes, checks (both at a random angle and period) or
    smooth value noise with a fine grain. Deterministic from ``seed``.
    """
    rng = np.random.default_rng(seed)
    kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    c1, c2 = _muted_pair(rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    theta = rng.uniform(0, math.pi)
    u = xx * math.cos(theta) + yy * math.sin(theta)
    if kind == "gradient":
        t = (u - u.min()) / max(float(u.max() - u.min()), 1e-6)
    elif kind == "stripes":
        period = rng.uniform(0.05, 0.16) * size
        wave = np.sin(2 * math.pi * u / period + rng.uniform(0, 2 * math.pi))
        t = (wave > 0).astype(np.float32) if rng.random() < 0.5 else 0.5 + 0.5 * wave
    elif kind == "checks":
        period = rng.uniform(0.06, 0.2) * size
        v = -xx * math.sin(theta) + yy * math.cos(theta)
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    else:  # noise
        grid = int(rng.integers(3, 9))
        coarse = Image.fromarray(rng.random((grid, grid)).astype(np.float32), mode="F")
        t = np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC), np.float32)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        t = np.clip(t + rng.normal(0, 0.08, t.shape), 0, 1)
    rgb = c1 * (1 - t[..., None]) + c2 * t[..., None]
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8), kind


def render_scene_labels(
    scene: list[ShapeObject], size: int = 128, seed: int = 0, jitter: float = 0.08
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a scene → (image [size,size,3] uint8, visible labels [size,size] int16).

    ``labels[y, x]`` is the index into ``scene`` of the object seen at that pixel, or -1
    for background. ``seed`` picks the background, moves each object by ≤ jitter·cell
    (its centre stays inside its cell) and the drawing order (which large object is on
    top where two overlap), all per cell. Objects are flat named colours without
    anti-aliasing; at most one object per cell.
    """
    bg_seed, obj_seed = np.random.SeedSequence(seed).generate_state(2)
    image, _ = render_background(size, int(bg_seed))
    rng = np.random.default_rng(int(obj_seed))
    labels = np.full((size, size), -1, dtype=np.int16)
    cell = size / 3
    # Offsets and drawing order per cell, so an object's placement depends on (seed, cell)
    # only: a sub-scene drawn with the same seed puts its objects at the same places.
    offsets = rng.uniform(-jitter, jitter, (len(CELLS), 2)) * cell
    rank = np.argsort(rng.permutation(len(CELLS)))
    for k in sorted(range(len(scene)), key=lambda k: rank[scene[k].cell]):
        shape, colour, size_word, _ = scene[k].words()
        row, col = divmod(scene[k].cell, 3)
        dx, dy = offsets[scene[k].cell]
        cx, cy = (col + 0.5) * cell + dx, (row + 0.5) * cell + dy
        r = SIZE_RADIUS[size_word] * cell
        mask_img = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(mask_img)
        if shape == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
        else:
            draw.polygon(_polygon(shape, cx, cy, r), fill=1)
        mask = np.asarray(mask_img, dtype=bool)
        image[mask] = COLOUR_RGB[colour]
        labels[mask] = k
    return image, labels


def render_scene(
    scene: list[ShapeObject], size: int = 128, seed: int = 0, jitter: float = 0.08
) -> np.ndarray:
    """Draw a scene → [size,size,3] uint8 (see :func:`render_scene_labels`)."""
    return render_scene_labels(scene, size, seed, jitter)[0]


def dataset_seeds(split: str) -> int:
    """How many datasets (seeds 0, 1, …) of :data:`BLOCK` scenes ``split`` holds."""
    start, stop = SPLITS[split]
    return (stop - start) // BLOCK


def scene_seed(split: str, seed: int, index: int) -> int:
    """The scene seed of item ``index`` of dataset ``seed`` of ``split`` (see :data:`SPLITS`)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}")
    start, stop = SPLITS[split]
    value = start + seed * BLOCK + index
    if seed < 0 or not 0 <= index < BLOCK or value >= stop:
        raise ValueError(
            f"{split} dataset seed must be in [0, {(stop - start) // BLOCK}) and the index in "
            f"[0, {BLOCK}); got seed {seed}, index {index}"
        )
    return value


@dataclass
class ShapesItem:
    """One scene: image [3,H,W] float32 in [0,1], its objects and two captions.

    ``labels`` [H,W] int16: the index into ``objects`` seen at each pixel, -1 for
    background (truth, for training weights and scoring only). The captions are ground
    truth too, and are written only when read (``caption``: free phrasing drawn from the
    scene's own random stream; ``canonical_caption``): a transmitter that never reads them
    never calls the caption grammar, which a test enforces.
    """

    image: torch.Tensor
    objects: list[ShapeObject]
    scene_seed: int = 0
    labels: torch.Tensor | None = None
    #: The scene's random-stream state where its free caption is drawn.
    caption_state: dict | None = field(default=None, repr=False)

    @property
    def caption(self) -> str:
        """The scene's free-phrasing caption (the same on every read)."""
        rng = np.random.default_rng()
        rng.bit_generator.state = self.caption_state
        return caption_for(self.objects, rng)

    @property
    def canonical_caption(self) -> str:
        """The scene's canonical caption."""
        return canonical_caption(self.objects)


class ShapesWorld:
    """An indexable, deterministic dataset of ShapesWorld scenes.

    ``ShapesWorld("train", n=10000, seed=0)[i]`` is the same item on every machine.
    Items of different splits never share a scene seed; ``n`` is at most :data:`BLOCK`.
    """

    def __init__(
        self,
        split: str = "train",
        n: int = 1000,
        size: int = 128,
        seed: int = 0,
        max_objects: int = MAX_OBJECTS,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}")
        if not 0 <= n <= BLOCK:
            raise ValueError(f"n must be in [0, {BLOCK}]; got {n}")
        if not 1 <= max_objects <= len(CELLS):
            raise ValueError(f"max_objects must be in [1, {len(CELLS)}]; got {max_objects}")
        scene_seed(split, seed, 0)  # validates the dataset seed
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
        item_seed = scene_seed(self.split, self.seed, index)
        rng = np.random.default_rng(item_seed)
        scene = random_scene(rng, self.max_objects)
        pixels, labels = render_scene_labels(scene, self.size, seed=int(rng.integers(2**31)))
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
        return ShapesItem(
            image, scene, item_seed, torch.from_numpy(labels), rng.bit_generator.state
        )
