"""Measure each MCS's Es/N0 threshold for 10 % BLER on each channel.

Run ``python -m channels.calibrate`` to rewrite ``channels/data/mcs_thresholds.json``
(the file :func:`channels.mcs.threshold_db` reads). For each channel and table entry it
walks up in SNR from the Shannon limit (or just below the previous entry's threshold) in
coarse steps until the BLER drops to 10 % or less, bisects the bracket once, and
interpolates log10(BLER) linearly between the two points that straddle 10 %.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from channels.link import Link, stream_generator
from channels.mcs import (
    CALIBRATED_CHANNELS,
    MAIN_BITS,
    MCS,
    NR_MCS_TABLE,
    THRESHOLD_FILE,
    shannon_snr_db,
)

TARGET_BLER = 0.1
DEFAULT_OUT = Path(__file__).parent / "data" / THRESHOLD_FILE


def measure_bler(link: Link, mcs: MCS, snr_db: float, bits: int, blocks: int, seed: int) -> float:
    """BLER of ``blocks`` random transport blocks of ``bits`` bits at ``snr_db``."""
    gen = stream_generator(seed, f"{link.channel.name}/{mcs}/{snr_db:.3f}")
    payload = torch.randint(0, 2, (blocks, bits), generator=gen).float()
    out = link.run_blocks(payload, mcs, snr_db, gen)
    return 1.0 - out.tb_ok.float().mean().item()


def find_threshold(
    link: Link, mcs: MCS, start_db: float, step_db: float, bits: int, blocks: int, seed: int
) -> tuple[float, int]:
    """The SNR (dB) of 10 % BLER, and the number of SNR points it took."""
    floor = 0.5 / blocks  # stands in for a measured BLER of zero on the log scale
    points: dict[float, float] = {}

    def bler(s: float) -> float:
        if s not in points:
            points[s] = measure_bler(link, mcs, s, bits, blocks, seed)
        return points[s]

    s = start_db
    while bler(s) > TARGET_BLER:
        s += step_db
        if s > start_db + 60:
            raise RuntimeError(f"{mcs} never reached 10 % BLER on {link.channel.name}")
    if s == start_db:  # started too high: walk down until it fails
        while bler(s) <= TARGET_BLER:
            s -= step_db
        lo, hi = s, s + step_db
    else:
        lo, hi = s - step_db, s
    mid = round((lo + hi) / 2, 4)
    lo, hi = (mid, hi) if bler(mid) > TARGET_BLER else (lo, mid)
    p_lo, p_hi = max(bler(lo), floor), max(bler(hi), floor)
    y_lo, y_hi, y_t = math.log10(p_lo), math.log10(p_hi), math.log10(TARGET_BLER)
    frac = 0.5 if y_lo == y_hi else (y_lo - y_t) / (y_lo - y_hi)
    return lo + frac * (hi - lo), len(points)


def markdown_table(data: dict, bits: int = MAIN_BITS) -> str:
    """The thresholds of blocks of ``bits`` payload bits in ``data`` (the data file's
    content) as a Markdown table: one row per MCS, one column per calibrated channel."""
    tables = data["thresholds"] if bits == MAIN_BITS else data.get("by_bits", {}).get(str(bits))
    if not tables:
        raise SystemExit(f"no thresholds calibrated for {bits}-bit blocks.")
    names = {"awgn": "AWGN", "rayleigh": "Rayleigh"}
    channels = list(tables)
    head = "| MCS | " + " | ".join(names.get(c, c.upper()) for c in channels) + " |"
    lines = [head, "|---" * (len(channels) + 1) + "|"]
    for mcs in NR_MCS_TABLE:
        cells = [f"{tables[c][str(mcs.index)]:.1f}" for c in channels]
        lines.append(f"| {mcs} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", nargs="+", default=list(CALIBRATED_CHANNELS))
    parser.add_argument(
        "--bits",
        type=int,
        default=MAIN_BITS,
        help=f"payload bits per TB ({MAIN_BITS}: the main table; other sizes: a size class)",
    )
    parser.add_argument("--blocks", type=int, default=100, help="TBs per SNR point")
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--print",
        dest="print_table",
        action="store_true",
        help="print the calibrated thresholds of --bits as a Markdown table and exit",
    )
    args = parser.parse_args(argv)
    if args.print_table:
        print(markdown_table(json.loads(args.out.read_text()), args.bits))
        return 0

    data = json.loads(args.out.read_text()) if args.out.exists() else {"thresholds": {}}
    # 1024-bit blocks are the main table ("thresholds", "meta"); other sizes are classes
    # of their own ("by_bits": {bits: {channel: table}}, "meta_by_bits"), which
    # threshold_db interpolates between by payload size.
    main_table = args.bits == MAIN_BITS
    meta = {
        "target_bler": TARGET_BLER,
        "payload_bits": args.bits,
        "blocks_per_point": args.blocks,
        "max_iter": args.max_iter,
        "seed": args.seed,
        "snr": "Es/N0 in dB, average over fading",
        "channel_options": "defaults of channels.models (rayleigh: one fade per code block; "
        "tdl: 300 ns delay spread, 3 m/s, 3.5 GHz, 30 kHz, 72 subcarriers, LMMSE "
        "estimation (channels.estimation) + LMMSE equalisation)",
        "command": "python -m channels.calibrate " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    if main_table:
        data["meta"] = meta
    else:
        data.setdefault("meta_by_bits", {})[str(args.bits)] = meta
    for name in args.channels:
        link = Link(name, max_iter=args.max_iter)
        table: dict[str, float] = {}
        step = 0.5 if name == "awgn" else 1.5
        previous = -math.inf
        t0 = time.time()
        for mcs in NR_MCS_TABLE:
            start = max(shannon_snr_db(mcs.spectral_efficiency), previous - 1.0)
            start = round(start * 2) / 2
            thr, npts = find_threshold(link, mcs, start, step, args.bits, args.blocks, args.seed)
            table[str(mcs.index)] = round(thr, 2)
            previous = thr
            gap = thr - shannon_snr_db(mcs.spectral_efficiency)
            print(
                f"{name:9s} {mcs!s:18s} {thr:6.2f} dB  gap {gap:5.2f} dB  "
                f"({npts} points, {time.time() - t0:5.0f} s)",
                flush=True,
            )
            if main_table:
                data["thresholds"][name] = table
            else:
                data.setdefault("by_bits", {}).setdefault(str(args.bits), {})[name] = table
            tmp = args.out.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1) + "\n")
            os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
