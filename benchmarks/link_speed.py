"""Early-terminating LDPC decoding against Sionna's fixed-iteration decoder, same LLRs.

Run: ``.venv/bin/python benchmarks/link_speed.py`` (part of ``make bench``).

For QPSK 1/2, 16-QAM 1/2 and 64-QAM 3/4 over AWGN and block Rayleigh fading, at each
MCS's measured 10 % BLER threshold (channels/data/mcs_thresholds.json, interpolated in
spectral efficiency), +1 dB and +3 dB, the same LLRs go through

* raw: Sionna's ``LDPC5GDecoder`` running its fixed 20 flooding iterations
  (``TransportBlockDecoder(early_stop=False)``, which adds only the CRC checks), and
* ours: ``TransportBlockDecoder(early_stop=True)``, which checks each code block's CRC
  after every iteration and retires the blocks that pass.

It prints BLER (with the binomial tolerance of the difference), undetected errors, mean
iterations, information kbit/s of each and their ratio.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from channels.coding import TransportBlockDecoder
from channels.link import Link, stream_generator
from channels.mcs import MCS, threshold_db

CASES = [
    ("QPSK 1/2", MCS("qpsk", 0.5)),
    ("16-QAM 1/2", MCS("qam16", 0.5)),
    ("64-QAM 3/4", MCS("qam64", 0.75)),
]
OFFSETS_DB = (0.0, 1.0, 3.0)


def llrs_for(link: Link, mcs: MCS, bits: torch.Tensor, snr_db: float, seed: int):
    """Encode, modulate, send and demap: the encoder and the LLRs both decoders see."""
    gen = stream_generator(seed, f"{link.channel.name}/{mcs}/{snr_db}")
    return link.fec(bits.shape[-1], mcs)[0], link.send(bits, mcs, snr_db, gen)[1]


def timed_pair(raw_dec, our_dec, llr, repeats: int):
    """Median seconds of both decoders on the same LLRs, alternating (fair under load)."""
    t_raw, t_our, raw, our = [], [], None, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        raw = raw_dec(llr)
        t1 = time.perf_counter()
        our = our_dec(llr)
        t2 = time.perf_counter()
        t_raw.append(t1 - t0)
        t_our.append(t2 - t1)
    return statistics.median(t_raw), raw, statistics.median(t_our), our


def sweep_like(repeats: int) -> None:
    """A sweep's link stage: MTGC-sized and JPEG-sized streams, 6 SNRs, 2 channels, 6 items.

    Before: one ``transmit`` per item with 20 fixed iterations (the raw Sionna decoder).
    After: ``transmit_many`` (code blocks of all items decoded together) with early stop.
    """
    items = [
        {
            "caption": bytes(range(i, i + 12)),
            "spw": bytes(range(i, i + 10)),
            "hci": bytes(range(i, i + 100)),
            "jpeg": bytes((j * 7 + i) % 256 for j in range(1000)),
        }
        for i in range(6)
    ]
    snrs = [0.0, 3.0, 6.0, 9.0, 12.0, 15.0]
    print(
        f"\nSweep-like link stage: {len(items)} items x streams of 12, 10, 100 and 1000 bytes, "
        f"adaptive MCS, SNR {snrs} dB, median of {repeats}"
    )
    print(
        f"{'channel':8s} {'before s':>9s} {'after s':>8s} {'speed-up':>8s} "
        f"{'same result':>11s} {'erasures before/after':>22s}"
    )
    for channel in ("awgn", "rayleigh"):
        before, after = Link(channel, early_stop=False), Link(channel, early_stop=True)
        for s in snrs:  # build the LDPC codecs first: a sweep builds each one once
            before.transmit_many(items, s)
            after.transmit_many(items, s)
        t_before, t_after, same = [], [], True
        for _ in range(repeats):
            t0 = time.perf_counter()
            a = [[before.transmit(it, s, seed=k) for k, it in enumerate(items)] for s in snrs]
            t1 = time.perf_counter()
            b = [after.transmit_many(items, s, seeds=range(len(items))) for s in snrs]
            t2 = time.perf_counter()
            t_before.append(t1 - t0)
            t_after.append(t2 - t1)
            pairs = [
                (x, y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True)
            ]
            same &= all(x.received() == y.received() for x, y in pairs)
            lost_before = sum(v is None for x, _ in pairs for v in x.received().values())
            lost_after = sum(v is None for _, y in pairs for v in y.received().values())
        tb, ta = statistics.median(t_before), statistics.median(t_after)
        print(
            f"{channel:8s} {tb:9.2f} {ta:8.2f} {tb / ta:8.2f} {'yes' if same else 'no':>11s} "
            f"{lost_before:>11d}/{lost_after:<10d}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=4096, help="payload bits per TB")
    parser.add_argument("--blocks", type=int, default=60, help="TBs per point")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--channels", nargs="+", default=["awgn", "rayleigh"])
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep-like table")
    args = parser.parse_args()
    if args.sweep_only:
        sweep_like(args.repeats)
        return
    print(
        f"{args.blocks} TBs of {args.bits} bits per point, max 20 iterations, "
        f"torch threads {torch.get_num_threads()}"
    )
    head = (
        f"{'channel':8s} {'MCS':10s} {'Es/N0':>6s} {'':>4s} {'BLER raw':>8s} "
        f"{'BLER ours':>9s} {'tol':>5s} {'undet r/o':>9s} {'iter':>5s} "
        f"{'raw kbit/s':>10s} {'ours kbit/s':>11s} {'ratio':>6s}"
    )
    print(head)
    print("-" * len(head))
    for channel in args.channels:
        link = Link(channel)
        for label, mcs in CASES:
            thr = threshold_db(mcs, channel)
            for offset in OFFSETS_DB:
                snr = round(thr + offset, 2)
                gen = stream_generator(0, f"{label}/{offset}")
                bits = torch.randint(0, 2, (args.blocks, args.bits), generator=gen).float()
                enc, llr = llrs_for(link, mcs, bits, snr, seed=1)
                raw_dec = TransportBlockDecoder(enc, early_stop=False)
                our_dec = TransportBlockDecoder(enc, early_stop=True)
                t_raw, raw, t_our, our = timed_pair(raw_dec, our_dec, llr, args.repeats)
                n = args.blocks
                b_raw = 1 - raw.tb_ok.float().mean().item()
                b_our = 1 - our.tb_ok.float().mean().item()
                p = max((b_raw + b_our) / 2, 1 / n)
                tol = 3 * math.sqrt(2 * p * (1 - p) / n)
                a = bits.shape[-1]
                und_raw = int((raw.tb_ok & (raw.bits[:, :a] != bits).any(-1)).sum())
                und_our = int((our.tb_ok & (our.bits[:, :a] != bits).any(-1)).sum())
                kb_raw = n * args.bits / t_raw / 1e3
                kb_our = n * args.bits / t_our / 1e3
                tag = "thr" if offset == 0 else f"+{offset:g}"
                print(
                    f"{channel:8s} {label:10s} {snr:6.2f} {tag:>4s} {b_raw:8.3f} {b_our:9.3f} "
                    f"{tol:5.3f} {und_raw:>4d}/{und_our:<4d} "
                    f"{our.iterations.float().mean():5.1f} {kb_raw:10.1f} {kb_our:11.1f} "
                    f"{kb_our / kb_raw:6.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
