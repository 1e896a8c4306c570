"""Pixel fidelity: PSNR and MS-SSIM on images in [0, 1].

Both take ``reference`` and ``image`` as float tensors [B, 3, H, W] (or [3, H, W]) with
values in [0, 1] and return one value per image, float64 tensor [B].
"""

from __future__ import annotations

import torch
from pytorch_msssim import ms_ssim as _ms_ssim
from pytorch_msssim import ssim as _ssim

from semcom.errors import SemcomError

#: PSNR reported for a bit-exact reconstruction (the MSE is zero), in dB.
PSNR_CAP_DB = 100.0


def _batched(reference: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ref = reference.unsqueeze(0) if reference.dim() == 3 else reference
    img = image.unsqueeze(0) if image.dim() == 3 else image
    if ref.shape != img.shape or ref.dim() != 4:
        raise SemcomError(
            f"images to compare must have the same shape [B, 3, H, W]; got "
            f"{tuple(reference.shape)} and {tuple(image.shape)}."
        )
    return ref.double().clamp(0, 1), img.double().clamp(0, 1)


def psnr(reference: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB (peak 1), capped at :data:`PSNR_CAP_DB`."""
    ref, img = _batched(reference, image)
    mse = (ref - img).square().flatten(1).mean(1)
    value = 10 * torch.log10(1.0 / mse.clamp_min(1e-30))
    return value.clamp(max=PSNR_CAP_DB)


def ms_ssim(reference: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Multi-scale SSIM, at most 1 (pytorch-msssim: 5 scales, Gaussian window, sigma 1.5).

    The standard 11x11 window needs a side above 160 pixels for the four downsamplings;
    smaller images use the largest odd window that fits (7 for 128x128 ShapesWorld
    scenes), and below 49 pixels plain single-scale SSIM with a 7x7 (or smaller) window.
    """
    ref, img = _batched(reference, image)
    side = min(ref.shape[-2:])
    win = 11
    while win > 3 and side <= (win - 1) * 16:
        win -= 2
    if side <= (win - 1) * 16:
        small = max(3, min(7, (side // 2) * 2 - 1))
        return _ssim(ref, img, data_range=1.0, size_average=False, win_size=small)
    return _ms_ssim(ref, img, data_range=1.0, size_average=False, win_size=win)
