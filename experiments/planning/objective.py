"""What a plan maximises: a metric field of the value table, a weighted sum of fields, or a
field with a second as the tie-break within a tolerance."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from semcom.errors import SemcomError
from semcom.values import ValueTable

#: The default tie-break tolerance of a two-field objective (in the first field's units).
DEFAULT_TOLERANCE = 0.005


@dataclass(frozen=True)
class Objective:
    """What a plan maximises: ``weights`` {field: weight} summed; with ``tiebreak`` a
    second field maximised among plans within ``tolerance`` of the best first value."""

    weights: tuple[tuple[str, float], ...]
    tiebreak: str | None = None
    tolerance: float = DEFAULT_TOLERANCE

    @classmethod
    def parse(cls, text: str | Objective, tolerance: float | None = None) -> Objective:
        """``f1``, ``psnr``, ``0.7*f1+0.01*psnr`` or ``f1,psnr`` (``f1`` first, ``psnr``
        the tie-break within ``tolerance``)."""
        if isinstance(text, Objective):
            return text
        if not isinstance(text, str) or not text.strip():
            raise SemcomError(
                f"objective {text!r} is not understood; write a metric field such as f1 or "
                "psnr, a weighted sum such as 0.7*f1+0.01*psnr, or f1,psnr (a tie-break)."
            )
        first, _, second = text.replace(" ", "").partition(",")
        weights = []
        for term in first.split("+"):
            m = re.fullmatch(r"(?:([0-9.eE+-]+)\*)?([A-Za-z_][A-Za-z0-9_]*)", term)
            if m is None:
                raise SemcomError(
                    f"objective term {term!r} is not understood; write field or weight*field "
                    "(e.g. 0.01*psnr)."
                )
            try:
                w = float(m.group(1)) if m.group(1) else 1.0
            except ValueError as err:
                raise SemcomError(f"objective weight {m.group(1)!r} is not a number.") from err
            weights.append((m.group(2), w))
        if second and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", second):
            raise SemcomError(f"the objective's tie-break {second!r} is not a field name.")
        tol = DEFAULT_TOLERANCE if tolerance is None else float(tolerance)
        if not (math.isfinite(tol) and tol >= 0):
            raise SemcomError(f"the tie-break tolerance must be 0 or more, not {tolerance!r}.")
        return cls(tuple(weights), second or None, tol)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for f, _ in self.weights) + ((self.tiebreak,) if self.tiebreak else ())

    def check(self, table: ValueTable) -> None:
        for f in self.fields:
            table.check_field(f)

    def __str__(self) -> str:
        text = "+".join(f if w == 1 else f"{w:g}*{f}" for f, w in self.weights)
        return text + (f",{self.tiebreak}" if self.tiebreak else "")
