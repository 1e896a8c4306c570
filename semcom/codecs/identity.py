"""Weights identities: what the results store and the decode cache key a codec on."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: File kinds that make up a model folder's weights and settings.
WEIGHT_SUFFIXES = (".json", ".safetensors", ".txt", ".model")
#: Files beside the weights that are measured from them, not part of them (a value table).
MEASURED_FILES = ("values.json",)


def folder_identity(folder: str | Path) -> str | None:
    """SHA-256 (16 hex digits) over a weights folder's files (relative names and bytes,
    in name order; only :data:`WEIGHT_SUFFIXES`, less :data:`MEASURED_FILES`); None when
    the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix not in WEIGHT_SUFFIXES or path.name in MEASURED_FILES:
            continue
        sha.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as f:
            for chunk in iter(lambda f=f: f.read(1 << 22), b""):
                sha.update(chunk)
    return sha.hexdigest()[:16]
