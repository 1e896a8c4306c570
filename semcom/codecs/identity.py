"""Weights identities: what the results store and the decode cache key a codec on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

#: File kinds that make up a model folder's weights and settings.
WEIGHT_SUFFIXES = (".json", ".safetensors", ".txt", ".model")
#: Files beside the weights that are measured from them, not part of them (a value table).
MEASURED_FILES = ("values.json",)
#: Keys of a settings file that describe the weights without changing what they compute
#: (``world``: the images they were trained on, :mod:`semcom.worlds`): the identity hashes
#: such a file as it would be without them, so stating them moves no result.
DESCRIPTIVE_KEYS: dict[str, tuple[str, ...]] = {"mtgc.json": ("world",)}


def folder_identity(folder: str | Path) -> str | None:
    """SHA-256 (16 hex digits) over a weights folder's files (relative names and bytes,
    in name order; only :data:`WEIGHT_SUFFIXES`, less :data:`MEASURED_FILES`; a file of
    :data:`DESCRIPTIVE_KEYS` that states one of its keys counts as the file without them);
    None when the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix not in WEIGHT_SUFFIXES or path.name in MEASURED_FILES:
            continue
        sha.update(path.relative_to(folder).as_posix().encode() + b"\0")
        if path.name in DESCRIPTIVE_KEYS:
            sha.update(_without_descriptions(path))
            continue
        with open(path, "rb") as f:
            for chunk in iter(lambda f=f: f.read(1 << 22), b""):
                sha.update(chunk)
    return sha.hexdigest()[:16]


def _without_descriptions(path: Path) -> bytes:
    """``path``'s bytes; when it is a JSON object stating one of its
    :data:`DESCRIPTIVE_KEYS`, the object without them, written as the model directory
    writes its settings (``json.dumps(..., indent=2)``), so the bytes are those the file
    had before the keys were added."""
    data = path.read_bytes()
    keys = DESCRIPTIVE_KEYS[path.name]
    try:
        raw = json.loads(data)
    except ValueError:
        return data
    if not isinstance(raw, dict) or not any(k in raw for k in keys):
        return data
    return json.dumps({k: v for k, v in raw.items() if k not in keys}, indent=2).encode()
