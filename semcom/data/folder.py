"""A folder of natural images with optional captions, as square tensors.

Every PNG, JPEG or WebP file directly in the folder (:data:`IMAGE_SUFFIXES`, any case;
sorted by name) is read (:func:`semcom.imageio.load_image`), centre-cropped to a square
and resized to ``size`` (bicubic, antialiased when shrinking). Captions come from a JSONL
file, one object per line: ``{"file": "name.png", "caption": "..."}`` (default
``FOLDER/captions.jsonl`` when present). :func:`load_folder` (training) gives an image
without a line an empty caption; ``semcom evaluate --dataset folder:``
(:mod:`experiments.folder_data`) lets the codec's captioner write one.
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


def image_files(folder: Path, n: int | None = None) -> list[Path]:
    """The image files of ``folder`` sorted by name, the first ``n`` of them; SemcomError
    when the folder is missing or holds none."""
    if not folder.exists():
        raise SemcomError(f"{folder} does not exist; name a folder of PNG, JPEG or WebP images.")
    if not folder.is_dir():
        raise SemcomError(f"{folder} is not a folder; name the folder that holds the images.")
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda p: p.name,
    )
    if not files:
        raise SemcomError(
            f"{folder} holds no PNG, JPEG or WebP images ({', '.join(IMAGE_SUFFIXES)}); put "
            "the images there."
        )
    return files[:n] if n is not None else files


def square(image: torch.Tensor, size: int) -> torch.Tensor:
    """[3,H,W] in [0, 1] → its centre square (side min(H, W)) resized to [3,size,size]
    (bicubic, antialiased when shrinking), clamped to [0, 1], float32."""
    h, w = image.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[:, top : top + side, left : left + side].float()
    if side == size:
        return crop.contiguous()
    out = F.interpolate(
        crop.unsqueeze(0), size=(size, size), mode="bicubic", align_corners=False, antialias=True
    )
    return out[0].clamp(0, 1)


def read_captions(path: Path, names: list[str]) -> dict[str, str]:
    """``{file: caption}`` from a JSONL file; SemcomError naming the line when a line is
    not ``{"file": str, "caption": str}``, names a file that is not among ``names``,
    repeats one, or holds a caption longer than the caption stream takes."""
    from semcom.mtgc.streams.caption import MAX_CAPTION_BYTES

    if not path.is_file():
        raise SemcomError(f"--captions {path} does not exist; give a JSONL file of captions.")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SemcomError(f"{path} is not a readable UTF-8 text file ({err}).") from None
    known = set(names)
    out: dict[str, str] = {}
    shape = 'one {"file": "name.png", "caption": "..."} object per line'
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise SemcomError(f"{path} line {number} is not JSON; write {shape}.") from None
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("file"), str)
            or not isinstance(row.get("caption"), str)
        ):
            raise SemcomError(
                f"{path} line {number} lacks a string 'file' or 'caption'; write {shape}."
            )
        name, caption = row["file"], row["caption"]
        if name not in known:
            raise SemcomError(
                f"{path} line {number} names {name!r}, which is not an image of the folder; "
                "fix the name or remove the line."
            )
        if name in out:
            raise SemcomError(
                f"{path} line {number} gives {name!r} a second caption; keep one per image."
            )
        if len(caption.encode()) > MAX_CAPTION_BYTES:
            raise SemcomError(
                f"{path} line {number}: the caption of {name!r} is longer than the "
                f"{MAX_CAPTION_BYTES} bytes the caption stream takes; shorten it."
            )
        out[name] = caption
    return out


def load_folder(
    path: str | Path, size: int, captions: str | Path | None = None, limit: int | None = None
) -> ImageFolder:
    """Read the images of ``path`` (see the module docstring); ``limit`` caps their number."""
    folder = Path(path)
    if size < 8:
        raise SemcomError(f"the image size must be at least 8 pixels, not {size}.")
    files = image_files(folder, limit)
    cap_path = Path(captions) if captions is not None else folder / CAPTIONS_NAME
    names = [p.name for p in image_files(folder)]
    texts = read_captions(cap_path, names) if captions is not None or cap_path.is_file() else {}
    images = torch.empty(len(files), 3, size, size, dtype=torch.uint8)
    for i, p in enumerate(files):
        images[i] = (square(load_image(p), size) * 255).round().to(torch.uint8)
    return ImageFolder(images, [p.name for p in files], [texts.get(p.name, "") for p in files])
