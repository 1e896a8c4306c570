"""Which reader scores a world's semantics: the ShapesWorld probe (per grid cell) or the
ShapesWorld-Complex detector (boxes and attributes). Scoring only: neither end of the
link imports this module."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any


def reader_kind(truth: Sequence[object]) -> str:
    """``"complex"`` when ``truth`` holds ShapesWorld-Complex objects, else ``"shapes"``."""
    from semcom.data.complex import ComplexObject

    return "complex" if any(isinstance(o, ComplexObject) for o in truth) else "shapes"


def load_reader(dataset: str) -> Any:
    """The reader of a named data set (:mod:`semcom.data.datasets`), in eval mode; a
    SemcomError says how to train it when its weights are missing."""
    if dataset == "shapes-complex":
        from semcom.metrics.detector import load_detector

        return load_detector()
    from semcom.metrics.semantic import load_probe

    return load_probe()


@lru_cache(maxsize=2)
def cached_reader(kind: str) -> tuple[Any | None, str]:
    """The reader for ``kind`` (see :func:`reader_kind`), loaded once, or None and why."""
    try:
        return load_reader("shapes-complex" if kind == "complex" else "shapes"), "ok"
    except Exception as err:  # noqa: BLE001 - missing weights raise SemcomError
        return None, str(err)


def image_counts(reader: Any, images: Any, truths: Sequence[Sequence[object]]) -> list:
    """Per image, the counts of what ``reader`` reads from ``images`` [B,3,H,W] in [0,1]
    against ``truths``: :class:`~semcom.metrics.semantic.SemanticCounts` for ShapesWorld,
    :class:`~semcom.metrics.detector.DetectionCounts` for ShapesWorld-Complex."""
    from semcom.errors import SemcomError
    from semcom.metrics.detector import ObjectDetector, count_detections
    from semcom.metrics.semantic import count_scene

    if images.dim() != 4 or images.shape[1] != 3:
        raise SemcomError(f"images must be [B, 3, H, W]; got {tuple(images.shape)}.")
    if len(truths) != images.shape[0]:
        raise SemcomError(f"{len(truths)} ground-truth scenes for {images.shape[0]} images.")
    reads = reader.read(images.float().clamp(0, 1).to(reader.device))
    count = count_detections if isinstance(reader, ObjectDetector) else count_scene
    return [count(t, r) for t, r in zip(truths, reads, strict=True)]
