"""MTGC-tiny and the link on an accelerator against the CPU of the same machine.

    python benchmarks/gpu.py [--out gpu.json] [--weights DIR] [--images 8] [--quick]

Measures, on CUDA when there is a GPU and always on the CPU (the codec on one thread, the
budget of the tiny preset's decode target; the link on all threads):

* MTGC-tiny encode and decode seconds per 128×128 ShapesWorld test scene, decode at 1, 4,
  10 and 20 DDIM steps (the shipped sampler starts from the scene sketch, so 10 steps run
  2 UNet evaluations; ``unet_evals`` in the JSON), batch 1 and batch ``--images``; on the
  GPU also in float16, and the peak GPU memory;
* the link's LDPC decoder (:class:`channels.coding.TransportBlockDecoder`, Sionna's 5G
  decoder with our early stop) on the same LLRs: information kbit/s on each device and
  whether the decoded bits agree;
* one :meth:`channels.link.Link.transmit_many` call end to end on each device.

Every measurement runs on its own: one that fails is recorded with its error (the JSON's
``error`` field) and the rest still run. Times are medians of ``--repeats`` runs after a
warm-up. It prints one table and writes one JSON (``--out``). Timings do not depend on the
weights' values; without ``--weights`` the shipped weights are used.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

STEPS = (1, 4, 10, 20)


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


def _guarded(results: list[dict], record: dict, fn: Callable[[], dict]) -> None:
    """Run one measurement; its figures or its error go into ``record``."""
    try:
        record.update(fn())
    except Exception as err:  # a failure is a finding: keep it and go on
        record["error"] = f"{type(err).__name__}: {err}"
        record["trace"] = traceback.format_exc(limit=4)
    results.append(record)
    print(json.dumps({k: v for k, v in record.items() if k != "trace"}), flush=True)


def codec_timings(device: str, dtype: torch.dtype | None, args, results: list[dict]) -> None:
    """Encode and decode seconds per image on ``device``."""
    from semcom.data.shapes import ShapesWorld
    from semcom.presets import load_codec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = load_codec("tiny", args.weights, device=device, dtype=dtype)
    data = ShapesWorld("test", n=args.images, size=128, seed=0)
    images = torch.stack([data[i].image for i in range(args.images)]).to(device)
    streams = codec.encode(images)
    label = {"device": device, "dtype": str(dtype or torch.float32).replace("torch.", "")}
    for batch in (1, args.images):

        def encode(b=batch) -> dict:
            sec = _median_seconds(lambda: codec.encode(images[:b]), device, args.repeats)
            return {"s_per_image": sec / b}

        _guarded(results, {"what": "encode", **label, "batch": batch}, encode)
    strength = codec.mgdd.config.init_strength
    for steps in (10,) if args.quick else STEPS:
        for batch in (1, args.images):
            if device == "cpu" and batch > 1 and steps != 10:
                continue  # the CPU's batched figure at the shipped step count is enough

            def measure(s=steps, b=batch) -> dict:
                if device.startswith("cuda"):
                    torch.cuda.reset_peak_memory_stats()
                sec = _median_seconds(
                    lambda: codec.decode(streams[:b] if b > 1 else streams[0], steps=s),
                    device,
                    args.repeats,
                )
                out = {"s_per_image": sec / b, "unet_evals": max(1, round(s * strength))}
                if device.startswith("cuda"):
                    out["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
                return out

            _guarded(results, {"what": "decode", **label, "steps": steps, "batch": batch}, measure)


def ldpc_throughput(devices: list[str], args, results: list[dict]) -> None:
    """The transport-block decoder's kbit/s on each device, the same LLRs."""
    from channels.link import Link, stream_generator
    from channels.mcs import MCS, threshold_db

    mcs, bits_per_tb = MCS("qam16", 0.5), 1024
    snr = threshold_db(mcs, "awgn") + 1.0
    blocks = 64 if args.quick else 512
    cpu = Link("awgn")
    gen = stream_generator(0, "gpu-benchmark")
    payload = torch.randint(0, 2, (blocks, bits_per_tb), generator=gen).float()
    _, llr = cpu.send(payload, mcs, snr, gen)
    reference = None
    for device in devices:
        for early in (True, False):

            def measure(d=device, e=early) -> dict:
                nonlocal reference
                link = Link("awgn", device=d, early_stop=e)
                _, dec = link.codec(bits_per_tb, mcs)
                x = llr.to(d)
                sec = _median_seconds(lambda: dec(x), d, args.repeats)
                hard = dec(x).bits.cpu()
                if reference is None:  # the first decoder's bits: the others must match
                    reference = hard
                same = bool(torch.equal(hard, reference))
                return {"kbit_per_s": blocks * bits_per_tb / sec / 1e3, "same_bits": same}

            _guarded(
                results,
                {
                    "what": "ldpc",
                    "device": device,
                    "early_stop": early,
                    "blocks": blocks,
                    "mcs": str(mcs),
                    "snr_db": round(snr, 2),
                },
                measure,
            )


def link_end_to_end(devices: list[str], args, results: list[dict]) -> None:
    """One ``transmit_many`` of MTGC-sized streams over TDL-A on each device."""
    from channels.link import Link

    items = [
        {"caption": bytes(range(i, i + 12)), "spw": bytes(range(i, i + 10)), "hci": bytes(300)}
        for i in range(4 if args.quick else 32)
    ]
    first: list = []  # the first device's deliveries: the draws are the same on every device
    for device in devices:

        def measure(d=device) -> dict:
            link = Link("tdl-a", device=d)
            sec = _median_seconds(
                lambda: link.transmit_many(items, 10.0, seeds=range(len(items))), d, args.repeats
            )
            got = link.transmit_many(items, 10.0, seeds=range(len(items)))
            pattern = [sorted(k for k, v in t.received().items() if v is not None) for t in got]
            if not first:
                first.append(pattern)
            return {
                "s_per_item": sec / len(items),
                "streams_delivered": sum(len(p) for p in pattern),
                "same_deliveries": pattern == first[0],
            }

        record = {"what": "link", "device": device, "channel": "tdl-a", "items": len(items)}
        _guarded(results, record, measure)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("gpu.json"))
    ap.add_argument("--weights", default=None, help="tiny model directory (default: shipped)")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer points (the tests' CPU path)")
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    devices = (["cuda"] if cuda else []) + ["cpu"]
    results: list[dict] = []
    threads = torch.get_num_threads()
    if cuda:
        codec_timings("cuda", None, args, results)
        codec_timings("cuda", torch.float16, args, results)
    torch.set_num_threads(1)
    codec_timings("cpu", None, args, results)
    torch.set_num_threads(threads)
    ldpc_throughput(devices, args, results)
    link_end_to_end(devices, args, results)
    meta = {
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": threads,
        "torch": torch.__version__,
        "quick": args.quick,
    }
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(f"\n{meta}")
    print(f"{'what':7s} {'device':5s} {'dtype':8s} {'steps':>5s} {'batch':>5s} {'figure':>28s}")
    for r in results:
        if "error" in r:
            fig = "error: " + r["error"][:60]
        elif r["what"] in ("encode", "decode"):
            fig = f"{r['s_per_image'] * 1e3:9.1f} ms/image"
            fig += f" {r['peak_mib']:7.0f} MiB" if "peak_mib" in r else ""
        elif r["what"] == "ldpc":
            fig = f"{r['kbit_per_s']:9.0f} kbit/s early={r['early_stop']} same={r['same_bits']}"
        else:
            fig = (
                f"{r['s_per_item'] * 1e3:9.1f} ms/item delivered={r['streams_delivered']}"
                f" same={r['same_deliveries']}"
            )
        print(
            f"{r['what']:7s} {r['device']:5s} {r.get('dtype', ''):8s} "
            f"{r.get('steps', ''):>5} {r.get('batch', r.get('blocks', '')):>5} {fig}"
        )


if __name__ == "__main__":
    main()
