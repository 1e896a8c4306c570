"""The link: named byte streams in, per-stream bytes (or erasures) out.

Each stream has its own protection (unequal error protection); by default the streams of
one transmission share one frame and one channel realisation (:mod:`channels.frame`)::

    bytes ─► bits ─► TransportBlockEncoder ─► Mapper (Gray QAM) ─► channel model
          ─► equalise ─► Demapper (LLRs) ─► TransportBlockDecoder ─► CRC ok? ─► bytes | erasure

``Link.transmit`` is the per-image API; ``Link.run_blocks`` is the batched core that
sweeps and BER/BLER curves call with many transport blocks at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from sionna.phy.mapping import Demapper, Mapper

from channels.bits import bits_to_bytes, bytes_to_bits
from channels.checks import check_budget, check_snr
from channels.coding import TransportBlockDecoder, TransportBlockEncoder, build_fec
from channels.devices import canonical_device, on_own_device
from channels.errors import LinkError
from channels.frame import FRAMES, check_frame, frame_uses, send_frame, stream_generator
from channels.harq import HarqPolicy, Pending, retransmit
from channels.mcs import (
    MCS,
    ROBUST,
    modulation_bits,
    parse_mcs,
    protection_keyword,
    robust_ladder,
    select_mcs,
    select_robust,
)
from channels.models import ChannelModel, make_channel
from channels.results import (
    BlockResult,
    StreamOutcome,
    StreamStats,
    Transmission,
    stream_outcome,
)
from channels.segmentation import stream_symbols, transport_block_size

__all__ = [
    "FRAMES",
    "BlockResult",
    "Link",
    "Protection",
    "StreamOutcome",
    "StreamStats",
    "Transmission",
    "bits_to_bytes",
    "bytes_to_bits",
    "check_budget",
    "check_snr",
    "stream_generator",
]

#: Protection of one stream: a fixed MCS, "adaptive" (the table's best MCS for the SNR) or
#: "robust" (the same with 3 dB more margin; below the table QPSK 1/5, repeated as the SNR
#: asks and the budget allows; for streams that must arrive).
Protection = MCS | str

#: Coded bits decoded per chunk in :meth:`Link.run_blocks` (bounds memory).
CHUNK_CODED_BITS = 1 << 21


class Link:
    """A protected link over one channel model.

    Args:
        channel: a channel name (``awgn``, ``rayleigh``, ``tdl-a|b|c``) or a
            :class:`~channels.models.ChannelModel`.
        max_iter: maximum LDPC belief-propagation iterations.
        early_stop: stop decoding each code block once its CRC passes.
        margin_db: adaptive MCS selection keeps this much SNR above a threshold.
        channel_options: keyword options for :func:`~channels.models.make_channel`.
        device: torch device for every tensor of the chain.
        frame: ``"shared"`` (default): the streams of one transmission share one frame and
            one channel realisation, fixed by the transmission's seed; ``"per-stream"``:
            each stream is its own frame with its own realisation, fixed by (seed, stream
            name) (:mod:`channels.frame`).
        harq: a :class:`~channels.harq.HarqPolicy` (or a number of transmissions per
            stream, or a mapping of its fields): a stream whose CRC fails is sent again
            and soft-combined; ``None`` (default): one transmission.
    """

    def __init__(
        self,
        channel: str | ChannelModel = "awgn",
        *,
        max_iter: int = 20,
        early_stop: bool = True,
        margin_db: float = 0.0,
        channel_options: Mapping | None = None,
        device: str | None = None,
        frame: str = "shared",
        harq: HarqPolicy | int | Mapping | None = None,
    ) -> None:
        self.device = canonical_device(device)
        self.frame = check_frame(frame)
        self.harq = HarqPolicy.parse(harq)
        if isinstance(channel, ChannelModel):
            self.channel = channel
        else:
            # the link's device, not Sionna's default (which is a GPU where one is present)
            self.channel = make_channel(channel, device=self.device, **dict(channel_options or {}))
        if max_iter < 1:
            raise LinkError(f"max_iter must be at least 1, got {max_iter}.")
        self.max_iter = int(max_iter)
        self.early_stop = bool(early_stop)
        self.margin_db = float(margin_db)
        self._modems: dict[int, tuple[Mapper, Demapper]] = {}

    # -- building blocks ------------------------------------------------------------
    @on_own_device
    def modem(self, bits_per_symbol: int) -> tuple[Mapper, Demapper]:
        """Gray QAM mapper and APP demapper for ``bits_per_symbol``."""
        if bits_per_symbol not in self._modems:
            self._modems[bits_per_symbol] = (
                Mapper("qam", bits_per_symbol, device=self.device),
                Demapper("app", "qam", bits_per_symbol, device=self.device),
            )
        return self._modems[bits_per_symbol]

    def fec(
        self, payload_bits: int, mcs: MCS
    ) -> tuple[TransportBlockEncoder, TransportBlockDecoder]:
        """The forward error correction for a payload size and MCS: transport-block encoder
        and decoder (cached).

        They work on the transport block size :func:`~channels.coding.transport_block_size`
        gives (the payload zero-padded), so payloads of nearby sizes share them.
        """
        tb_size = transport_block_size(payload_bits, mcs.code_rate)
        return build_fec(tb_size, mcs, self.max_iter, self.early_stop, self.device)

    @property
    def calibrated_as(self) -> str:
        """The channel whose measured MCS thresholds adaptive protection reads for this
        link's channel (its ``thresholds_from``, else its own name)."""
        return getattr(self.channel, "thresholds_from", None) or self.channel.name

    def resolve(
        self, protection: Protection, snr_db: float, payload_bits: int | None = None
    ) -> tuple[MCS, bool]:
        """An MCS for ``protection`` at ``snr_db``; the flag says it was chosen adaptively
        (from the thresholds of blocks of ``payload_bits``; None: the main table's size)."""
        if isinstance(protection, MCS):
            return protection, False
        keyword = protection_keyword(protection)
        if keyword is not None:
            select = select_robust if keyword == ROBUST else select_mcs
            return select(snr_db, self.calibrated_as, self.margin_db, payload_bits), True
        if isinstance(protection, str):
            return parse_mcs(protection), False
        raise LinkError(
            f"protection {protection!r} is not understood; give an MCS, 'adaptive', "
            "'robust', 'mcsN' or 'modulation:rate'."
        )

    def ladder(
        self, protection: Protection, snr_db: float, payload_bits: int | None = None
    ) -> list[tuple[MCS, bool]]:
        """The protections a planner tries for one stream, in order, each with the
        adaptive flag: a ``robust`` stream's :func:`~channels.mcs.robust_ladder` (the most
        robust first, down to plain QPSK 1/5), else :meth:`resolve`'s one choice."""
        if protection_keyword(protection) == ROBUST:
            rungs = robust_ladder(snr_db, self.calibrated_as, self.margin_db, payload_bits)
            return [(m, True) for m in rungs]
        return [self.resolve(protection, snr_db, payload_bits)]

    def channel_uses(self, payload_bits: int, mcs: MCS) -> int:
        """Channel uses one stream of ``payload_bits`` takes at ``mcs`` in a frame of its own
        (pilots included)."""
        return self.channel.channel_uses(self.fec(payload_bits, mcs)[0].layout.num_symbols)

    def frame_uses(self, symbols: Sequence[int]) -> int:
        """Channel uses of one transmission whose streams carry ``symbols`` data symbols
        each, in this link's frame layout (pilots included)."""
        return frame_uses(self.channel, symbols, self.frame)

    # -- the batched core -----------------------------------------------------------
    @torch.no_grad()
    @on_own_device
    def send(
        self,
        bits: torch.Tensor,
        mcs: MCS,
        snr_db: float,
        generator: torch.Generator,
        rv: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode (redundancy version ``rv``), modulate, send and demap B blocks:
        ``bits`` [B, A] -> (code bits, LLRs).

        Both outputs are [B, G] float32; this is everything before the decoder.
        """
        enc, _ = self.fec(bits.shape[-1], mcs)
        lay = enc.layout
        mapper, demapper = self.modem(lay.bits_per_symbol)
        padded = torch.nn.functional.pad(bits, (0, lay.payload_bits - bits.shape[-1]))
        c = enc(padded.to(self.device, torch.float32), rv=rv)
        x = mapper(c)
        (llr,) = self.channel.detect(
            x,
            10.0 ** (-check_snr(snr_db) / 10.0),
            generator=generator,
            segments=[(x.shape[-1], demapper)],
            block_symbols=lay.symbols_per_cb,
        )
        return c, llr

    @torch.no_grad()
    @on_own_device
    def receive(
        self,
        llr: torch.Tensor,
        sent_code: torch.Tensor,
        sent_bits: torch.Tensor,
        mcs: MCS,
        rv: list[int] | None = None,
    ) -> BlockResult:
        """Decode B blocks of LLRs [B, G] together (in memory-bounded chunks); with ``rv``
        (HARQ), LLRs [B, R, G] of R transmissions combined.

        ``sent_code`` [B, G] (the last transmission's) and ``sent_bits`` [B, A] are what
        was sent; they are used only to count errors for the statistics, never to decode.
        """
        sent_bits = sent_bits.to(self.device, torch.float32)
        payload_bits = sent_bits.shape[-1]
        _, dec = self.fec(payload_bits, mcs)
        lay = dec.layout
        chunk = max(1, CHUNK_CODED_BITS // (lay.coded_bits * (len(rv) if rv else 1)))
        parts = []
        for start in range(0, llr.shape[0], chunk):
            rows = slice(start, start + chunk)
            out = dec(llr[rows], rv=rv)
            last = llr[rows] if rv is None else llr[rows][:, -1]
            bits = out.bits[:, :payload_bits]  # drop the zero padding up to the TB size
            parts.append(
                (
                    bits,
                    out.tb_ok,
                    (bits != sent_bits[rows]).sum(-1),
                    ((last > 0).to(llr.dtype) != sent_code[rows]).sum(-1),
                    out.iterations,
                )
            )
        cat = [torch.cat(p) for p in zip(*parts, strict=True)]
        return BlockResult(*cat, layout=lay)

    @torch.no_grad()
    @on_own_device
    def run_blocks(
        self, bits: torch.Tensor, mcs: MCS, snr_db: float, generator: torch.Generator
    ) -> BlockResult:
        """Send B transport blocks ``bits`` [B, A] at ``mcs`` through the channel."""
        lay = self.fec(bits.shape[-1], mcs)[0].layout
        chunk = max(1, CHUNK_CODED_BITS // lay.coded_bits)
        codes, llrs = [], []
        for start in range(0, bits.shape[0], chunk):
            c, llr = self.send(bits[start : start + chunk], mcs, snr_db, generator)
            codes.append(c)
            llrs.append(llr)
        return self.receive(torch.cat(llrs), torch.cat(codes), bits, mcs)

    @torch.no_grad()
    @on_own_device
    def run_uncoded(
        self, bits: torch.Tensor, modulation: str, snr_db: float, generator: torch.Generator
    ) -> torch.Tensor:
        """Send raw bits [B, n] (n a multiple of the modulation order); returns hard bits."""
        snr_db = check_snr(snr_db)
        m = modulation_bits(modulation)
        if bits.shape[-1] % m:
            raise LinkError(f"uncoded {modulation} needs a multiple of {m} bits per block.")
        mapper, demapper = self.modem(m)
        x = mapper(bits.to(self.device, torch.float32))
        no = 10.0 ** (-snr_db / 10.0)
        (llr,) = self.channel.detect(x, no, generator=generator, segments=[(x.shape[-1], demapper)])
        return (llr > 0).to(torch.float32)

    # -- the per-image API ----------------------------------------------------------
    def plan(
        self,
        payload_bits: Mapping[str, int],
        snr_db: float,
        budget: float | None = None,
        protection: Protection | Mapping[str, Protection] = "adaptive",
    ) -> dict[str, tuple[MCS, bool, int]]:
        """Choose each stream's MCS and check the budget.

        Returns stream name -> (MCS, chosen adaptively, channel uses): in a shared frame a
        stream's data symbols (the frame's pilots are the transmission's), else the uses of
        its own frame. Raises :class:`LinkError` when the transmission does not fit
        ``budget`` channel uses.
        """
        snr_db = check_snr(snr_db)
        budget = check_budget(budget)
        if not payload_bits:
            raise LinkError("no streams to send; give at least one named payload.")
        rungs: dict[str, list[tuple[MCS, bool, int]]] = {}
        for name, nbits in payload_bits.items():
            if nbits <= 0:
                raise LinkError(f"stream {name!r} is empty; every stream needs at least one byte.")
            prot = (
                protection.get(name, "adaptive") if isinstance(protection, Mapping) else protection
            )
            rungs[name] = []
            for mcs, adaptive in self.ladder(prot, snr_db, nbits):
                symbols = stream_symbols(nbits, mcs)
                uses = symbols if self.frame == "shared" else self.channel.channel_uses(symbols)
                rungs[name].append((mcs, adaptive, uses))
        # every stream is sent: each takes the first rung of its ladder (a robust stream
        # gives up repetitions for room) with which the streams after it still fit at
        # their last rungs; none fitting: the last, and the error below
        plan = {name: options[-1] for name, options in rungs.items()}
        for name, options in rungs.items():
            for option in options:
                plan[name] = option
                if budget is None or self.planned_uses(plan) <= budget:
                    break
        total = self.planned_uses(plan)
        if budget is not None and total > budget:
            detail = ", ".join(f"{n} {cu} at {m}" for n, (m, _, cu) in plan.items())
            raise LinkError(
                f"the streams need {total} channel uses ({detail}) but the budget is "
                f"{budget}; raise the budget, shorten the payload or use a higher-rate MCS."
            )
        return plan

    def planned_uses(self, plan: Mapping[str, tuple[MCS, bool, int]]) -> int:
        """Channel uses of a transmission :meth:`plan` made: one shared frame over the
        streams' data symbols, or the sum of the streams' own frames."""
        uses = [cu for _, _, cu in plan.values()]
        return self.frame_uses(uses) if self.frame == "shared" else sum(uses)

    def transmit(
        self,
        payloads: Mapping[str, bytes],
        snr_db: float,
        budget: float | None = None,
        protection: Protection | Mapping[str, Protection] = "adaptive",
        *,
        seed: int = 0,
        return_hard: bool = False,
    ) -> Transmission:
        """Send named byte payloads; each arrives as bytes or as an erasure (``None``).

        Args:
            payloads: stream name -> bytes (each non-empty).
            snr_db: Es/N0 in dB (average over fading).
            budget: total complex channel uses available, or ``None`` for no limit.
            protection: one protection for all streams or a mapping per stream (missing
                streams are adaptive): an :class:`MCS`, ``"adaptive"``, ``"robust"``, ``"mcsN"`` or
                ``"modulation:rate"``.
            seed: fixes noise and fading (of the whole frame; per stream with
                ``frame="per-stream"``, each from its own generator).
            return_hard: also return the hard-decided bytes of streams whose CRC failed.
        """
        return self.transmit_many(
            [payloads], snr_db, budget, protection, seeds=[seed], return_hard=return_hard
        )[0]

    @on_own_device
    def transmit_many(
        self,
        items: Sequence[Mapping[str, bytes]],
        snr_db: float,
        budget: float | None = None,
        protection: Protection | Mapping[str, Protection] = "adaptive",
        *,
        seeds: Sequence[int] | None = None,
        return_hard: bool = False,
    ) -> list[Transmission]:
        """:meth:`transmit` for many items (images, trials) at once.

        Every item's streams see exactly the noise and fading that :meth:`transmit` with
        the same seed gives them; the decoding is batched: all code blocks that share a
        payload size and MCS, across streams and items, go through the decoder together.
        ``seeds`` defaults to ``0, 1, 2, ...``.
        """
        seeds = list(range(len(items))) if seeds is None else list(seeds)
        if len(seeds) != len(items):
            raise LinkError(f"{len(seeds)} seeds were given for {len(items)} items.")
        results, groups, failed = [], {}, []
        for i, payloads in enumerate(items):
            plan = self.plan(
                {n: 8 * len(p) for n, p in payloads.items()}, snr_db, budget, protection
            )
            results.append(
                Transmission(
                    self.channel.name,
                    float(snr_db),
                    check_budget(budget),
                    self.planned_uses(plan),
                )
            )
            frame = None
            if self.frame == "shared":
                frame = send_frame(
                    self,
                    {n: torch.from_numpy(bytes_to_bits(p))[None] for n, p in payloads.items()},
                    {n: plan[n][0] for n in payloads},
                    snr_db,
                    seeds[i],
                )
            for name, data in payloads.items():
                mcs = plan[name][0]
                sent = frame[name] if frame is not None else None
                groups.setdefault((8 * len(data), mcs), []).append((i, name, plan[name], sent))
        for (_, mcs), members in groups.items():
            bits = torch.stack(
                [torch.from_numpy(bytes_to_bits(items[i][name])) for i, name, _, _ in members]
            ).to(self.device)
            sent = [
                shared
                if shared is not None
                else self.send(bits[k : k + 1], mcs, snr_db, stream_generator(seeds[i], name))
                for k, (i, name, _, shared) in enumerate(members)
            ]
            code = torch.cat([c for c, _ in sent])
            out = self.receive(torch.cat([llr for _, llr in sent]), code, bits, mcs)
            for k, (i, name, (_, adaptive, uses), _) in enumerate(members):
                results[i].streams[name] = stream_outcome(out, k, mcs, adaptive, uses, return_hard)
                if self.harq is not None and not bool(out.tb_ok[k]):
                    symbols = self.fec(bits.shape[-1], mcs)[0].layout.num_symbols
                    p = Pending(i, name, bits[k : k + 1], mcs, adaptive, symbols, uses)
                    p.codes.append(sent[k][0])
                    p.llrs.append(sent[k][1])
                    p.rvs.append(0)
                    p.rank = list(items[i]).index(name)
                    failed.append(p)
        if failed:
            retransmit(
                self, failed, results, snr_db, check_budget(budget), seeds, self.harq, return_hard
            )
        for i, payloads in enumerate(items):  # keep the caller's stream order
            results[i].streams = {n: results[i].streams[n] for n in payloads}
        return results
