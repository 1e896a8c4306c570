"""Fidelity metrics: pixel (PSNR, MS-SSIM), perceptual (LPIPS, DISTS from local weights)
and semantic (a probe reads ShapesWorld objects back; accuracy, F1, hallucinations)."""

from semcom.metrics.perceptual import PerceptualResult, dists, lpips, perceptual_metrics
from semcom.metrics.pixel import ms_ssim, psnr
from semcom.metrics.semantic import (
    SemanticCounts,
    SemanticProbe,
    SemanticScores,
    count_scene,
    load_probe,
    match_objects,
    semantic_metrics,
    semantic_scores,
)

__all__ = [
    "PerceptualResult",
    "SemanticCounts",
    "SemanticProbe",
    "SemanticScores",
    "count_scene",
    "dists",
    "load_probe",
    "lpips",
    "match_objects",
    "ms_ssim",
    "perceptual_metrics",
    "psnr",
    "semantic_metrics",
    "semantic_scores",
]
