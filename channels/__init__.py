"""channels: the link, on Sionna 2.x — bits in, bits (or an erasure) out.

The block diagram, one module per stage: :mod:`channels.coding` (CRC, segmentation,
5G LDPC, rate matching), :mod:`channels.models` (AWGN, Rayleigh block fading, TDL over
OFDM), :mod:`channels.mcs` (the MCS table and adaptive selection) and
:mod:`channels.link` (``Link.transmit`` with per-stream protection).

The names below are imported on first use (PEP 562), so that importing
:mod:`channels.errors` (as the command line does at start-up) does not load Sionna.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public name → the module that defines it.
_EXPORTS = {
    "LinkError": "channels.errors",
    "Link": "channels.link",
    "Transmission": "channels.link",
    "MCS": "channels.mcs",
    "NR_MCS_TABLE": "channels.mcs",
    "select_mcs": "channels.mcs",
    "make_channel": "channels.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'channels' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
