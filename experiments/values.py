"""Measuring a codec's value table (:mod:`semcom.values`) on validation scenes.

For each scene the codec encodes the image (as its transmitter does); then for every
subset of its streams, and for a spread of each variable stream's payload options (at most
``options`` of them, evenly spaced over the distinct sizes), the receiver decodes exactly
that subset and the reconstruction is scored against the scene (its ground truth for the
semantic figures). The samples become the table's curves. Any registered digital codec is
measured the same way, plug-ins included.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from semcom.errors import SemcomError
from semcom.values import Curve, ValueTable, numeric_fields, subset_key

#: Payload options per variable stream measured per scene.
DEFAULT_OPTIONS = 6


def spread_options(sizes: Sequence[int], count: int) -> list[int]:
    """Indices of up to ``count`` options evenly spread over the distinct ``sizes``
    (smallest and largest included; the first option of each size)."""
    first: dict[int, int] = {}
    for i, s in enumerate(sizes):
        first.setdefault(int(s), i)
    distinct = sorted(first)
    if len(distinct) <= count:
        return [first[s] for s in distinct]
    picks = np.unique(np.round(np.linspace(0, len(distinct) - 1, count)).astype(int))
    return [first[distinct[p]] for p in picks]


def measure_values(
    codec,
    images: torch.Tensor,
    truths: Sequence | None,
    *,
    options: int = DEFAULT_OPTIONS,
    seed: int = 0,
    metrics: Sequence[str] | None = None,
    meta: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> ValueTable:
    """The value table of ``codec`` (a registered digital codec) on ``images`` [N,3,H,W]
    in [0,1] with their ground truth ``truths`` (or None: pixel figures only); decodes
    with ``seed``."""
    from semcom.metrics.registry import DEFAULT_METRICS
    from semcom.metrics.scoring import score

    if getattr(codec, "kind", "digital") != "digital":
        raise SemcomError(
            f"{codec.name} sends analog symbols; value tables are for digital codecs."
        )
    if options < 1:
        raise SemcomError(f"--value-options must be at least 1, not {options}.")
    samples: dict[str, tuple[list[float], list[dict]]] = {}
    streams: tuple[str, ...] = ()
    variable: set[str] = set()
    t0 = time.perf_counter()
    for i in range(images.shape[0]):
        enc = codec.encode(images[i])
        streams = enc.stream_names
        picks = {}
        for s in enc.streams:
            sent = [o for o in s.options if o.payload]
            if len(s.options) > 1:
                variable.add(s.name)
            idx = spread_options([8 * len(o.payload) for o in sent], options)
            picks[s.name] = [sent[k] for k in idx]
        cases: list[tuple[str, float, dict[str, bytes]]] = []
        for r in range(len(streams) + 1):
            for subset in itertools.combinations(streams, r):
                for combo in itertools.product(*(picks[n] for n in subset)):
                    received = {n: o.payload for n, o in zip(subset, combo, strict=True)}
                    var_bits = sum(8 * len(received[n]) for n in subset if n in variable)
                    cases.append((subset_key(subset), float(var_bits), received))
        decoded: dict[bytes, torch.Tensor] = {}
        recons = []
        for _, _, received in cases:
            key = codec.received_key(enc.header, received)
            if key not in decoded:
                decoded[key] = codec.decode(enc.header, received, seed).clamp(0, 1)
            recons.append(decoded[key])
        ref = images[i : i + 1].expand(len(cases), -1, -1, -1)
        truth = [truths[i]] * len(cases) if truths is not None else None
        figures = score(ref, torch.stack(recons), truth, tuple(metrics or DEFAULT_METRICS))
        for (key, bits, _), fig in zip(cases, figures, strict=True):
            entry = samples.setdefault(key, ([], []))
            entry[0].append(bits)
            entry[1].append(numeric_fields(fig))
        if progress is not None:
            progress(
                f"scene {i + 1}/{images.shape[0]}: {len(cases)} cases, {len(decoded)} decodes, "
                f"{time.perf_counter() - t0:.0f} s"
            )
    curves = {k: Curve.from_samples(b, f) for k, (b, f) in samples.items()}
    info = {"scenes": int(images.shape[0]), "options_per_stream": options, "decode_seed": seed}
    info.update(meta or {})
    return ValueTable(
        codec.name,
        codec.identity,
        tuple(streams),
        tuple(s for s in streams if s in variable),
        curves,
        info,
    )
