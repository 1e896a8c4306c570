"""What a stream's transport block looks like, as arithmetic (no codec is built): the
transport block size (TS 38.214 5.1.3.2), the TB CRC (TS 38.212 7.2.1: CRC16 up to 3824
bits, CRC24A above), segmentation into equal code blocks with CRC24B, the LDPC base graph,
each code block's rate-matched length, and below rate 1/5 the repetition of the rate-1/5
codeword (:func:`repeat_index`, :func:`fold_repetitions`). A Polar MCS's layout is
:func:`channels.polar.polar_layout` (:func:`layout_for` picks). The encoders and decoders
that follow these layouts are in :mod:`channels.coding` and :mod:`channels.polar`.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import torch

from channels.errors import LinkError
from channels.mcs import MCS, MIN_CODE_RATE

TB_CRC_BITS = 24
#: The largest transport block whose CRC is CRC16.
CRC16_MAX_BITS = 3824
CB_CRC_BITS = 24
#: Largest code block (information bits incl. CRC) of LDPC base graphs 1 and 2.
MAX_CB_BITS_BG1 = 8448
MAX_CB_BITS_BG2 = 3840


@dataclass(frozen=True)
class TBLayout:
    """How a payload of ``payload_bits`` is segmented and rate matched.

    Attributes:
        payload_bits: information bits A handed in by the user.
        pad_bits: zero bits appended so that all code blocks have equal size.
        num_cbs: number of code blocks C.
        cb_bits: information bits per code block K, CB CRC included when C > 1.
        cb_coded_bits: coded bits per code block E (a multiple of ``bits_per_symbol``).
        bits_per_symbol: modulation order m.
        ldpc_bits: below rate 1/5, the codeword's length E0 < E that the E bits repeat
            cyclically (0: no repetition, E0 = E).
        code: ``ldpc``, or ``polar`` (:func:`channels.polar.polar_layout`: one code block
            whose K counts the CRC11).
    """

    payload_bits: int
    pad_bits: int
    num_cbs: int
    cb_bits: int
    cb_coded_bits: int
    bits_per_symbol: int
    ldpc_bits: int = 0
    code: str = "ldpc"

    @property
    def ldpc_coded_bits(self) -> int:
        """Coded bits per code block out of the LDPC encoder, E0 <= E: below rate 1/5 its
        rate-1/5 codeword, repeated (cyclically) to the E bits sent."""
        return self.ldpc_bits or self.cb_coded_bits

    @property
    def repeated(self) -> bool:
        """Whether each code block's E bits repeat a shorter LDPC codeword."""
        return self.ldpc_coded_bits < self.cb_coded_bits

    @property
    def coded_bits(self) -> int:
        """Total coded bits G = C * E."""
        return self.num_cbs * self.cb_coded_bits

    @property
    def num_symbols(self) -> int:
        """Modulated symbols (data channel uses) G / m."""
        return self.coded_bits // self.bits_per_symbol

    @property
    def symbols_per_cb(self) -> int:
        """Symbols per code block E / m (code blocks are contiguous in the symbol stream)."""
        return self.cb_coded_bits // self.bits_per_symbol

    @property
    def effective_rate(self) -> float:
        """Payload bits per coded bit (CRC and padding overhead included)."""
        return self.payload_bits / self.coded_bits


#: TS 38.214 Table 5.1.3.2-1: transport block sizes up to 3824 bits.
NR_TBS_TABLE: tuple[int, ...] = (
    24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136, 144, 152, 160, 168, 176,
    184, 192, 208, 224, 240, 256, 272, 288, 304, 320, 336, 352, 368, 384, 408, 432, 456, 480,
    504, 528, 552, 576, 608, 640, 672, 704, 736, 768, 808, 848, 888, 928, 984, 1032, 1064,
    1128, 1160, 1192, 1224, 1256, 1288, 1320, 1352, 1416, 1480, 1544, 1608, 1672, 1736, 1800,
    1864, 1928, 2024, 2088, 2152, 2216, 2280, 2408, 2472, 2536, 2600, 2664, 2728, 2792, 2856,
    2976, 3104, 3240, 3368, 3496, 3624, 3752, 3824,
)  # fmt: skip


def transport_block_size(payload_bits: int, code_rate: float) -> int:
    """The smallest 5G-style transport block size that holds ``payload_bits``.

    Up to 3824 bits: the next entry of TS 38.214 Table 5.1.3.2-1. Above: the standard's
    quantisation (steps of 2^(floor(log2 N) - 5), about 3 %, then a multiple of 8 C for C
    code blocks). The payload is zero-padded up to it. Quantising sizes this way is what
    lets many payloads share one LDPC encoder and decoder (building one takes ~0.4 s).
    """
    if payload_bits < 1:
        raise LinkError("the payload is empty; a stream needs at least one bit to send.")
    if payload_bits <= NR_TBS_TABLE[-1]:
        return NR_TBS_TABLE[bisect.bisect_left(NR_TBS_TABLE, payload_bits)]
    step = 2 ** (int(math.log2(payload_bits)) - 5)
    quantised = step * math.ceil(payload_bits / step)
    k_cb_max = MAX_CB_BITS_BG2 if base_graph(quantised, code_rate) == "bg2" else MAX_CB_BITS_BG1
    # above 3824 bits the TB CRC is CRC24A (TB_CRC_BITS)
    c = math.ceil((quantised + TB_CRC_BITS) / (k_cb_max - CB_CRC_BITS))
    return 8 * c * math.ceil((quantised + TB_CRC_BITS) / (8 * c)) - TB_CRC_BITS


def tb_crc(payload_bits: int) -> tuple[str, int]:
    """The transport block CRC for a TB of ``payload_bits`` bits (TS 38.212 7.2.1): its
    Sionna name and length, ``("CRC16", 16)`` up to :data:`CRC16_MAX_BITS`, else
    ``("CRC24A", 24)``."""
    return ("CRC16", 16) if payload_bits <= CRC16_MAX_BITS else ("CRC24A", TB_CRC_BITS)


def base_graph(payload_bits: int, code_rate: float) -> str:
    """LDPC base graph for a TB (TS 38.212 7.2.2), ``"bg1"`` or ``"bg2"``.

    The standard switches to BG2 below rate 1/4; we switch below 0.35, because BG1 needs
    repetition (which Sionna does not implement) for rates under 1/3.
    """
    a, r = payload_bits, code_rate
    return "bg2" if a <= 292 or (a <= 3824 and r <= 0.67) or r < 0.35 else "bg1"


def tb_layout(payload_bits: int, mcs: MCS) -> TBLayout:
    """Segment ``payload_bits`` information bits for ``mcs`` (TS 38.212 5.2.2 and 5.4.2)."""
    if payload_bits < 1:
        raise LinkError("the payload is empty; a stream needs at least one bit to send.")
    a, rate, m = payload_bits, mcs.code_rate, mcs.bits_per_symbol
    b = a + tb_crc(a)[1]
    k_cb_max = MAX_CB_BITS_BG2 if base_graph(a, rate) == "bg2" else MAX_CB_BITS_BG1
    if b <= k_cb_max:
        num_cbs, crc_bits = 1, 0
    else:
        crc_bits = CB_CRC_BITS
        num_cbs = math.ceil(b / (k_cb_max - crc_bits))
    pad = (-(b + num_cbs * crc_bits)) % num_cbs
    k = (b + pad + num_cbs * crc_bits) // num_cbs
    e = m * math.ceil(k / (rate * m))
    e0 = e
    while k / e0 < MIN_CODE_RATE:
        e0 -= m
    if rate >= MIN_CODE_RATE - 1e-9:
        return TBLayout(a, pad, num_cbs, k, e0, m)  # rounding below 1/5: trimmed, not repeated
    return TBLayout(a, pad, num_cbs, k, e, m, e0)


def layout_for(payload_bits: int, mcs: MCS) -> TBLayout:
    """The layout of a block of ``payload_bits`` at ``mcs``: :func:`tb_layout` for LDPC,
    :func:`channels.polar.polar_layout` for a Polar MCS."""
    if mcs.code == "polar":
        from channels.polar import polar_layout

        return polar_layout(payload_bits, mcs)
    return tb_layout(payload_bits, mcs)


def stream_symbols(payload_bits: int, mcs: MCS) -> int:
    """Data symbols of one stream's transport block, without building the codec (pure
    arithmetic on the transport-block layout)."""
    return layout_for(transport_block_size(payload_bits, mcs.code_rate), mcs).num_symbols


def repeat_index(layout: TBLayout, device=None) -> torch.Tensor:
    """[E] positions in the E0-bit LDPC codeword of each of the E bits sent (``i mod E0``)."""
    return torch.arange(layout.cb_coded_bits, device=device) % layout.ldpc_coded_bits


def fold_repetitions(llr: torch.Tensor, layout: TBLayout) -> torch.Tensor:
    """LLRs [..., C*E] of repeated code blocks -> [..., C*E0]: each codeword bit's copies
    added (maximum-ratio combining of the repetitions)."""
    c, e, e0 = layout.num_cbs, layout.cb_coded_bits, layout.ldpc_coded_bits
    x = llr.reshape(*llr.shape[:-1], c, e)
    out = torch.zeros(*x.shape[:-1], e0, dtype=x.dtype, device=x.device)
    out.index_add_(x.dim() - 1, repeat_index(layout, x.device), x)
    return out.reshape(*llr.shape[:-1], c * e0)
