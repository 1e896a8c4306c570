"""A static probability model of TASCM's SPW indices, for arithmetic-coding the SPW stream.

An SPW index is a mixed-radix number: TASCM's FSQ digits, least significant first (digit
``j`` is ``index // radix_j % levels[j]``, as :meth:`~semcom.mtgc.tascm.TASCM.code_vectors`
reads it; a VQ index is one digit of ``codebook_size`` levels). The model holds, for every
query ``k`` and digit ``j``, the frequencies of the digit's levels given the digit before it
in the same index (given nothing for the first digit, or where the digit before has more
than :data:`MAX_CONTEXT` levels). It is fitted by counting the indices TASCM gives training
scenes, plus one for every level, so that every index stays codable.

Raw packing spends ``ceil(log2(codebook_size))`` bits an index whatever the image; where
TASCM's digits are far from uniform the model's code is shorter (tiny-complex: 384 bits raw,
227 coded on average over 300 validation scenes; docs/training.md). Stage 3's ``spw_code``
training part fits one (:mod:`semcom.mtgc.train.parts.spw_code`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from semcom.errors import SemcomError
from semcom.mtgc.streams.arith import MAX_TOTAL

CONFIG, COUNTS = "config.json", "counts.safetensors"
#: Largest number of levels of a digit that the next digit's table is conditioned on.
MAX_CONTEXT = 64


class SPWEntropyModel:
    """Frequency tables of SPW index digits per query and digit (see the module docstring).

    ``levels``: the digits' level counts, least significant first (their product is the
    codebook size); ``num_queries``: indices per image (K); ``counts``: per query, per
    digit, per context (the previous digit's value; one context where there is none) a list
    of ``levels[j]`` positive integer frequencies (nested lists, or the flat int array of
    :attr:`flat_counts`).
    """

    def __init__(self, levels: Sequence[int], num_queries: int, counts: Sequence) -> None:
        self.levels = tuple(int(n) for n in levels)
        self.k = int(num_queries)
        if not self.levels or min(self.levels) < 1 or self.k < 1:
            raise SemcomError("an SPW entropy model needs ≥ 1 query and ≥ 1 level per digit.")
        counts = _nested(counts, self)
        if len(counts) != self.k:
            raise SemcomError(
                f"the SPW entropy model has tables for {len(counts)} queries, not {self.k}."
            )
        self._cum: list[list[list[list[int]]]] = []
        for per_query in counts:
            if len(per_query) != len(self.levels):
                raise SemcomError("the SPW entropy model's tables do not match its digits.")
            tables = []
            for j, per_digit in enumerate(per_query):
                if len(per_digit) != self.contexts(j):
                    raise SemcomError("the SPW entropy model's contexts do not match its digits.")
                tables.append([self._cumulative(row, self.levels[j]) for row in per_digit])
            self._cum.append(tables)

    @property
    def counts(self) -> list[list[list[list[int]]]]:
        """The frequency tables, [K][digit][context][level] nested lists."""
        return [
            [[np.diff(cum).tolist() for cum in per_digit] for per_digit in per_query]
            for per_query in self._cum
        ]

    @property
    def flat_counts(self) -> np.ndarray:
        """Every frequency, int32 [Σ], query by query, digit by digit, context by context."""
        return np.asarray(
            [c for cum in self._all_tables() for c in np.diff(cum).tolist()], dtype=np.int32
        )

    def _all_tables(self):
        for per_query in self._cum:
            for per_digit in per_query:
                yield from per_digit

    @staticmethod
    def _cumulative(row: Sequence[int], levels: int) -> list[int]:
        if len(row) != levels or min(int(c) for c in row) < 1:
            raise SemcomError("every SPW entropy table needs one positive count per level.")
        if sum(int(c) for c in row) > MAX_TOTAL:
            raise SemcomError(f"an SPW entropy table sums to more than {MAX_TOTAL}.")
        cum = [0]
        for c in row:
            cum.append(cum[-1] + int(c))
        return cum

    @property
    def codebook_size(self) -> int:
        """Indices the model covers: the product of ``levels``."""
        return math.prod(self.levels)

    def contexts(self, digit: int) -> int:
        """Contexts of digit ``digit``'s tables: the previous digit's levels (1 if none)."""
        return _contexts(self.levels, digit)

    def digits(self, index: int) -> list[int]:
        """An index → its digits, least significant first."""
        out = []
        for n in self.levels:
            out.append(index % n)
            index //= n
        return out

    def index(self, digits: Sequence[int]) -> int:
        """Digits, least significant first → the index."""
        value = 0
        for d, n in zip(reversed(digits), reversed(self.levels), strict=True):
            value = value * n + d
        return value

    def tables(self, query: int, digits: Sequence[int], j: int) -> list[int]:
        """The cumulative table coding digit ``j`` of query ``query`` given the digits
        before it (only digit ``j - 1`` is read)."""
        context = digits[j - 1] if self.contexts(j) > 1 else 0
        return self._cum[query][j][context]

    def bits(self, indices: np.ndarray) -> np.ndarray:
        """Ideal code length (bits, float64 [N]) of each row of ``indices`` [N,K] int."""
        indices = np.asarray(indices, dtype=np.int64)
        total = np.zeros(len(indices))
        for n, row in enumerate(indices):
            for q, index in enumerate(row.tolist()):
                ds = self.digits(index)
                for j, d in enumerate(ds):
                    cum = self.tables(q, ds, j)
                    total[n] -= math.log2((cum[d + 1] - cum[d]) / cum[-1])
        return total

    @classmethod
    def fit(cls, indices: np.ndarray, levels: Sequence[int]) -> SPWEntropyModel:
        """Count ``indices`` [N,K] int (training scenes' SPW indices) into a model, one added
        to every count. Counts are scaled down if a table would exceed the coder's total."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.ndim != 2:
            raise SemcomError("fit an SPW entropy model on indices shaped [images, queries].")
        levels = [int(n) for n in levels]
        if indices.size and (indices.min() < 0 or indices.max() >= math.prod(levels)):
            raise SemcomError(f"SPW indices must lie in 0..{math.prod(levels) - 1}.")
        radix = np.cumprod([1, *levels[:-1]])
        digits = indices[..., None] // radix % np.asarray(levels)  # [N,K,D]
        counts = []
        for q in range(indices.shape[1]):
            per_query = []
            for j, n in enumerate(levels):
                ctx = _contexts(levels, j)
                table = np.ones((ctx, n), dtype=np.int64)
                prev = digits[:, q, j - 1] if ctx > 1 else np.zeros(len(digits), np.int64)
                np.add.at(table, (prev, digits[:, q, j]), 1)
                scale = max(1.0, table.sum(1).max() / MAX_TOTAL)
                table = np.maximum(1, np.floor(table / scale)).astype(np.int64)
                per_query.append(table.tolist())
            counts.append(per_query)
        return cls(levels, int(indices.shape[1]), counts)

    def save_pretrained(self, path: str | Path) -> None:
        """Write the folder ``path``: ``config.json`` (levels, queries) and
        ``counts.safetensors`` (:attr:`flat_counts` as ``counts``)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {"_class_name": type(self).__name__, "levels": list(self.levels)}
        config["num_queries"] = self.k
        (path / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        save_file({"counts": torch.from_numpy(self.flat_counts)}, str(path / COUNTS))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> SPWEntropyModel:
        """Read a model written by :meth:`save_pretrained`; a bad file raises SemcomError."""
        path = Path(path)
        try:
            config = json.loads((path / CONFIG).read_text())
            counts = load_file(str(path / COUNTS))["counts"].numpy()
            return cls(config["levels"], config["num_queries"], counts)
        except (OSError, ValueError, TypeError, KeyError, SafetensorError) as err:
            raise SemcomError(f"cannot read the SPW entropy model in {path}: {err}") from err


def _contexts(levels: Sequence[int], digit: int) -> int:
    """Contexts of digit ``digit``'s tables: the previous digit's levels, or 1 for the first
    digit and after a digit of more than :data:`MAX_CONTEXT` levels."""
    if digit == 0 or levels[digit - 1] > MAX_CONTEXT:
        return 1
    return int(levels[digit - 1])


def _nested(counts: Sequence, model: SPWEntropyModel) -> Sequence:
    """``counts`` as nested lists: a flat array is cut per query, digit and context."""
    if not isinstance(counts, np.ndarray) or counts.ndim != 1:
        return counts
    sizes = [model.contexts(j) * n for j, n in enumerate(model.levels)]
    if len(counts) != model.k * sum(sizes):
        raise SemcomError(
            f"the SPW entropy model holds {len(counts)} counts; {model.k} queries of these "
            f"digits need {model.k * sum(sizes)}."
        )
    flat, nested, at = counts.tolist(), [], 0
    for _ in range(model.k):
        per_query = []
        for j, n in enumerate(model.levels):
            rows = model.contexts(j)
            per_query.append([flat[at + r * n : at + (r + 1) * n] for r in range(rows)])
            at += rows * n
        nested.append(per_query)
    return nested
