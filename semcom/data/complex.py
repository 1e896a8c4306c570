"""ShapesWorld-Complex: cluttered scenes with more in them than a short caption can hold.

A scene holds 3 to 10 objects at continuous positions and any rotation, each with a shape
(8), a colour (10), a size class (3, from a continuous radius) and a texture (solid,
stripes or dots; small objects are always solid), drawn front to back over a muted
procedural texture (:func:`semcom.data.shapes.render_background`) strewn with distractor
marks (thin strokes and specks that are not objects). Objects may overlap; every object
keeps at least :data:`MIN_VISIBLE` of its pixels visible, and two objects that touch
never share a colour (so their boundary is always visible). The truth of every object:
its box, its visible mask (``labels``), shape, colour, size class and texture.

Everything is deterministic from (split, seed, index), with the splits and dataset seeds
of ShapesWorld (:data:`semcom.data.shapes.SPLITS`); the scene's random stream is seeded
with (scene seed, :data:`WORLD_TAG`), so the two worlds' scenes are unrelated.

The world's parameters below were fixed before any model was trained on it; they are
not to be tuned to a model afterwards (issue 33). Statistics: docs/datasets.md
(:mod:`semcom.data.complex_stats`).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw

from semcom.data.complex_shapes import pattern_mask, shape_mask
from semcom.data.shapes import BLOCK, SPLITS, render_background, scene_seed
from semcom.data.shapes import COLOUR_RGB as SHAPES_RGB

#: The dataset name (``--dataset shapes-complex``).
NAME = "shapes-complex"
#: Mixed into every scene seed so the world's scenes differ from ShapesWorld's.
WORLD_TAG = 0x5C0C
SHAPES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "diamond",
    "cross",
    "heart",
    "semicircle",
)
#: sRGB of each named colour: ShapesWorld's eight, then brown and black.
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    **SHAPES_RGB,
    "brown": (125, 70, 20),
    "black": (20, 20, 20),
}
COLOURS: tuple[str, ...] = tuple(COLOUR_RGB)
SIZES: tuple[str, ...] = ("small", "medium", "large")
#: The smallest turn (radians) that maps each shape's outline and the direction of its
#: stripes (a half turn) onto themselves; 0 for a circle, which is always drawn unturned.
#: A shape's drawn angle is known only modulo this (its rotation bins span it).
ROTATION_PERIOD: dict[str, float] = {
    "circle": 0.0,
    "square": math.pi,
    "triangle": 2 * math.pi,
    "star": 2 * math.pi,
    "diamond": math.pi,
    "cross": math.pi,
    "heart": 2 * math.pi,
    "semicircle": 2 * math.pi,
}
#: Radius range [lo, hi] in pixels (at 128×128) of each size class; the gaps between the
#: classes keep the class readable from the object's extent.
SIZE_RADIUS: dict[str, tuple[float, float]] = {
    "small": (8.0, 10.5),
    "medium": (12.5, 15.5),
    "large": (18.0, 23.0),
}
TEXTURES: tuple[str, ...] = ("solid", "stripes", "dots")
#: Size classes that may carry a texture (a small object is always solid).
TEXTURED_SIZES: tuple[str, ...] = ("medium", "large")
#: Objects per scene, inclusive.
OBJECTS_RANGE: tuple[int, int] = (3, 10)
#: The smallest fraction of an object's pixels that stays visible (≤ 40 % hidden).
MIN_VISIBLE = 0.6
#: Distractor marks per scene, inclusive.
MARKS_RANGE: tuple[int, int] = (4, 14)
#: The 3×3 regions named in captions, row-major from the top left.
REGIONS: tuple[str, ...] = (
    "top left",
    "top",
    "top right",
    "left",
    "centre",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
#: Tries to place one object before its size is drawn again, and rounds of that.
_TRIES, _ROUNDS = 60, 4


@dataclass(frozen=True)
class ComplexObject:
    """One object of a ShapesWorld-Complex scene (truth; pixels at 128×128 scale).

    ``shape``/``colour``/``size``/``texture`` index :data:`SHAPES`, :data:`COLOURS`,
    :data:`SIZES`, :data:`TEXTURES`. ``cx, cy`` centre and ``radius`` in pixels,
    ``angle`` in radians; ``box`` = (x0, y0, x1, y1), the drawn object's bounding box
    (whole object, occluded parts included; x1, y1 exclusive); ``visible`` the fraction
    of its pixels not hidden by objects in front; ``depth`` its drawing order (0: back).
    """

    shape: int
    colour: int
    size: int
    texture: int
    cx: float
    cy: float
    radius: float
    angle: float
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    visible: float = 1.0
    depth: int = 0

    def words(self) -> tuple[str, str, str, str]:
        """(shape, colour, size, texture) as words."""
        return SHAPES[self.shape], COLOURS[self.colour], SIZES[self.size], TEXTURES[self.texture]

    def region(self, size: int = 128) -> int:
        """Index into :data:`REGIONS` of the 3×3 region holding the centre of an image of
        ``size``×``size`` pixels."""
        col = min(int(self.cx * 3 / size), 2)
        row = min(int(self.cy * 3 / size), 2)
        return 3 * row + col


def pattern_colour(colour: str) -> tuple[int, int, int]:
    """The second colour of a textured object: its colour darkened, or lightened when dark."""
    rgb = np.array(COLOUR_RGB[colour], dtype=np.float64)
    luma = float(rgb @ np.array([0.299, 0.587, 0.114])) / 255
    out = rgb * 0.45 if luma > 0.35 else rgb + (255 - rgb) * 0.5
    return tuple(int(round(v)) for v in out)  # type: ignore[return-value]


def _draw_marks(image: np.ndarray, rng: np.random.Generator) -> None:
    """Distractor marks in place: thin straight or curved strokes and small specks."""
    size = image.shape[0]
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(MARKS_RANGE[0], MARKS_RANGE[1] + 1))):
        hue, sat, val = rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.85)
        colour = tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(hue, sat, val))
        kind = rng.random()
        x, y = rng.uniform(0, size, 2)
        if kind < 0.45:  # straight stroke
            length, a = rng.uniform(10, 40), rng.uniform(0, math.pi)
            end = (x + length * math.cos(a), y + length * math.sin(a))
            draw.line([(x, y), end], fill=colour, width=int(rng.integers(1, 3)))
        elif kind < 0.75:  # arc
            r = rng.uniform(6, 20)
            start = rng.uniform(0, 360)
            draw.arc(
                [x - r, y - r, x + r, y + r],
                start,
                start + rng.uniform(60, 200),
                fill=colour,
                width=1,
            )
        else:  # speck
            r = rng.uniform(0.8, 2.5)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    image[...] = np.asarray(canvas)


def random_objects(
    rng: np.random.Generator, size: int = 128
) -> list[tuple[ComplexObject, np.ndarray]]:
    """Draw and place a scene's objects → [(object, full mask [size,size] bool)], back to
    front. Each placement keeps every earlier object ≥ :data:`MIN_VISIBLE` visible and
    overlaps only objects of other colours; a placement that fails :data:`_TRIES` times
    draws the object's size class again (the scene may end with fewer large objects)."""
    scale = size / 128
    n = int(rng.integers(OBJECTS_RANGE[0], OBJECTS_RANGE[1] + 1))
    placed: list[tuple[ComplexObject, np.ndarray]] = []
    for depth in range(n):
        shape = int(rng.integers(len(SHAPES)))
        colour = int(rng.integers(len(COLOURS)))
        for _ in range(_ROUNDS):
            size_class = int(rng.integers(len(SIZES)))
            textured = SIZES[size_class] in TEXTURED_SIZES
            texture = int(rng.integers(len(TEXTURES))) if textured else 0
            radius = float(rng.uniform(*SIZE_RADIUS[SIZES[size_class]])) * scale
            angle = 0.0 if SHAPES[shape] == "circle" else float(rng.uniform(0, 2 * math.pi))
            found = None
            for _ in range(_TRIES):
                cx, cy = rng.uniform(radius + 1, size - radius - 1, 2)
                mask = shape_mask(SHAPES[shape], cx, cy, radius, angle, size)
                if _fits(mask, placed, colour):
                    found = (float(cx), float(cy), mask)
                    break
            if found is not None:
                break
        else:
            continue  # no room for this object after every round: the scene holds one fewer
        cx, cy, mask = found
        ys, xs = np.nonzero(mask)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        obj = ComplexObject(
            shape, colour, size_class, texture, cx, cy, radius, angle, box, 1.0, depth
        )
        placed.append((obj, mask))
    return placed


def _fits(mask: np.ndarray, placed: list[tuple[ComplexObject, np.ndarray]], colour: int) -> bool:
    """Whether a new top object ``mask`` keeps the placement rules with ``placed``."""
    if not placed:
        return True
    near = _grow(mask)  # touching counts as overlapping for the colour rule
    front = mask.copy()
    # later objects hide earlier ones: walk from the top down, accumulating what is in front
    for obj, m in reversed(placed):
        if not (m & near).any():
            front |= m
            continue
        if obj.colour == colour:
            return False
        visible = int((m & ~front).sum())
        if visible < MIN_VISIBLE * int(m.sum()):
            return False
        front |= m
    return True


def _grow(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by one pixel (4-neighbourhood)."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def render_complex(placed: list[tuple[ComplexObject, np.ndarray]], size: int, seed: int):
    """Draw placed objects over a cluttered background → (image [size,size,3] uint8,
    labels [size,size] int16 (visible object index or -1), objects with ``visible`` set)."""
    bg_seed, mark_seed = np.random.SeedSequence(seed).generate_state(2)
    image, _ = render_background(size, int(bg_seed))
    _draw_marks(image, np.random.default_rng(int(mark_seed)))
    labels = np.full((size, size), -1, dtype=np.int16)
    for k, (obj, mask) in enumerate(placed):
        shape, colour, _, texture = obj.words()
        image[mask] = COLOUR_RGB[colour]
        if texture != "solid":
            second = mask & pattern_mask(texture, obj.cx, obj.cy, obj.angle, size)
            image[second] = pattern_colour(colour)
        labels[mask] = k
    objects = []
    for k, (obj, mask) in enumerate(placed):
        seen = float((labels == k).sum()) / max(int(mask.sum()), 1)
        objects.append(ComplexObject(**{**obj.__dict__, "visible": round(seen, 4)}))
    return image, labels, objects


def concise_caption(
    objects: list[ComplexObject], labels: np.ndarray | None = None, size: int = 128
) -> str:
    """The scene's gist in at most 12 words: how many objects, then the two most salient
    (most visible pixels; ties by drawing order, front first) with colour, shape and region,
    "large" before a large one, e.g. "seven shapes, large red star top left, blue circle centre".
    ``labels``: the scene's visible-object map (else areas from radius and visible share);
    ``size``: the image side the objects' pixels refer to.
    """
    count = len(objects)
    if count == 0:
        return "no shapes"
    head = f"{_number(count)} shapes" if count != 1 else "one shape"
    if labels is not None:
        area = [int((labels == k).sum()) for k in range(count)]
    else:
        area = [int(round(o.visible * math.pi * o.radius**2)) for o in objects]
    order = sorted(range(count), key=lambda k: (-area[k], -objects[k].depth))
    phrases = []
    for k in order[:2]:
        o = objects[k]
        shape, colour, size_word, _ = o.words()
        big = "large " if size_word == "large" else ""
        phrases.append(f"{big}{colour} {shape} {REGIONS[o.region(size)]}")
    return ", ".join([head, *phrases])


_NUMBER_WORDS = (
    "no",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)


def _number(n: int) -> str:
    return _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)


@dataclass
class ComplexItem:
    """One scene: image [3,H,W] float32 in [0,1], its objects (truth) and ``labels`` [H,W]
    int16 (visible object index per pixel, -1 for background and marks). The caption is
    ground truth, written only when read."""

    image: torch.Tensor
    objects: list[ComplexObject]
    scene_seed: int = 0
    labels: torch.Tensor | None = None
    _caption: str | None = field(default=None, repr=False)

    @property
    def caption(self) -> str:
        """The concise ground-truth caption (:func:`concise_caption`)."""
        labels = None if self.labels is None else self.labels.numpy()
        return concise_caption(self.objects, labels, self.image.shape[-1])

    canonical_caption = caption


class ShapesWorldComplex:
    """An indexable, deterministic dataset of ShapesWorld-Complex scenes.

    ``ShapesWorldComplex("train", n=10000, seed=0)[i]`` is the same item on every machine;
    items of different splits never share a scene seed; ``n`` is at most ``BLOCK``.
    """

    name = NAME

    def __init__(self, split: str = "train", n: int = 1000, size: int = 128, seed: int = 0) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}")
        if not 0 <= n <= BLOCK:
            raise ValueError(f"n must be in [0, {BLOCK}]; got {n}")
        scene_seed(split, seed, 0)  # validates the dataset seed
        self.split, self.n, self.size, self.seed = split, n, size, seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> ComplexItem:
        if not 0 <= index < self.n:
            raise IndexError(index)
        item_seed = scene_seed(self.split, self.seed, index)
        rng = np.random.default_rng([item_seed, WORLD_TAG])
        placed = random_objects(rng, self.size)
        pixels, labels, objects = render_complex(placed, self.size, int(rng.integers(2**31)))
        image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
        return ComplexItem(image, objects, item_seed, torch.from_numpy(labels))
