"""Per-point fidelity figures: every metric of a sweep, through the metric registry.

:func:`score` is the one place a sweep, ``semcom transmit`` and ``semcom evaluate``
compute their per-image figures. The metrics are data (:mod:`semcom.metrics.protocol`):
each states its fields, and the store keeps the built-in ones (:data:`FIGURES`) in
columns of their own and any other field in a JSON column (``figures``), so a new metric
needs no change to the store. The semantic figures need the ShapesWorld ground truth
(scoring only; neither end of the link sees it) and the trained probe; when either is
missing they are recorded as ``None`` and :func:`semantic_status` says why.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from semcom.errors import SemcomError
from semcom.metrics.registry import DEFAULT_METRICS, check_metrics, metric, unavailable

#: Semantic figures stored per point (``None`` when unavailable).
SEMANTIC_FIELDS = (
    "attribute_accuracy",
    "exact_recall",
    "hallucination_rate",
    "objects_true",
    "objects_read",
    "exact",
    "hallucinated",
)
#: The figures with columns of their own in the store (the default metrics' fields).
FIGURES = ("psnr", "ms_ssim", *SEMANTIC_FIELDS)
#: The store's column holding every other metric's fields (JSON object, NULL if none).
EXTRA = "figures"


def semantic_status() -> str:
    """``"ok"`` when semantic figures are computed, else the reason they are missing."""
    return metric("semantic").status()


def check_available(names: Sequence[str]) -> None:
    """SemcomError when a metric other than the default ones cannot score here (the
    default ``semantic`` one records None and says why instead)."""
    missing = {k: v for k, v in unavailable(names).items() if k not in DEFAULT_METRICS}
    if missing:
        name, why = next(iter(missing.items()))
        raise SemcomError(f"the metric {name} is not available here: {why.rstrip('.')}.")


def score(
    reference: torch.Tensor,
    images: torch.Tensor,
    truths: Sequence[Sequence[object]] | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> list[dict[str, object]]:
    """Figures of B reconstructions ``images`` [B,3,H,W] against ``reference`` [B,3,H,W]
    (both in [0, 1]); ``truths``: each image's ShapesWorld objects, or None.

    Per image: every field of :data:`FIGURES` (None where its metric is not in
    ``metrics`` or cannot score) and, under :data:`EXTRA`, a dict of the other metrics'
    fields (None when there are none).
    """
    names = check_metrics(metrics)
    b = images.shape[0]
    rows: list[dict[str, object]] = [dict.fromkeys(FIGURES) for _ in range(b)]
    extra: list[dict[str, object]] = [{} for _ in range(b)]
    for name in names:
        m = metric(name)
        fields = [f.name for f in m.fields]
        if m.status() == "ok":
            values = m.score(reference, images, truths)
        else:
            values = [dict.fromkeys(fields) for _ in range(b)]
        if len(values) != b:
            raise SemcomError(f"the metric {name} scored {len(values)} of {b} images.")
        for row, more, v in zip(rows, extra, values, strict=True):
            for f in fields:
                (row if f in FIGURES else more)[f] = _plain(v.get(f))
    for row, more in zip(rows, extra, strict=True):
        row[EXTRA] = more or None
    return rows


def _plain(value: object) -> object:
    """A figure as a JSON-able Python number (tensors and numpy scalars unwrapped)."""
    if value is None or isinstance(value, (int, float)):
        return value
    item = getattr(value, "item", None)
    return item() if callable(item) else value
