"""Error-rate curves: BER, BLER, iterations and throughput against SNR."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from channels.link import Link, check_snr, stream_generator
from channels.mcs import MCS, modulation_bits
from channels.theory import uncoded_ber


@dataclass
class CurvePoint:
    """One SNR point of a curve; rates are fractions, ``info_kbps`` is wall-clock speed.

    ``ber`` counts payload bits (after decoding when coded), ``pre_fec_ber`` coded bits
    before decoding, ``bler`` transport blocks whose CRC failed (uncoded: blocks with any
    bit error); ``undetected`` counts blocks whose CRC passed with wrong bits.
    """

    snr_db: float
    blocks: int
    bits_per_block: int
    channel_uses_per_block: int
    bit_errors: int
    block_errors: int
    ber: float
    bler: float
    pre_fec_ber: float | None
    undetected: int | None
    iterations: float | None
    seconds: float
    info_kbps: float
    ber_theory: float | None = None
    #: With HARQ (``Link(harq=...)``): the first transmission's BLER and the mean number of
    #: transmissions per block; ``bler`` is then the residual BLER after them.
    bler_first: float | None = None
    transmissions: float | None = None


def _payload(
    link: Link, seed: int, label: str, blocks: int, bits: int
) -> tuple[torch.Tensor, torch.Generator]:
    """Random payload bits (drawn on the CPU, moved to the link's device) and the channel's
    generator (on the CPU, as every channel generator)."""
    bits_gen = stream_generator(seed, label)
    payload = torch.randint(0, 2, (blocks, bits), generator=bits_gen).float()
    return payload.to(link.device), stream_generator(seed, label + "/channel")


def coded_curve(
    link: Link, mcs: MCS, snrs_db: list[float], bits: int, blocks: int, seed: int = 0
) -> list[CurvePoint]:
    """Send ``blocks`` random transport blocks of ``bits`` bits at each SNR."""
    points = []
    for snr in snrs_db:
        snr = check_snr(snr)
        payload, gen = _payload(link, seed, f"{link.channel.name}/{mcs}/{snr}", blocks, bits)
        t0 = time.perf_counter()
        if link.harq is None:
            out, first, tx = link.run_blocks(payload, mcs, snr, gen), None, None
        else:
            out, first, tx = _harq_blocks(link, payload, mcs, snr, gen)
        dt = time.perf_counter() - t0
        lay = out.layout
        points.append(
            CurvePoint(
                snr_db=snr,
                blocks=blocks,
                bits_per_block=bits,
                channel_uses_per_block=link.channel.channel_uses(lay.num_symbols),
                bit_errors=int(out.bit_errors.sum()),
                block_errors=int((~out.tb_ok).sum()),
                ber=float(out.bit_errors.sum()) / (blocks * bits),
                bler=float((~out.tb_ok).float().mean()),
                pre_fec_ber=float(out.pre_fec_errors.sum()) / (blocks * lay.coded_bits),
                undetected=int(out.undetected.sum()),
                iterations=float(out.iterations.float().mean()),
                seconds=dt,
                info_kbps=blocks * bits / dt / 1e3,
                bler_first=first,
                transmissions=tx,
            )
        )
    return points


def _harq_blocks(link: Link, payload: torch.Tensor, mcs: MCS, snr: float, gen):
    """:meth:`Link.run_blocks` with the link's HARQ policy: the first transmission is the
    same draw as without HARQ; failed blocks are sent again (next redundancy version, the
    same generator continued) and decoded combined. Returns (the final BlockResult, the
    first transmission's BLER, mean transmissions per block)."""
    from channels.link import CHUNK_CODED_BITS

    lay = link.fec(payload.shape[-1], mcs)[0].layout
    chunk = max(1, CHUNK_CODED_BITS // lay.coded_bits)
    sent = [link.send(payload[i : i + chunk], mcs, snr, gen) for i in range(0, len(payload), chunk)]
    codes, llrs = torch.cat([c for c, _ in sent]), [torch.cat([x for _, x in sent])]
    out = link.receive(llrs[0], codes, payload, mcs)
    first = float((~out.tb_ok).float().mean())
    tx = torch.ones(len(payload), dtype=torch.int64)
    history = {i: [llrs[0][i]] for i in range(len(payload))}
    policy = link.harq
    for attempt in range(1, policy.max_transmissions):
        rows = torch.nonzero(~out.tb_ok).flatten().tolist()
        if not rows:
            break
        rv = policy.rv(attempt)
        again_sent = [
            link.send(payload[rows[i : i + chunk]], mcs, snr, gen, rv=rv)
            for i in range(0, len(rows), chunk)
        ]
        code, llr = torch.cat([c for c, _ in again_sent]), torch.cat([x for _, x in again_sent])
        for k, r in enumerate(rows):
            history[r].append(llr[k])
            tx[r] += 1
        rvs = [policy.rv(a) for a in range(attempt + 1)]
        combined = torch.stack([torch.stack(history[r]) for r in rows])  # [n, R, G]
        again = link.receive(combined, code, payload[rows], mcs, rv=rvs)
        for name in ("bits", "tb_ok", "bit_errors", "iterations"):  # pre-FEC: the first's
            getattr(out, name)[rows] = getattr(again, name)
    return out, first, float(tx.float().mean())


def uncoded_curve(
    link: Link, modulation: str, snrs_db: list[float], bits: int, blocks: int, seed: int = 0
) -> list[CurvePoint]:
    """Send raw bits (no CRC, no FEC); ``bits`` is rounded up to the modulation order."""
    m = modulation_bits(modulation)
    bits = -(-bits // m) * m
    points = []
    for snr in snrs_db:
        snr = check_snr(snr)
        payload, gen = _payload(link, seed, f"{link.channel.name}/{modulation}/{snr}", blocks, bits)
        t0 = time.perf_counter()
        hard = link.run_uncoded(payload, modulation, snr, gen)
        dt = time.perf_counter() - t0
        errors = (hard != payload).sum(-1)
        points.append(
            CurvePoint(
                snr_db=snr,
                blocks=blocks,
                bits_per_block=bits,
                channel_uses_per_block=link.channel.channel_uses(bits // m),
                bit_errors=int(errors.sum()),
                block_errors=int((errors > 0).sum()),
                ber=float(errors.sum()) / (blocks * bits),
                bler=float((errors > 0).float().mean()),
                pre_fec_ber=None,
                undetected=None,
                iterations=None,
                seconds=dt,
                info_kbps=blocks * bits / dt / 1e3,
                ber_theory=uncoded_ber(link.channel.name, modulation.lower(), snr)
                if getattr(link.channel, "coherence", 1) == 1 or link.channel.name == "awgn"
                else None,
            )
        )
    return points
