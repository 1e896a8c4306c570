"""MTGC encode and decode time per image, and bits per stream.

    python benchmarks/mtgc_speed.py [--preset tiny] [--weights DIR] [--device cpu]
                               [--size 128] [--images 4] [--steps 20] [--threads N]

Images are ShapesWorld test scenes. Times are wall-clock per image over a batch (after
one warm-up call), on the device named; bits are the real payload bytes of each stream.
Without --weights the tiny preset runs its untrained architecture (the timing is the
same as for trained weights).
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from rich.console import Console
from rich.table import Table

from semcom.data.shapes import ShapesWorld
from semcom.mtgc.presets import load_codec


def test_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """[n,3,size,size] ShapesWorld test-split scenes in [0,1]."""
    data = ShapesWorld("test", n=n, size=size, seed=seed)
    return torch.stack([data[i].image for i in range(n)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = load_codec(args.preset, args.weights, device=args.device)
    imgs = test_images(args.images, args.size)
    captions = ["a small red star at the top left and a large blue circle in the middle"]
    captions = captions * args.images if codec.captioner is None else None

    def sync() -> None:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    codec.encode(imgs[:1], captions=captions[:1] if captions else None)
    sync()
    t0 = time.perf_counter()
    streams = codec.encode(imgs, captions=captions)
    sync()
    t_enc = (time.perf_counter() - t0) / args.images
    codec.decode(streams[0], steps=args.steps)
    sync()
    t0 = time.perf_counter()
    codec.decode(streams, steps=args.steps)
    sync()
    t_dec = (time.perf_counter() - t0) / args.images
    t0 = time.perf_counter()
    codec.decode(streams[0], steps=args.steps)
    sync()
    t_dec1 = time.perf_counter() - t0

    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    title = (
        f"MTGC {codec.preset}, {args.size}x{args.size}, {args.steps} DDIM steps, "
        f"{device}, {torch.get_num_threads()} threads"
    )
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("encode, s per image (batch)", f"{t_enc:.3f}")
    table.add_row(f"decode, s per image (batch of {args.images})", f"{t_dec:.3f}")
    table.add_row("decode, s for one image", f"{t_dec1:.3f}")
    for name in ("caption", "hci", "spw"):
        bits = [s.stream_bits().get(name, 0) for s in streams]
        table.add_row(f"{name} bits (mean)", f"{sum(bits) / len(bits):.1f}")
    bpp = [s.bpp for s in streams]
    table.add_row("payload bpp (mean)", f"{sum(bpp) / len(bpp):.4f}")
    Console().print(table)


if __name__ == "__main__":
    main()
