"""Per-point fidelity figures: pixel (PSNR, MS-SSIM) and, where possible, semantic ones.

:func:`score` is the one place a sweep or ``semcom transmit`` computes its figures. The
semantic figures need the ShapesWorld ground truth (scoring only; neither end of the link
sees it) and the trained probe of :mod:`semcom.metrics.semantic`; when either is missing
they are recorded as ``None`` and :func:`semantic_status` says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch

from semcom.metrics.pixel import ms_ssim, psnr

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
#: Every figure :func:`score` returns, in table order.
FIGURES = ("psnr", "ms_ssim", *SEMANTIC_FIELDS)


@lru_cache(maxsize=1)
def _probe() -> tuple[object | None, str]:
    """The semantic probe, or None and the reason it is unavailable."""
    try:
        from semcom.metrics.semantic import load_probe
    except ImportError as err:  # the module is not there (yet)
        return None, f"semcom.metrics.semantic is not importable ({err})"
    try:
        return load_probe(), "ok"
    except Exception as err:  # noqa: BLE001 - missing weights raise SemcomError
        return None, str(err)


def semantic_status() -> str:
    """``"ok"`` when semantic figures are computed, else the reason they are missing."""
    return _probe()[1]


def score(
    reference: torch.Tensor,
    images: torch.Tensor,
    truths: Sequence[Sequence[object]] | None = None,
) -> list[dict[str, float | int | None]]:
    """Figures of B reconstructions ``images`` [B,3,H,W] against ``reference`` [B,3,H,W]
    (both in [0, 1]); ``truths``: each image's ShapesWorld objects, or None."""
    p = psnr(reference, images).tolist()
    m = ms_ssim(reference, images).tolist()
    rows: list[dict[str, float | int | None]] = [
        {"psnr": a, "ms_ssim": b, **dict.fromkeys(SEMANTIC_FIELDS)}
        for a, b in zip(p, m, strict=True)
    ]
    probe, _ = _probe()
    if truths is None or probe is None:
        return rows
    from semcom.metrics.semantic import semantic_metrics

    _, counts = semantic_metrics(images, truths, probe)  # type: ignore[arg-type]
    for row, c in zip(rows, counts, strict=True):
        attrs = c.shape_ok + c.colour_ok + c.size_ok + c.position_ok
        row.update(
            attribute_accuracy=attrs / (4 * c.objects_true) if c.objects_true else 1.0,
            exact_recall=c.exact / c.objects_true if c.objects_true else 1.0,
            hallucination_rate=c.hallucinated / c.objects_read if c.objects_read else 0.0,
            objects_true=c.objects_true,
            objects_read=c.objects_read,
            exact=c.exact,
            hallucinated=c.hallucinated,
        )
    return rows
