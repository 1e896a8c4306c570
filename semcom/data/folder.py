"""A folder of natural images with optional captions, as square tensors.

Every PNG, JPEG or WebP file directly in the folder (sorted by name) is read
(:func:`semcom.imageio.load_image`), centre-cropped to a square and resized to ``size``
(area averaging when shrinking, bicubic when enlarging). Captions come from a JSONL file,
one object per line: ``{"file": "name.png", "caption": "..."}`` (default
``FOLDER/captions.jsonl`` when present); an image without a line gets an empty caption.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.errors import SemcomError
from semcom.imageio import load_image

#: File name endings read as images.
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp")
#: The captions file read when none is named.
CAPTIONS_NAME = "captions.jsonl"


@dataclass
class ImageFolder:
    """Images uint8 [N,3,S,S], their file names and captions (empty when none given)."""

    images: torch.Tensor
    files: list[str]
    captions: list[str]

    def __len__(self) -> int:
        return len(self.files)

    def float_images(self, idx: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Images (all, or ``idx``) as float32 [B,3,S,S] in [0,1]."""
        x = self.images if idx is None else self.images[idx]
        return x.float() / 255

    def split(self, every: int) -> tuple[ImageFolder, ImageFolder]:
        """(training, validation): every ``every``-th image (from the last) validates."""
        n = len(self)
        val = set(range(n - 1, -1, -every)) if every > 0 and n > 1 else set()
        parts = ([i for i in range(n) if i not in val], sorted(val))
        return tuple(  # type: ignore[return-value]
            ImageFolder(
                self.images[idx], [self.files[i] for i in idx], [self.captions[i] for i in idx]
            )
            for idx in parts
        )


def square(image: torch.Tensor, size: int) -> torch.Tensor:
    """[3,H,W] in [0,1] → [3,size,size]: centre crop to a square, then resize."""
    _, h, w = image.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = image[:, top : top + s, left : left + s].unsqueeze(0)
    if s == size:
        return crop[0]
    mode = "area" if s > size else "bicubic"
    out = F.interpolate(crop, size=(size, size), mode=mode)
    return out.clamp(0, 1)[0]


def read_captions(path: Path) -> dict[str, str]:
    """A captions JSONL → {file name: caption}; a malformed line is a SemcomError."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SemcomError(f"the captions file {path} cannot be read ({err}).") from err
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            raise SemcomError(f"{path} line {number} is not JSON ({err}).") from err
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("file"), str)
            or not isinstance(row.get("caption"), str)
        ):
            raise SemcomError(
                f'{path} line {number} must be {{"file": "name.png", "caption": "..."}}.'
            )
        out[Path(row["file"]).name] = row["caption"]
    return out


def load_folder(
    path: str | Path, size: int, captions: str | Path | None = None, limit: int | None = None
) -> ImageFolder:
    """Read the images of ``path`` (see the module docstring); ``limit`` caps their number."""
    folder = Path(path)
    if not folder.is_dir():
        raise SemcomError(f"the image folder {folder} does not exist.")
    if size < 8:
        raise SemcomError(f"the image size must be at least 8 pixels, not {size}.")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if limit is not None:
        files = files[:limit]
    if not files:
        raise SemcomError(
            f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}): put the training or "
            "test images there."
        )
    cap_path = Path(captions) if captions is not None else folder / CAPTIONS_NAME
    if captions is not None and not cap_path.is_file():
        raise SemcomError(f"the captions file {cap_path} does not exist.")
    texts = read_captions(cap_path) if cap_path.is_file() else {}
    unknown = sorted(set(texts) - {p.name for p in sorted(folder.iterdir())})
    if unknown:
        raise SemcomError(f"{cap_path} names files that are not in {folder}: {unknown[0]}.")
    images = torch.empty(len(files), 3, size, size, dtype=torch.uint8)
    for i, p in enumerate(files):
        images[i] = (square(load_image(p), size) * 255).round().to(torch.uint8)
    return ImageFolder(images, [p.name for p in files], [texts.get(p.name, "") for p in files])
