"""The one packing rule, and the dispatch between it and the planner.

Every fixed protection fits a codec's streams into a budget by one rule
(:func:`first_fit`): the streams in their priority order, each takes the first of its
choices with which what is taken so far still fits, and a stream none of whose choices
fits is not sent. On the link (:func:`plan_fixed`) a choice is one payload option at one
rung of its protection's ladder and "fits" means the transmission's channel uses; on bits
(:func:`experiments.rate_match.plan_bits`) a choice is an option and "fits" means its
bits. ``planned`` protection replaces the rule with the planner
(:func:`experiments.planning.planner.plan_planned`); :func:`plan` picks between them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from channels.mcs import MCS
from channels.segmentation import stream_symbols
from semcom.errors import SemcomError

#: The protection keyword of the planner.
PLANNED = "planned"

T = TypeVar("T")


def first_fit(streams: Sequence[Sequence[T]], fits: Callable[[list[T], T], bool]) -> list[T | None]:
    """The packing rule: for each stream in priority order, the first of its choices
    (most preferred first) for which ``fits(taken, choice)`` holds, ``taken`` being the
    choices of the streams before it that were sent; None where none fits."""
    taken: list[T] = []
    out: list[T | None] = []
    for choices in streams:
        pick = next((c for c in choices if fits(taken, c)), None)
        if pick is not None:
            taken.append(pick)
        out.append(pick)
    return out


@dataclass
class Plan:
    """The transmitter's decision for one point: payloads to send and what was left out."""

    payloads: dict[str, bytes]
    protection: dict[str, MCS]
    uses: dict[str, int]
    not_sent: list[str] = field(default_factory=list)
    adaptive: dict[str, bool] = field(default_factory=dict)
    detail: dict[str, object] = field(default_factory=dict)
    #: Channel uses of the whole transmission (pilots of a shared frame included).
    frame_uses: int = 0
    #: Planned protection: the expected figures (:class:`~experiments.planning.Prediction`).
    predicted: object | None = None

    def arrived(self, delivered: Mapping[str, bytes]) -> bool:
        """Whether the point succeeded: something was sent and every sent stream arrived."""
        return bool(self.payloads) and set(delivered) == set(self.payloads)


@dataclass(frozen=True)
class _Choice:
    """One option of a stream at one rung of its protection's ladder."""

    option: object
    mcs: MCS
    adaptive: bool
    symbols: int


def plan_fixed(
    link,
    encoded,
    snr_db: float,
    budget: int,
    protection: Mapping[str, str | MCS] | None = None,
    mcs: str | MCS = "adaptive",
) -> Plan:
    """Fit a digital codec's streams into ``budget`` channel uses by :func:`first_fit`.

    A stream's choices are its options (in the codec's order of preference), each at the
    rungs of its protection's ladder (:meth:`channels.Link.ladder`: one MCS, or for
    ``robust`` 3 dB more margin and below the table QPSK 1/5 repeated, most repetitions
    first); a choice fits when the transmission's channel uses
    (:meth:`channels.Link.frame_uses`: one shared frame, or a frame per stream) stay within
    the budget. A stream's protection is ``protection[name]``, else ``mcs`` if its default
    is ``adaptive``, else its default; ``adaptive`` is the link's best MCS for ``snr_db``
    and the option's size. The chosen options' details are the plan's.
    """
    prot = dict(protection or {})

    def choices(stream) -> list[_Choice]:
        default = mcs if stream.protection == "adaptive" else stream.protection
        out = []
        for option in stream.options:
            if not option.payload:
                continue
            bits = 8 * len(option.payload)  # adaptive MCS from blocks of this option's size
            for rung, adaptive in link.ladder(prot.get(stream.name, default), snr_db, bits):
                out.append(_Choice(option, rung, adaptive, stream_symbols(bits, rung)))
        return out

    def fits(taken: list[_Choice], c: _Choice) -> bool:
        return link.frame_uses([*(t.symbols for t in taken), c.symbols]) <= budget

    picks = first_fit([choices(s) for s in encoded.streams], fits)
    out = Plan({}, {}, {})
    symbols: list[int] = []
    for stream, c in zip(encoded.streams, picks, strict=True):
        if c is None:
            out.not_sent.append(stream.name)
            continue
        total = link.frame_uses([*symbols, c.symbols])
        symbols.append(c.symbols)
        out.payloads[stream.name] = c.option.payload
        out.protection[stream.name] = c.mcs
        out.uses[stream.name] = c.symbols if link.frame == "shared" else total - out.frame_uses
        out.adaptive[stream.name] = c.adaptive
        out.detail.update(c.option.detail)
        out.frame_uses = total
    return out


def plan(
    link,
    encoded,
    snr_db: float,
    budget: int,
    protection: Mapping[str, str | MCS] | None = None,
    mcs: str | MCS = "adaptive",
    values=None,
    objective=None,
) -> Plan:
    """Fit a digital codec's streams into ``budget`` channel uses: ``mcs="planned"`` by the
    planner (:func:`~experiments.planning.planner.plan_planned`, from the codec's value
    table ``values``, maximising ``objective``, default ``f1``), any other protection by
    the packing rule (:func:`plan_fixed`)."""
    if isinstance(mcs, str) and mcs == PLANNED:
        from experiments.planning.planner import plan_planned

        if values is None:
            raise SemcomError("planned protection needs the codec's value table.")
        if protection:
            raise SemcomError(
                "planned protection chooses every stream's MCS; drop the per-stream protection."
            )
        return plan_planned(link, encoded, snr_db, budget, values, objective or "f1")
    return plan_fixed(link, encoded, snr_db, budget, protection, mcs)
