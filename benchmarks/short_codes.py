"""Short payloads the 5G way: what CRC16 and the Polar code buy the caption and SPWs.

    python benchmarks/short_codes.py [--blocks 2000] [--sizes 40 56 88]

For caption- and SPW-sized payloads, each sent in the ``n`` code bits our link gives it at
LDPC QPSK 1/5 (``stream_symbols``), over AWGN, the Es/N0 of 10 % block error rate of:

- ``LDPC+CRC24A``: the transport block our link sent until CRC16 landed (CRC24A + 5G LDPC
  at the same ``n``), built from Sionna's ``CRCEncoder("CRC24A")`` + ``LDPC5GEncoder``;
- ``LDPC+CRC16 (link)``: our link's transport block today (TS 38.212 7.2.1: CRC16 for
  blocks of at most 3824 bits; ``Link.run_blocks`` at QPSK 1/5);
- ``Polar (link)``: our link's 5G Polar code (:mod:`channels.polar`: uplink CRC11, rate
  matching to the same ``n``, scrambling, SCL list 8);
- ``Polar (Sionna chain)``: Sionna's own example chain for the same (k, n) —
  ``Polar5GEncoder`` → QPSK ``Mapper`` → AWGN → ``Demapper`` → ``Polar5GDecoder`` (SCL 8),
  no scrambling — the reference our link's Polar must match (within 0.3 dB).

Each threshold is interpolated in log(BLER) between the two points of a 0.25 dB grid that
straddle 10 %; the table prints the gain over LDPC+CRC24A in dB.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from rich.console import Console
from rich.table import Table
from sionna.phy.fec.crc import CRCDecoder, CRCEncoder
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.fec.polar import Polar5GDecoder, Polar5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from channels.link import Link
from channels.mcs import MCS
from channels.polar import CRC_BITS
from channels.segmentation import stream_symbols

QPSK = Mapper("qam", 2)
DEMAP = Demapper("app", "qam", 2)


def _awgn_llr(c: torch.Tensor, snr_db: float, gen: torch.Generator) -> torch.Tensor:
    """QPSK over AWGN at Es/N0 ``snr_db``: code bits [B, n] -> LLRs [B, n]."""
    x = QPSK(c)
    no = 10 ** (-snr_db / 10)
    noise = torch.complex(
        torch.randn(x.shape, generator=gen), torch.randn(x.shape, generator=gen)
    ) * math.sqrt(no / 2)
    return DEMAP(x + noise, torch.tensor(no))


def ldpc_crc24a(k: int, n: int):
    """CRC24A + 5G LDPC in ``n`` code bits; below rate 1/5 the rate-1/5 codeword is
    repeated cyclically and the copies' LLRs added, as our link does."""
    crc = CRCEncoder("CRC24A")
    kk = k + crc.crc_length
    n0 = min(n, 2 * math.floor(kk * 5 / 2))  # rate >= 1/5, a whole number of QPSK symbols
    enc = LDPC5GEncoder(kk, n0, num_bits_per_symbol=2)
    dec = LDPC5GDecoder(enc, num_iter=20, hard_out=True, return_infobits=True)
    crc_dec = CRCDecoder(crc)
    where = torch.arange(n) % n0

    def run(u, snr, gen):
        llr = _awgn_llr(enc(crc(u))[:, where], snr, gen)
        folded = torch.zeros(llr.shape[0], n0).index_add_(1, where, llr)
        _, ok = crc_dec(dec(folded))
        return ok.flatten()

    return run


def polar_sionna(k: int, n: int):
    """Sionna's example chain: Polar5GEncoder, QPSK, AWGN, SCL-8 Polar5GDecoder."""
    enc = Polar5GEncoder(k, n)
    dec = Polar5GDecoder(enc, dec_type="SCL", list_size=8, return_crc_status=True)

    def run(u, snr, gen):
        llr = _awgn_llr(enc(u), snr, gen)
        bits, ok = dec(llr)
        return ok.flatten() & (bits == u).all(-1)

    return run


def in_link(link: Link, mcs: MCS):
    """Our link at ``mcs``: a block arrives when its CRC passes and its bits are right."""

    def run(u, snr, gen):
        out = link.run_blocks(u, mcs, snr, gen)
        return out.tb_ok & ~out.undetected

    return run


def threshold(run, k: int, blocks: int, start: float, seed: int) -> float:
    """Es/N0 (dB) of 10 % BLER: walk a 0.25 dB grid up from ``start`` until BLER <= 10 %,
    interpolate log10(BLER) between the straddling points."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.randint(0, 2, (blocks, k), generator=gen).float()
    s, prev = start, None
    while s < start + 15:
        bler = 1.0 - run(u, s, gen).float().mean().item()
        if bler <= 0.1:
            if prev is None:
                return s  # started too high: the grid's first point
            p0, p1 = max(prev[1], 0.5 / blocks), max(bler, 0.5 / blocks)
            frac = (math.log10(p0) - math.log10(0.1)) / (math.log10(p0) - math.log10(p1))
            return prev[0] + frac * 0.25
        prev = (s, bler)
        s += 0.25
    return math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 56, 88])
    args = parser.parse_args()
    torch.set_num_threads(1)
    link, mcs = Link("awgn"), MCS("qpsk", 0.2)
    table = Table("payload bits", "QPSK symbols", "code", "10 % BLER Es/N0 (dB)", "gain (dB)")
    t0 = time.perf_counter()
    for k in args.sizes:
        n = 2 * stream_symbols(k, mcs)
        polar_mcs = MCS("qpsk", (k + CRC_BITS) / n, code="polar")  # the same n code bits
        codes = {
            "LDPC+CRC24A": ldpc_crc24a(k, n),
            "LDPC+CRC16 (link)": in_link(link, mcs),
            "Polar+CRC11 SCL-8 (link)": in_link(link, polar_mcs),
            "Polar+CRC11 SCL-8 (Sionna chain)": polar_sionna(k, n),
        }
        base = None
        for name, run in codes.items():
            t = threshold(run, k, args.blocks, -6.0, seed=k)
            base = t if base is None else base
            table.add_row(str(k), str(n // 2), name, f"{t:.2f}", f"{base - t:+.2f}")
    Console().print(table)
    print(f"{args.blocks} blocks per point, AWGN, QPSK; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
