"""Fidelity metrics: pixel (PSNR, MS-SSIM) now; perceptual and semantic (task) ones next."""

from semcom.metrics.pixel import ms_ssim, psnr

__all__ = ["ms_ssim", "psnr"]
