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

from dataclasses import dataclass
from pathlib import Path

import torch

from semcom.data.folder import (
    CAPTIONS_NAME,
    IMAGE_SUFFIXES,
    image_files,
    read_captions,
    square,
)
from semcom.errors import SemcomError

__all__ = [
    "IMAGE_SUFFIXES",
    "FolderSet",
    "folder_of",
    "image_files",
    "load_folder",
    "read_captions",
    "square",
]

#: The captions file looked for in the folder when ``--captions`` is not given.
DEFAULT_CAPTIONS = CAPTIONS_NAME
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
