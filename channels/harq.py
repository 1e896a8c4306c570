"""HARQ per stream: a stream whose CRC fails is sent again, and the receiver combines.

A :class:`HarqPolicy` says how many transmissions a stream may take, which redundancy
versions they carry (TS 38.321's order 0, 2, 3, 1 by default) and how the receiver
combines them: ``ir`` (incremental redundancy: each version's bits go to their place in
the code's circular buffer, so a retransmission adds parity the first did not carry) or
``chase`` (every transmission repeats version 0; the LLRs add). Only the streams that
failed are sent again (in a shared frame, together in one new frame), each retransmission
through a new channel realisation of the same process (the frame generator of the
transmission's seed and the attempt number), until the CRC passes or the transmissions
run out. ``budget="extra"`` lets retransmissions use channel uses beyond the budget (a
HARQ process's own resources; what they spent is reported); ``budget="same"`` sends one
only while the transmission's total stays within the budget, the streams in their
priority order (the order of the payloads: MTGC's caption and SPWs before its HCI) until
the retransmission frame no longer fits.

The receiver learns of a failure as a NACK on an error-free feedback channel (not
simulated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from channels.errors import LinkError

#: How retransmissions may use the budget.
HARQ_BUDGETS: tuple[str, ...] = ("extra", "same")
#: How the receiver combines transmissions.
COMBINING: tuple[str, ...] = ("ir", "chase")


@dataclass(frozen=True)
class HarqPolicy:
    """How a stream is retransmitted (see the module docstring)."""

    max_transmissions: int = 4
    rv_order: tuple[int, ...] = (0, 2, 3, 1)
    combining: str = "ir"
    budget: str = "extra"

    def __post_init__(self) -> None:
        if isinstance(self.rv_order, list | tuple):
            object.__setattr__(self, "rv_order", tuple(self.rv_order))
        else:
            raise LinkError(
                f"rv_order must be a list of redundancy versions, not {self.rv_order!r}."
            )
        ok = type(self.max_transmissions) is int and 1 <= self.max_transmissions <= 16
        if not ok:
            raise LinkError(
                f"HARQ needs 1 to 16 transmissions per stream, not {self.max_transmissions!r}."
            )
        if not self.rv_order or any(
            type(v) is not int or v not in (0, 1, 2, 3) for v in self.rv_order
        ):
            raise LinkError(f"redundancy versions are 0-3; got {list(self.rv_order)}.")
        if self.rv_order[0] != 0:
            raise LinkError(
                "the first transmission carries redundancy version 0; rv_order "
                f"{list(self.rv_order)} must start with 0."
            )
        if self.combining not in COMBINING:
            raise LinkError(f"HARQ combining {self.combining!r}: choose ir or chase.")
        if self.budget not in HARQ_BUDGETS:
            raise LinkError(f"HARQ budget {self.budget!r}: choose extra or same.")

    def rv(self, attempt: int) -> int:
        """The redundancy version of transmission ``attempt`` (0 = the first)."""
        return 0 if self.combining == "chase" else self.rv_order[attempt % len(self.rv_order)]

    @classmethod
    def parse(cls, value: Any) -> HarqPolicy | None:
        """``None``/``1`` (no retransmission), an int N, or a mapping of the fields."""
        if value is None or isinstance(value, HarqPolicy):
            return value
        if isinstance(value, bool):
            raise LinkError("harq must be a number of transmissions or a mapping.")
        if isinstance(value, int):
            return None if value == 1 else cls(max_transmissions=value)
        if isinstance(value, Mapping):
            unknown = set(value) - {"max_transmissions", "rv_order", "combining", "budget"}
            if unknown:
                raise LinkError(f"unknown HARQ setting {sorted(unknown)[0]!r}.")
            return cls(**dict(value))
        raise LinkError(f"harq {value!r} is not a number of transmissions or a mapping.")


@dataclass
class Pending:
    """One stream of one item while HARQ runs: what was sent and received so far."""

    item: int
    name: str
    bits: torch.Tensor  # [1, A] payload bits
    mcs: Any
    adaptive: bool
    symbols: int  # data symbols of one transmission
    uses: int  # channel uses spent on this stream so far
    llrs: list[torch.Tensor] = field(default_factory=list)  # [1, G] per transmission
    codes: list[torch.Tensor] = field(default_factory=list)  # [1, G] per transmission
    rvs: list[int] = field(default_factory=list)
    rank: int = 0  # the stream's place in its item's payloads (priority order)


def retransmit(
    link,
    pending: Sequence[Pending],
    results: list,
    snr_db: float,
    budget: int | None,
    seeds: Sequence[int],
    policy: HarqPolicy,
    return_hard: bool,
) -> None:
    """Run the HARQ process for the ``pending`` (failed) streams; updates ``results``
    (their outcomes, statistics and the transmissions' channel uses) in place."""
    from channels.frame import send_frame, stream_generator
    from channels.results import stream_outcome

    waiting = list(pending)
    for attempt in range(1, policy.max_transmissions):
        if not waiting:
            return
        rv = policy.rv(attempt)
        by_item: dict[int, list[Pending]] = {}
        for p in waiting:
            by_item.setdefault(p.item, []).append(p)
        sent_now: list[Pending] = []
        for i, streams in by_item.items():
            streams.sort(key=lambda p: p.rank)
            uses = link.frame_uses([p.symbols for p in streams])
            if policy.budget == "same" and budget is not None:
                # the most important streams first: drop the last until the frame fits
                while streams and results[i].channel_uses + uses > budget:
                    streams.pop()
                    uses = link.frame_uses([p.symbols for p in streams])
                if not streams:
                    continue  # no room: these streams stay erased
            results[i].channel_uses += uses
            if link.frame == "shared":
                sent = send_frame(
                    link,
                    {p.name: p.bits for p in streams},
                    {p.name: p.mcs for p in streams},
                    snr_db,
                    seeds[i],
                    attempt=attempt,
                    rv=rv,
                )
            else:
                sent = {
                    p.name: link.send(
                        p.bits,
                        p.mcs,
                        snr_db,
                        stream_generator(seeds[i], f"{p.name}#{attempt}"),
                        rv=rv,
                    )
                    for p in streams
                }
            for p in streams:
                code, llr = sent[p.name]
                p.codes.append(code)
                p.llrs.append(llr)
                p.rvs.append(rv)
                own = link.channel.channel_uses(p.symbols)  # its own frame (per-stream)
                p.uses += p.symbols if link.frame == "shared" else own
                sent_now.append(p)
        groups: dict[tuple, list[Pending]] = {}
        for p in sent_now:
            groups.setdefault((p.bits.shape[-1], p.mcs, tuple(p.rvs)), []).append(p)
        waiting = []
        for (_, mcs, rvs), members in groups.items():
            llr = torch.cat([torch.stack(p.llrs, dim=1) for p in members])  # [B, R, G]
            code = torch.cat([p.codes[-1] for p in members])
            bits = torch.cat([p.bits for p in members]).to(link.device)
            out = link.receive(llr, code, bits, mcs, rv=list(rvs))
            for k, p in enumerate(members):
                outcome = stream_outcome(out, k, mcs, p.adaptive, p.uses, return_hard)
                outcome.stats.transmissions = len(rvs)
                results[p.item].streams[p.name] = outcome
                if not outcome.stats.crc_ok:
                    waiting.append(p)
