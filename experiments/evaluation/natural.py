"""``semcom evaluate`` on natural images (``--dataset folder:PATH``): which fidelity
figures can run here, and the ones that are not per-image registered metrics.

Always PSNR and MS-SSIM (the ``pixel`` metric). Where their local weights are present:
LPIPS and DISTS (the registered ``lpips`` and ``dists`` metrics), the CLIP score
(:mod:`semcom.metrics.clip_score`, per image, with ``--clip DIR``) and FID and KID on
patches (:mod:`semcom.metrics.patch_fid`: set figures, one value per codec, no
interval). Each figure that cannot run is named in a one-line note saying why
(:attr:`NaturalPlan.notes`); nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

#: Registered per-image metrics scored on a folder whenever their weights are present.
PERCEPTUAL: tuple[str, ...] = ("lpips", "dists")
#: Column of the per-image CLIP score.
CLIP_FIELD = "clip_score"
#: Set figures (one value per codec): key → (table heading, higher is better).
SET_FIELDS: dict[str, tuple[str, bool]] = {
    "fid": ("FID (patches)", False),
    "kid": ("KID (patches)", False),
}
#: Headings of the fields that are not a registered metric's: key → (heading, higher
#: is better).
FIELD_LABELS: dict[str, tuple[str, bool]] = {CLIP_FIELD: ("CLIP score", True), **SET_FIELDS}
#: Patch side for FID/KID: :data:`LARGE_PATCH` for images of at least
#: :data:`LARGE_IMAGE` pixels a side (HiFiC's 256 on 512-pixel and larger images), else
#: :data:`SMALL_PATCH`.
LARGE_IMAGE, LARGE_PATCH, SMALL_PATCH = 512, 256, 64


def default_patch(size: int) -> int:
    """The FID/KID patch side for ``size`` × ``size`` images."""
    return LARGE_PATCH if size >= LARGE_IMAGE else SMALL_PATCH


@dataclass
class NaturalPlan:
    """What a folder evaluation scores beside PSNR and MS-SSIM, and what it skips."""

    #: Registered per-image metrics that run (available here or asked for).
    metrics: tuple[str, ...] = ()
    #: The CLIP model folder (None: no CLIP score).
    clip: str | None = None
    #: The Inception-v3 safetensors file (None: no FID or KID).
    inception: str | None = None
    #: FID/KID patch side and the patches per set.
    patch: int = SMALL_PATCH
    patches: int = 0
    fid: bool = False
    kid: bool = False
    #: One line per skipped figure: what and why.
    notes: list[str] = field(default_factory=list)


def plan_natural(
    n_images: int,
    size: int,
    asked: tuple[str, ...] = (),
    clip: str | None = None,
    inception: str | None = None,
    patch: int | None = None,
) -> NaturalPlan:
    """The figures a folder of ``n_images`` images at ``size`` × ``size`` gets here:
    ``asked`` (``--metric``) plus LPIPS and DISTS where their weights are, the CLIP score
    with ``clip``, FID/KID with the Inception weights (``inception`` or the perceptual
    weights folder's) on patches of ``patch`` (default :func:`default_patch`)."""
    from semcom.metrics.clip_score import clip_status
    from semcom.metrics.patch_fid import (
        FID_MIN_PATCHES,
        KID_MIN_PATCHES,
        default_inception_file,
        inception_status,
        patch_count,
    )
    from semcom.metrics.registry import metric

    plan = NaturalPlan(patch=patch or default_patch(size))
    metrics = list(asked)
    for name in PERCEPTUAL:
        if name in metrics:
            continue
        status = metric(name).status()
        if status == "ok":
            metrics.append(name)
        else:
            plan.notes.append(f"{name.upper()} skipped: {status.rstrip('.')}.")
    plan.metrics = tuple(metrics)
    status = clip_status(clip)
    if status == "ok":
        plan.clip = str(clip)
    else:
        plan.notes.append(f"CLIP score skipped: {status}.")
    file = Path(inception) if inception is not None else default_inception_file()
    status = inception_status(file)
    plan.patches = patch_count(n_images, size, plan.patch)
    if status != "ok":
        plan.notes.append(f"FID and KID skipped: {status}.")
        return plan
    plan.inception = str(file)
    plan.fid = plan.patches >= FID_MIN_PATCHES
    plan.kid = plan.patches >= KID_MIN_PATCHES
    cut = f"{plan.patches} patches of {plan.patch}×{plan.patch} per set"
    if not plan.fid:
        plan.notes.append(
            f"FID skipped: {cut}, fewer than the {FID_MIN_PATCHES} it needs (the "
            "feature dimension); use more or larger images or a smaller --fid-patch."
        )
    if not plan.kid:
        plan.notes.append(f"KID skipped: {cut}, fewer than the {KID_MIN_PATCHES} it needs.")
    return plan


def clip_extra(plan: NaturalPlan, reference: torch.Tensor, images: torch.Tensor) -> dict:
    """``{clip_score: [N]}`` per-image CLIP scores of ``images`` against ``reference``
    (both [N,3,S,S] in [0, 1]); empty without a CLIP model."""
    if plan.clip is None:
        return {}
    from semcom.metrics.clip_score import clip_scores

    return {CLIP_FIELD: clip_scores(reference, images, plan.clip).tolist()}


def set_figures(
    plan: NaturalPlan, reference_features: np.ndarray | None, images: torch.Tensor, seed: int
) -> dict[str, float]:
    """FID and KID of ``images`` [N,3,S,S] against the originals' patch features
    (:func:`reference_features`); empty when neither runs."""
    if reference_features is None:
        return {}
    from semcom.metrics.patch_fid import (
        frechet_distance,
        kernel_inception_distance,
        patch_features,
    )

    feats = patch_features(images, plan.patch, plan.inception)
    out = {}
    if plan.fid:
        out["fid"] = frechet_distance(reference_features, feats)
    if plan.kid:
        out["kid"] = kernel_inception_distance(reference_features, feats, seed=seed)
    return out


def reference_features(plan: NaturalPlan, reference: torch.Tensor) -> np.ndarray | None:
    """The originals' patch features [P,2048], or None when neither FID nor KID runs."""
    if not (plan.fid or plan.kid):
        return None
    from semcom.metrics.patch_fid import patch_features

    return patch_features(reference, plan.patch, plan.inception)
