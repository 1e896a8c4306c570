"""The Ray executor against the in-process one, on the same sweep in the same process.

Run: ``.venv/bin/python benchmarks/sweep_executors.py [--config FILE] [--workers 2]``.
Each executor runs the whole config into a fresh temporary folder; the table gives wall
time (Ray's includes starting a local instance and the workers loading their models),
points per second, the speed-up over local, decoder calls, and whether the two stores
hold the same results (:meth:`experiments.store.Store.digest`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import torch

from experiments.config import load_config
from experiments.store import Store
from experiments.sweep import run_sweep

DEFAULT = Path(__file__).resolve().parents[1] / "experiments" / "configs" / "default.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT)
    parser.add_argument("--workers", type=int, default=2, help="Ray worker actors.")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    config = load_config(args.config)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-executors-") as tmp:
        for executor in ("local", "ray"):
            out = Path(tmp) / executor
            start = time.perf_counter()
            workers = args.workers if executor == "ray" else None
            report = run_sweep(config, out, progress=False, executor=executor, workers=workers)
            wall = time.perf_counter() - start
            store = Store(out, create=False)
            runs[executor] = (report, wall, store.digest())
            store.close()
    local_wall = runs["local"][1]
    print(f"config {args.config.name} ({config.num_points} points), torch threads 1")
    print(f"{'executor':<22} {'wall s':>8} {'points/s':>9} {'speed-up':>9} {'decoder calls':>14}")
    for executor, (report, wall, _) in runs.items():
        label = executor if executor == "local" else f"ray ({args.workers} workers)"
        calls = sum(report.decoder_calls.values())
        print(
            f"{label:<22} {wall:8.1f} {report.points_written / wall:9.2f} "
            f"{local_wall / wall:9.2f} {calls:14d}"
        )
    same = runs["local"][2] == runs["ray"][2]
    print(f"same results (store digest): {'yes' if same else 'NO'} ({runs['local'][2][:16]})")


if __name__ == "__main__":
    main()
