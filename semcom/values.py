"""What each stream is worth: a codec's value table.

For every subset of a codec's streams that can arrive, the mean score of the receiver's
output when exactly that subset arrives, for every metric field, measured on validation
scenes (:mod:`experiments.values` measures it; ``semcom evaluate --split val --values
FILE`` runs it). Where a subset holds streams with several payload options (MTGC's HCI, a
conventional codec's image), the score depends on which option was sent, so the table
keeps it as a curve against those streams' payload bits (means over bins of the measured
samples, read by linear interpolation in log2(bits), held beyond the ends); a subset of
one-option streams is a single point. The empty subset is the lost image.

The planner (:mod:`experiments.planning`) weighs these values with the link's arrival
probabilities (:mod:`channels.delivery`). A table names the codec and the identity of the
weights it was measured with (:attr:`ValueTable.identity`), so a table of other weights is
refused, and the data set whose validation scenes it was measured on
(:attr:`ValueTable.dataset`), so a sweep of another world's scenes is not planned with it.
No torch here: a table is JSON and numpy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from semcom.errors import SemcomError

#: The file name of a value table beside a model's weights.
VALUES_FILE = "values.json"
#: Samples per bin of a curve (at most :data:`MAX_BINS` bins).
MIN_BIN = 12
MAX_BINS = 10
FORMAT = 1


def subset_key(names: Iterable[str]) -> str:
    """The canonical key of a set of stream names: sorted, joined by ``+`` (``""``: none)."""
    return "+".join(sorted(names))


def per_image_f1(figures: Mapping[str, object]) -> float | None:
    """Object F1 of one image, ``2 exact / (true + read)`` (1 for an empty scene read empty;
    None without semantic figures)."""
    exact, true, read = (figures.get(k) for k in ("exact", "objects_true", "objects_read"))
    if exact is None or true is None or read is None:
        return None
    total = float(true) + float(read)
    return 1.0 if total == 0 else 2.0 * float(exact) / total


def numeric_fields(figures: Mapping[str, object]) -> dict[str, float]:
    """The numeric figures of one scored image (extra metrics' fields flattened), with the
    per-image object F1 as ``f1``."""
    out: dict[str, float] = {}
    for key, value in figures.items():
        if key == "figures" and isinstance(value, Mapping):
            out.update(numeric_fields(value))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, (int, float)) and math.isfinite(float(value)):
            out[key] = float(value)
    f1 = per_image_f1(figures)
    if f1 is not None:
        out["f1"] = f1
    return out


def monotone_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``y`` (at ascending ``x``, weights ``w``) fitted non-decreasing or non-increasing,
    whichever way its weighted least-squares slope points (pool adjacent violators)."""
    if len(y) < 2 or not np.all(np.isfinite(y)):
        return y.astype(float)
    slope = np.cov(x, y, aweights=w)[0, 1] if np.ptp(x) > 0 else 0.0
    sign = -1.0 if slope < 0 else 1.0
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, wt in zip(sign * y, w, strict=True):
        blocks.append([float(v), float(wt), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return sign * np.concatenate([[m] * n for m, _, n in blocks])


@dataclass
class Curve:
    """One subset's value: bin centres of the variable streams' payload bits (ascending;
    one point for one-option streams), each field's mean per bin, and the samples per bin."""

    bits: list[float]
    values: dict[str, list[float]]
    samples: list[int]
    #: Fields known exactly at these bits (one image's, see :meth:`ValueTable.known`):
    #: read as they are, not fitted.
    exact: tuple[str, ...] = ()
    _fits: dict[str, np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_samples(cls, bits: Sequence[float], figures: Sequence[Mapping[str, float]]) -> Curve:
        """Bin ``(bits, figures)`` samples by bits (equal-count bins of at least
        :data:`MIN_BIN`, at most :data:`MAX_BINS`) and average each field."""
        order = np.argsort(np.asarray(bits, dtype=float), kind="stable")
        n = len(order)
        if n == 0:
            raise SemcomError("a value curve needs at least one sample.")
        distinct = len(set(float(b) for b in bits))
        bins = 1 if distinct == 1 else max(1, min(MAX_BINS, n // MIN_BIN, distinct))
        fields = sorted(set().union(*(f.keys() for f in figures)))
        centres, samples = [], []
        values: dict[str, list[float]] = {f: [] for f in fields}
        for part in np.array_split(order, bins):
            centres.append(float(np.mean([bits[i] for i in part])))
            samples.append(len(part))
            for f in fields:
                got = [figures[i][f] for i in part if f in figures[i]]
                values[f].append(float(np.mean(got)) if got else float("nan"))
        return cls(centres, values, samples)

    def fitted(self, field_name: str) -> np.ndarray:
        """The bins' means of ``field_name`` made monotone in the direction of their trend
        (weighted pool-adjacent-violators): a curve the planner reads, so that noise between
        bins cannot lure it to one payload size."""
        if field_name in self.exact:
            return np.asarray(self.values[field_name], dtype=float)
        if field_name not in self._fits:
            self._fits[field_name] = monotone_fit(
                np.log2(np.maximum(np.asarray(self.bits, dtype=float), 1.0)),
                np.asarray(self.values[field_name], dtype=float),
                np.asarray(self.samples, dtype=float),
            )
        return self._fits[field_name]

    def at(self, field_name: str, bits: np.ndarray | float) -> np.ndarray:
        """``field_name``'s value at payload ``bits`` (any shape): the monotone fit
        (:meth:`fitted`), linear in log2(bits) between bins, held beyond the ends."""
        y = self.fitted(field_name)
        x = np.log2(np.maximum(np.asarray(self.bits, dtype=float), 1.0))
        q = np.log2(np.maximum(np.asarray(bits, dtype=float), 1.0))
        if len(x) == 1:
            return np.full(np.shape(q), y[0])
        return np.interp(q, x, y)


@dataclass
class ValueTable:
    """A codec's value table (see the module docstring).

    ``streams``: the codec's streams; ``variable``: those with several payload options (the
    curves' bits are theirs); ``curves``: subset key (:func:`subset_key`) -> :class:`Curve`;
    ``meta``: how it was measured (split, scenes, seed, options per stream, command).
    """

    codec: str
    identity: str | None
    streams: tuple[str, ...]
    variable: tuple[str, ...]
    curves: dict[str, Curve]
    meta: dict = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        """The data set of the validation scenes it was measured on (a table that states
        none predates the field and was measured on ShapesWorld)."""
        return str(self.meta.get("dataset", "shapes"))

    @property
    def fields(self) -> tuple[str, ...]:
        """The metric fields every subset has."""
        sets = [set(c.values) for c in self.curves.values()]
        return tuple(sorted(set.intersection(*sets))) if sets else ()

    def check_field(self, name: str) -> None:
        if name not in self.fields:
            raise SemcomError(
                f"the value table of {self.codec} has no field {name!r}; it has "
                f"{', '.join(self.fields)}."
            )

    def curve(self, subset: Iterable[str]) -> Curve:
        key = subset_key(subset)
        if key not in self.curves:
            raise SemcomError(
                f"the value table of {self.codec} has no entry for the streams "
                f"{key or '(none)'}; remake it with semcom evaluate --split val --values."
            )
        return self.curves[key]

    def value(self, subset: Iterable[str], field_name: str, bits: np.ndarray | float = 0):
        """Mean ``field_name`` when exactly ``subset`` arrives, its variable streams
        carrying ``bits`` payload bits in all."""
        return self.curve(subset).at(field_name, bits)

    def known(
        self,
        subset: Iterable[str],
        figures: Mapping[str, Sequence[float] | float],
        bits: Sequence[float] = (0.0,),
    ) -> ValueTable:
        """A copy whose ``subset`` reads ``figures`` (field -> value per point of ``bits``)
        exactly: what the sender knows of one image (the lost image's pixel figures, the
        ``expected`` figures of a one-stream codec's options). Other fields and subsets
        are the table's."""
        key = subset_key(subset)
        base = self.curve(subset)
        order = np.argsort(np.asarray(bits, dtype=float), kind="stable")
        xs = [float(bits[i]) for i in order]
        values = {}
        for f in base.values:
            if f in figures:
                v = figures[f]
                vals = [float(v)] * len(xs) if np.isscalar(v) else [float(v[i]) for i in order]
                values[f] = vals
            else:  # the table's fitted value at each of these bits
                values[f] = [float(x) for x in base.at(f, np.asarray(xs))]
        curves = dict(self.curves)
        curves[key] = Curve(
            xs, values, [1] * len(xs), tuple(f for f in figures if f in base.values)
        )
        return ValueTable(self.codec, self.identity, self.streams, self.variable, curves, self.meta)

    # -- files ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "codec": self.codec,
            "identity": self.identity,
            "streams": list(self.streams),
            "variable": list(self.variable),
            "meta": self.meta,
            "curves": {
                k: {"bits": c.bits, "samples": c.samples, "values": c.values}
                for k, c in sorted(self.curves.items())
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> ValueTable:
        try:
            return cls(
                str(d["codec"]),
                d.get("identity"),
                tuple(d["streams"]),
                tuple(d["variable"]),
                {
                    k: Curve(list(c["bits"]), dict(c["values"]), list(c["samples"]))
                    for k, c in d["curves"].items()
                },
                dict(d.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise SemcomError(f"the value table is malformed ({err}); remake it.") from err

    def save(self, path: str | Path) -> None:
        """Write the table as JSON (atomically: a temporary file, then renamed)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=True) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> ValueTable:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as err:
            raise SemcomError(f"no value table at {path}.") from err
        except (OSError, ValueError) as err:
            raise SemcomError(f"the value table {path} cannot be read ({err}).") from err
        return cls.from_dict(data)


def values_for(codec, dataset: str | None = None) -> ValueTable:
    """The shipped value table of ``codec`` (a registered codec instance) for the scenes
    of ``dataset`` (None: the codec's own table, ShapesWorld's for codecs without
    weights): the file its ``values_path_for`` (else ``values_path``) names, checked
    against its name, identity and data set. One sentence saying how to make it when
    there is none."""
    where = getattr(codec, "values_path_for", None)
    path = where(dataset) if where is not None else getattr(codec, "values_path", None)
    world = f" --dataset {dataset}" if dataset not in (None, "shapes") else ""
    hint = (
        f"make one on validation scenes with semcom evaluate --split val{world} --codec "
        f"{codec.name} --values FILE"
    )
    if path is None:
        raise SemcomError(
            f"the codec {codec.name} has no value table, so it cannot be planned; {hint}."
        )
    path = Path(path)
    if not path.is_file():
        raise SemcomError(
            f"the codec {codec.name} has no value table at {path}, so it cannot be planned; "
            f"{hint.replace('FILE', str(path))}."
        )
    table = ValueTable.load(path)
    if table.codec != codec.name:
        raise SemcomError(f"{path} is the value table of {table.codec}, not of {codec.name}.")
    identity = codec.identity
    if identity is not None and table.identity is not None and table.identity != identity:
        raise SemcomError(
            f"{path} was measured with other weights of {codec.name} (identity "
            f"{table.identity}, these are {identity}); remake it: {hint}."
        )
    if dataset is not None and table.dataset != dataset:
        raise SemcomError(
            f"{path} was measured on {table.dataset} scenes, not on {dataset}'s, so it cannot "
            f"plan them; {hint}."
        )
    return table
