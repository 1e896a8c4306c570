"""Reading and writing images as float tensors [3,H,W] in [0,1], with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from semcom.errors import SemcomError


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Any PIL mode → [H,W,3] float64 in [0,1]. Alpha is composited on white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.float64) / 65535.0
        return np.repeat(arr[..., None], 3, axis=2)
    if mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        return np.repeat(np.clip(arr / top, 0, 1)[..., None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        return np.repeat(np.clip(arr, 0, 1)[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0
        alpha = rgba[..., 3:4]
        return rgba[..., :3] * alpha + (1.0 - alpha)
    return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0


def load_image(path: str | Path) -> torch.Tensor:
    """Read an image file → [3,H,W] float32 in [0,1].

    Grey, palette, CMYK and 16-bit images are converted to RGB in [0,1]; transparent
    pixels are composited on white; an EXIF orientation is applied (as viewers show it).
    """
    p = Path(path)
    if not p.exists():
        raise SemcomError(f"{p} does not exist.")
    if not p.is_file():
        raise SemcomError(f"{p} is not a file.")
    try:
        with Image.open(p) as img:
            img.load()
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            arr = _to_rgb_array(ImageOps.exif_transpose(img) or img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise SemcomError(f"{p} is not an image semcom can read ({err}).") from err
    except Image.DecompressionBombError as err:
        raise SemcomError(f"{p} is too large to open safely ({err}).") from err
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float()


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[3,H,W] float in [0,1] → [H,W,3] uint8 (rounded)."""
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def save_image(image: torch.Tensor, path: str | Path) -> None:
    """Write [3,H,W] in [0,1] as an 8-bit RGB file (format from the suffix)."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise SemcomError(f"the folder {p.parent} does not exist.")
    try:
        Image.fromarray(to_uint8(image)).save(p)
    except (ValueError, KeyError) as err:
        raise SemcomError(f"cannot write {p}: use a .png, .jpg or .webp name ({err}).") from err
