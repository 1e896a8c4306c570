"""The code below the MCS table: QPSK 1/5 (the rate-1/5 LDPC codeword every repetition
sends) measured over AWGN by payload size.

The main calibration starts at the table's QPSK 0.30; :func:`channels.mcs.floor_threshold_db`
estimates rate 1/5 from it by the Shannon-limit gap, which is 0.1-0.5 dB optimistic for
short blocks (measured below). The planner's delivery model (:mod:`channels.delivery`)
needs the real code: ``python -m channels.floor`` measures the 10 % BLER Es/N0 of QPSK 1/5
over AWGN for each size of :data:`SIZES` (2000 blocks a point, the bracket search of
:func:`channels.calibrate.find_threshold`) and writes ``channels/data/floor_thresholds.json``;
:func:`floor_awgn_db` reads it, interpolating linearly in log2(bits).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

from channels.mcs import MCS, MIN_CODE_RATE, floor_threshold_db, log2_interpolate

FLOOR_FILE = "floor_thresholds.json"
DEFAULT_OUT = Path(__file__).parent / "data" / FLOOR_FILE
#: Payload sizes (bits) measured: MTGC's captions and SPWs (tens of bits) up to a code block.
SIZES: tuple[int, ...] = (24, 40, 56, 88, 128, 192, 256, 512, 1024)


@lru_cache(maxsize=1)
def _table() -> dict[int, float] | None:
    path = resources.files("channels").joinpath("data", FLOOR_FILE)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return {int(k): float(v) for k, v in data["thresholds"].items()}


def floor_awgn_db(bits: int) -> float:
    """Es/N0 (dB) of 10 % BLER for QPSK 1/5 over AWGN with ``bits`` payload bits: the
    measured table (interpolated in log2(bits), held beyond its ends), else the estimate
    :func:`channels.mcs.floor_threshold_db`."""
    table = _table()
    if not table:
        return floor_threshold_db("awgn", bits)
    return log2_interpolate(sorted(table.items()), bits)


def main(argv: list[str] | None = None) -> int:
    from channels.calibrate import find_threshold, write_atomic
    from channels.link import Link

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--blocks", type=int, default=2000, help="TBs per SNR point")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    link = Link("awgn")
    mcs = MCS("qpsk", MIN_CODE_RATE)
    data = json.loads(args.out.read_text()) if args.out.exists() else {"thresholds": {}}
    t0 = time.time()
    for bits in args.sizes:
        start = round(floor_threshold_db("awgn", bits) - 1.0, 2)
        t10, points = find_threshold(link, mcs, start, 0.5, bits, args.blocks, args.seed)
        data["thresholds"][str(bits)] = round(t10, 3)
        data["thresholds"] = dict(sorted(data["thresholds"].items(), key=lambda kv: int(kv[0])))
        data["meta"] = {
            "mcs": str(mcs),
            "channel": "awgn",
            "target_bler": 0.1,
            "blocks_per_point": args.blocks,
            "seed": args.seed,
            "command": "python -m channels.floor",
            "date": datetime.now(UTC).date().isoformat(),
        }
        write_atomic(args.out, data)  # after every size: a stop loses none
        print(f"{bits:5d} bits: {t10:6.2f} dB ({points} points, {time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
