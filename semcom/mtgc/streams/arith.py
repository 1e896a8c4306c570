"""A 32-bit integer arithmetic coder (Witten, Neal & Cleary, 1987) over frequency tables.

Pure Python and exact: all arithmetic is on Python integers, so the same symbols give the
same bytes everywhere. The decoder reads zero bits past the end of its input, so an
encoder may drop trailing zero bytes (:func:`ArithmeticEncoder.finish` does).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

_BITS = 32
_FULL = (1 << _BITS) - 1
_HALF = 1 << (_BITS - 1)
_QUARTER = 1 << (_BITS - 2)
#: Largest total frequency a table may have (keeps every symbol's interval non-empty).
MAX_TOTAL = 1 << 24


class ArithmeticEncoder:
    """Encode symbols given cumulative frequency tables; :meth:`finish` returns bytes."""

    def __init__(self) -> None:
        self._low = 0
        self._high = _FULL
        self._pending = 0
        self._bits: list[int] = []

    def _emit(self, bit: int) -> None:
        self._bits.append(bit)
        if self._pending:
            self._bits.extend([1 - bit] * self._pending)
            self._pending = 0

    def encode(self, cumfreq: Sequence[int], symbol: int) -> None:
        """Code ``symbol`` with cumulative table ``cumfreq`` (length n+1, cumfreq[0] == 0)."""
        total = cumfreq[-1]
        span = self._high - self._low + 1
        self._high = self._low + span * cumfreq[symbol + 1] // total - 1
        self._low = self._low + span * cumfreq[symbol] // total
        while True:
            if self._high < _HALF:
                self._emit(0)
            elif self._low >= _HALF:
                self._emit(1)
                self._low -= _HALF
                self._high -= _HALF
            elif self._low >= _QUARTER and self._high < 3 * _QUARTER:
                self._pending += 1
                self._low -= _QUARTER
                self._high -= _QUARTER
            else:
                break
            self._low = 2 * self._low
            self._high = 2 * self._high + 1

    def finish(self) -> bytes:
        """Flush the interval and return the bytes, trailing zero bytes removed."""
        self._pending += 1
        self._emit(0 if self._low < _QUARTER else 1)
        bits = self._bits
        out = bytearray()
        for i in range(0, len(bits), 8):
            chunk = bits[i : i + 8]
            chunk = chunk + [0] * (8 - len(chunk))
            byte = 0
            for b in chunk:
                byte = (byte << 1) | b
            out.append(byte)
        while out and out[-1] == 0:
            out.pop()
        return bytes(out)


class ArithmeticDecoder:
    """Decode symbols from bytes written by :class:`ArithmeticEncoder` (zero-padded)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._low = 0
        self._high = _FULL
        self._value = 0
        for _ in range(_BITS):
            self._value = (self._value << 1) | self._next_bit()

    def _next_bit(self) -> int:
        i = self._pos
        self._pos += 1
        if i >= 8 * len(self._data):
            return 0
        return (self._data[i >> 3] >> (7 - (i & 7))) & 1

    @property
    def bits_read(self) -> int:
        """Number of bits consumed so far, padding included."""
        return self._pos

    def decode(self, cumfreq: Sequence[int]) -> int:
        """Return the next symbol coded with cumulative table ``cumfreq``."""
        total = cumfreq[-1]
        span = self._high - self._low + 1
        scaled = ((self._value - self._low + 1) * total - 1) // span
        symbol = bisect_right(cumfreq, scaled) - 1
        symbol = min(max(symbol, 0), len(cumfreq) - 2)
        self._high = self._low + span * cumfreq[symbol + 1] // total - 1
        self._low = self._low + span * cumfreq[symbol] // total
        while True:
            if self._high < _HALF:
                pass
            elif self._low >= _HALF:
                self._low -= _HALF
                self._high -= _HALF
                self._value -= _HALF
            elif self._low >= _QUARTER and self._high < 3 * _QUARTER:
                self._low -= _QUARTER
                self._high -= _QUARTER
                self._value -= _QUARTER
            else:
                break
            self._low = 2 * self._low
            self._high = 2 * self._high + 1
            self._value = (self._value << 1) | self._next_bit()
        return symbol
