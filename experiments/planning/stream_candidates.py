"""Each stream's candidates for the planner: the protections it may take (LDPC and, for
short payloads, Polar), what each costs of the budget, and its arrival probability at
every node of the fade's quadrature (:mod:`channels.delivery`), pruned of those that a
no-dearer candidate of the same option matches at every node (within :data:`SLACK`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from channels.delivery import block_model, block_success, fading
from channels.frame import _aligned
from channels.mcs import MCS, MIN_CODE_RATE, NR_MCS_TABLE
from channels.polar import SIZES as POLAR_SIZES
from channels.segmentation import stream_symbols, transport_block_size
from semcom.errors import SemcomError

#: Repetitions of the rate-1/5 QPSK codeword the planner may choose (below the table):
#: fractional ones repeat part of the codeword (cyclically, as rate matching does), so a
#: short stream can fill what the budget leaves.
REPEATS: tuple[float, ...] = (1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 5, 6, 7, 8)
#: Arrival-probability slack of the pruning: a candidate that arrives with probability
#: below it at every fade is dropped, and one that another no dearer candidate matches to
#: within it everywhere is dropped (0: exact). A plan's expected value is then within about
#: SLACK x the value table's range of the exact optimum; the tests check both.
SLACK = 1e-3
#: QPSK rates of the 5G Polar code the planner may choose at and above rate 1/5.
POLAR_RATES: tuple[float, ...] = (1 / 2, 1 / 3)
#: Every protection the planner may give a stream: the NR table and QPSK 1/5 repeated
#: (LDPC), and for payloads up to :data:`POLAR_MAX_BITS` the Polar code at
#: :data:`POLAR_RATES` and at 1/5 repeated likewise.
PROTECTIONS: tuple[MCS, ...] = (
    *(MCS("qpsk", MIN_CODE_RATE / r) for r in reversed(REPEATS)),
    *NR_MCS_TABLE,
    *(MCS("qpsk", MIN_CODE_RATE / r, code="polar") for r in reversed(REPEATS)),
    *(MCS("qpsk", r, code="polar") for r in POLAR_RATES),
)
#: The largest transport block the planner sends with Polar: the largest calibrated size
#: (:data:`channels.polar.SIZES`).
POLAR_MAX_BITS = POLAR_SIZES[-1]


@dataclass
class Candidate:
    """One way to send (or not send) one stream."""

    option: int | None  # index into the stream's options; None: not sent
    mcs: MCS | None
    symbols: int  # data symbols (0 when not sent)
    cost: int  # what it takes of the budget (aligned symbols or its own frame's uses)
    success: np.ndarray  # [J] arrival probability at each fade node
    bits: int  # payload bits (the value table's bits when the stream is variable)


def _budget_limit(link, budget: int) -> int:
    """The most cost units (aligned data symbols in a shared frame, channel uses with a
    frame per stream) that fit ``budget`` channel uses."""
    if link.frame != "shared":
        return int(budget)
    lo, hi = 0, max(1, int(budget) * 8 + 64)
    while link.frame_uses([hi]) <= budget:
        hi *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if link.frame_uses([mid]) <= budget:
            lo = mid
        else:
            hi = mid
    return lo


def _cost(link, symbols: int) -> int:
    if link.frame == "shared":
        return _aligned(symbols, link.channel)
    return link.channel.channel_uses(symbols)


@lru_cache(maxsize=4096)
def _protection_arrays(bits: int, protections: tuple[MCS, ...]) -> tuple:
    """Per protection for a ``bits`` payload: data symbols [P] and the block models' fields
    (code blocks, K, n0, power, gap) as arrays, for vectorised arrival probabilities."""
    symbols = np.array([stream_symbols(bits, m) for m in protections])
    models = [block_model(bits, m) for m in protections]
    fields = [np.array([getattr(b, f) for b in models], dtype=float) for f in BLOCK_FIELDS]
    return symbols, *fields


BLOCK_FIELDS = ("num_cbs", "k", "n0", "power", "gap")


def _usable(bits: int, protections: tuple[MCS, ...]) -> tuple[MCS, ...]:
    """``protections`` less the Polar ones when a ``bits`` payload's transport block is
    above :data:`POLAR_MAX_BITS` (LDPC carries every size)."""
    if transport_block_size(bits, MIN_CODE_RATE) <= POLAR_MAX_BITS:
        return protections
    return tuple(m for m in protections if m.code != "polar")


def candidates(
    link,
    stream,
    snr_db: float,
    nodes: np.ndarray,
    weights: np.ndarray,
    limit: int,
    prune: bool = True,
    protections: Sequence[MCS] = PROTECTIONS,
) -> list[Candidate]:
    """The candidates of one :class:`~semcom.protocol.Stream` within ``limit`` cost units,
    "not sent" first; with ``prune``, those that a cheaper candidate of the same option
    delivers at least as often at every fade node are dropped."""
    out = [Candidate(None, None, 0, 0, np.zeros_like(nodes), 0)]
    protections = tuple(protections)
    # a link plans many images at one SNR and budget (a sweep's group): an option size's
    # candidates are the same for all of them
    point = (float(snr_db), int(limit), bool(prune), protections, len(nodes), SLACK)
    cache = link.__dict__.setdefault("_planner_cache", {}).setdefault(point, {})
    for k, option in enumerate(stream.options):
        if not option.payload:
            continue
        bits = 8 * len(option.payload)
        if bits not in cache:
            cache[bits] = _option_candidates(
                link, bits, snr_db, nodes, weights, limit, prune, protections
            )
        out.extend(Candidate(k, *c) for c in cache[bits])
    return out


def _option_candidates(link, bits, snr_db, nodes, weights, limit, prune, protections) -> list:
    """(MCS, symbols, cost, arrival [J], bits) of one payload size at each protection that
    fits ``limit`` (pruned as :func:`candidates` says)."""
    protections = _usable(bits, protections)
    symbols, *model = _protection_arrays(bits, protections)
    costs = [_cost(link, int(n)) for n in symbols]
    fit = [i for i, c in enumerate(costs) if c <= limit]
    if not fit:
        return []
    gain = 10 ** (snr_db / 10) * nodes
    probs = block_success(gain[None, :], *(a[fit][:, None] for a in model))  # [P, J]
    if link.frame != "shared":  # its own fade: independent of the others
        probs = np.repeat((probs @ weights)[:, None], len(nodes), axis=1)
    if prune and SLACK > 0:  # never arrives: as good as not sent
        live = [j for j in range(len(fit)) if probs[j].max() >= SLACK]
        fit, probs = [fit[j] for j in live], probs[live]
        if not fit:
            return []
    keep = _frontier(probs, [costs[i] for i in fit], SLACK) if prune else range(len(fit))
    return [
        (protections[fit[j]], int(symbols[fit[j]]), costs[fit[j]], probs[j], bits)
        for j in sorted(keep)
    ]


def _weights_of_fade(link) -> tuple[np.ndarray, np.ndarray]:
    """The quadrature over the link's fade; with HARQ (retransmissions beyond the budget),
    over the sum of the gains of its most transmissions (:meth:`Fading.combined`: every
    stream that fails is sent again, so each stream gets them all)."""
    f = fading(link.calibrated_as)
    if link.harq is None:
        return f.nodes()
    if link.harq.budget != "extra":
        raise SemcomError(
            "planned protection models HARQ whose retransmissions come beyond the budget "
            "(harq budget: extra); with budget: same, protect the streams with a fixed rule."
        )
    return f.combined(link.harq.max_transmissions).nodes()


def _frontier(scores: np.ndarray, costs: Sequence[int], tol: float = 0.0) -> list[int]:
    """Indices of the rows of ``scores`` [N, D] that no earlier row matches or beats in
    every column, rows taken by (cost, higher sum first, index): a row is dropped when a
    no dearer one is at least as good everywhere."""
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -float(scores[i].sum()), i))
    ranked = scores[order]
    # all pairs at once: one option's protections (at most len(PROTECTIONS)) at the fade's nodes
    ge = np.all(ranked[None, :, :] >= ranked[:, None, :] - tol - 1e-12, axis=2)  # [i, k]
    beaten = np.tril(ge, k=-1).any(axis=1)  # an earlier row k beats row i
    return [order[i] for i in range(len(order)) if not beaten[i]]
