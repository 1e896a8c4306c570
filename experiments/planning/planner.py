"""The planner: each stream's payload option and MCS chosen to maximise the expected
value of what arrives, under the channel-use budget.

Three facts decide a plan: what each subset of streams is worth to the receiver (the
codec's value table, :mod:`semcom.values`), what the link will deliver (the arrival
probability of each stream at each MCS, correlated through the frame's fade,
:mod:`channels.delivery`), and the budget. For a choice ``c`` of (option or not sent,
protection) per stream the expected value is::

    E[c] = E_x[ sum_S V(S, bits_S) prod_{s in S} p_s(x) prod_{s sent, not in S} (1 - p_s(x)) ]

over the fade ``x`` (quadrature nodes), ``S`` the subsets of the sent streams. Every
stream's candidates (its options × the protections of :data:`PROTECTIONS`) are pruned only
of those that a no-dearer candidate matches or beats at every fade node, within
:data:`SLACK` (0: exact); the streams but the one with the most candidates are enumerated
and that one is scored for all its candidates at once (with one objective, the
combinations in order of an upper bound, stopping when none can win); the best feasible
total wins (ties: fewer channel uses, then the first found). :func:`brute_force`
enumerates without pruning, for the tests.

With HARQ (retransmissions beyond the budget) the fade is the sum of the gains of the most
transmissions (:meth:`channels.delivery.Fading.combined`, Chase combining).

Objectives (:class:`Objective`): one metric field (``f1``, ``psnr``, any field of the
table), a weighted sum (``0.7*f1+0.01*psnr``), or one field first and a second as the
tie-break within a tolerance (``f1,psnr``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from channels.delivery import outcome_probability
from channels.mcs import MCS
from experiments.planning.objective import Objective
from experiments.planning.stream_candidates import (
    PROTECTIONS,
    Candidate,
    _budget_limit,
    _weights_of_fade,
    candidates,
)
from semcom.errors import SemcomError
from semcom.values import ValueTable, subset_key


@dataclass
class Prediction:
    """A plan's predicted expected figures and the probability of each outcome."""

    figures: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, float] = field(default_factory=dict)
    objective: float = 0.0


def _values(table: ValueTable, objective: Objective, names: Sequence[str], bits) -> np.ndarray:
    """The objective's value (and tie-break, stacked) when exactly ``names`` arrive with
    ``bits`` variable payload bits (any shape) -> [2, *shape]."""
    curve = table.curve(names)
    first = sum(w * curve.at(f, bits) for f, w in objective.weights)
    second = curve.at(objective.tiebreak, bits) if objective.tiebreak else np.zeros_like(first)
    return np.stack([np.asarray(first, dtype=float), np.asarray(second, dtype=float)])


def _subsets(n: int) -> list[tuple[int, ...]]:
    return [tuple(i for i in range(n) if mask >> i & 1) for mask in range(1 << n)]


def _choose(total: np.ndarray, cost: np.ndarray, objective: Objective) -> int:
    """Index of the best feasible entry: ``total`` [2, K] (objective, tie-break), ``cost``
    [K] (-1: infeasible)."""
    feasible = cost >= 0
    if not feasible.any():
        return -1
    first = np.where(feasible, total[0], -np.inf)
    best = first.max()
    if objective.tiebreak:
        near = feasible & (first >= best - objective.tolerance - 1e-12)
        key = np.where(near, total[1], -np.inf)
        top = key.max()
        pick = near & (key >= top - 1e-12)
    else:
        pick = feasible & (first >= best - 1e-12)
    idx = np.flatnonzero(pick)
    return int(idx[np.argmin(cost[idx])])


def search(
    streams: Sequence,
    cands: Sequence[Sequence[Candidate]],
    weights: np.ndarray,
    table: ValueTable,
    objective: Objective,
    limit: int,
) -> tuple[list[Candidate], float]:
    """The best choice of one candidate per stream (see the module docstring): every
    combination of the other streams' candidates at once (arrays), against every
    candidate of the stream with the most."""
    names = [s.name for s in streams]
    variable = set(table.variable)
    last = max(range(len(streams)), key=lambda i: len(cands[i]))
    rest = [i for i in range(len(streams)) if i != last]
    lc = list(cands[last])
    lp = np.stack([c.success for c in lc])  # [C, J]
    lcost = np.array([c.cost for c in lc])
    lbits = np.array([c.bits if names[last] in variable else 0 for c in lc], dtype=float)
    room = limit - int(lcost.min())
    # every combination of the other streams' candidates (itertools.product's order) that
    # leaves room for the last stream, as index rows [N, R]
    sizes = [len(cands[i]) for i in rest]
    grid = np.indices(sizes).reshape(len(rest), -1).T if rest else np.zeros((1, 0), int)
    costs = [np.array([c.cost for c in cands[i]]) for i in rest]
    spent = sum((costs[k][grid[:, k]] for k in range(len(rest))), np.zeros(len(grid), int))
    grid, spent = grid[spent <= room], spent[spent <= room]
    if not len(grid):
        return [], -math.inf
    succ = [np.stack([c.success for c in cands[i]]) for i in rest]
    cbits = [
        np.array([c.bits if names[i] in variable else 0 for c in cands[i]], dtype=float)
        for i in rest
    ]
    sends = [np.array([c.option is not None for c in cands[i]]) for i in rest]
    # combinations grouped by which of the other streams they send (groups in order of
    # first appearance): only the subsets of those can arrive, so each group weighs only
    # its own outcomes
    mask = sum((sends[k][grid[:, k]].astype(int) << k for k in range(len(rest))), 0)
    mask = np.broadcast_to(mask, (len(grid),))
    _, first = np.unique(mask, return_index=True)
    groups: dict[tuple[int, ...], np.ndarray] = {}
    for m in mask[np.sort(first)]:
        sent = tuple(k for k in range(len(rest)) if m >> k & 1)
        groups[sent] = np.flatnonzero(mask == m)
    best: tuple | None = None
    for rank, (sent, members) in enumerate(groups.items()):
        rows = grid[members]
        rcost = spent[members]
        probs = {k: succ[k][rows[:, k]] for k in sent}
        bits = {k: cbits[k][rows[:, k]] for k in sent}
        flat = not any(bits[k].any() for k in sent)  # no variable bits among the others
        comps = 2 if objective.tiebreak else 1
        # flat: the value of what the others deliver, [2, K], and per outcome S its weight
        # at each fade node and the last stream's gain V(S+c) - V(S)
        base = np.zeros((2, len(members)))
        total = None if flat else np.zeros((2, len(members), len(lc)))
        outcome_w, gains = [], []
        for r in range(len(sent) + 1):
            for sub in itertools.combinations(sent, r):
                ones = np.ones((len(members), len(weights)))
                wp = outcome_probability(probs, sub, ones) * weights[None, :]
                a = wp.sum(axis=1)  # [K]: P(exactly sub of the others)
                sub_names = [names[rest[k]] for k in sub]
                if flat:
                    v0 = _values(table, objective, sub_names, 0.0)  # [2]
                    v1 = _values(table, objective, [*sub_names, names[last]], lbits)  # [2, C]
                    base += v0[:, None] * a[None, :]
                    outcome_w.append(wp)
                    gains.append(v1 - v0[:, None])
                    continue
                m = wp @ lp.T  # [K, C]: ... and the last stream arrives
                b = sum((bits[k] for k in sub), np.zeros(len(members)))
                v_without = _values(table, objective, sub_names, b)[:, :, None]  # [2, K, 1]
                v_with = _values(
                    table, objective, [*sub_names, names[last]], b[:, None] + lbits[None, :]
                )  # [2, K, C]
                total += v_without * (a[:, None] - m)[None] + v_with * m[None]
        if flat:  # sum over outcomes S and fades j of P(S, j) p_c(j) (V(S+c) - V(S))
            wp_all = np.concatenate(outcome_w, axis=1)  # [K, S*J]
            lgs = [
                np.concatenate([lp * g[c][:, None] for g in gains], axis=1)  # [C, S*J]
                for c in range(comps)
            ]
            if comps == 1:  # one objective: bound each combination, score the best first
                best = _bounded(
                    base[0], wp_all, lgs[0], rcost, lcost, limit, objective, best, rank, members
                )
                continue
            total = np.stack([base[c][:, None] + wp_all @ lgs[c].T for c in range(2)])
        cost = rcost[:, None] + lcost[None, :]
        k = _choose(total.reshape(2, -1), np.where(cost <= limit, cost, -1).ravel(), objective)
        if k < 0:
            continue
        i, j = divmod(k, len(lc))
        key = (
            float(total[0, i, j]),
            float(total[1, i, j]),
            -int(cost[i, j]),
            rank,
            i,
            j,
            int(members[i]),
        )
        if best is None or _better(key, best, objective):
            best = key
    if best is None:
        return [], -math.inf
    chosen = [cands[i][int(grid[best[6], k])] for k, i in enumerate(rest)]
    chosen.insert(last, lc[best[5]])
    return chosen, best[0]


#: Combinations scored at once by :func:`_bounded`.
CHUNK = 128


def _bounded(base, wp_all, lg, rcost, lcost, limit, objective, best, rank, members):
    """One group's best (single objective), scoring its combinations in order of an upper
    bound and stopping once no bound can beat the best so far: the same choice as scoring
    them all. A combination's bound takes, at each outcome and fade node, the largest gain
    of the last stream's candidates that fit beside it (the "not sent" one always does):
    the candidates sorted by cost, a running maximum, read at what the budget leaves."""
    by_cost = np.argsort(lcost, kind="stable")
    ceiling = np.maximum.accumulate(lg[by_cost], axis=0)  # [C, D]
    fits = np.searchsorted(lcost[by_cost], limit - rcost, side="right")  # [K]
    bound = base + np.einsum("kd,kd->k", wp_all, ceiling[np.maximum(fits - 1, 0)])
    bound = np.where(fits > 0, bound, -np.inf)
    order = np.argsort(-bound, kind="stable")
    for start in range(0, len(order), CHUNK):
        rows = order[start : start + CHUNK]
        if not np.isfinite(bound[rows[0]]) or (
            best is not None and bound[rows[0]] < best[0] - 1e-9
        ):
            break
        t = base[rows, None] + wp_all[rows] @ lg.T  # [k, C]
        cost = rcost[rows, None] + lcost[None, :]
        t = np.where(cost <= limit, t, -np.inf)
        top = t.max()
        if not np.isfinite(top):
            continue
        # of the entries within 1e-12 of the chunk's best, the cheapest, then the earliest
        # combination and candidate (as one full scan would choose)
        tied_r, tied_j = np.nonzero(t >= top - 1e-12)
        pick = np.lexsort((tied_j, rows[tied_r], cost[tied_r, tied_j]))[0]
        r, j = int(tied_r[pick]), int(tied_j[pick])
        i = int(rows[r])
        key = (float(t[r, j]), 0.0, -int(cost[r, j]), rank, i, j, int(members[i]))
        if best is None or _better(key, best, objective):
            best = key
    return best


def _better(a: tuple, b: tuple, objective: Objective) -> bool:
    """Whether (objective, tie-break, -cost) ``a`` beats ``b`` under ``objective``."""
    if objective.tiebreak:
        hi = max(a[0], b[0])
        a_near, b_near = a[0] >= hi - objective.tolerance, b[0] >= hi - objective.tolerance
        if a_near != b_near:
            return a_near
        if abs(a[1] - b[1]) > 1e-12:
            return a[1] > b[1]
        return a[2] > b[2]
    if abs(a[0] - b[0]) > 1e-12:
        return a[0] > b[0]
    if a[2] != b[2]:
        return a[2] > b[2]
    return a[3:6] < b[3:6]


def predict(
    streams: Sequence, chosen: Sequence[Candidate], weights: np.ndarray, table: ValueTable
) -> Prediction:
    """Expected value of every field of ``table`` and each outcome's probability for one
    choice of candidates."""
    names = [s.name for s in streams]
    variable = set(table.variable)
    sent = [i for i, c in enumerate(chosen) if c.option is not None]
    out = Prediction()
    success = {k: chosen[i].success for k, i in enumerate(sent)}
    for sub in _subsets(len(sent)):
        p = float(weights @ outcome_probability(success, sub, np.ones_like(weights)))
        arrived = [names[sent[k]] for k in sub]
        out.outcomes[subset_key(arrived)] = p
        bits = sum(chosen[sent[k]].bits for k in sub if names[sent[k]] in variable)
        for f in table.fields:
            out.figures[f] = out.figures.get(f, 0.0) + p * float(table.value(arrived, f, bits))
    return out


def plan_planned(
    link,
    encoded,
    snr_db: float,
    budget: int,
    table: ValueTable,
    objective: Objective | str = "f1",
):
    """The plan that maximises ``objective``'s expected value for ``encoded``'s streams over
    ``link`` at ``snr_db`` in ``budget`` channel uses: a
    :class:`~experiments.transmission.Plan` whose ``predicted`` is its :class:`Prediction`."""
    from experiments.planning.rule import Plan

    objective = Objective.parse(objective)
    objective.check(table)
    missing = set(encoded.stream_names) - set(table.streams)
    if missing:
        raise SemcomError(
            f"the value table of {table.codec} has no stream {sorted(missing)[0]!r}; remake it."
        )
    nodes, weights = _weights_of_fade(link)
    limit = _budget_limit(link, budget)
    streams = list(encoded.streams)
    cands = [candidates(link, s, snr_db, nodes, weights, limit) for s in streams]
    chosen, _ = search(streams, cands, weights, table, objective, limit)
    out = Plan({}, {}, {})
    symbols: list[int] = []
    for s, c in zip(streams, chosen, strict=True):
        if c.option is None:
            out.not_sent.append(s.name)
            continue
        option = s.options[c.option]
        out.payloads[s.name] = option.payload
        out.protection[s.name] = c.mcs
        out.adaptive[s.name] = True
        out.detail.update(option.detail)
        symbols.append(c.symbols)
        out.uses[s.name] = c.symbols if link.frame == "shared" else c.cost
    out.frame_uses = link.frame_uses(symbols) if symbols else 0
    out.predicted = predict(streams, chosen, weights, table) if chosen else Prediction()
    out.predicted.objective = float(
        sum(w * out.predicted.figures.get(f, 0.0) for f, w in objective.weights)
    )
    out.detail["objective"] = str(objective)
    out.detail["predicted"] = {k: round(v, 6) for k, v in sorted(out.predicted.figures.items())}
    return out


def brute_force(
    link,
    encoded,
    snr_db: float,
    budget: int,
    table: ValueTable,
    objective: Objective | str,
    protections: Sequence[MCS] = PROTECTIONS,
) -> tuple[list[Candidate], float]:
    """Every combination of candidates, unpruned (for the tests): the best choice and its
    objective value (single-field or weighted objectives)."""
    objective = Objective.parse(objective)
    nodes, weights = _weights_of_fade(link)
    limit = _budget_limit(link, budget)
    streams = list(encoded.streams)
    cands = [
        candidates(link, s, snr_db, nodes, weights, limit, False, protections) for s in streams
    ]
    best, best_value = [], -math.inf
    for combo in itertools.product(*cands):
        if sum(c.cost for c in combo) > limit:
            continue
        pred = predict(streams, combo, weights, table)
        value = sum(w * pred.figures[f] for f, w in objective.weights)
        if value > best_value + 1e-12:
            best, best_value = list(combo), value
    return best, best_value


def describe(plan, streams: Sequence[str]) -> Mapping[str, str]:
    """Per stream: ``"MCS (bits b)"`` or ``"not sent"``."""
    return {
        n: f"{plan.protection[n]} ({8 * len(plan.payloads[n])} b)"
        if n in plan.payloads
        else "not sent"
        for n in streams
    }
