"""The SPW stream raw-packed against arithmetic-coded: bits an image and coding time.

    python benchmarks/spw_coding.py [--n 200] [--threads 1]

Runs the shipped tiny-complex TASCM on ``n`` ShapesWorld-Complex validation scenes and codes
each image's SPW indices both ways with real bytes that decode back (checked): raw (16 ×
24 bits, MSB first) and under the preset's ``spw_model/`` tables. Times are per image, on
one thread, the coded ones also as a ratio to raw in the same process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from semcom.data.complex import ShapesWorldComplex
from semcom.mtgc.presets.tiny_complex import load_tiny_complex
from semcom.mtgc.streams.spw import SPWCoder


def _timed(fn, rows: list[torch.Tensor], repeat: int = 3) -> tuple[list, float]:
    """fn over every row, best of ``repeat`` runs: (outputs, seconds per row)."""
    best, out = float("inf"), []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = [fn(r) for r in rows]
        best = min(best, (time.perf_counter() - t0) / len(rows))
    return out, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    codec = load_tiny_complex()
    coded = codec.spw
    if coded.model is None:
        raise SystemExit("the shipped tiny-complex weights have no spw_model/.")
    raw = SPWCoder(coded.k, coded.codebook_size)
    data = ShapesWorldComplex("val", n=args.n, seed=0)
    images = torch.stack([data[i].image for i in range(args.n)])
    rows = list(torch.cat([codec.spw_indices(images[i : i + 64]) for i in range(0, args.n, 64)]))

    table = Table(title=f"SPW stream, {args.n} validation scenes (tiny-complex)")
    for col in ("coder", "bits/image", "min–max", "encode ms", "decode ms", "× raw time"):
        table.add_column(col, justify="right")
    base = None
    for name, coder in (("raw", raw), ("arithmetic (spw_model)", coded)):
        payloads, t_enc = _timed(coder.encode, rows)
        decoded, t_dec = _timed(coder.decode, payloads)
        assert all(torch.equal(a, b) for a, b in zip(decoded, rows, strict=True))
        bits = np.array([8 * len(p) for p in payloads])
        base = base or (t_enc + t_dec)
        table.add_row(
            name,
            f"{bits.mean():.1f}",
            f"{bits.min()}–{bits.max()}",
            f"{1e3 * t_enc:.3f}",
            f"{1e3 * t_dec:.3f}",
            f"{(t_enc + t_dec) / base:.1f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
