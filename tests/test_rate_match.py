"""The planner's rule on bits, for any registered codec in `semcom evaluate`."""

from __future__ import annotations

from experiments.rate_match import ladder, match_plan, plan_bits
from semcom.protocol import Encoded, Option, Stream


def _encoded() -> Encoded:
    """Two streams: ``a`` (10 bytes) first, then ``b`` (30 bytes, or 20 as a fallback)."""
    a = Stream("a", (Option(b"x" * 10, {"a": 1}),))
    b = Stream("b", (Option(b"y" * 30, {"b": 30}), Option(b"z" * 20, {"b": 20})))
    return Encoded(b"h", (a, b), 8, 8)


def test_the_rule_sends_each_stream_its_first_option_that_fits() -> None:
    enc = _encoded()
    assert plan_bits(enc, 79).payloads == {}
    assert plan_bits(enc, 80).bits == 80 and set(plan_bits(enc, 239).payloads) == {"a"}
    p = plan_bits(enc, 240)
    assert p.bits == 240 and p.detail == {"a": 1, "b": 20}
    assert plan_bits(enc, 320).detail == {"a": 1, "b": 30}


def test_the_ladder_and_the_match_rules() -> None:
    enc = _encoded()
    assert [p.bits for p in ladder(enc)] == [0, 80, 240, 320]
    assert match_plan(enc, 200, "below").bits == 80
    assert match_plan(enc, 200, "above").bits == 240
    assert match_plan(enc, 200, "nearest").bits == 240
    assert match_plan(enc, 150, "nearest").bits == 80
    assert match_plan(enc, 1000, "above").bits == 320  # nothing above: the largest
    assert match_plan(enc, 50, "below").bits == 80  # cannot go that low: the smallest
    assert match_plan(enc, 50, "nearest").bits == 80
