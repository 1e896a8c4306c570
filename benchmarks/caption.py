"""Caption coder against general-purpose compressors: bits per character, per caption.

    python benchmarks/caption.py [--n 1000] [--seed 2024]

Corpora: ShapesWorld captions from a seed the coder's model was not counted on, and a
fixed list of natural-image captions (COCO style). Every number is from real bytes that
decode back (checked). zlib+dict uses a 32 KiB preset dictionary of other ShapesWorld
captions, the fairest "fixed dictionary" rival.
"""

from __future__ import annotations

import argparse
import lzma
import zlib

import brotli
import numpy as np
from rich.console import Console
from rich.table import Table

from semcom.data.captions import canonical_caption, caption_corpus, random_scene
from semcom.mtgc.streams.caption import CaptionCoder

NATURAL = [
    "A man riding a wave on top of a surfboard.",
    "A group of people standing around a kitchen.",
    "Two dogs playing with a frisbee in the grass.",
    "A red double decker bus driving down a street.",
    "A plate of food with broccoli and rice on a table.",
    "A cat sitting on a laptop keyboard.",
    "A black and white photo of a train at a station.",
    "A woman holding an umbrella in the rain.",
    "Several boats floating in the water near a pier.",
    "A bowl of fruit sitting on a wooden table.",
    "A young boy swinging a baseball bat.",
    "An airplane flying through a cloudy blue sky.",
    "A giraffe standing next to a tall tree.",
    "A living room with a couch and a television.",
    "A bicycle parked next to a brick building.",
    "Snow covered mountains behind a small lake.",
]


def _methods(dictionary: bytes) -> dict[str, tuple]:
    coder = CaptionCoder()

    def zdict_c(b: bytes) -> bytes:
        c = zlib.compressobj(9, zdict=dictionary)
        return c.compress(b) + c.flush()

    def zdict_d(b: bytes) -> bytes:
        d = zlib.decompressobj(zdict=dictionary)
        return d.decompress(b) + d.flush()

    raw_filters = [{"id": lzma.FILTER_LZMA2, "preset": 6}]
    return {
        "raw 7-bit ASCII": (None, None),
        "zlib -9": (lambda b: zlib.compress(b, 9), zlib.decompress),
        "zlib -9 + 32 KiB dict": (zdict_c, zdict_d),
        "lzma (xz)": (lambda b: lzma.compress(b, preset=6), lzma.decompress),
        "lzma (raw LZMA2)": (
            lambda b: lzma.compress(b, format=lzma.FORMAT_RAW, filters=raw_filters),
            lambda b: lzma.decompress(b, format=lzma.FORMAT_RAW, filters=raw_filters),
        ),
        "brotli q11": (lambda b: brotli.compress(b, quality=11), brotli.decompress),
        "semcom caption coder": (
            lambda b: coder.encode(b.decode("utf-8")),
            lambda b: coder.decode(b).encode("utf-8"),
        ),
    }


def measure(corpus: list[str], dictionary: bytes) -> list[tuple[str, float, float]]:
    """(method, bits per character, mean bits per caption) over the corpus."""
    chars = sum(len(t) for t in corpus)
    rows = []
    for name, (enc, dec) in _methods(dictionary).items():
        if enc is None:
            bits = sum(7 * len(t) for t in corpus)
        else:
            bits = 0
            for t in corpus:
                data = enc(t.encode("utf-8"))
                assert dec(data) == t.encode("utf-8"), name
                bits += 8 * len(data)
        rows.append((name, bits / chars, bits / len(corpus)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="ShapesWorld captions")
    ap.add_argument("--seed", type=int, default=2024, help="corpus seed")
    args = ap.parse_args()
    shapes = caption_corpus(args.n, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    canonical = [canonical_caption(random_scene(rng, 3)) for _ in range(args.n)]
    dictionary = "\n".join(caption_corpus(2000, seed=args.seed + 1)).encode()[-32768:]
    console = Console()
    for title, corpus in (
        (f"ShapesWorld captions (n={len(shapes)})", shapes),
        (f"canonical captions, as the tiny captioner writes them (n={args.n})", canonical),
        (f"natural-image captions (n={len(NATURAL)})", NATURAL),
    ):
        mean_chars = sum(len(t) for t in corpus) / len(corpus)
        table = Table(title=f"{title}, {mean_chars:.1f} characters on average")
        table.add_column("method")
        table.add_column("bits / character", justify="right")
        table.add_column("bits / caption", justify="right")
        for name, bpc, bpcap in measure(corpus, dictionary):
            table.add_row(name, f"{bpc:.2f}", f"{bpcap:.1f}")
        console.print(table)


if __name__ == "__main__":
    main()
