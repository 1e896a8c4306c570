"""Sweep throughput on the default config: points per second, decoder calls per point, and
the share of time in codec, link, metrics and store.

Run: ``.venv/bin/python benchmarks/sweep.py [--config experiments/configs/default.yaml]``
(part of ``make bench``). It runs the whole sweep into a temporary folder (one torch
thread, as ``semcom sweep`` does by default) and prints a table. "codec" is the MTGC and
baseline encoders (operating points, HCI candidates) and decoders; "link" is planning and
:meth:`channels.Link.transmit_many` including the LDPC codecs it builds on first use;
"metrics" is PSNR, MS-SSIM and the semantic probe; "store" is SQLite and the PNGs.
Without the decode cache every point would be one decoder call.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch

from channels.coding import build_fec
from experiments.config import load_config
from experiments.sweep import run_sweep

DEFAULT = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "default.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="Keep the store here.")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        start = time.perf_counter()
        report = run_sweep(config, args.out or tmp, progress=False)
        wall = time.perf_counter() - start
    staged = sum(report.seconds.values())
    calls = sum(report.decoder_calls.values())
    rows = [
        ("config", f"{args.config.name} ({report.config_hash})"),
        ("sweep points", str(report.points_written)),
        ("wall time (s, incl. model loading)", f"{wall:.1f}"),
        ("sweep points per second", f"{report.points_written / wall:.2f}"),
        ("decoder calls (all codecs)", str(calls)),
        ("decoder calls per point", f"{report.decoder_calls_per_point:.3f}"),
    ]
    for codec, n in report.points_by_codec.items():
        c = report.decoder_calls.get(codec, 0)
        rows.append((f"  {codec}: decoder calls / points", f"{c} / {n} = {c / n:.3f}"))
    for stage in ("codec", "link", "metrics", "store"):
        s = report.seconds.get(stage, 0.0)
        rows.append((f"time in {stage} (s, share)", f"{s:.1f} ({s / staged:.0%})"))
    rows.append(("LDPC codecs built (~0.4 s each, in link)", str(build_fec.cache_info().misses)))
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
