"""The one exception type users see.

Every error a user can trigger (a missing file, a malformed bitstream, an impossible
budget, an unknown option value) is raised as a :class:`SemcomError` (or a subclass)
carrying one sentence that says what is wrong and what to do. The command line turns it
into exit status 2 without a traceback.
"""

from __future__ import annotations

from channels.errors import LinkError


class SemcomError(Exception):
    """A user-facing error: its message is one actionable sentence."""


#: Exceptions the command line reports as a plain sentence with exit status 2.
USER_ERRORS: tuple[type[Exception], ...] = (SemcomError, LinkError)
