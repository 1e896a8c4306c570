"""What the link returns: :class:`BlockResult` (a batch of transport blocks),
:class:`StreamStats` and :class:`StreamOutcome` (one stream of one transmission) and
:class:`Transmission` (one ``Link.transmit``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from channels.bits import bits_to_bytes
from channels.segmentation import TBLayout


@dataclass
class BlockResult:
    """Outcome of :meth:`Link.run_blocks` for B transport blocks.

    Attributes:
        bits: [B, A] float {0, 1} decoded payload bits (hard decision, CRC pass or not).
        tb_ok: [B] bool, CRC passed.
        bit_errors: [B] int, payload bits that differ from what was sent.
        pre_fec_errors: [B] int, coded bits whose hard decision (before decoding) is wrong.
        iterations: [B, C] int, BP iterations per code block.
        layout: the segmentation used (its ``payload_bits`` is the padded TB size).
    """

    bits: torch.Tensor
    tb_ok: torch.Tensor
    bit_errors: torch.Tensor
    pre_fec_errors: torch.Tensor
    iterations: torch.Tensor
    layout: TBLayout

    @property
    def undetected(self) -> torch.Tensor:
        """[B] bool: the CRC passed but the bits are wrong."""
        return self.tb_ok & (self.bit_errors > 0)


@dataclass
class StreamStats:
    """Per-stream statistics of one transmission."""

    mcs: str
    modulation: str
    code_rate: float
    adaptive: bool
    payload_bits: int
    code_blocks: int
    data_symbols: int
    channel_uses: int
    pre_fec_ber: float
    crc_ok: bool
    undetected: bool
    bit_errors: int
    iterations: float
    #: Transmissions the stream took (1 without HARQ); ``channel_uses`` counts them all.
    transmissions: int = 1


@dataclass
class StreamOutcome:
    """What arrived of one stream: its bytes, or ``None`` for an erasure."""

    payload: bytes | None
    stats: StreamStats
    hard_bytes: bytes | None = None

    @property
    def erased(self) -> bool:
        return self.payload is None


@dataclass
class Transmission:
    """The result of :meth:`Link.transmit`."""

    channel: str
    snr_db: float
    budget: int | None
    channel_uses: int
    streams: dict[str, StreamOutcome] = field(default_factory=dict)

    def received(self) -> dict[str, bytes | None]:
        """Stream name -> delivered bytes, ``None`` where the CRC failed."""
        return {name: s.payload for name, s in self.streams.items()}

    def to_dict(self) -> dict:
        """A JSON-ready summary (statistics only, no payloads)."""
        return {
            "channel": self.channel,
            "snr_db": self.snr_db,
            "budget": self.budget,
            "channel_uses": self.channel_uses,
            "streams": {n: asdict(s.stats) for n, s in self.streams.items()},
        }


def stream_outcome(
    out: BlockResult, k: int, mcs, adaptive: bool, uses: int, return_hard: bool
) -> StreamOutcome:
    """Row ``k`` of a decoded batch as one stream's outcome and statistics: its bytes when
    the CRC passed (an undetected error is delivered, as a real receiver would, and
    counted), else an erasure (with ``return_hard``, the hard decision beside it)."""
    ok = bool(out.tb_ok[k])
    hard = bits_to_bytes(out.bits[k])
    stats = StreamStats(
        mcs=str(mcs),
        modulation=mcs.modulation,
        code_rate=mcs.code_rate,
        adaptive=adaptive,
        payload_bits=out.bits.shape[-1],
        code_blocks=out.layout.num_cbs,
        data_symbols=out.layout.num_symbols,
        channel_uses=uses,
        pre_fec_ber=float(out.pre_fec_errors[k]) / out.layout.coded_bits,
        crc_ok=ok,
        undetected=bool(out.undetected[k]),
        bit_errors=int(out.bit_errors[k]),
        iterations=float(out.iterations[k].float().mean()),
    )
    return StreamOutcome(
        payload=hard if ok else None,
        stats=stats,
        hard_bytes=hard if (return_hard and not ok) else None,
    )
