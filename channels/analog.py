"""The analog link: real-valued features sent as complex symbols, no coding, no mapping.

Two paths with the same statistics:

* :func:`send_analog` — the evaluation path. It calls the link's own channel models
  (:func:`channels.models.make_channel`: AWGN, Rayleigh block fading, TDL) with the same
  ``no = 10^(-snr/10)``, equalisation, CSI and ``torch.Generator`` seeding as the digital
  path, so a seed fixes the realisation. Not differentiable (Sionna blocks).
* :func:`awgn` and :func:`rayleigh_zf` — differentiable torch versions for training:
  ``y = x + n`` and ``y = (h x + n) / h`` with ``n ~ CN(0, no)``, ``h ~ CN(0, 1)`` per
  ``block`` symbols (perfect CSI, zero forcing), exactly as ``AWGNChannel`` and
  ``RayleighBlockFading`` (tests compare the noise variances).

Conventions as in :mod:`channels.models`: ``x`` is [B, n] complex64 with unit average
energy per row, SNR is Es/N0 per complex symbol in dB.
"""

from __future__ import annotations

import math

import torch

from channels.frame import check_frame, frame_generator, stream_generator
from channels.models import ChannelModel


def noise_variance(snr_db: float | torch.Tensor) -> float | torch.Tensor:
    """``no = 10^(-snr_db/10)``: noise variance per complex symbol for unit-energy symbols."""
    if isinstance(snr_db, torch.Tensor):
        return torch.pow(10.0, -snr_db / 10)
    return 10 ** (-float(snr_db) / 10)


def real_to_complex(z: torch.Tensor) -> torch.Tensor:
    """[B, 2n] real → [B, n] complex64, consecutive pairs as (real, imaginary)."""
    if z.shape[-1] % 2:
        raise ValueError(f"need an even number of real values, got {z.shape[-1]}")
    pairs = z.float().reshape(*z.shape[:-1], -1, 2)
    return torch.complex(pairs[..., 0], pairs[..., 1])


def complex_to_real(x: torch.Tensor) -> torch.Tensor:
    """[B, n] complex → [B, 2n] float32, the inverse of :func:`real_to_complex`."""
    return torch.view_as_real(x.to(torch.complex64)).reshape(*x.shape[:-1], -1)


def normalize_power(x: torch.Tensor) -> torch.Tensor:
    """[B, n] complex → the same symbols scaled so that ``mean |x|^2 = 1`` per row."""
    power = x.abs().square().mean(dim=-1, keepdim=True)
    return x / power.clamp_min(1e-12).sqrt()


def send_analog(
    channel: ChannelModel,
    x: torch.Tensor,
    snr_db: float,
    *,
    generator: torch.Generator,
    block_symbols: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Send [B, n] complex64 symbols through one of the link's channel models.

    Returns ``(y_eq, no_eff)``, both [B, n] (complex64, float32): the equalised symbols
    and their post-equalisation noise variance. ``block_symbols`` is the Rayleigh
    coherence span (``None``: one fade per row).
    """
    x = x.to(torch.complex64)
    with torch.no_grad():
        return channel(x, noise_variance(snr_db), generator=generator, block_symbols=block_symbols)


def data_symbols(channel: ChannelModel, budget_uses: int) -> int:
    """The most data symbols whose transmission occupies at most ``budget_uses`` channel
    uses on ``channel`` (AWGN, Rayleigh: the budget itself; TDL/CDL: less its pilots); 0 when
    none fit. With N×N MIMO a channel use carries N symbols."""
    if budget_uses < 1 or channel.channel_uses(1) > budget_uses:
        return 0
    lo, hi = 1, budget_uses + 1  # channel_uses(lo) fits; find an hi that does not
    while channel.channel_uses(hi) <= budget_uses:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if channel.channel_uses(mid) <= budget_uses:
            lo = mid
        else:
            hi = mid
    return lo


def send_rows(
    channel: ChannelModel,
    x: torch.Tensor,
    snr_db: float,
    seeds: list[int],
    stream: str,
    frame: str = "shared",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Send each row of ``x`` [B, n] complex64 with its own generator, as
    :meth:`channels.Link.transmit` seeds a transmission: ``frame_generator(seeds[b])`` in a
    shared frame, ``stream_generator(seeds[b], stream)`` with ``frame="per-stream"`` (one
    fade per row on Rayleigh). Returns ``(y_eq, no_eff)``, both [B, n]."""
    if len(seeds) != x.shape[0]:
        raise ValueError(f"{len(seeds)} seeds for {x.shape[0]} rows")
    check_frame(frame)
    ys, nos = [], []
    for row, seed in zip(x, seeds, strict=True):
        gen = frame_generator(seed) if frame == "shared" else stream_generator(seed, stream)
        y, no = send_analog(channel, row[None], snr_db, generator=gen)
        ys.append(y)
        nos.append(no)
    return torch.cat(ys), torch.cat(nos)


def _cn(shape: torch.Size, generator: torch.Generator | None, device) -> torch.Tensor:
    """``CN(0, 1)`` samples of ``shape`` (complex64) on ``device``: drawn where
    ``generator`` lives (the CPU for a transmission's generators) and moved, so the same on
    every device; without a generator, from ``device``'s global one (training)."""
    where = device if generator is None else generator.device
    re = torch.randn(shape, generator=generator, device=where)
    im = torch.randn(shape, generator=generator, device=where)
    return (torch.complex(re, im) * math.sqrt(0.5)).to(device)


def awgn(
    x: torch.Tensor, snr_db: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Differentiable AWGN: [B, n] complex, ``snr_db`` [B] (dB) → ``x + n``, ``n ~ CN(0, no)``."""
    no = noise_variance(snr_db.float()).reshape(-1, 1)
    return x + no.sqrt() * _cn(x.shape, generator, x.device)


def rayleigh_zf(
    x: torch.Tensor,
    snr_db: torch.Tensor,
    generator: torch.Generator | None = None,
    block: int | None = None,
) -> torch.Tensor:
    """Differentiable Rayleigh block fading with perfect CSI and zero forcing.

    [B, n] complex, ``snr_db`` [B] → ``(h x + n) / h``, ``h ~ CN(0, 1)`` constant over
    ``block`` symbols (``None``: the whole row), ``n ~ CN(0, no)``.
    """
    batch, n = x.shape
    span = n if block is None else block
    h = _cn(torch.Size((batch, math.ceil(n / span))), generator, x.device)
    h = h.repeat_interleave(span, dim=1)[:, :n]
    no = noise_variance(snr_db.float()).reshape(-1, 1)
    noise = no.sqrt() * _cn(x.shape, generator, x.device)
    return x + noise / h
