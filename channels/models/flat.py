"""Flat channels: AWGN and Rayleigh block fading (N×N MIMO with perfect CSI)."""

from __future__ import annotations

import math

import torch

from channels.detection import SEARCHING, FlatSearchDetector, check_detector, equalise
from channels.errors import LinkError
from channels.frame import draw_normal
from channels.models.base import ChannelModel, _search_segments, check_antennas, mimo_name


class AWGNChannel(ChannelModel):
    """Additive white Gaussian noise: ``y = x + n``."""

    name = "awgn"

    def call(self, x, no, *, generator, block_symbols=None):
        y = self.add_noise(x, no, generator)
        return y, torch.full(y.shape, no, dtype=self.dtype, device=y.device)


class RayleighBlockFading(ChannelModel):
    """Flat Rayleigh block fading ``y = h x + n``, ``h ~ CN(0, 1)`` constant per block; with
    ``antennas`` N > 1, N×N spatial multiplexing over i.i.d. Rayleigh ``H``.

    Args:
        coherence: ``"block"`` keeps the fade for one code block (``block_symbols``
            symbols, or the whole transmission when the caller gives none); an integer N
            keeps it for N channel uses (1 = fast fading).
        antennas: transmit and receive antennas (1, 2 or 4); N layers, so N symbols per
            channel use. The transmit power is split over the layers (Es/N0 is the total
            transmit energy per channel use over the noise per receive antenna), and
            consecutive symbols go to consecutive layers.
        detector: MIMO detector (ignored for one antenna): ``"lmmse"`` or ``"zf"``
            equalisation, or ``"kbest"`` / ``"ep"``, which give bit LLRs
            (:mod:`channels.detection`; :meth:`call` then equalises by LMMSE).

    The receiver knows the channel (perfect CSI). One antenna: zero forcing ``y / h`` with
    noise variance ``no / |h|^2``; N antennas: LMMSE (or ZF) equalisation per channel use
    with its per-layer noise variance (``sionna.phy.mimo``).
    """

    name = "rayleigh"

    def __init__(
        self, coherence: int | str = "block", antennas: int = 1, detector: str = "lmmse", **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if coherence != "block" and not (isinstance(coherence, int) and coherence >= 1):
            raise LinkError(
                f"coherence must be 'block' or a positive number of symbols, got {coherence!r}."
            )
        self.coherence = coherence
        self.antennas = check_antennas(antennas)
        self.layers = self.antennas
        self.detector = check_detector(detector)
        self.name = mimo_name("rayleigh", self.antennas)
        self._search = (
            FlatSearchDetector(self.detector, self.antennas)
            if self.detector in SEARCHING and self.antennas > 1
            else None
        )

    def channel_uses(self, num_symbols: int) -> int:
        return math.ceil(num_symbols / self.antennas)

    def _fades(self, batch: int, uses: int, span: int, generator, device) -> torch.Tensor:
        """CN(0, 1) fades [batch, uses, N, N], one draw per ``span`` channel uses."""
        n = self.antennas
        shape = (batch, math.ceil(uses / span), n, n) if n > 1 else (batch, math.ceil(uses / span))
        h = torch.complex(
            draw_normal(shape, generator, self.dtype, device),
            draw_normal(shape, generator, self.dtype, device),
        ) * math.sqrt(0.5)
        return h.repeat_interleave(span, dim=1)[:, :uses]

    def _span(self, n: int, block_symbols: int | None) -> int:
        """Symbols one fade is held for: the code block (``block_symbols``, or all ``n``
        when the caller gives none) under ``"block"`` coherence, else ``coherence``
        channel uses."""
        if self.coherence != "block":
            return int(self.coherence) * self.antennas
        return n if block_symbols is None else block_symbols

    def call(self, x, no, *, generator, block_symbols=None):
        batch, n = x.shape
        span = self._span(n, block_symbols)
        if self.antennas == 1:
            h = self._fades(batch, n, span, generator, x.device)
            y = self.add_noise(h * x, no, generator)
            gain = h.abs().square().clamp_min(1e-12)
            return y / h, no / gain
        y, h = self._mimo(x, no, generator, span)
        x_hat, no_eff = equalise(y, h, no, "zf" if self.detector == "zf" else "lmmse")
        return x_hat.reshape(batch, -1)[:, :n], no_eff.reshape(batch, -1)[:, :n]

    def _mimo(self, x, no, generator, span: int):
        """Symbols ``x`` [B, n] through N×N fades held for ``span`` symbols: the received
        vectors [B, U, N] and the channel matrices [B, U, N, N] (power split included)."""
        batch, n = x.shape
        k = self.antennas
        uses = self.channel_uses(n)
        h = self._fades(batch, uses, math.ceil(span / k), generator, x.device) / math.sqrt(k)
        xs = torch.nn.functional.pad(x, (0, uses * k - n)).reshape(batch, uses, k)
        return self.add_noise((h @ xs.unsqueeze(-1)).squeeze(-1), no, generator), h

    def detect(self, x, no, *, generator, segments, block_symbols=None):
        if self._search is None:
            return super().detect(
                x, no, generator=generator, segments=segments, block_symbols=block_symbols
            )
        y, h = self._mimo(x, no, generator, self._span(x.shape[-1], block_symbols))
        return _search_segments(
            segments, self.antennas, lambda m, u0, u1: self._search(y[:, u0:u1], h[:, u0:u1], no, m)
        )
