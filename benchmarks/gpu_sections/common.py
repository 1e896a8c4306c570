"""Timing helpers shared by the GPU benchmark's sections."""

from __future__ import annotations

import json
import statistics
import time
import traceback
from collections.abc import Callable

import torch

STEPS = (1, 4, 10, 20)
#: The benchmark's sections, in the order they run (``--only`` picks some).
SNRS = (-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _median_seconds(fn: Callable[[], object], device: str, repeats: int) -> float:
    fn()  # warm-up: kernels, caches, lazy builds
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _decode_seconds(codec, streams: list, steps: int, batch: int, device: str, repeats: int):
    """Median seconds per image of decoding the first ``batch`` bitstreams at ``steps``
    (one bitstream alone when ``batch`` is 1), and on a GPU the peak memory (MiB)."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    sec = _median_seconds(
        lambda: codec.decode(streams[:batch] if batch > 1 else streams[0], steps=steps),
        device,
        repeats,
    )
    out = {"s_per_image": sec / batch}
    if device.startswith("cuda"):
        out["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _guarded(results: list[dict], record: dict, fn: Callable[[], dict]) -> None:
    """Run one measurement; its figures or its error go into ``record``."""
    try:
        record.update(fn())
    except Exception as err:  # a failure is a finding: keep it and go on
        record["error"] = f"{type(err).__name__}: {err}"
        record["trace"] = traceback.format_exc(limit=4)
    results.append(record)
    print(json.dumps({k: v for k, v in record.items() if k != "trace"}), flush=True)
