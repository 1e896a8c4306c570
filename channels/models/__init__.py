"""Channel models: AWGN, flat Rayleigh block fading, 3GPP TDL over OFDM.

Every model is a Sionna ``Block`` with one interface::

    y_eq, no_eff = channel(x, no, generator=g, block_symbols=S)

    x        [B, n] complex64   unit-average-energy symbols, one row per transmission
    no       float              noise variance per complex symbol (Es/N0 = 1 / no)
    y_eq     [B, n] complex64   equalised symbols, ready for soft demapping
    no_eff   [B, n] float32     post-equalisation noise variance per symbol

Fading is normalised to unit average power, so SNR is Es/N0 averaged over fading.
Randomness comes only from the explicit ``torch.Generator`` (noise, fading, TDL paths),
so a seed fixes every realisation. ``channel_uses(n)`` counts what a transmission of n
data symbols occupies, pilots and unused resource elements included.
"""

from __future__ import annotations

from channels.devices import sionna_device
from channels.models.base import (
    ANTENNAS,
    ChannelModel,
    check_antennas,
    mimo_name,
)
from channels.models.flat import AWGNChannel, RayleighBlockFading
from channels.models.ofdm import (
    OFDMLayout,
    TDLChannel,
    ofdm_layout,
    qpsk_pilots,
    tdl_a,
    tdl_b,
    tdl_c,
)

__all__ = [
    "ANTENNAS",
    "AWGNChannel",
    "ChannelModel",
    "OFDMLayout",
    "RayleighBlockFading",
    "TDLChannel",
    "check_antennas",
    "make_channel",
    "mimo_name",
    "ofdm_layout",
    "qpsk_pilots",
    "tdl_a",
    "tdl_b",
    "tdl_c",
]


def make_channel(name: str, *, device: str | None = None, **options) -> ChannelModel:
    """Build a registered channel model by name (``awgn``, ``rayleigh``, ``tdl-a|b|c`` or a
    plug-in's, see :mod:`channels.registry`) with its options."""
    from channels.registry import make_channel as build

    if device is None:
        return build(name, device=device, **options)
    with sionna_device(device) as canonical:
        return build(name, device=canonical, **options)
