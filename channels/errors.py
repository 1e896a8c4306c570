"""The link's user-facing exception."""

from __future__ import annotations


class LinkError(ValueError):
    """Bad link input (unknown channel or modulation, impossible budget, ...).

    The message is one sentence that names the problem and what to do about it; the
    command line prints it and exits with status 2.
    """
