"""The training-set mean image: what every receiver shows when nothing arrived.

A lost image (or an MTGC transmission of which no stream arrived) becomes the same picture
for every codec, the per-pixel mean of :data:`MEAN_SCENES` ShapesWorld training scenes
(seed 0, 128×128), so that no codec scores better or worse in outage because of the grey
it happens to paint. It ships as ``mean_image.png`` (uint8); other sizes are resized from
it (bilinear, antialiased). ``python -m semcom.data.mean_image`` rewrites the file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

#: The shipped mean image (128×128 RGB, uint8).
MEAN_IMAGE_FILE = Path(__file__).with_name("mean_image.png")
#: Training scenes (seed 0) the mean is taken over.
MEAN_SCENES = 2000


def compute_mean_image(n: int = MEAN_SCENES, seed: int = 0) -> np.ndarray:
    """The per-pixel mean of the first ``n`` training scenes → [128,128,3] uint8."""
    from semcom.data.shapes import ShapesWorld

    data = ShapesWorld("train", n=n, seed=seed)
    total = np.zeros((3, 128, 128), dtype=np.float64)
    for i in range(n):
        total += data[i].image.double().numpy()
    return np.round(total / n * 255).astype(np.uint8).transpose(1, 2, 0)


@lru_cache(maxsize=16)
def _mean_image(height: int, width: int) -> torch.Tensor:
    from PIL import Image

    with Image.open(MEAN_IMAGE_FILE) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=np.float32) / 255
    x = torch.from_numpy(pixels).permute(2, 0, 1).contiguous()
    if x.shape[-2:] != (height, width):
        x = torch.nn.functional.interpolate(
            x[None], size=(height, width), mode="bilinear", antialias=True, align_corners=False
        )[0].clamp(0, 1)
    return x


def mean_image(height: int = 128, width: int = 128) -> torch.Tensor:
    """The training-set mean image → [3,height,width] float32 in [0,1] (a fresh copy)."""
    return _mean_image(int(height), int(width)).clone()


if __name__ == "__main__":
    from PIL import Image

    Image.fromarray(compute_mean_image()).save(MEAN_IMAGE_FILE, optimize=True)
    print(f"wrote {MEAN_IMAGE_FILE}")
