"""PSNR and MS-SSIM."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.errors import SemcomError
from semcom.metrics import ms_ssim, psnr
from semcom.metrics.pixel import PSNR_CAP_DB


def test_psnr_matches_its_definition():
    ref = torch.zeros(1, 3, 8, 8)
    img = torch.full((1, 3, 8, 8), 0.1)
    assert psnr(ref, img).item() == pytest.approx(10 * math.log10(1 / 0.01))


def test_identical_images_hit_the_caps():
    x = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    assert torch.equal(psnr(x, x), torch.full((2,), PSNR_CAP_DB, dtype=torch.float64))
    assert torch.allclose(ms_ssim(x, x), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("side", [20, 64, 128, 256])
def test_ms_ssim_falls_as_noise_grows(side):
    gen = torch.Generator().manual_seed(side)
    x = torch.rand(1, 3, side, side, generator=gen)
    scores = [
        ms_ssim(x, (x + s * torch.randn(x.shape, generator=gen)).clamp(0, 1)).item()
        for s in (0.02, 0.1, 0.3)
    ]
    assert 1 > scores[0] > scores[1] > scores[2]


def test_unbatched_images_are_accepted_and_mismatches_refused():
    x = torch.rand(3, 32, 32)
    assert psnr(x, x).shape == (1,)
    with pytest.raises(SemcomError, match="same shape"):
        psnr(x, torch.rand(3, 32, 31))
