"""Measure each MCS's Es/N0 threshold for 10 % BLER on each channel.

Run ``python -m channels.calibrate`` to rewrite ``channels/data/mcs_thresholds.json``
(the file :func:`channels.mcs.threshold_db` reads). For each channel and table entry it
walks up in SNR from the Shannon limit (or just below the previous entry's threshold) in
coarse steps until the BLER drops to 10 % or less, bisects the bracket once, and
interpolates log10(BLER) linearly between the two points that straddle 10 %.

With 100 blocks per point a fading channel's measured thresholds are noisy (a higher MCS
can come out up to ~1 dB below a lower one). The measured tables are kept under
``measured`` (``measured_by_bits``); the tables adaptive selection reads are their
least-squares monotone fit in MCS order (pool adjacent violators, :func:`monotone`), so a
higher-rate MCS never claims a lower threshold. ``--refit`` redoes the fit alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
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
    """The SNR (dB) of 10 % BLER (infinite if 60 dB above ``start_db`` the BLER is still
    above it: an error floor), and the number of SNR points it took."""
    floor = 0.5 / blocks  # stands in for a measured BLER of zero on the log scale
    points: dict[float, float] = {}

    def bler(s: float) -> float:
        if s not in points:
            points[s] = measure_bler(link, mcs, s, bits, blocks, seed)
        return points[s]

    s = start_db
    while bler(s) > TARGET_BLER:
        s += step_db
        if s > start_db + 60:  # an error floor: recorded as unreachable (null)
            return math.inf, len(points)
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


def monotone(table: dict[str, float | None]) -> dict[str, float | None]:
    """The least-squares non-decreasing fit of ``table`` ({MCS index: dB}) in index order
    (pool adjacent violators: a run that decreases is replaced by its mean). ``None``
    (unreachable) stays ``None`` and so does every entry above it."""
    keys = sorted(table, key=int)
    if None in table.values():
        first = min(int(k) for k, v in table.items() if v is None)
        reachable = {k: v for k, v in table.items() if int(k) < first}
        fit = monotone(reachable) if reachable else {}
        return {k: fit.get(k) for k in keys}
    runs: list[list[float]] = []  # [mean, count]
    for k in keys:
        runs.append([float(table[k]), 1])
        while len(runs) > 1 and runs[-2][0] > runs[-1][0]:
            (m1, n1), (m0, n0) = runs.pop(), runs.pop()
            runs.append([(m0 * n0 + m1 * n1) / (n0 + n1), n0 + n1])
    values = [m for m, n in runs for _ in range(int(n))]
    return {k: round(v, 2) for k, v in zip(keys, values, strict=True)}


def refit(data: dict) -> dict:
    """Set every fitted table of ``data`` (the data file's content) to the monotone fit of
    its measured table (taking the fitted one as measured where none was kept)."""
    groups = [(data["thresholds"], data.setdefault("measured", {}))]
    measured_by_bits = data.setdefault("measured_by_bits", {})
    for bits, tables in data.get("by_bits", {}).items():
        groups.append((tables, measured_by_bits.setdefault(bits, {})))
    for fitted, raw in groups:
        for channel, table in fitted.items():
            raw.setdefault(channel, dict(table))
            fitted[channel] = monotone(raw[channel])
    return data


def markdown_table(data: dict, bits: int = MAIN_BITS, channels: list[str] | None = None) -> str:
    """The thresholds of blocks of ``bits`` payload bits in ``data`` (the data file's
    content) as a Markdown table: one row per MCS, one column per channel (default: the
    single-antenna ones of :data:`CALIBRATED_CHANNELS` that have a table)."""
    tables = data["thresholds"] if bits == MAIN_BITS else data.get("by_bits", {}).get(str(bits))
    if not tables:
        raise SystemExit(f"no thresholds calibrated for {bits}-bit blocks.")
    names = {"awgn": "AWGN", "rayleigh": "Rayleigh"}
    if channels is None:
        channels = [c for c in tables if c in CALIBRATED_CHANNELS]
    missing = [c for c in channels if c not in tables]
    if missing:
        raise SystemExit(f"no {bits}-bit thresholds for {', '.join(missing)}.")

    def label(channel: str) -> str:  # "cdl-c-2x2" -> "CDL-C 2×2"
        mimo = re.fullmatch(r"(.+)-(\d+)x(\d+)", channel)
        base = mimo.group(1) if mimo else channel
        text = names.get(base, base.upper())
        return f"{text} {mimo.group(2)}×{mimo.group(3)}" if mimo else text

    head = "| MCS | " + " | ".join(label(c) for c in channels) + " |"
    lines = [head, "|---" * (len(channels) + 1) + "|"]
    for mcs in NR_MCS_TABLE:
        values = [tables[c].get(str(mcs.index)) for c in channels]
        cells = ["–" if v is None else f"{v:.1f}" for v in values]
        lines.append(f"| {mcs} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--channels",
        nargs="+",
        default=None,
        help="channels to calibrate (default: the single-antenna ones, "
        f"{' '.join(CALIBRATED_CHANNELS)}); with --print, table names such as cdl-c-2x2",
    )
    parser.add_argument(
        "--bits",
        type=int,
        default=MAIN_BITS,
        help=f"payload bits per TB ({MAIN_BITS}: the main table; other sizes: a size class)",
    )
    parser.add_argument(
        "--antennas",
        type=int,
        default=1,
        help="N×N antennas for the channels that have them (tables named e.g. cdl-c-2x2)",
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
    parser.add_argument(
        "--refit",
        action="store_true",
        help="refit every table monotone from its measured thresholds and exit",
    )
    args = parser.parse_args(argv)
    if args.print_table:
        print(markdown_table(json.loads(args.out.read_text()), args.bits, args.channels))
        return 0
    if args.refit:
        write_atomic(args.out, refit(json.loads(args.out.read_text())))
        return 0
    channels = args.channels or list(CALIBRATED_CHANNELS)

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
        "tdl/cdl: 300 ns delay spread, 3 m/s, 3.5 GHz, 30 kHz, 72 subcarriers, LMMSE "
        "estimation (channels.estimation) + LMMSE equalisation; NxN tables: N antennas "
        "each end, N layers, LMMSE detection)",
        "command": "python -m channels.calibrate " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    if main_table:
        data["meta"] = meta
    else:
        data.setdefault("meta_by_bits", {})[str(args.bits)] = meta
    options = {"antennas": args.antennas} if args.antennas != 1 else {}
    for channel in channels:
        link = Link(channel, max_iter=args.max_iter, channel_options=options)
        name = link.channel.name  # the configuration's name: cdl-c-2x2, rayleigh-4x4, ...
        table: dict[str, float] = {}
        step = 0.5 if name == "awgn" else 1.5
        previous = -math.inf
        t0 = time.time()
        for mcs in NR_MCS_TABLE:
            if math.isinf(previous) and previous > 0:  # above an unreachable entry
                thr, npts = math.inf, 0
            else:
                start = max(shannon_snr_db(mcs.spectral_efficiency), previous - 1.0)
                start = round(start * 2) / 2
                thr, npts = find_threshold(
                    link, mcs, start, step, args.bits, args.blocks, args.seed
                )
            table[str(mcs.index)] = None if math.isinf(thr) else round(thr, 2)
            previous = thr
            gap = thr - shannon_snr_db(mcs.spectral_efficiency)
            print(
                f"{name:9s} {mcs!s:18s} {thr:6.2f} dB  gap {gap:5.2f} dB  "
                f"({npts} points, {time.time() - t0:5.0f} s)",
                flush=True,
            )
            if main_table:
                data.setdefault("measured", {})[name] = table
                data["thresholds"][name] = monotone(table)
            else:
                data.setdefault("measured_by_bits", {}).setdefault(str(args.bits), {})[name] = table
                data.setdefault("by_bits", {}).setdefault(str(args.bits), {})[name] = monotone(
                    table
                )
            data.setdefault("calibrated_by", {})[f"{name}@{args.bits}"] = meta["command"]
            write_atomic(args.out, data)
    return 0


def write_atomic(path: Path, data: dict) -> None:
    """Replace a JSON data file atomically (a stop never leaves half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
