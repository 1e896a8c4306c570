"""How low can the conventional codecs go? Lowest real bpp per downsampling factor, and PSNR there.

    python benchmarks/conventional.py [--index 0] [--no-textured]

Scenes: a ShapesWorld test scene drawn at 128×128 and at 256×256 (flat colours: the
easy case), and a textured synthetic scene (colour gradient, two shapes, Gaussian noise
σ = 0.08; closer to a photograph's rate) at the same sizes. For each codec and factor f
the whole quality grid is encoded; the smallest real stream (every byte counted; the
factor costs no header bits) is reported with its PSNR at the receiver (decoded and
upsampled to full size). The last column is the time to build the codec's whole table of
operating points (FACTORS × quality grid, encode and decode), what rate control costs
per image.
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table

from semcom.baselines import CODEC_NAMES, FACTORS, operating_points
from semcom.data.shapes import ShapesWorld


def textured_scene(size: int, seed: int = 0) -> torch.Tensor:
    """[3,size,size] float32 in [0,1]: gradient, a red disc, a blue bar, noise σ = 0.08."""
    y = torch.linspace(0, 1, size).view(size, 1).expand(size, size)
    x = torch.linspace(0, 1, size).view(1, size).expand(size, size)
    img = torch.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.8 - 0.5 * x * y])
    disc = (x - 0.35) ** 2 + (y - 0.4) ** 2 < 0.04
    bar = (x > 0.6) & (x < 0.85) & (y > 0.55) & (y < 0.9)
    img = torch.where(disc, torch.tensor([0.9, 0.1, 0.1]).view(3, 1, 1), img)
    img = torch.where(bar, torch.tensor([0.1, 0.2, 0.8]).view(3, 1, 1), img)
    noise = torch.randn(3, size, size, generator=torch.Generator().manual_seed(seed))
    return (img + 0.08 * noise).clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=int, default=0, help="ShapesWorld test scene index")
    parser.add_argument("--no-textured", action="store_true", help="skip the textured scene")
    args = parser.parse_args()

    scenes = [
        (f"shapes {s}²", ShapesWorld("test", n=args.index + 1, size=s)[args.index].image)
        for s in (128, 256)
    ]
    if not args.no_textured:
        scenes += [(f"textured {s}²", textured_scene(s)) for s in (128, 256)]

    table = Table(title="Lowest reachable rate per factor: bpp (PSNR dB at that point)")
    table.add_column("scene")
    table.add_column("codec")
    for f in FACTORS:
        table.add_column(f"f={f}", justify="right")
    table.add_column("table time", justify="right")
    for label, image in scenes:
        for codec in CODEC_NAMES:
            start = time.perf_counter()
            points = operating_points(image, codec)
            elapsed = time.perf_counter() - start
            cells = []
            for f in FACTORS:
                smallest = min(
                    (v for v in points if v.factor == f), key=lambda v: (v.bits, -v.psnr)
                )
                cells.append(f"{smallest.bpp:.4f} ({smallest.psnr:.1f})")
            table.add_row(label, codec, *cells, f"{elapsed:.2f} s")
        table.add_section()
    Console().print(table)


if __name__ == "__main__":
    main()
