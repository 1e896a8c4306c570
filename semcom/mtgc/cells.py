"""Scenes read cell by cell: what the tiny-style codec's captioner, SPW task loss and scene
sketch learn to say about each cell of a G×G grid, per world.

A :class:`CellLayout` names the grid and the categorical attributes read per cell after
one presence logit, so per-cell logits are ``[B, G², 1 + Σ groups]`` and per-cell truth is
int64 ``[B, G², 1 + len(groups)]`` (presence 0/1, then one class per group, ``-100``, the
ignore index of ``F.cross_entropy``, where a cell is empty). The first three groups are
always (shape, colour, size): the sketch's templates and fills depend on them.

- ``shapes``: ShapesWorld's 3×3 grid of object places, (6 shapes, 8 colours, 2 sizes);
  an object's cell is its place (the same targets the scoring probe trains on), captions
  canonical.
- ``shapes-complex``: ShapesWorld-Complex on a 4×4 grid of 32-pixel cells (at 128²),
  (8 shapes, 10 colours, 3 sizes, 3 textures, 4 row-offset and 4 column-offset bins of
  8 pixels within the cell, 16 rotation bins over the shape's period with its stripes,
  :data:`~semcom.data.complex.ROTATION_PERIOD`). An object belongs to the cell holding
  its centre; where two centres share a cell the one with more visible pixels is kept (``python -m
  semcom.mtgc.cells`` measures how many are lost that way); captions are
  :func:`~semcom.data.complex.concise_caption` of the objects read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from semcom.errors import SemcomError

#: Groups that say where and how an object lies rather than what it is.
_PLACEMENT = frozenset({"row offset", "column offset", "rotation"})


@dataclass(frozen=True)
class CellLayout:
    """A world's per-cell reading: ``grid`` cells per side, ``groups`` class counts (named
    ``names``) after the presence logit, on a ``canvas``-pixel square image; with a
    rotation group, ``periods`` holds each shape's symmetry period (radians)."""

    world: str
    grid: int
    groups: tuple[int, ...]
    names: tuple[str, ...]
    canvas: int = 128
    periods: tuple[float, ...] = ()

    @property
    def cells(self) -> int:
        """Cells per image (G²)."""
        return self.grid * self.grid

    @property
    def per_cell(self) -> int:
        """Logits per cell: presence + every group."""
        return 1 + sum(self.groups)

    @property
    def attributes(self) -> int:
        """How many groups, from the first, are the object's attributes (what a cell must read
        right to count in :meth:`scores`' ``f1``); placement groups (offsets, rotation)
        follow them."""
        return sum(1 for n in self.names if n not in _PLACEMENT)

    @property
    def rotation_bins(self) -> int:
        """Bins of the rotation group (0 when the layout has none)."""
        return self.groups[self.names.index("rotation")] if "rotation" in self.names else 0

    @property
    def offset_bins(self) -> int:
        """Bins per axis of the within-cell offset groups (0 when the layout has none)."""
        return self.groups[self.names.index("row offset")] if "row offset" in self.names else 0

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Presence BCE per cell + each group's cross-entropy on occupied cells.

        logits [B,G²,per_cell] float, targets [B,G²,1+len(groups)] int64 → scalar.
        """
        loss = F.binary_cross_entropy_with_logits(logits[..., 0], targets[..., 0].float())
        lo = 1
        for k, size in enumerate(self.groups, start=1):
            part = logits[..., lo : lo + size].flatten(0, 1)
            loss = loss + F.cross_entropy(part, targets[..., k].flatten())
            lo += size
        return loss

    def classes(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits [B,G²,per_cell] → int64 [B,G²,1+len(groups)]: presence (logit > 0), then
        each group's most likely class."""
        out = [(logits[..., 0] > 0).long()]
        lo = 1
        for size in self.groups:
            out.append(logits[..., lo : lo + size].argmax(-1))
            lo += size
        return torch.stack(out, dim=-1)

    def scores(self, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """How well per-cell logits [B,G²,P] read the truth [B,G²,1+groups], cell by cell:
        ``f1`` (a cell read right: present in both with every attribute group equal, the
        placement groups not counted), each group's ``<name>_accuracy`` over the occupied cells, and
        ``count_accuracy`` (images whose number of occupied cells is right)."""
        pred = self.classes(logits)
        true_p, read_p = targets[..., 0] == 1, pred[..., 0] == 1
        n_attr = self.attributes
        same = (pred[..., 1 : 1 + n_attr] == targets[..., 1 : 1 + n_attr]).all(-1)
        exact = int((true_p & read_p & same).sum())
        n_true, n_read = int(true_p.sum()), int(read_p.sum())
        precision = exact / n_read if n_read else 1.0
        recall = exact / n_true if n_true else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out = {"f1": f1}
        for k, name in enumerate(self.names, start=1):
            right = (pred[..., k] == targets[..., k])[true_p]
            out[f"{name.replace(' ', '_')}_accuracy"] = (
                float(right.float().mean()) if n_true else 1.0
            )
        out["count_accuracy"] = float((true_p.sum(-1) == read_p.sum(-1)).float().mean())
        return out

    def targets(self, scenes: Sequence[Sequence]) -> torch.Tensor:
        """True objects per scene → per-cell targets int64 [B,G²,1+len(groups)]."""
        if self.world == "shapes":
            return _shapes_targets(self, scenes)
        return _complex_targets(self, scenes)

    def placements(self, scenes: Sequence[Sequence]) -> torch.Tensor:
        """ShapesWorld-Complex objects → each cell's exact placement, float32 [B,G²,4]: the
        object's centre in pixels from its offset bins' centre (row, column), its angle
        within its shape's period (radians) and its radius over its size class's middle
        radius; an empty cell holds (0, 0, 0, 1). The cell's object is the one
        :meth:`targets` keeps. What :meth:`~semcom.mtgc.sketch.SceneSketch.paint_loss`
        trains the overlay painter with (truth: training only)."""
        if self.world == "shapes":
            raise SemcomError("ShapesWorld's cells hold no placement.")
        from semcom.data.complex import SIZE_RADIUS, SIZES

        out = torch.zeros(len(scenes), self.cells, 4)
        out[..., 3] = 1.0
        for b, scene in enumerate(scenes):
            for k, o, (oy, ox, rot) in _kept_objects(self, scene):
                lo, hi = SIZE_RADIUS[SIZES[o.size]]
                cy, cx = self.bin_centre(k, oy, ox)
                out[b, k, 0] = o.cy - cy
                out[b, k, 1] = o.cx - cx
                out[b, k, 2] = rot
                out[b, k, 3] = o.radius / ((lo + hi) / 2)
        return out

    def bin_centre(self, cell: int, row_bin: int, col_bin: int) -> tuple[float, float]:
        """The canvas pixel (y, x) at the centre of a cell's row and column offset bins."""
        r, c = divmod(cell, self.grid)
        side, bins = self.canvas / self.grid, self.offset_bins
        return (r + (row_bin + 0.5) / bins) * side, (c + (col_bin + 0.5) / bins) * side

    def captions(self, logits: torch.Tensor) -> list[str]:
        """Per-cell logits [B,G²,per_cell] → the caption of what each image's cells hold."""
        classes = self.classes(logits)
        if self.world == "shapes":
            from semcom.data.captions import ShapeObject, canonical_caption

            out = []
            for row in classes.tolist():
                read = [ShapeObject(s, c, z, k) for k, (p, s, c, z) in enumerate(row) if p]
                out.append(canonical_caption(read))
            return out
        from semcom.data.complex import concise_caption

        return [concise_caption(objects) for objects in self.objects(classes)]

    def objects(self, classes: torch.Tensor) -> list[list]:
        """ShapesWorld-Complex cell classes [B,G²,8] → objects per image, placed at their
        offset bin's centre with their size class's middle radius, turned by their rotation
        bin's centre (front to back in cell order, all visible): what the concise caption
        of a read scene is made from."""
        from semcom.data.complex import ROTATION_PERIOD, SHAPES, SIZE_RADIUS, SIZES, ComplexObject

        turns = self.rotation_bins
        out = []
        for row in classes.tolist():
            objects = []
            for k, (present, shape, colour, size, texture, oy, ox, rot) in enumerate(row):
                if not present:
                    continue
                cy, cx = self.bin_centre(k, oy, ox)
                lo, hi = SIZE_RADIUS[SIZES[size]]
                objects.append(
                    ComplexObject(
                        shape=shape,
                        colour=colour,
                        size=size,
                        texture=texture,
                        cx=cx,
                        cy=cy,
                        radius=(lo + hi) / 2,
                        angle=(rot + 0.5) / turns * ROTATION_PERIOD[SHAPES[shape]],
                        depth=len(row) - k,
                    )
                )
            out.append(objects)
        return out


def _shapes_targets(layout: CellLayout, scenes: Sequence[Sequence]) -> torch.Tensor:
    """ShapesWorld objects (each in its own cell) → targets [B,9,4]."""
    t = torch.full((len(scenes), layout.cells, 4), -100, dtype=torch.int64)
    t[..., 0] = 0
    for b, scene in enumerate(scenes):
        for o in scene:
            t[b, o.cell] = torch.tensor([1, o.shape, o.colour, o.size])
    return t


def _kept_objects(layout: CellLayout, scene: Sequence) -> list[tuple[int, object, tuple]]:
    """The objects a ShapesWorld-Complex layout holds, one per cell (the most visible of
    those whose centre it holds): (cell, object, (row bin, column bin, angle within the
    shape's period in radians))."""
    from semcom.data.complex import ROTATION_PERIOD, SHAPES

    g, bins = layout.grid, layout.offset_bins
    cell = layout.canvas / g
    best: dict[int, float] = {}
    kept: dict[int, tuple[int, object, tuple]] = {}
    for o in scene:
        r = min(int(o.cy / cell), g - 1)
        c = min(int(o.cx / cell), g - 1)
        k = g * r + c
        seen = o.visible * math.pi * o.radius**2
        if seen <= best.get(k, -1.0):
            continue
        best[k] = seen
        oy = min(int((o.cy / cell - r) * bins), bins - 1)
        ox = min(int((o.cx / cell - c) * bins), bins - 1)
        period = ROTATION_PERIOD[SHAPES[o.shape]]
        kept[k] = (k, o, (oy, ox, o.angle % period if period else 0.0))
    return list(kept.values())


def _complex_targets(layout: CellLayout, scenes: Sequence[Sequence]) -> torch.Tensor:
    """ShapesWorld-Complex objects → targets [B,G²,8]; a cell keeps its most visible object."""
    from semcom.data.complex import ROTATION_PERIOD, SHAPES

    turns = layout.rotation_bins
    t = torch.full((len(scenes), layout.cells, 1 + len(layout.groups)), -100, dtype=torch.int64)
    t[..., 0] = 0
    for b, scene in enumerate(scenes):
        for k, o, (oy, ox, angle) in _kept_objects(layout, scene):
            period = ROTATION_PERIOD[SHAPES[o.shape]]
            rot = min(int(angle / period * turns), turns - 1) if period else 0
            t[b, k] = torch.tensor([1, o.shape, o.colour, o.size, o.texture, oy, ox, rot])
    return t


def _layouts() -> dict[str, CellLayout]:
    from semcom.data import complex as cx
    from semcom.data.captions import COLOURS, SHAPES, SIZES

    return {
        "shapes": CellLayout(
            "shapes", 3, (len(SHAPES), len(COLOURS), len(SIZES)), ("shape", "colour", "size")
        ),  # fmt: skip
        "shapes-complex": CellLayout(
            "shapes-complex",
            4,
            (len(cx.SHAPES), len(cx.COLOURS), len(cx.SIZES), len(cx.TEXTURES), 4, 4, 16),
            ("shape", "colour", "size", "texture", "row offset", "column offset", "rotation"),
            periods=tuple(cx.ROTATION_PERIOD[s] for s in cx.SHAPES),
        ),
    }


def cell_layout(world: str) -> CellLayout:
    """The cell layout of a world (``shapes`` or ``shapes-complex``)."""
    layouts = _layouts()
    if world not in layouts:
        raise SemcomError(
            f"no cell layout for the world {world!r}; choose one of {', '.join(layouts)}."
        )
    return layouts[world]


def lost_share(world: str = "shapes-complex", scenes: int = 1000, split: str = "val") -> float:
    """The share of objects a layout cannot hold (another, more visible object's centre is in
    the same cell), over ``scenes`` scenes of ``split``."""
    from semcom.data.complex import ShapesWorldComplex

    layout = cell_layout(world)
    data = ShapesWorldComplex(split, n=scenes)
    kept = total = 0
    for i in range(scenes):
        objects = data[i].objects
        total += len(objects)
        kept += int(layout.targets([objects])[..., 0].sum())
    return 1 - kept / max(total, 1)


if __name__ == "__main__":
    share = lost_share()
    print(f"shapes-complex, 4×4 cells: {100 * share:.1f} % of objects lost to a more visible one")
