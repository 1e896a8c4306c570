"""Rate control for the conventional codecs: every operating point is a real stream.

An *operating point* (:class:`Variant`) is one (factor, quality) setting of a codec for
one image, with its real bytes and the PSNR the sender measures by decoding them exactly
as the receiver will and comparing with the original (the sender has it). Rate control
searches the grid FACTORS × codec.qualities:

- :func:`fit_bits`: the best-PSNR point whose real size fits a bit budget;
- :func:`closest_to_bpp`: the point nearest a target rate, for rate-matched comparisons;
- :func:`operating_points`: the whole grid, computed once per image and codec, so a sweep
  over many budgets reuses it (pass it as ``points=``).

Sizes count every byte of the stream that crosses the link: the setting byte and the file
less the boilerplate the receiver rebuilds (:mod:`semcom.baselines.wire`). Ties in PSNR go
to the fewer bits, then the smaller factor, then the higher quality.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from semcom.baselines.standard import (
    FACTORS,
    ConventionalCodec,
    as_arrays,
    get_codec,
    resize,
    small_size,
    to_uint8,
)
from semcom.errors import SemcomError

#: PSNR reported for a perfect reconstruction (MSE floored at 1e-10).
MAX_PSNR_DB = 100.0


def psnr(reference: torch.Tensor, image: torch.Tensor) -> float:
    """PSNR in dB of ``image`` against ``reference``, both [3,H,W] or [B,3,H,W] in [0, 1]."""
    ref, img = (x.detach().cpu().numpy().astype(np.float64) for x in (reference, image))
    mse = float(np.mean((ref - img) ** 2))
    return min(MAX_PSNR_DB, 10 * math.log10(1 / max(mse, 1e-10)))


@dataclass(frozen=True)
class Variant:
    """One operating point: a real stream of ``codec`` for an image of height × width.

    ``psnr`` (dB) is measured at the sender on the decoded, upsampled reconstruction.
    """

    codec: str
    factor: int
    quality: int
    data: bytes
    height: int
    width: int
    psnr: float

    @property
    def bits(self) -> int:
        """Real size of the stream in bits (8 × bytes, its setting byte included)."""
        return 8 * len(self.data)

    @property
    def bpp(self) -> float:
        """Real rate in bits per pixel of the full-size image."""
        return self.bits / (self.height * self.width)

    def _rank(self) -> tuple[float, int, int, int]:
        """Sort key: best PSNR first, then fewer bits, smaller factor, higher quality."""
        return (-self.psnr, self.bits, self.factor, -self.quality)


def _single(image: torch.Tensor) -> np.ndarray:
    """[3,H,W] or [1,3,H,W] tensor → [H,W,3] float32 array in [0, 1]."""
    batch = as_arrays(image)
    if batch.shape[0] != 1:
        raise SemcomError("rate control takes one image [3,H,W], not a batch.")
    return batch[0]


def _psnr_uint8(reference: np.ndarray, recon: np.ndarray) -> float:
    """PSNR in dB of a [H,W,3] uint8 reconstruction against a [H,W,3] float32 reference."""
    mse = float(np.mean((reference - recon.astype(np.float32) / 255) ** 2))
    return min(MAX_PSNR_DB, 10 * math.log10(1 / max(mse, 1e-10)))


class _Sender:
    """One image at the sender: encodes grid points and scores them (numpy, no torch ops)."""

    def __init__(self, image: torch.Tensor, codec: ConventionalCodec) -> None:
        self.reference = _single(image)
        self.codec = codec
        self.height, self.width = self.reference.shape[:2]
        self.pixels = to_uint8(self.reference)

    def encode_grid(
        self, factors: Sequence[int], qualities: Sequence[int] | None
    ) -> list[tuple[int, int, bytes]]:
        """(factor, quality, bytes) for every grid point; one resize per factor."""
        qualities = self.codec.qualities if qualities is None else tuple(qualities)
        out = []
        for factor in factors:
            for quality in qualities:
                self.codec.check_setting(quality, factor)
            small = resize(self.pixels, *small_size(self.height, self.width, factor))
            out.extend(
                (factor, q, self.codec.encode_stream(small, q, factor, self.height, self.width))
                for q in qualities
            )
        return out

    def score(self, factor: int, quality: int, data: bytes) -> Variant:
        """Decode as the receiver will and measure PSNR against the original."""
        recon = self.codec.decode_array(data, self.height, self.width)
        p = _psnr_uint8(self.reference, recon)
        return Variant(self.codec.name, factor, quality, data, self.height, self.width, p)


def operating_points(
    image: torch.Tensor,
    codec: str | ConventionalCodec,
    *,
    factors: Sequence[int] = FACTORS,
    qualities: Sequence[int] | None = None,
    max_bits: int | None = None,
) -> list[Variant]:
    """Every (factor, quality) point of ``codec`` for ``image`` [3,H,W] in [0,1].

    ``qualities`` defaults to the codec's grid. With ``max_bits``, points larger than the
    budget are left out (and never decoded). Sorted by bits, then PSNR descending.
    """
    sender = _Sender(image, get_codec(codec))
    points = [
        sender.score(f, q, data)
        for f, q, data in sender.encode_grid(factors, qualities)
        if max_bits is None or 8 * len(data) <= max_bits
    ]
    return sorted(points, key=lambda v: (v.bits, -v.psnr, v.factor, -v.quality))


def pareto_front(points: Sequence[Variant]) -> list[Variant]:
    """Points no other point beats (fewer or equal bits and higher PSNR), by bits ascending."""
    front: list[Variant] = []
    for v in sorted(points, key=lambda v: (v.bits, *v._rank())):
        if not front or v.psnr > front[-1].psnr:
            front.append(v)
    return front


def _cannot_fit(codec: str, max_bits: int, smallest: Variant) -> SemcomError:
    return SemcomError(
        f"{codec} cannot fit a {smallest.height}×{smallest.width} image in {max_bits} bits: "
        f"its smallest stream is {smallest.bits} bits ({smallest.bpp:.4f} bpp, factor "
        f"{smallest.factor}, quality {smallest.quality})."
    )


def fit_bits(
    image: torch.Tensor,
    max_bits: int,
    codec: str | ConventionalCodec,
    *,
    points: Sequence[Variant] | None = None,
    allow_none: bool = False,
) -> Variant | None:
    """The best-PSNR point of ``codec`` for ``image`` [3,H,W] whose real size ≤ max_bits.

    ``points``: a precomputed :func:`operating_points` table of this image (saves the
    encoding). When nothing fits, raises SemcomError naming the smallest size the codec
    reaches, or returns None if ``allow_none`` (a sweep then scores the transmission as
    failed, e.g. with the receiver's ``fallback="mean"`` image).
    """
    c = get_codec(codec)
    if points is None:
        sender = _Sender(image, c)
        grid = sender.encode_grid(FACTORS, None)
        fitting = [sender.score(f, q, data) for f, q, data in grid if 8 * len(data) <= max_bits]
        if not fitting:
            if allow_none:
                return None
            f, q, data = min(grid, key=lambda t: (len(t[2]), t[0], -t[1]))
            raise _cannot_fit(c.name, max_bits, sender.score(f, q, data))
    else:
        if not points:
            raise SemcomError("fit_bits was given an empty table of operating points.")
        fitting = [v for v in points if v.bits <= max_bits]
        if not fitting:
            if allow_none:
                return None
            raise _cannot_fit(c.name, max_bits, min(points, key=lambda v: (v.bits, *v._rank())))
    return min(fitting, key=Variant._rank)


def closest_to_bpp(
    image: torch.Tensor,
    bpp: float,
    codec: str | ConventionalCodec,
    *,
    side: Literal["nearest", "below", "above"] = "nearest",
    points: Sequence[Variant] | None = None,
) -> Variant:
    """The operating point of ``codec`` for ``image`` [3,H,W] whose real bpp matches ``bpp``.

    Only points on the rate-PSNR Pareto front count (a sensible encoder never sends a
    point that another beats at no more bits). ``side``: ``"nearest"`` minimises
    |real bpp − bpp|; ``"below"`` takes the largest rate ≤ bpp (the smallest point when
    the codec cannot go that low); ``"above"`` the smallest rate ≥ bpp (the largest point
    when none is that high). The returned Variant's ``bpp`` is the real rate.
    """
    if not bpp > 0:
        raise SemcomError(f"the target rate must be positive, not {bpp} bpp.")
    if points is None:
        points = operating_points(image, codec)
    front = pareto_front(points)
    if not front:
        raise SemcomError("closest_to_bpp was given an empty table of operating points.")
    if side == "nearest":
        return min(front, key=lambda v: abs(v.bpp - bpp))
    if side == "below":
        below = [v for v in front if v.bpp <= bpp]
        return below[-1] if below else front[0]
    if side == "above":
        above = [v for v in front if v.bpp >= bpp]
        return above[0] if above else front[-1]
    raise SemcomError(f"side must be 'nearest', 'below' or 'above', not {side!r}.")
