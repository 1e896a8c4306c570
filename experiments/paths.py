"""File names built from data stay inside their folder.

Configs hold no paths: every file a command writes goes under the folder given on its
command line (``--out``). Names that come from configs or stores (a sweep's name, a
channel read back from ``results.sqlite``) become parts of file names only through
:func:`inside`, which refuses anything that could point elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from semcom.errors import SemcomError

#: What a name may hold: letters, digits, ``_ . @ + -``, not starting with a dot.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]{0,127}$")


def check_name(name: str, what: str) -> str:
    """``name`` if it is safe in a file name, else a :class:`SemcomError` naming ``what``."""
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        raise SemcomError(
            f"{what} {name!r} cannot be part of a file name; use letters, digits and _ . @ + - "
            "(no slashes, not starting with a dot)."
        )
    return name


def inside(folder: str | Path, name: str, what: str = "name") -> Path:
    """``folder / name`` after :func:`check_name` (no slash, no leading dot), so always a
    direct child of ``folder``."""
    return Path(folder) / check_name(name, what)
