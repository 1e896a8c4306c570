"""semcom.formats: the leaf module of byte-level helpers (varints, format headers)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from semcom.formats import encode_varint, read_varint


@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 16383, 16384, 2**27 - 1])
def test_varints_round_trip_minimally(n: int) -> None:
    data = encode_varint(n)
    assert read_varint(data + b"\xff", 4) == (n, len(data))
    assert len(data) == max(1, (n.bit_length() + 6) // 7)


def test_an_unterminated_varint_is_refused() -> None:
    with pytest.raises(ValueError, match="within 4 bytes"):
        read_varint(b"\x80\x80\x80\x80\x01", 4)
    with pytest.raises(ValueError):
        read_varint(b"", 4)
    with pytest.raises(ValueError):
        encode_varint(-1)


def test_the_protocol_and_formats_modules_are_leaves() -> None:
    """They import no other semcom module (formats: only the errors) and not torch."""
    code = (
        "import sys, semcom.formats, semcom.protocol; "
        "print(sorted(m for m in sys.modules if m.startswith(('semcom', 'torch', 'experiments'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(
        ["semcom", "semcom.errors", "semcom.formats", "semcom.protocol"]
    )
