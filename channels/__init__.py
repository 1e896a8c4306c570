"""channels: the link, on Sionna 2.x — bits in, bits (or an erasure) out.

The block diagram, one module per stage: :mod:`channels.coding` (CRC, segmentation,
5G LDPC, rate matching), :mod:`channels.models` (AWGN, Rayleigh block fading, TDL over
OFDM), :mod:`channels.mcs` (the MCS table and adaptive selection) and
:mod:`channels.link` (``Link.transmit`` with per-stream protection).
"""

from channels.errors import LinkError
from channels.link import Link, Transmission
from channels.mcs import MCS, NR_MCS_TABLE, select_mcs
from channels.models import make_channel

__all__ = ["MCS", "NR_MCS_TABLE", "Link", "LinkError", "Transmission", "make_channel", "select_mcs"]
