"""Link speed against raw Sionna, and each MCS's gap to Shannon capacity.

Run: ``.venv/bin/python benchmarks/link.py`` (``make bench``).

Table 1 sends the same payloads through (a) the transport-block chain written directly
with Sionna (TBEncoder -> Mapper -> AWGN -> Demapper -> TBDecoder, 20 iterations), (b) our
``Link`` with the same fixed 20 iterations and (c) our ``Link`` with early stopping, in
this process, at 1 dB above each MCS's 10 % BLER threshold, and prints information
bits per second and the ratios. The overhead of our glue is (a)/(b) - 1.

Table 2 prints, per MCS of the 5G table, the measured Es/N0 for 10 % BLER over AWGN
(channels/data/mcs_thresholds.json, written by ``python -m channels.calibrate``) and its
gap to the Shannon limit ``2^SE - 1``.

Table 3 (``--harq``) sends ``--harq-items`` transport blocks of 1024 bits at 16-QAM 1/2
over AWGN and Rayleigh block fading (one fade per frame, a new one per retransmission)
without HARQ, with Chase combining and with incremental redundancy (up to 4
transmissions each), and prints the throughput, information bits delivered per channel
use spent (retransmissions included), against the channel's capacity at that SNR (AWGN:
``log2(1 + SNR)``; Rayleigh: the ergodic capacity ``log2(e) e^(1/SNR) E1(1/SNR)``).

Table 4 (``--mimo``) sends ``--mimo-blocks`` transport blocks of 1024 bits at 16-QAM 1/2
over flat Rayleigh (one fade per block) and CDL-C (OFDM, LMMSE estimation) with 1×1, 2×2
and 4×4 antennas (N layers, LMMSE detection) and prints the BLER and the throughput
(information bits delivered per channel use) against SNR, with 2×2 K-best and EP beside
LMMSE. Table 5 prints the cost of each option per transmitted block (send and receive,
one thread, median of 3, K-best's compilation excluded) against the single-antenna link
over the same channel: antennas, the ZF, K-best and EP detectors, LS estimation and
perfect CSI.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from sionna.phy.channel import AWGN
from sionna.phy.mapping import Demapper, Mapper
from sionna.phy.nr import TBDecoder, TBEncoder

from channels.link import Link, stream_generator
from channels.mcs import MCS, NR_MCS_TABLE, load_thresholds, shannon_snr_db, threshold_db

CASES = [
    ("QPSK 1/2", MCS("qpsk", 0.5)),
    ("16-QAM 1/2", MCS("qam16", 0.5)),
    ("64-QAM 3/4", MCS("qam64", 0.75)),
]


class RawSionnaChain:
    """The same chain written directly with Sionna blocks, fixed iterations."""

    def __init__(self, payload_bits: int, coded_bits: int, mcs: MCS, iterations: int = 20):
        m = mcs.bits_per_symbol
        self.encoder = TBEncoder(
            target_tb_size=payload_bits,
            num_coded_bits=coded_bits,
            target_coderate=mcs.code_rate,
            num_bits_per_symbol=m,
        )
        self.decoder = TBDecoder(self.encoder, num_bp_iter=iterations)
        self.mapper = Mapper("qam", m)
        self.demapper = Demapper("app", "qam", m)
        self.awgn = AWGN()
        self.info_bits = self.encoder.k

    @torch.no_grad()
    def __call__(self, bits: torch.Tensor, snr_db: float) -> torch.Tensor:
        no = torch.tensor(10 ** (-snr_db / 10))
        x = self.mapper(self.encoder(bits))
        llr = self.demapper(self.awgn(x, no), no)
        _, ok = self.decoder(llr)
        return ok


def timed_interleaved(calls: dict, repeats: int) -> tuple[dict, dict]:
    """Median seconds of each call, running them in turn ``repeats`` times (fair under load)."""
    times: dict = {name: [] for name in calls}
    outs: dict = {}
    for _ in range(repeats):
        for name, (fn, *args) in calls.items():
            t0 = time.perf_counter()
            outs[name] = fn(*args)
            times[name].append(time.perf_counter() - t0)
    return {n: statistics.median(t) for n, t in times.items()}, outs


def speed_table(payload_bits: int, blocks: int, repeats: int) -> None:
    print(
        f"\nInformation throughput, AWGN, {blocks} TBs of {payload_bits} bits, "
        f"median of {repeats} runs, torch threads {torch.get_num_threads()}"
    )
    header = (
        f"{'MCS':11s} {'Es/N0':>6s} {'raw kbit/s':>10s} {'ours-20 kbit/s':>14s} "
        f"{'overhead':>8s} {'ours-ES kbit/s':>14s} {'ES/raw':>6s} {'iter':>5s} "
        f"{'BLER raw':>8s} {'BLER ours':>9s}"
    )
    print(header)
    print("-" * len(header))
    for label, mcs in CASES:
        snr = round(threshold_db(mcs, "awgn") + 1.0, 1)
        fixed = Link("awgn", early_stop=False)
        early = Link("awgn", early_stop=True)
        coded_bits = fixed.codec(payload_bits, mcs)[0].layout.coded_bits
        raw = RawSionnaChain(payload_bits, coded_bits, mcs)
        gen = stream_generator(0, label)
        bits = torch.randint(0, 2, (blocks, payload_bits), generator=gen).float()
        raw_bits = torch.randint(0, 2, (blocks, raw.info_bits), generator=gen).float()
        raw(raw_bits[:2], snr), fixed.run_blocks(bits[:2], mcs, snr, gen)  # warm up
        seconds, outs = timed_interleaved(
            {
                "raw": (raw, raw_bits, snr),
                "fixed": (fixed.run_blocks, bits, mcs, snr, stream_generator(1, "f")),
                "early": (early.run_blocks, bits, mcs, snr, stream_generator(1, "f")),
            },
            repeats,
        )
        t_raw, t_fix, t_es = seconds["raw"], seconds["fixed"], seconds["early"]
        ok_raw, out = outs["raw"], outs["early"]
        kb_raw = blocks * raw.info_bits / t_raw / 1e3
        kb_fix = blocks * payload_bits / t_fix / 1e3
        kb_es = blocks * payload_bits / t_es / 1e3
        bler_raw = 1 - ok_raw.float().mean().item()
        bler_es = 1 - out.tb_ok.float().mean().item()
        print(
            f"{label:11s} {snr:6.1f} {kb_raw:10.1f} {kb_fix:14.1f} {kb_raw / kb_fix - 1:+8.1%} "
            f"{kb_es:14.1f} {kb_es / kb_raw:6.2f} {out.iterations.float().mean():5.1f} "
            f"{bler_raw:8.3f} {bler_es:9.3f}"
        )


def gap_table() -> None:
    meta = load_thresholds()["meta"]
    print(
        f"\nGap to Shannon capacity at 10 % BLER over AWGN ({meta['payload_bits']}-bit TBs, "
        f"{meta['blocks_per_point']} TBs per point, {meta['max_iter']} iterations; "
        f"measured by `{meta['command'].strip()}`)"
    )
    print(f"{'MCS':22s} {'SE b/cu':>8s} {'Shannon dB':>10s} {'10% BLER dB':>11s} {'gap dB':>7s}")
    for mcs in NR_MCS_TABLE:
        limit = shannon_snr_db(mcs.spectral_efficiency)
        thr = threshold_db(mcs, "awgn")
        print(
            f"{mcs!s:22s} {mcs.spectral_efficiency:8.3f} {limit:10.2f} {thr:11.2f} "
            f"{thr - limit:7.2f}"
        )


def capacity(channel: str, snr_db: float) -> float:
    """Bits per channel use: AWGN capacity, or Rayleigh's ergodic capacity."""
    from scipy.special import exp1

    snr = 10 ** (snr_db / 10)
    if channel == "awgn":
        return math.log2(1 + snr)
    return math.log2(math.e) * math.exp(1 / snr) * float(exp1(1 / snr))


def harq_table(items: int, snrs: dict[str, list[float]]) -> None:
    from channels.harq import HarqPolicy

    mcs = MCS("qam16", 0.5)
    policies = {
        "none": None,
        "chase 4": HarqPolicy(4, combining="chase"),
        "IR 4": HarqPolicy(4),
    }
    gen = torch.Generator().manual_seed(0)
    payloads = [bytes(torch.randint(0, 256, (128,), generator=gen).tolist()) for _ in range(items)]
    print(
        f"\nHARQ throughput, {mcs} (SE {mcs.spectral_efficiency:.2f} b/cu), 1024-bit TBs, "
        f"{items} per point: information bits delivered per channel use spent"
    )
    head = " | ".join(f"{k} (b/cu, % of capacity)" for k in policies)
    print(f"| channel | Es/N0 dB | capacity b/cu | {head} |")
    print("|---" * (3 + len(policies)) + "|")
    for channel, points in snrs.items():
        links = {k: Link(channel, harq=p) for k, p in policies.items()}
        for snr in points:
            cap = capacity(channel, snr)
            cells = []
            for link in links.values():
                out = link.transmit_many(
                    [{"tb": p} for p in payloads],
                    snr,
                    protection={"tb": mcs},
                    seeds=range(items),
                )
                delivered = sum(1024 for t in out if t.received()["tb"] is not None)
                spent = sum(t.streams["tb"].stats.channel_uses for t in out)
                tput = delivered / spent
                cells.append(f"{tput:.3f} ({100 * tput / cap:.0f} %)")
            print(f"| {channel} | {snr:g} | {cap:.3f} | " + " | ".join(cells) + " |")


MIMO_SNRS = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]


def _block_seconds(link: Link, mcs: MCS, snr: float, blocks: int, repeats: int = 3) -> float:
    """Median seconds per block of ``link.run_blocks`` (send and receive)."""
    gen = torch.Generator().manual_seed(1)
    bits = torch.randint(0, 2, (blocks, 1024), generator=gen).float()
    link.run_blocks(bits, mcs, snr, gen)  # warm-up: codec construction, K-best compilation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        link.run_blocks(bits, mcs, snr, gen)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / blocks


def mimo_table(blocks: int) -> None:
    mcs = MCS("qam16", 0.5)
    configs = [(c, {"antennas": n}) for c in ("rayleigh", "cdl-c") for n in (1, 2, 4)]
    configs += [
        (c, {"antennas": 2, "detector": d}) for c in ("rayleigh", "cdl-c") for d in ("kbest", "ep")
    ]
    print(
        f"\nMIMO, {mcs}, 1024-bit TBs, {blocks} per point: BLER / information bits "
        "delivered per channel use"
    )
    print("| channel | " + " | ".join(f"{s:g} dB" for s in MIMO_SNRS) + " |")
    print("|---" * (1 + len(MIMO_SNRS)) + "|")
    gen = torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (blocks, 1024), generator=gen).float()
    for channel, options in configs:
        link = Link(channel, channel_options=options)
        uses = link.channel.channel_uses(link.fec(1024, mcs)[0].layout.coded_bits // 4)
        cells = []
        for snr in MIMO_SNRS:
            g = torch.Generator().manual_seed(int(snr * 10) + 7)
            out = link.run_blocks(bits, mcs, snr, g)
            bler = 1 - out.tb_ok.float().mean().item()
            cells.append(f"{bler:.2f} / {(1 - bler) * 1024 / uses:.2f}")
        detector = options.get("detector", "lmmse" if options["antennas"] > 1 else "")
        name = f"{link.channel.name} {detector}".strip()
        print(f"| {name} | " + " | ".join(cells) + " |")

    print("\nCost per transmitted block (1024-bit TB, 16-QAM 1/2, 20 dB), one thread")
    print("| channel | option | ms per block | vs the 1×1 link |")
    print("|---|---|---|---|")
    shared = [
        {},
        {"antennas": 2},
        {"antennas": 4},
        *({"antennas": 2, "detector": d} for d in ("zf", "kbest", "ep")),
    ]
    estimation = [{"antennas": 2, "estimator": "ls"}, {"antennas": 2, "perfect_csi": True}]
    options = {"rayleigh": shared, "cdl-c": shared + estimation}  # rayleigh has perfect CSI
    for channel, opts in options.items():
        base = None
        for o in opts:
            sec = _block_seconds(Link(channel, channel_options=o), mcs, 20.0, max(8, blocks // 4))
            base = base or sec
            label = ", ".join(f"{k}={v}" for k, v in o.items()) or "1×1 (SISO)"
            print(f"| {channel} | {label} | {1e3 * sec:.2f} | {sec / base:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=4096)
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--harq", action="store_true", help="only the HARQ throughput table")
    parser.add_argument("--harq-items", type=int, default=100)
    parser.add_argument("--mimo", action="store_true", help="only the MIMO tables")
    parser.add_argument("--mimo-blocks", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.mimo:
        mimo_table(args.mimo_blocks)
        return
    snrs = {"awgn": [2.0, 4.0, 6.0, 8.0, 10.0], "rayleigh": [0.0, 5.0, 10.0, 15.0, 20.0]}
    if args.harq:
        harq_table(args.harq_items, snrs)
        return
    speed_table(args.bits, args.blocks, args.repeats)
    gap_table()
    harq_table(args.harq_items, snrs)
    mimo_table(args.mimo_blocks)


if __name__ == "__main__":
    main()
