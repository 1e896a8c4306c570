"""A folder of natural images with optional captions, as square tensors.

Every PNG, JPEG or WebP file directly in the folder (:data:`IMAGE_SUFFIXES`, any case;
sorted by name) is read (:func:`semcom.imageio.load_image`), centre-cropped to a square
and resized to ``size`` (bicubic, antialiased when shrinking). Captions come from a JSONL
file, one object per line: ``{"file": "name.png", "caption": "..."}`` (default
``FOLDER/captions.jsonl`` when present); they are what the transmitter sends as its
caption for that image, never ground truth for scoring.

The one reader of such folders: :func:`read_folder` for ``semcom evaluate --dataset
folder:PATH`` (float images; an image without a caption line gets None, and the codec's
captioner writes one), :func:`load_folder` for training (uint8 images, an empty caption).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
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
#: How a ``--dataset`` value names a folder.
FOLDER_PREFIX = "folder:"


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


def folder_of(dataset: str) -> Path | None:
    """The folder a ``--dataset`` value names (``folder:PATH``), or None (``shapes``)."""
    if not dataset.startswith(FOLDER_PREFIX):
        return None
    path = dataset[len(FOLDER_PREFIX) :]
    if not path:
        raise SemcomError("--dataset folder:PATH needs a path after 'folder:'.")
    return Path(path).expanduser()


def _captions(folder: Path, captions: Path | None) -> tuple[dict[str, str], Path | None]:
    """The folder's captions by file name and the file they came from (``captions``, else
    the folder's :data:`CAPTIONS_NAME` when present; none: ``({}, None)``)."""
    source = Path(captions) if captions is not None else folder / CAPTIONS_NAME
    if captions is None and not source.is_file():
        return {}, None
    return read_captions(source, [p.name for p in image_files(folder)]), source


def _squares(files: list[Path], size: int) -> Iterator[torch.Tensor]:
    """Each file read and made a [3,size,size] square (:func:`square`); an unreadable file
    is one sentence naming it."""
    if size < 8:
        raise SemcomError(f"the image size must be at least 8 pixels, not {size}.")
    for path in files:
        try:
            image = load_image(path)
        except SemcomError as err:
            raise SemcomError(
                f"{str(err).rstrip('.')}; remove or replace it in the folder."
            ) from None
        yield square(image, size)


@dataclass
class FolderSet:
    """A folder's images: ``names`` [N] file names, ``images`` [N,3,S,S] float32 in
    [0, 1], ``captions`` [N] (None where the user gave none), ``captions_file`` the file
    they came from (None: no captions)."""

    folder: Path
    names: list[str]
    images: torch.Tensor
    captions: list[str | None]
    captions_file: Path | None = None


def read_folder(
    folder: Path,
    size: int,
    n: int | None = None,
    captions: Path | None = None,
    with_captions: bool = True,
) -> FolderSet:
    """The first ``n`` images of ``folder`` at ``size`` × ``size`` and their captions
    (none at all when not ``with_captions``: the codec sends no caption)."""
    files = image_files(folder, n)
    images = torch.stack(list(_squares(files, size)))
    names = [p.name for p in files]
    given, source = _captions(folder, captions) if with_captions else ({}, None)
    if source is None:
        return FolderSet(folder, names, images, [None] * len(names))
    return FolderSet(folder, names, images, [given.get(k) for k in names], source)


def load_folder(
    path: str | Path, size: int, captions: str | Path | None = None, limit: int | None = None
) -> ImageFolder:
    """Read the images of ``path`` for training (uint8, an empty caption where none is
    given); ``limit`` caps their number."""
    folder = Path(path)
    files = image_files(folder, limit)
    texts, _ = _captions(folder, Path(captions) if captions is not None else None)
    images = torch.empty(len(files), 3, size, size, dtype=torch.uint8)
    for i, image in enumerate(_squares(files, size)):
        images[i] = (image * 255).round().to(torch.uint8)
    return ImageFolder(images, [p.name for p in files], [texts.get(p.name, "") for p in files])
