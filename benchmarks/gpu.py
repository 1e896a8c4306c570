"""MTGC (sd21 at full size, and tiny) and the link on an accelerator against the CPU.

    python benchmarks/gpu.py [--out gpu.json] [--weights DIR] [--images 8] [--quick] [--compile]
                             [--only sd21 sd21-train tiny-gpu agreement ldpc link sweep tiny-cpu]

Measures, on CUDA when there is a GPU and always on the CPU (the codec on one thread, the
budget of the tiny preset's decode target; the link on all threads):

* MTGC-sd21 at the published sizes (Stable Diffusion 2.1-base UNet and VAE, OpenCLIP
  ViT-H text encoder, CLIP ViT-L/14 image encoder, ControlNet from the UNet) with random
  weights (:mod:`semcom.presets.sd21_random`; a network's time does not depend on its
  weights' values): encode and decode seconds per 512×512 image at 1, 4, 10 and 20 steps
  (classifier-free guidance, so two UNet and ControlNet evaluations a step), batch 1 and
  ``--images``, in float16 and, at 10 steps, float32; peak GPU memory; building and
  loading the model. Only where there is a GPU (``--quick`` runs the toy scale on the CPU);
* ``semcom train --preset sd21`` on the same model (``sd21-train``): each part a few steps
  at its default batch on rendered 512×512 scenes, seconds (steps, gates, writing the
  weights) and peak GPU memory;
* MTGC-tiny encode and decode seconds per 128×128 ShapesWorld test scene, decode at 1, 4,
  10 and 20 DDIM steps (the shipped sampler starts from the scene sketch, so 10 steps run
  2 UNet evaluations; ``unet_evals`` in the JSON), batch 1 and batch ``--images``; on the
  GPU also in float16, and the peak GPU memory;
* the link's LDPC decoder (:class:`channels.coding.TransportBlockDecoder`, Sionna's 5G
  decoder with our early stop) on the same LLRs: information kbit/s on each device and
  whether the decoded bits agree;
* the agreement of MTGC-tiny's decodes across precision and device: float32 against
  half precision (float16 on a GPU, bfloat16 on a CPU) and the GPU against the CPU, the
  same bitstreams decoded with the same seeds (PSNR between the decodes, largest pixel
  difference, whether the encoders wrote the same bits);
* one :meth:`channels.link.Link.transmit_many` call end to end on each device;
* a 100-point sweep (MTGC-tiny, 5 scenes × AWGN and Rayleigh × 10 SNRs, 0.1 cpp) with
  ``device: cuda`` and with ``device: cpu``: seconds, and how many rows agree in every
  delivered bit and every semantic figure, and the largest PSNR difference.

The results file is rewritten after every section, so a run stopped early keeps what it
measured.

Every measurement runs on its own: one that fails is recorded with its error (the JSON's
``error`` field) and the rest still run. Times are medians of ``--repeats`` runs after a
warm-up. It prints one table and writes one JSON (``--out``). Timings do not depend on the
weights' values; without ``--weights`` the shipped weights are used.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

STEPS = (1, 4, 10, 20)
#: The benchmark's sections, in the order they run (``--only`` picks some).
SECTIONS = ("sd21", "sd21-train", "tiny-gpu", "agreement", "ldpc", "link", "sweep", "tiny-cpu")
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
                out = _decode_seconds(codec, streams, s, b, device, args.repeats)
                return {**out, "unet_evals": max(1, round(s * strength))}

            _guarded(results, {"what": "decode", **label, "steps": steps, "batch": batch}, measure)


def decode_agreement(device: str, args, results: list[dict]) -> None:
    """How far MTGC-tiny's decodes move with the device and the precision: the same
    scenes encoded in float32 and in half precision (float16 on a GPU, bfloat16 on a
    CPU) on ``device``, and on the CPU; whether the bitstreams are equal, and the PSNR
    (dB) and largest pixel difference between decodes of the same bitstreams."""
    from semcom.data.shapes import ShapesWorld
    from semcom.devices import half_dtype
    from semcom.presets import load_codec

    data = ShapesWorld("val", n=args.images, size=128, seed=0)
    images = torch.stack([data[i].image for i in range(args.images)])

    def load(where: str, dtype):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_codec("tiny", args.weights, device=where, dtype=dtype)

    def compare(a: torch.Tensor, b: torch.Tensor) -> dict:
        mse = ((a.float() - b.float()) ** 2).mean((1, 2, 3)).clamp_min(1e-12)
        return {
            "min_psnr_db": float((-10 * torch.log10(mse)).min()),
            "max_abs_diff": float((a.float() - b.float()).abs().max()),
        }

    def measure(other: str, dtype) -> dict:
        ref = load(device, None)
        sent = ref.encode(images.to(device))
        test = load(other, dtype)
        same = [x.to_bytes() for x in test.encode(images.to(other))] == [x.to_bytes() for x in sent]
        a = ref.decode(sent, seed=0).cpu()
        b = test.decode(sent, seed=0).cpu()
        return {"same_bitstreams": same, "images": len(sent), **compare(a, b)}

    half = half_dtype(device)
    cases = [(device, half)] + ([("cpu", None)] if device != "cpu" else [])
    for other, dtype in cases:
        record = {
            "what": "agreement",
            "device": device,
            "against": other,
            "dtype": str(dtype or torch.float32).replace("torch.", ""),
        }
        _guarded(results, record, lambda o=other, d=dtype: measure(o, d))


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
    """One ``transmit_many`` of MTGC-sized streams on each device, over TDL-A (and, unless
    ``--quick``, CDL-A, 2×2 TDL-A and Rayleigh); every device's deliveries compared with
    the first's (the draws are the same on every device)."""
    from channels.link import Link

    items = [
        {"caption": bytes(range(i, i + 12)), "spw": bytes(range(i, i + 10)), "hci": bytes(300)}
        for i in range(4 if args.quick else 32)
    ]
    cases = [("tdl-a", {})]
    if not args.quick:
        cases += [("cdl-a", {}), ("tdl-a", {"antennas": 2}), ("rayleigh", {})]
    for channel, options in cases:
        first: list = []
        for device in devices:

            def measure(d=device, c=channel, o=options, first=first) -> dict:
                link = Link(c, device=d, channel_options=o)
                sec = _median_seconds(
                    lambda: link.transmit_many(items, 10.0, seeds=range(len(items))),
                    d,
                    args.repeats,
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

            name = channel + (f" {options['antennas']}x{options['antennas']}" if options else "")
            record = {"what": "link", "device": device, "channel": name, "items": len(items)}
            _guarded(results, record, measure)


def sd21_timings(device: str, args, results: list[dict]) -> None:
    """MTGC-sd21 with random weights: build, load, encode and decode on ``device``."""
    from semcom.presets.sd21 import assemble_sd21
    from semcom.presets.sd21_random import random_sd_snapshot

    scale = "toy" if args.quick else "full"
    root = Path(tempfile.mkdtemp(prefix="semcom-sd21-"))
    weights: list[Path] = []
    base = {"device": device, "scale": scale, "size": 64 if args.quick else 512}

    def build() -> dict:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sd, clip = random_sd_snapshot(root, scale)
            min_size = 64 if args.quick else 256
            weights.append(assemble_sd21(sd, clip, root / "mtgc", min_size=min_size))
        return {"seconds": time.perf_counter() - t0}

    try:
        _guarded(results, {"what": "sd21 build", **base, "dtype": "float32"}, build)
        dtypes = [torch.float32] if device == "cpu" else [torch.float16, torch.float32]
        for dtype in dtypes if weights and "sd21" in args.only else []:
            _sd21_dtype(weights[0], device, dtype, base, args, results)
            if device.startswith("cuda"):  # the model is gone: its memory to the next
                torch.cuda.empty_cache()
        if weights and "sd21-train" in args.only:
            _sd21_training(weights[0], root, device, base, args, results)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _sd21_training(
    weights: Path, root: Path, device: str, base: dict, args, results: list[dict]
) -> None:
    """``semcom train --preset sd21``'s parts, a few steps each on ``--images`` rendered
    scenes (+ 2 for validation): seconds per part (steps, validation gates and writing
    the part's weights) and peak GPU memory, at the config's default batch sizes."""
    from semcom.data.shapes import ShapesWorld
    from semcom.imageio import save_image
    from semcom.train.natural import NATURAL_STAGE_PARTS, NaturalTrainConfig, train_natural

    size = base["size"]
    folder = root / "train-images"
    folder.mkdir(exist_ok=True)
    scenes = ShapesWorld("train", n=args.images + 2, size=size, seed=0)
    with (folder / "captions.jsonl").open("w") as f:
        for i in range(args.images + 2):
            save_image(scenes[i].image, folder / f"s{i:03d}.png")
            f.write(json.dumps({"file": f"s{i:03d}.png", "caption": scenes[i].caption}) + "\n")
    steps = 2 if args.quick else 3
    settings = {f"{p}_steps": steps for ps in NATURAL_STAGE_PARTS.values() for p in ps}
    settings |= {"image_size": size, "val_every": (args.images + 2) // 2, "gate_images": 2}
    settings |= {"checkpoint_every": 1000, "log_every": 1000, "warmup": 1}
    if args.quick:
        settings |= {f"{p}_batch": 2 for ps in NATURAL_STAGE_PARTS.values() for p in ps}
    cfg = NaturalTrainConfig().updated(settings, "the benchmark")
    for stage, parts in NATURAL_STAGE_PARTS.items():
        for part in parts:

            def measure(st=stage, pt=part) -> dict:
                if device.startswith("cuda"):
                    torch.cuda.reset_peak_memory_stats()
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    train_natural(st, folder, weights, root / "work", cfg, (pt,), False, device)
                _sync(device)
                out = {"seconds": time.perf_counter() - t0, "steps": steps}
                out["batch"] = getattr(cfg, f"{pt}_batch")
                if device.startswith("cuda"):
                    out["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
                return out

            record = {"what": "sd21 train", **base, "dtype": "float32", "part": part}
            _guarded(results, record, measure)
            if device.startswith("cuda"):
                torch.cuda.empty_cache()


def _sd21_dtype(weights: Path, device: str, dtype, base: dict, args, results: list[dict]) -> None:
    """Load the sd21 model in ``dtype`` and time its encoder and decoder."""
    from semcom.data.shapes import ShapesWorld
    from semcom.presets.sd21 import load_sd21

    label = {**base, "dtype": str(dtype).replace("torch.", "")}
    loaded = []

    def load() -> dict:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            half = None if dtype == torch.float32 else dtype
            loaded.append(load_sd21(weights, device=device, dtype=half))
        _sync(device)
        return {"seconds": time.perf_counter() - t0}

    _guarded(results, {"what": "sd21 load", **label}, load)
    if not loaded:
        return
    model = loaded.pop()
    data = ShapesWorld("test", n=args.images, size=base["size"], seed=0)
    scenes = [data[i] for i in range(args.images)]
    images = torch.stack([s.image for s in scenes]).to(device)
    captions = [s.caption for s in scenes]
    try:
        streams = model.encode(images, captions=captions)
    except Exception as err:  # recorded; the decoder cannot be timed without streams
        record = {"what": "sd21 encode", **label, "error": f"{type(err).__name__}: {err}"}
        results.append(record)
        print(json.dumps(record), flush=True)
        return
    nbytes = sum(len(v) for v in streams[0].streams.values())
    for batch in (1, args.images):

        def encode(b=batch) -> dict:
            sec = _median_seconds(
                lambda: model.encode(images[:b], captions=captions[:b]), device, args.repeats
            )
            return {"s_per_image": sec / b, "bytes": nbytes}

        _guarded(results, {"what": "sd21 encode", **label, "batch": batch}, encode)
    full_grid = dtype == torch.float16 and not args.quick
    _decode_grid(model, streams, STEPS if full_grid else (10,), device, label, args, results)
    if args.compile and device.startswith("cuda") and dtype == torch.float16:
        _compiled(model, streams, device, label, args, results)


def _decode_grid(model, streams, steps_list, device, label, args, results) -> None:
    """sd21 decode seconds per image at each step count, batch 1 and ``--images``."""
    for steps in steps_list:
        for batch in (1, args.images):

            def decode(s=steps, b=batch) -> dict:
                out = _decode_seconds(model, streams, s, b, device, args.repeats)
                return {**out, "unet_evals": 2 * s}

            record = {"what": "sd21 decode", **label, "steps": steps, "batch": batch}
            _guarded(results, record, decode)


def _compiled(model, streams, device, label, args, results) -> None:
    """``--compile``: the float16 decoder again with its UNet and ControlNet under
    ``torch.compile(mode="reduce-overhead")`` (CUDA graphs), which a launch-bound batch-1
    decode should gain from; the first decode (compilation) is timed on its own."""
    mg = model.mgdd
    mg.unet = torch.compile(mg.unet, mode="reduce-overhead")
    mg.controlnet = torch.compile(mg.controlnet, mode="reduce-overhead")
    label = {**label, "dtype": "float16+compile"}

    def first() -> dict:
        t0 = time.perf_counter()
        model.decode(streams[0], steps=10)
        _sync(device)
        return {"seconds": time.perf_counter() - t0}

    _guarded(results, {"what": "sd21 compile", **label}, first)
    _decode_grid(model, streams, (10, 20), device, label, args, results)


def sweep_on_devices(devices: list[str], args, results: list[dict]) -> None:
    """The same 100-point sweep with ``device:`` set to each device in turn (a device may
    come twice: a repeat), every run's rows compared with the first run's."""
    from experiments.config import parse_config
    from experiments.scoring import SEMANTIC_FIELDS
    from experiments.store import KEY_COLUMNS, Store
    from experiments.sweep import run_sweep

    n, snrs = (1, SNRS[:2]) if args.quick else (5, SNRS)
    frames: list = []
    for run, device in enumerate(devices):
        config = parse_config(
            {
                "name": "gpu-check",
                "dataset": {"name": "shapes", "split": "test", "n": n, "size": 128, "seed": 0},
                "codecs": [{"name": "mtgc", "steps": 10}],
                "channels": ["awgn", "rayleigh"],
                "snr_db": list(snrs),
                "budget_cpp": [0.1],
                "seed": 0,
                "decode_seed": 0,
                "device": device,
            }
        )

        def measure(c=config) -> dict:
            with tempfile.TemporaryDirectory(prefix="semcom-sweep-") as tmp:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    report = run_sweep(c, tmp, progress=False, weights=args.weights)
                sec = time.perf_counter() - t0
                store = Store(tmp, create=False)
                frames.append(store.frame().set_index(list(KEY_COLUMNS[1:])).sort_index())
                store.close()
            out = {"points": report.points_written, "seconds": sec}
            if len(frames) > 1:  # compare with the first run's rows
                first, this = frames[0], frames[-1]
                semantic = list(SEMANTIC_FIELDS)
                # everything the link decides: sizes, MCSs, CRCs, pre-FEC BERs, iterations
                pixels = {"config_hash", "psnr", "ms_ssim", *semantic}
                link = [c for c in first.columns if c not in pixels]
                same_link = (first[link].fillna(-1) == this[link].fillna(-1)).all(axis=1)
                same_sem = (first[semantic].fillna(-1) == this[semantic].fillna(-1)).all(axis=1)
                out |= {
                    "same_link_rows": int(same_link.sum()),
                    "same_semantic_rows": int(same_sem.sum()),
                    "max_psnr_diff_db": float((first["psnr"] - this["psnr"]).abs().max()),
                }
            return out

        record = {"what": "sweep", "device": device, "run": run, "points_asked": n * 2 * len(snrs)}
        _guarded(results, record, measure)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("gpu.json"))
    ap.add_argument("--weights", default=None, help="tiny model directory (default: shipped)")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer points (the tests' CPU path)")
    ap.add_argument(
        "--compile",
        action="store_true",
        help="on a GPU, also time sd21's float16 decoder under torch.compile (CUDA graphs)",
    )
    ap.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=SECTIONS, help="run these sections only"
    )
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    devices = (["cuda"] if cuda else []) + ["cpu"]
    results: list[dict] = []
    threads = torch.get_num_threads()
    meta = {
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": threads,
        "torch": torch.__version__,
        "quick": args.quick,
    }

    def save() -> None:  # after every section: a run stopped early keeps what it measured
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))

    run = set(args.only)
    if run & {"sd21", "sd21-train"} and (cuda or args.quick):
        sd21_timings("cuda" if cuda else "cpu", args, results)
        save()
    if "tiny-gpu" in run and cuda:
        codec_timings("cuda", None, args, results)
        codec_timings("cuda", torch.float16, args, results)
        save()
    if "agreement" in run:
        decode_agreement(devices[0], args, results)
        save()
    if "ldpc" in run:
        ldpc_throughput(devices, args, results)
    if "link" in run:
        link_end_to_end(devices, args, results)
    save()
    if "sweep" in run:
        sweep_on_devices(devices if cuda else ["cpu", "cpu"], args, results)
        save()
    if "tiny-cpu" in run:
        torch.set_num_threads(1)
        codec_timings("cpu", None, args, results)
        torch.set_num_threads(threads)
        save()
    print(f"\n{meta}")
    print(f"{'what':11s} {'device':5s} {'dtype':8s} {'steps':>5s} {'batch':>5s} {'figure':>28s}")
    for r in results:
        if "error" in r:
            fig = "error: " + r["error"][:60]
        elif "s_per_image" in r:
            fig = f"{r['s_per_image'] * 1e3:9.1f} ms/image"
            fig += f" {r['peak_mib']:7.0f} MiB" if "peak_mib" in r else ""
        elif r["what"] == "sweep":
            fig = f"{r['points']} points {r['seconds']:6.1f} s"
            if "same_link_rows" in r:
                fig += (
                    f" same link {r['same_link_rows']} semantic {r['same_semantic_rows']}"
                    f" dPSNR<={r['max_psnr_diff_db']:.2g}"
                )
        elif r["what"] == "agreement":
            fig = (
                f"vs {r['against']}: same bits={r['same_bitstreams']} "
                f"PSNR>={r['min_psnr_db']:.1f} dB max diff {r['max_abs_diff']:.3g}"
            )
        elif r["what"] == "sd21 train":
            fig = f"{r['part']}: {r['steps']} steps of {r['batch']} in {r['seconds']:6.1f} s"
            fig += f" {r['peak_mib']:7.0f} MiB" if "peak_mib" in r else ""
        elif "seconds" in r:
            fig = f"{r['seconds']:9.1f} s"
        elif r["what"] == "ldpc":
            fig = f"{r['kbit_per_s']:9.0f} kbit/s early={r['early_stop']} same={r['same_bits']}"
        else:
            fig = (
                f"{r['s_per_item'] * 1e3:9.1f} ms/item {r['channel']} "
                f"delivered={r['streams_delivered']}"
                f" same={r['same_deliveries']}"
            )
        print(
            f"{r['what']:11s} {r['device']:5s} {r.get('dtype', ''):8s} "
            f"{r.get('steps', ''):>5} {r.get('batch', r.get('blocks', '')):>5} {fig}"
        )


if __name__ == "__main__":
    main()
