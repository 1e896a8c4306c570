"""Semantic (task) fidelity on ShapesWorld: a probe reads objects back, metrics score them.

The probe (:class:`SemanticProbe`) is a small CNN trained on ShapesWorld training scenes
with their clean ground truth (``python -m semcom.metrics.train_probe``; the shipped one
with ``--augment 0.5``: half of its training inputs blurred, JPEG-coded, resampled or
noised, so codec artefacts alone do not make it misread a legible object). It reads, for
each cell of the 3×3 grid, whether an object is there and its shape, colour and size. It
is for scoring only: the transmitter and receiver never import this module. Measured
accuracy: ``weights/probe/probe_eval.json`` and docs/metrics.md.

Matching rule (:func:`match_objects`): the objects read back from an image are paired
one-to-one with its true objects. A pair is admissible when the two objects agree on at
least two of the four attributes (shape, colour, size, cell). Among all one-to-one
pairings of admissible pairs, the one with the most pairs is chosen, and among those the
one with the fewest attribute disagreements (Hungarian algorithm, ties broken by input
order). A true object left unpaired is *missed*; an object read back and left unpaired
is a *hallucination*.

Metrics (:func:`semantic_scores`), pooled over all images:

- ``shape/colour/size/position_accuracy``: true objects whose paired object has the same
  shape / colour / size / cell, over all true objects (a missed object counts as wrong
  for every attribute).
- ``count_accuracy``: images where as many objects are read back as there are, over all
  images.
- ``precision/recall/f1``: an exact match is a pair that agrees on all four attributes;
  precision = exact / read, recall = exact / true, F1 their harmonic mean (1 when both
  lists are empty everywhere).
- ``hallucination_rate``: hallucinations over all objects read back (0 when nothing is
  read back); ``hallucinations_per_image`` the same count over images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from scipy.optimize import linear_sum_assignment
from torch import nn

from semcom.data.captions import CELLS, COLOURS, SHAPES, SIZES, ShapeObject
from semcom.errors import SemcomError

#: Where the shipped probe lives (config.json + diffusion_pytorch_model.safetensors).
DEFAULT_PROBE_DIR = Path(__file__).parent / "weights" / "probe"
#: Logits per grid cell: presence, then shape, colour and size scores.
PER_CELL = 1 + len(SHAPES) + len(COLOURS) + len(SIZES)
#: The attributes scored per object, in :class:`ShapeObject` field order.
ATTRIBUTES: tuple[str, ...] = ("shape", "colour", "size", "cell")


class SemanticProbe(ModelMixin, ConfigMixin):
    """CNN over [B,3,S,S] images in [0,1] → per-cell logits [B, 9, PER_CELL].

    A stack of 3×3 convolutions (GroupNorm, SiLU; ``strides`` per layer) gives a feature
    map that is average- and max-pooled onto the 3×3 grid; a per-cell MLP (1×1
    convolutions shared by all cells) turns each cell's features into presence, shape,
    colour and size logits. Images of another size are resized to ``image_size`` first.
    """

    @register_to_config
    def __init__(
        self,
        channels: tuple[int, ...] = (16, 32, 64, 64, 128),
        strides: tuple[int, ...] = (2, 2, 2, 1, 2),
        hidden: int = 128,
        image_size: int = 128,
    ) -> None:
        super().__init__()
        if len(channels) != len(strides):
            raise ValueError("channels and strides must have the same length")
        layers: list[nn.Module] = []
        c_in = 3
        for c, s in zip(channels, strides, strict=True):
            layers += [nn.Conv2d(c_in, c, 3, stride=s, padding=1), nn.GroupNorm(8, c), nn.SiLU()]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Conv2d(2 * c_in, hidden, 1), nn.SiLU(), nn.Conv2d(hidden, PER_CELL, 1)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] float in [0,1] → logits [B, 9, PER_CELL] (cells in reading order)."""
        size = self.config.image_size
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, (size, size), mode="bilinear", antialias=True)
        feat = self.body(images * 2 - 1)
        pooled = torch.cat([F.adaptive_avg_pool2d(feat, 3), F.adaptive_max_pool2d(feat, 3)], 1)
        return self.head(pooled).flatten(2).transpose(1, 2)

    @torch.no_grad()
    def read(self, images: torch.Tensor, batch_size: int = 64) -> list[list[ShapeObject]]:
        """Read the objects of [B,3,H,W] images in [0,1]: one list per image, by cell."""
        logits = torch.cat(
            [self(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        )
        return decode_logits(logits)


def decode_logits(logits: torch.Tensor) -> list[list[ShapeObject]]:
    """Per-cell logits [B, 9, PER_CELL] → objects per image (presence logit > 0)."""
    s1 = 1 + len(SHAPES)
    c1 = s1 + len(COLOURS)
    present = logits[..., 0] > 0
    shape = logits[..., 1:s1].argmax(-1)
    colour = logits[..., s1:c1].argmax(-1)
    size = logits[..., c1:].argmax(-1)
    out = []
    for b in range(logits.shape[0]):
        out.append(
            [
                ShapeObject(int(shape[b, c]), int(colour[b, c]), int(size[b, c]), c)
                for c in range(len(CELLS))
                if present[b, c]
            ]
        )
    return out


def probe_targets(scenes: Sequence[Sequence[ShapeObject]]) -> torch.Tensor:
    """True objects → per-cell targets, int64 [B, 9, 4]: (present, shape, colour, size).

    Empty cells hold (0, -100, -100, -100), the ignore index of ``F.cross_entropy``.
    """
    t = torch.full((len(scenes), len(CELLS), 4), -100, dtype=torch.int64)
    t[..., 0] = 0
    for b, scene in enumerate(scenes):
        for o in scene:
            t[b, o.cell] = torch.tensor([1, o.shape, o.colour, o.size])
    return t


def probe_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Training loss: presence BCE per cell + shape/colour/size CE on occupied cells."""
    s1 = 1 + len(SHAPES)
    c1 = s1 + len(COLOURS)
    loss = F.binary_cross_entropy_with_logits(logits[..., 0], targets[..., 0].float())
    for lo, hi, k in ((1, s1, 1), (s1, c1, 2), (c1, PER_CELL, 3)):
        loss = loss + F.cross_entropy(logits[..., lo:hi].flatten(0, 1), targets[..., k].flatten())
    return loss


def load_probe(path: str | Path | None = None) -> SemanticProbe:
    """The probe saved in ``path`` (default: the shipped one), in eval mode on the CPU."""
    path = Path(path) if path is not None else DEFAULT_PROBE_DIR
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise SemcomError(
            f"no semantic probe in {path}: train one with `python -m semcom.metrics.train_probe "
            f"--out {path}` (config.json and diffusion_pytorch_model.safetensors)."
        )
    return SemanticProbe.from_pretrained(
        str(path), low_cpu_mem_usage=False, use_safetensors=True
    ).eval()


def match_objects(
    truth: Sequence[ShapeObject], read: Sequence[ShapeObject]
) -> list[tuple[int, int]]:
    """Pair true and read-back objects (the module's matching rule) → [(i_true, i_read)]."""
    if not truth or not read:
        return []
    diff = np.array(
        [[sum(getattr(t, a) != getattr(r, a) for a in ATTRIBUTES) for r in read] for t in truth]
    )
    admissible = diff <= len(ATTRIBUTES) // 2
    # One more pair always outweighs any change in disagreements (at most 4 per pair).
    bonus = 1 + len(ATTRIBUTES) * min(len(truth), len(read))
    cost = np.where(admissible, diff - bonus, 0)
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if admissible[i, j]]


@dataclass(frozen=True)
class SemanticCounts:
    """Counts behind the metrics, for one image or summed over many (``a + b``)."""

    images: int = 0
    objects_true: int = 0
    objects_read: int = 0
    matched: int = 0
    exact: int = 0
    shape_ok: int = 0
    colour_ok: int = 0
    size_ok: int = 0
    position_ok: int = 0
    count_ok: int = 0
    hallucinated: int = 0

    def __add__(self, other: SemanticCounts) -> SemanticCounts:
        return SemanticCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def count_scene(truth: Sequence[ShapeObject], read: Sequence[ShapeObject]) -> SemanticCounts:
    """The counts of one image: its true objects and the objects read back from it."""
    pairs = match_objects(truth, read)
    same = {
        a: sum(getattr(truth[i], a) == getattr(read[j], a) for i, j in pairs) for a in ATTRIBUTES
    }
    exact = sum(truth[i] == read[j] for i, j in pairs)
    return SemanticCounts(
        images=1,
        objects_true=len(truth),
        objects_read=len(read),
        matched=len(pairs),
        exact=exact,
        shape_ok=same["shape"],
        colour_ok=same["colour"],
        size_ok=same["size"],
        position_ok=same["cell"],
        count_ok=int(len(truth) == len(read)),
        hallucinated=len(read) - len(pairs),
    )


def image_fields(c: SemanticCounts) -> dict[str, float]:
    """The per-image fields of the ``semantic`` metric from one image's counts: attribute
    accuracy and exact recall (1 for an empty scene), hallucination rate (0 when nothing is
    read back) and the counts they come from."""
    attrs = c.shape_ok + c.colour_ok + c.size_ok + c.position_ok
    return object_fields(
        attrs, len(ATTRIBUTES), c.objects_true, c.objects_read, c.exact, c.hallucinated
    )


def object_fields(
    attributes_ok: int,
    per_object: int,
    objects_true: int,
    objects_read: int,
    exact: int,
    hallucinated: int,
) -> dict[str, float]:
    """The ``semantic`` metric's per-image fields from one image's counts, for any world:
    ``attributes_ok`` right attributes of ``per_object`` scored per true object."""
    return {
        "attribute_accuracy": rate(attributes_ok, per_object * objects_true, 1.0),
        "exact_recall": rate(exact, objects_true, 1.0),
        "hallucination_rate": rate(hallucinated, objects_read, 0.0),
        "objects_true": objects_true,
        "objects_read": objects_read,
        "exact": exact,
        "hallucinated": hallucinated,
    }


@dataclass(frozen=True)
class SemanticScores:
    """Semantic fidelity over a set of images; every rate in [0, 1]."""

    shape_accuracy: float
    colour_accuracy: float
    size_accuracy: float
    position_accuracy: float
    count_accuracy: float
    precision: float
    recall: float
    f1: float
    hallucination_rate: float
    hallucinations_per_image: float
    counts: SemanticCounts

    @property
    def semantic_accuracy(self) -> float:
        """The mean of shape, colour, size and position accuracy over true objects."""
        return (
            self.shape_accuracy + self.colour_accuracy + self.size_accuracy + self.position_accuracy
        ) / 4

    def as_dict(self) -> dict[str, float]:
        """The rates, by name (without the counts)."""
        out = asdict(self)
        out.pop("counts")
        return out


def rate(num: float, den: float, empty: float) -> float:
    """``num / den``, or ``empty`` when ``den`` is 0."""
    return num / den if den else empty


def precision_recall_f1(exact: float, read: float, true: float) -> tuple[float, float, float]:
    """Precision (exact / read, 1 when nothing is read), recall (exact / true, 1 when
    nothing is there) and their harmonic mean (0 when both are 0)."""
    precision = rate(exact, read, 1.0)
    recall = rate(exact, true, 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def scores_from_counts(c: SemanticCounts) -> SemanticScores:
    """Turn summed counts into rates (see the module docstring for the definitions)."""
    precision, recall, f1 = precision_recall_f1(c.exact, c.objects_read, c.objects_true)
    return SemanticScores(
        shape_accuracy=rate(c.shape_ok, c.objects_true, 1.0),
        colour_accuracy=rate(c.colour_ok, c.objects_true, 1.0),
        size_accuracy=rate(c.size_ok, c.objects_true, 1.0),
        position_accuracy=rate(c.position_ok, c.objects_true, 1.0),
        count_accuracy=rate(c.count_ok, c.images, 1.0),
        precision=precision,
        recall=recall,
        f1=f1,
        hallucination_rate=rate(c.hallucinated, c.objects_read, 0.0),
        hallucinations_per_image=rate(c.hallucinated, c.images, 0.0),
        counts=c,
    )


def semantic_scores(
    truths: Sequence[Sequence[ShapeObject]], reads: Sequence[Sequence[ShapeObject]]
) -> SemanticScores:
    """Score the objects read back from each image against its true objects (pooled)."""
    if len(truths) != len(reads):
        raise SemcomError(f"{len(truths)} ground-truth scenes for {len(reads)} read-back ones.")
    total = SemanticCounts()
    for truth, read in zip(truths, reads, strict=True):
        total = total + count_scene(truth, read)
    return scores_from_counts(total)


def semantic_metrics(
    images: torch.Tensor,
    truths: Sequence[Sequence[ShapeObject]],
    probe: SemanticProbe | None = None,
) -> tuple[SemanticScores, list[SemanticCounts]]:
    """Read [B,3,H,W] images in [0,1] with the probe and score them against ``truths``.

    Returns the pooled scores and the counts per image (for confidence intervals).
    """
    from semcom.metrics.readers import image_counts

    probe = probe if probe is not None else load_probe()
    per_image = image_counts(probe, images, truths)
    total = SemanticCounts()
    for c in per_image:
        total = total + c
    return scores_from_counts(total), per_image


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % for z = 1.96); (0, 1) for no trials."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    den = 1 + z * z / trials
    mid = (p + z * z / (2 * trials)) / den
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / den
    return max(0.0, mid - half), min(1.0, mid + half)
