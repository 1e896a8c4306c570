"""Any registered digital codec at a bit rate: the link planner's rule applied to bits.

``semcom evaluate`` compares codecs at MTGC's rate. A codec from the registry
(:mod:`semcom.registry`) states, per image, its streams in priority order with their
options (:class:`~semcom.protocol.Encoded`); :func:`plan_bits` fits them into a bit
budget with the rule the link's planner uses on channel uses (each stream, in order, sends
its first option that fits what is left), :func:`ladder` lists the distinct plans that
rule reaches as the budget grows, and :func:`match_plan` picks one of them for a target
by evaluate's ``--match`` rule. Bits are the sent streams' payload bits; the header is
side information the receiver holds, as on the link.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

#: Largest number of option combinations :func:`ladder` enumerates (beyond it, only the
#: plan at the target is used).
MAX_COMBINATIONS = 4096


@dataclass(frozen=True)
class BitPlan:
    """Payloads chosen per stream (absent: not sent), their total bits, the options'
    details."""

    payloads: dict[str, bytes] = field(default_factory=dict)
    bits: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def plan_bits(encoded: Any, budget_bits: int) -> BitPlan:
    """The packing rule (:func:`experiments.planning.first_fit`) on bits: streams in
    priority order, each its first option whose bits fit what is left; a stream none of
    whose options fits is not sent."""
    from experiments.planning.rule import first_fit

    def fits(taken: list, option: Any) -> bool:
        return sum(8 * len(o.payload) for o in taken) + 8 * len(option.payload) <= budget_bits

    choices = [[o for o in s.options if o.payload] for s in encoded.streams]
    picks = first_fit(choices, fits)
    payloads: dict[str, bytes] = {}
    detail: dict[str, Any] = {}
    for stream, option in zip(encoded.streams, picks, strict=True):
        if option is not None:
            payloads[stream.name] = option.payload
            detail.update(option.detail)
    return BitPlan(payloads, sum(8 * len(p) for p in payloads.values()), detail)


def ladder(encoded: Any) -> list[BitPlan]:
    """The distinct plans :func:`plan_bits` reaches over all budgets, by bits (fewest
    first). The rule changes its plan only at budgets equal to the total of some choice of
    one option (or none) per stream, so those budgets are tried."""
    choices = [[0] + [8 * len(o.payload) for o in s.options if o.payload] for s in encoded.streams]
    count = 1
    for c in choices:
        count *= len(c)
    if count > MAX_COMBINATIONS:
        return []
    budgets = sorted({sum(combo) for combo in itertools.product(*choices)})
    plans: dict[int, BitPlan] = {}
    for b in budgets:
        p = plan_bits(encoded, b)
        plans.setdefault(p.bits, p)
    return [plans[k] for k in sorted(plans)]


def match_plan(encoded: Any, target_bits: int, match: str) -> BitPlan:
    """The plan for ``target_bits`` by ``match``: "below" the rule's plan at the target
    (where that sends nothing, the codec cannot go that low: its smallest plan that sends
    something), "above" the smallest plan of the ladder at or above it (else the
    largest), "nearest" the closest of the two (ties: the smaller)."""
    below = plan_bits(encoded, target_bits)
    plans = ladder(encoded) or [below]
    if not below.payloads:
        below = next((p for p in plans if p.payloads), below)
    if match == "below":
        return below
    above = next((p for p in plans if p.bits >= target_bits), plans[-1])
    if match == "above":
        return above
    return min((below, above), key=lambda p: (abs(p.bits - target_bits), p.bits))
