"""``semcom evaluate --dataset folder:PATH``: the images of a folder, and their captions.

Every PNG, JPEG or WebP file directly in the folder (:data:`IMAGE_SUFFIXES`, any case),
sorted by name, the first ``n`` kept; each centre-cropped to a square (the shorter side)
and resized to ``size`` × ``size`` (bicubic with antialiasing, values clamped to [0, 1]).

Captions are optional input the user supplies, as ``semcom encode --caption`` takes one:
a JSONL file, one object ``{"file": "name.png", "caption": "..."}`` per line (blank
lines allowed), by default ``PATH/captions.jsonl`` when it exists. They are what the
transmitter sends as its caption for that image, never ground truth for scoring; an image
without one is captioned by the codec's own captioner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.errors import SemcomError

#: File suffixes read as images (compared in lower case).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp")
#: The captions file looked for in the folder when ``--captions`` is not given.
DEFAULT_CAPTIONS = "captions.jsonl"
#: How a ``--dataset`` value names a folder.
FOLDER_PREFIX = "folder:"


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


def folder_of(dataset: str) -> Path | None:
    """The folder a ``--dataset`` value names (``folder:PATH``), or None (``shapes``)."""
    if not dataset.startswith(FOLDER_PREFIX):
        return None
    path = dataset[len(FOLDER_PREFIX) :]
    if not path:
        raise SemcomError("--dataset folder:PATH needs a path after 'folder:'.")
    return Path(path).expanduser()


def image_files(folder: Path, n: int | None = None) -> list[Path]:
    """The image files of ``folder`` sorted by name, the first ``n`` of them; SemcomError
    when the folder is missing or holds none."""
    if not folder.exists():
        raise SemcomError(
            f"--dataset folder:{folder}: {folder} does not exist; name a folder of PNG, "
            "JPEG or WebP images."
        )
    if not folder.is_dir():
        raise SemcomError(
            f"--dataset folder:{folder}: {folder} is not a folder; name the folder that "
            "holds the images."
        )
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda p: p.name,
    )
    if not files:
        raise SemcomError(
            f"{folder} holds no PNG, JPEG or WebP images ({', '.join(IMAGE_SUFFIXES)}); put "
            "the images to evaluate there."
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
    from semcom.streams.caption import MAX_CAPTION_BYTES

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
    folder: Path,
    size: int,
    n: int | None = None,
    captions: Path | None = None,
    with_captions: bool = True,
) -> FolderSet:
    """The first ``n`` images of ``folder`` at ``size`` × ``size`` and their captions
    (``captions``, else ``folder/captions.jsonl`` when present, else none; none at all
    when not ``with_captions``: the codec sends no caption)."""
    from semcom.imageio import load_image

    files = image_files(folder, n)
    images = []
    for path in files:
        try:
            image = load_image(path)
        except SemcomError as err:
            raise SemcomError(
                f"{str(err).rstrip('.')}; remove or replace it in the folder."
            ) from None
        images.append(square(image, size))
    names = [p.name for p in files]
    source = captions if captions is not None else folder / DEFAULT_CAPTIONS
    if not with_captions or (captions is None and not source.is_file()):
        return FolderSet(folder, names, torch.stack(images), [None] * len(names))
    every = [p.name for p in image_files(folder)]
    given = read_captions(source, every)
    return FolderSet(folder, names, torch.stack(images), [given.get(k) for k in names], source)
