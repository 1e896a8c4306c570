"""Fidelity metrics: pixel (PSNR, MS-SSIM), perceptual (LPIPS, DISTS from local weights)
and semantic (a probe reads ShapesWorld objects back; accuracy, F1, hallucinations).

The names below load their module on first use, so that the metric protocol and registry
(:mod:`semcom.metrics.protocol`, :mod:`semcom.metrics.registry`) import without torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "PerceptualResult": "perceptual",
    "dists": "perceptual",
    "lpips": "perceptual",
    "perceptual_metrics": "perceptual",
    "ms_ssim": "pixel",
    "psnr": "pixel",
    "SemanticCounts": "semantic",
    "SemanticProbe": "semantic",
    "SemanticScores": "semantic",
    "count_scene": "semantic",
    "load_probe": "semantic",
    "match_objects": "semantic",
    "semantic_metrics": "semantic",
    "semantic_scores": "semantic",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"semcom.metrics.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'semcom.metrics' has no attribute {name!r}")
