"""The ShapesWorld image test (``semcom.worlds.shapes_share``) on ShapesWorld scenes and on
other pictures: the numbers behind its threshold.

    python benchmarks/world_check.py [--photos A.jpg B.jpg ...]

Rows: ShapesWorld validation and test scenes (lossless, and saved as JPEG or shrunk and
enlarged again, as a user's copy of a scene might be), crops of photographs (default:
matplotlib's sample photograph grace_hopper.jpg; 12 random square crops and the whole
picture each, at 128 pixels), the same crops in grey, coloured 1/f² noise and the smooth
sinusoid pictures the folder tests use. Each row: how many images, the least, median
and largest share, and how many reach the threshold (``semcom.worlds.SHAPES_THRESHOLD``:
the test says "looks like ShapesWorld").
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table

from semcom.data.shapes import ShapesWorld
from semcom.worlds import SHAPES_THRESHOLD, shapes_share


def _tensor(img: Image.Image) -> torch.Tensor:
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(arr).permute(2, 0, 1)


def _pil(image: torch.Tensor) -> Image.Image:
    return Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


def _jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    buf = io.BytesIO()
    _pil(image).save(buf, "JPEG", quality=quality)
    return _tensor(Image.open(buf))


def _shrunk(image: torch.Tensor, side: int) -> torch.Tensor:
    size = image.shape[-1]
    small = _pil(image).resize((side, side), Image.Resampling.BICUBIC)
    return _tensor(small.resize((size, size), Image.Resampling.BICUBIC))


def _crops(path: Path, n: int = 12, size: int = 128, seed: int = 0) -> list[torch.Tensor]:
    """``n`` random square crops of a photograph and the whole of it, at ``size``."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        side = int(rng.integers(min(w, h) // 4, min(w, h) + 1))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        crop = img.crop((x, y, x + side, y + side))
        out.append(_tensor(crop.resize((size, size), Image.Resampling.BICUBIC)))
    out.append(_tensor(img.resize((size, size), Image.Resampling.BICUBIC)))
    return out


def _noise(seed: int, size: int = 128) -> torch.Tensor:
    """Coloured 1/f² noise (a natural image's spectrum), channels mixed, mean near 0.5."""
    rng = np.random.default_rng(seed)
    f2 = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None] ** 2
    f2[0, 0] = 1.0
    planes = []
    for _ in range(3):
        spectrum = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))) / f2
        x = np.real(np.fft.ifft2(spectrum))
        planes.append((x - x.mean()) / x.std())
    mix = rng.normal(size=(3, 3)) * 0.3 + np.eye(3)
    x = np.einsum("ij,jhw->ihw", mix, np.stack(planes))
    x = 0.5 + 0.18 * x + rng.uniform(-0.2, 0.2, (3, 1, 1))
    return torch.from_numpy(np.clip(x, 0, 1).astype(np.float32))


def _smooth(seed: int, size: int = 128) -> torch.Tensor:
    """tests/test_evaluate_folder.py's smooth picture (sinusoids and a gradient)."""
    y, x = np.mgrid[0:size, 0:size] / size
    a = np.stack([np.sin(3 * x + seed), np.cos(2 * y + seed * x), x * y + 0.1 * seed])
    return torch.from_numpy(np.clip(0.5 * a + 0.5, 0, 1).astype(np.float32))


def _grey(image: torch.Tensor) -> torch.Tensor:
    return image.mean(0, keepdim=True).expand(3, -1, -1).clone()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="*", type=Path, default=None)
    parser.add_argument("--scenes", type=int, default=200)
    args = parser.parse_args()
    if args.photos is None:
        from matplotlib import cbook

        args.photos = [Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))]
    n = args.scenes
    val = [ShapesWorld("val", n=n)[i].image for i in range(n)]
    test = [ShapesWorld("test", n=n)[i].image for i in range(n)]
    large = ShapesWorld("val", n=n // 4, size=256)
    crops = [c for p in args.photos for c in _crops(p)]
    rows = [
        ("ShapesWorld val scenes, 128 px", val),
        ("ShapesWorld test scenes, 128 px", test),
        ("ShapesWorld val scenes, 256 px", [large[i].image for i in range(len(large))]),
        ("the val scenes as JPEG q75", [_jpeg(im, 75) for im in val[:50]]),
        ("the val scenes as JPEG q50", [_jpeg(im, 50) for im in val[:50]]),
        ("the val scenes shrunk to 64 px and back", [_shrunk(im, 64) for im in val[:50]]),
        (f"crops of {len(args.photos)} photograph(s)", crops),
        ("the same crops in grey", [_grey(c) for c in crops]),
        ("coloured 1/f² noise", [_noise(s) for s in range(50)]),
        ("the folder tests' smooth pictures", [_smooth(s) for s in range(20)]),
    ]
    table = Table(title=f"shapes_share (threshold {SHAPES_THRESHOLD})")
    for col in ("images", "n", "min", "median", "max", "≥ threshold"):
        table.add_column(col, justify="left" if col == "images" else "right")
    for label, images in rows:
        v = np.array([shapes_share(im) for im in images])
        table.add_row(
            label,
            str(len(v)),
            f"{v.min():.3f}",
            f"{np.median(v):.3f}",
            f"{v.max():.3f}",
            str(int((v >= SHAPES_THRESHOLD).sum())),
        )
    Console().print(table)


if __name__ == "__main__":
    main()
