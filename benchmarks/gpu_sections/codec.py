"""The GPU benchmark's model sections: MTGC-tiny and MTGC-sd21 decode and training
times, decode agreement across devices."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import torch

from gpu_sections.common import STEPS, _decode_seconds, _guarded, _median_seconds, _sync


def codec_timings(device: str, dtype: torch.dtype | None, args, results: list[dict]) -> None:
    """Encode and decode seconds per image on ``device``."""
    from semcom.data.shapes import ShapesWorld
    from semcom.mtgc.presets import load_codec

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
    from semcom.mtgc.presets import load_codec

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


def sd21_timings(device: str, args, results: list[dict]) -> None:
    """MTGC-sd21 with random weights: build, load, encode and decode on ``device``."""
    from semcom.mtgc.presets.sd21 import assemble_sd21
    from semcom.mtgc.presets.sd21_random import random_sd_snapshot

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
    from semcom.mtgc.train.natural import NATURAL_STAGE_PARTS, NaturalTrainConfig, train_natural

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
    from semcom.mtgc.presets.sd21 import load_sd21

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
