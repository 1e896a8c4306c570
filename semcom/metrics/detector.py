"""Semantic fidelity on ShapesWorld-Complex: a small detector reads objects back with
boxes and attributes; metrics score them against the truth.

The detector (:class:`ObjectDetector`) is a CenterNet-style CNN trained on clean
ShapesWorld-Complex training scenes (``python -m semcom.metrics.train_detector``): at
stride 4 it predicts a centre heat map, the centre's sub-cell offset, the box size and the
shape, colour, size-class and texture logits of an object centred there. It is for scoring
only: no transmitter or receiver imports this module. Measured accuracy:
``weights/detector/detector_eval.json`` and docs/metrics.md.

Matching rule (:func:`match_boxes`): read objects are paired one-to-one with true ones;
a pair is admissible when the boxes overlap with IoU ≥ 0.5. Among all one-to-one pairings
of admissible pairs the one with the most pairs is chosen, then the most agreeing
attributes, then the largest total IoU (Hungarian algorithm). An *exact* pair agrees on
shape, colour, size class and texture. Unpaired read objects are hallucinations.

Metrics (:func:`detection_scores`), pooled over all images: ``semantic_accuracy`` (the
mean of the four attribute accuracies), ``f1`` (strict object F1:
precision = exact / read, recall = exact / true), ``precision``, ``recall``,
``shape/colour/size/texture_accuracy`` (true objects whose pair has it right; a missed
object is wrong), ``count_accuracy`` (images read with the right number of objects),
``relation_accuracy`` (for every two paired true objects whose box centres are ≥ 4 px
apart horizontally — resp. vertically — whether the read boxes put them the same way
round), ``hallucination_rate`` (unpaired reads over reads) and
``hallucinations_per_image``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from scipy.optimize import linear_sum_assignment
from torch import nn

from semcom.data.complex import COLOURS, SHAPES, SIZES, TEXTURES, ComplexObject
from semcom.errors import SemcomError
from semcom.metrics.semantic import object_fields, precision_recall_f1, rate

#: Where the shipped detector lives (config.json + diffusion_pytorch_model.safetensors).
DEFAULT_DETECTOR_DIR = Path(__file__).parent / "weights" / "detector"
#: Output stride of the detector's maps (128×128 images → 32×32 maps).
STRIDE = 4
#: Channels of the output map: heat, offset (2), log box size (2), then attribute logits.
HEADS: tuple[tuple[str, int], ...] = (
    ("heat", 1),
    ("offset", 2),
    ("size_wh", 2),
    ("shape", len(SHAPES)),
    ("colour", len(COLOURS)),
    ("size", len(SIZES)),
    ("texture", len(TEXTURES)),
)
#: The attributes an exact pair must agree on.
ATTRIBUTES: tuple[str, ...] = ("shape", "colour", "size", "texture")
#: Centres closer than this (pixels, along an axis) carry no left/right (above/below) relation.
RELATION_MIN_PX = 4.0


def _slices() -> dict[str, slice]:
    out, start = {}, 0
    for name, n in HEADS:
        out[name] = slice(start, start + n)
        start += n
    return out


SLICES = _slices()
OUT_CHANNELS = sum(n for _, n in HEADS)


@dataclass(frozen=True)
class ReadObject:
    """An object read from an image: attribute indices (as :class:`ComplexObject`), its
    box (x0, y0, x1, y1) in pixels and the detector's confidence in [0, 1]."""

    shape: int
    colour: int
    size: int
    texture: int
    box: tuple[float, float, float, float]
    score: float = 1.0


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
        nn.GroupNorm(8, c_out),
        nn.SiLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.GroupNorm(8, c_out),
        nn.SiLU(),
    )


class ObjectDetector(ModelMixin, ConfigMixin):
    """CNN over [B,3,S,S] images in [0,1] → output map [B, OUT_CHANNELS, S/4, S/4].

    An encoder of 3×3 convolution blocks (GroupNorm, SiLU) down to stride 32 and a
    decoder back up to stride 4 with skip connections (a small U-Net), then one 3×3
    convolution and a 1×1 projection onto :data:`HEADS`. Images of another size are
    resized to ``image_size`` first. ``threshold``: the heat a centre needs to be read
    (chosen on validation scenes by the training script).
    """

    @register_to_config
    def __init__(
        self,
        channels: tuple[int, ...] = (32, 64, 96, 128),
        stem: int = 24,
        image_size: int = 128,
        threshold: float = 0.3,
    ) -> None:
        super().__init__()
        self.inlet = _block(3, stem, 2)  # stride 2
        downs, c_in = [], stem
        for c in channels:  # strides 4, 8, 16, 32
            downs.append(_block(c_in, c, 2))
            c_in = c
        self.downs = nn.ModuleList(downs)
        ups = []
        for c_skip in reversed(channels[:-1]):  # back to stride 4
            ups.append(_block(c_in + c_skip, c_skip, 1))
            c_in = c_skip
        self.ups = nn.ModuleList(ups)
        self.head = nn.Sequential(
            nn.Conv2d(c_in, c_in, 3, padding=1), nn.SiLU(), nn.Conv2d(c_in, OUT_CHANNELS, 1)
        )
        with torch.no_grad():  # start with a low heat everywhere (CenterNet's prior)
            self.head[-1].bias[SLICES["heat"]] = -2.2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] float in [0,1] → [B, OUT_CHANNELS, S/4, S/4] (raw logits/regressions)."""
        size = self.config.image_size
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, (size, size), mode="bilinear", antialias=True)
        x = self.inlet(images * 2 - 1)
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        for up, skip in zip(self.ups, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = up(torch.cat([x, skip], 1))
        return self.head(x)

    @torch.no_grad()
    def read(
        self, images: torch.Tensor, batch_size: int = 64, threshold: float | None = None
    ) -> list[list[ReadObject]]:
        """Read the objects of [B,3,H,W] images in [0,1]: one list per image (boxes in
        the input's pixels; ``threshold`` defaults to the config's)."""
        threshold = self.config.threshold if threshold is None else threshold
        maps = torch.cat(
            [self(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        )
        scale = images.shape[-1] / self.config.image_size
        return decode_maps(maps, threshold, scale)


def decode_maps(
    maps: torch.Tensor, threshold: float = 0.3, scale: float = 1.0
) -> list[list[ReadObject]]:
    """Output maps [B, OUT_CHANNELS, h, w] → objects per image: every local maximum (3×3)
    of the heat above ``threshold``, with the box and attributes read at that cell."""
    heat = torch.sigmoid(maps[:, SLICES["heat"]])[:, 0]
    peaks = (heat == F.max_pool2d(heat[:, None], 3, 1, 1)[:, 0]) & (heat > threshold)
    off = maps[:, SLICES["offset"]].sigmoid()
    wh = maps[:, SLICES["size_wh"]].exp() * STRIDE
    attrs = {name: maps[:, SLICES[name]].argmax(1) for name in ATTRIBUTES}
    out = []
    for b in range(maps.shape[0]):
        objs = []
        ys, xs = torch.nonzero(peaks[b], as_tuple=True)
        for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
            cx = (x + float(off[b, 0, y, x])) * STRIDE
            cy = (y + float(off[b, 1, y, x])) * STRIDE
            w, h = float(wh[b, 0, y, x]), float(wh[b, 1, y, x])
            box = (
                (cx - w / 2) * scale,
                (cy - h / 2) * scale,
                (cx + w / 2) * scale,
                (cy + h / 2) * scale,
            )
            objs.append(
                ReadObject(
                    *(int(attrs[name][b, y, x]) for name in ATTRIBUTES),
                    box=box,
                    score=float(heat[b, y, x]),
                )
            )
        out.append(sorted(objs, key=lambda o: -o.score))
    return out


def detector_targets(boxes: Sequence[np.ndarray], attrs: Sequence[np.ndarray], size: int = 128):
    """Per-image truth → training targets at stride :data:`STRIDE`.

    ``boxes[b]`` float [n,4] (x0, y0, x1, y1 pixels), ``attrs[b]`` int [n,4] (shape, colour,
    size, texture). Returns (heat [B,h,w] float: a Gaussian bump per object centre, peak 1;
    index [B,K,3] int64 (b, y, x of each object's centre cell; K objects over the batch);
    regression [K,4] float (offset x, y in cells; log width, height in cells); labels
    [K,4] int64).
    """
    h = w = size // STRIDE
    heat = np.zeros((len(boxes), h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    index, reg, labels = [], [], []
    for b, (bx, at) in enumerate(zip(boxes, attrs, strict=True)):
        for (x0, y0, x1, y1), a in zip(bx, at, strict=True):
            cx, cy = (x0 + x1) / 2 / STRIDE, (y0 + y1) / 2 / STRIDE
            bw, bh = (x1 - x0) / STRIDE, (y1 - y0) / STRIDE
            ix, iy = min(int(cx), w - 1), min(int(cy), h - 1)
            sigma = max(0.5, min(bw, bh) / 6)
            bump = np.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma**2))
            np.maximum(heat[b], bump, out=heat[b])
            index.append((b, iy, ix))
            reg.append((cx - ix, cy - iy, math.log(bw), math.log(bh)))
            labels.append(tuple(int(v) for v in a))
    return (
        torch.from_numpy(heat),
        torch.tensor(index, dtype=torch.int64).reshape(-1, 3),
        torch.tensor(reg, dtype=torch.float32).reshape(-1, 4),
        torch.tensor(labels, dtype=torch.int64).reshape(-1, 4),
    )


def detector_loss(maps: torch.Tensor, targets: tuple) -> torch.Tensor:
    """CenterNet's focal loss on the heat map (α 2, β 4, over the number of objects), L1 on
    the offset and log size at each object's centre cell, cross-entropy on its attributes."""
    heat_t, index, reg_t, labels = targets
    pred = torch.sigmoid(maps[:, 0]).clamp(1e-4, 1 - 1e-4)
    pos = heat_t == 1
    pos_loss = -(torch.log(pred) * (1 - pred) ** 2)[pos].sum()
    neg_loss = -(torch.log(1 - pred) * pred**2 * (1 - heat_t) ** 4)[~pos].sum()
    k = max(int(index.shape[0]), 1)
    loss = (pos_loss + neg_loss) / k
    if index.shape[0] == 0:
        return loss
    at = maps[index[:, 0], :, index[:, 1], index[:, 2]]  # [K, OUT_CHANNELS]
    loss = loss + F.l1_loss(at[:, SLICES["offset"]].sigmoid(), reg_t[:, :2])
    loss = loss + F.l1_loss(at[:, SLICES["size_wh"]], reg_t[:, 2:])
    for i, name in enumerate(ATTRIBUTES):
        loss = loss + F.cross_entropy(at[:, SLICES[name]], labels[:, i])
    return loss


def load_detector(path: str | Path | None = None) -> ObjectDetector:
    """The detector saved in ``path`` (default: the shipped one), in eval mode on the CPU."""
    path = Path(path) if path is not None else DEFAULT_DETECTOR_DIR
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise SemcomError(
            f"no object detector in {path}: train one with `python -m "
            f"semcom.metrics.train_detector --out {path}`."
        )
    return ObjectDetector.from_pretrained(
        str(path), low_cpu_mem_usage=False, use_safetensors=True
    ).eval()


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a [n,4] and b [m,4] (x0, y0, x1, y1) → [n, m]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _attrs(o: ComplexObject | ReadObject) -> tuple[int, int, int, int]:
    return o.shape, o.colour, o.size, o.texture


def match_boxes(
    truth: Sequence[ComplexObject], read: Sequence[ReadObject], min_iou: float = 0.5
) -> list[tuple[int, int]]:
    """One-to-one (true index, read index) pairs with IoU ≥ ``min_iou``: the most pairs,
    then the most agreeing attributes, then the largest IoU (see the module docstring)."""
    if not truth or not read:
        return []
    iou = box_iou(np.array([o.box for o in truth], float), np.array([o.box for o in read], float))
    agree = np.array(
        [
            [sum(x == y for x, y in zip(_attrs(t), _attrs(r), strict=True)) for r in read]
            for t in truth
        ]
    )
    ok = iou >= min_iou
    # lexicographic: a pair (100) ≫ an agreeing attribute (1 each, ≤ 4) ≫ IoU (< 1)
    gain = np.where(ok, 100.0 + agree + iou, 0.0)
    rows, cols = linear_sum_assignment(-gain)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if ok[r, c]]


@dataclass
class DetectionCounts:
    """Counts behind :func:`detection_scores`; they add up over images."""

    images: int = 0
    objects_true: int = 0
    objects_read: int = 0
    paired: int = 0
    exact: int = 0
    shape_ok: int = 0
    colour_ok: int = 0
    size_ok: int = 0
    texture_ok: int = 0
    count_ok: int = 0
    relations: int = 0
    relations_ok: int = 0

    @property
    def hallucinated(self) -> int:
        """Objects read back and paired with no true object."""
        return self.objects_read - self.paired

    @property
    def attributes_ok(self) -> int:
        """Right attributes of paired objects, all four summed."""
        return self.shape_ok + self.colour_ok + self.size_ok + self.texture_ok

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )


def _centre(box: Sequence[float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def count_detections(truth: Sequence[ComplexObject], read: Sequence[ReadObject]) -> DetectionCounts:
    """The counts of one image."""
    pairs = match_boxes(truth, read)
    c = DetectionCounts(1, len(truth), len(read), len(pairs), count_ok=int(len(truth) == len(read)))
    for t, r in pairs:
        same = [x == y for x, y in zip(_attrs(truth[t]), _attrs(read[r]), strict=True)]
        c.shape_ok += same[0]
        c.colour_ok += same[1]
        c.size_ok += same[2]
        c.texture_ok += same[3]
        c.exact += all(same)
    for i, (ti, ri) in enumerate(pairs):
        for tj, rj in pairs[i + 1 :]:
            (tx1, ty1), (tx2, ty2) = _centre(truth[ti].box), _centre(truth[tj].box)
            (rx1, ry1), (rx2, ry2) = _centre(read[ri].box), _centre(read[rj].box)
            for dt, dr in ((tx1 - tx2, rx1 - rx2), (ty1 - ty2, ry1 - ry2)):
                if abs(dt) >= RELATION_MIN_PX:
                    c.relations += 1
                    c.relations_ok += int(dt * dr > 0)
    return c


def scores_from_detection_counts(c: DetectionCounts) -> dict[str, float]:
    """Pooled rates from counts (see the module docstring)."""
    precision, recall, f1 = precision_recall_f1(c.exact, c.objects_read, c.objects_true)
    hall = c.hallucinated
    return {
        "semantic_accuracy": rate(c.attributes_ok, len(ATTRIBUTES) * c.objects_true, 1.0),
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "shape_accuracy": rate(c.shape_ok, c.objects_true, 1.0),
        "colour_accuracy": rate(c.colour_ok, c.objects_true, 1.0),
        "size_accuracy": rate(c.size_ok, c.objects_true, 1.0),
        "texture_accuracy": rate(c.texture_ok, c.objects_true, 1.0),
        "count_accuracy": rate(c.count_ok, c.images, 1.0),
        "relation_accuracy": rate(c.relations_ok, c.relations, 1.0),
        "hallucination_rate": rate(hall, c.objects_read, 0.0),
        "hallucinations_per_image": rate(hall, c.images, 0.0),
    }


def detection_scores(
    truth: Sequence[Sequence[ComplexObject]], read: Sequence[Sequence[ReadObject]]
) -> tuple[dict[str, float], DetectionCounts]:
    """Pooled scores over images, with the counts behind them."""
    if len(truth) != len(read):
        raise ValueError(f"{len(truth)} true scenes but {len(read)} read")
    total = DetectionCounts()
    for t, r in zip(truth, read, strict=True):
        total = total + count_detections(t, r)
    return scores_from_detection_counts(total), total


def image_fields(c: DetectionCounts) -> dict[str, float]:
    """The per-image fields of the ``semantic`` metric (as
    :func:`semcom.metrics.semantic.image_fields`) from one image's detection counts."""
    return object_fields(
        c.attributes_ok, len(ATTRIBUTES), c.objects_true, c.objects_read, c.exact, c.hallucinated
    )
