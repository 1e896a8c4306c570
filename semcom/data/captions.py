"""ShapesWorld scenes as data, and the caption grammar that describes them.

A scene is a list of :class:`ShapeObject` (shape, colour, size, cell of a 3×3 grid); at
most one object per cell. :func:`caption_for` writes a natural-sounding caption with
varied phrasing, deterministic from a seed. The same grammar builds the corpus that the
caption coder's language model is counted on (see :mod:`semcom.mtgc.streams.caption`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "hexagon", "diamond")
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "orange", "purple", "pink", "cyan")
SIZES: tuple[str, ...] = ("small", "large")
#: Cell names of the 3×3 grid, row-major from the top left; index = 3·row + column.
CELLS: tuple[str, ...] = (
    "top left",
    "top",
    "top right",
    "left",
    "middle",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class ShapeObject:
    """One object of a scene: indices into SHAPES, COLOURS, SIZES and CELLS."""

    shape: int
    colour: int
    size: int
    cell: int

    def words(self) -> tuple[str, str, str, str]:
        """(shape, colour, size, cell) as words."""
        return SHAPES[self.shape], COLOURS[self.colour], SIZES[self.size], CELLS[self.cell]


def random_scene(rng: np.random.Generator, max_objects: int = 3) -> list[ShapeObject]:
    """Draw 1..max_objects objects in distinct cells, sorted by cell (reading order)."""
    n = int(rng.integers(1, max_objects + 1))
    cells = sorted(rng.choice(len(CELLS), size=n, replace=False).tolist())
    return [
        ShapeObject(
            shape=int(rng.integers(len(SHAPES))),
            colour=int(rng.integers(len(COLOURS))),
            size=int(rng.integers(len(SIZES))),
            cell=int(c),
        )
        for c in cells
    ]


def _where(cell: str, rng: np.random.Generator) -> str:
    if cell == "middle":
        return str(rng.choice(["in the middle", "in the centre", "at the centre"]))
    if cell in ("top", "bottom"):
        return str(rng.choice([f"at the {cell}", f"at the {cell} centre", f"along the {cell}"]))
    if cell in ("left", "right"):
        return str(rng.choice([f"on the {cell}", f"at the {cell}", f"on the {cell} side"]))
    return str(rng.choice([f"at the {cell}", f"in the {cell}", f"in the {cell} corner"]))


def _noun_phrase(obj: ShapeObject, rng: np.random.Generator) -> str:
    shape, colour, size, _ = obj.words()
    size_word = {"small": ["small", "little", "tiny"], "large": ["large", "big"]}[size]
    size_word = str(rng.choice(size_word))
    return f"a {size_word} {colour} {shape}"


def _object_phrase(obj: ShapeObject, rng: np.random.Generator) -> str:
    where = _where(obj.words()[3], rng)
    np_ = _noun_phrase(obj, rng)
    if rng.random() < 0.2:
        return f"{where} {np_}"
    return f"{np_} {where}"


def caption_for(scene: list[ShapeObject], seed: int | np.random.Generator = 0) -> str:
    """Describe a scene in one lower-case sentence, e.g.
    "a small red triangle at the top left and a large blue circle in the middle".
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if not scene:
        return str(rng.choice(["an empty scene", "nothing", "a blank background"]))
    phrases = [_object_phrase(o, rng) for o in scene]
    if len(phrases) == 1:
        body = phrases[0]
    elif rng.random() < 0.5:
        body = ", ".join(phrases[:-1]) + " and " + phrases[-1]
    else:
        body = " and ".join(phrases)
    style = rng.random()
    if style < 0.55:
        return body
    if style < 0.7:
        return f"{_NUMBERS[len(scene)] if len(scene) < 10 else len(scene)} shapes: {body}"
    if style < 0.85:
        return f"there is {body}"
    return f"an image of {body}"


def caption_corpus(n: int, seed: int = 0, max_objects: int = 3) -> list[str]:
    """n captions of random scenes; the same (n, seed, max_objects) gives the same list."""
    rng = np.random.default_rng(seed)
    return [caption_for(random_scene(rng, max_objects), rng) for _ in range(n)]


def canonical_caption(scene: list[ShapeObject]) -> str:
    """The one fixed phrasing a captioner writes: "a small red star at the top left and …"."""
    if not scene:
        return "an empty scene"
    parts = []
    for o in sorted(scene, key=lambda o: o.cell):
        shape, colour, size, cell = o.words()
        where = {"middle": "in the middle"}.get(cell, f"at the {cell}")
        parts.append(f"a {size} {colour} {shape} {where}")
    return " and ".join(parts)
