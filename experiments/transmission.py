"""One image through one link, for any codec of the registry (:mod:`semcom.registry`).

Transmitter side (sees the image only): a digital codec's streams
(:class:`semcom.protocol.Encoded`) are fitted to the budget by :func:`plan`, the same rule
for every codec (priority order, the first option that fits), then sent with
:meth:`channels.Link.transmit_many`. Receiver side (sees only what the link delivered and
the codec's header): the codec decodes whatever arrived; an erased or unsent stream is
absent. An analog codec's symbols go through :mod:`experiments.analog`.

Budgets are complex channel uses per image; ``budget_cpp`` is channel uses per pixel.
Channel uses are counted exactly as the link counts them (transport-block padding, CRC,
LDPC rate matching and pilots), see :func:`stream_uses`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from channels.link import Link, Transmission
from channels.mcs import MCS
from channels.segmentation import stream_symbols

# the packing rule and the planner live in experiments.planning; imported here as before
from experiments.planning.rule import PLANNED, Plan, plan  # noqa: F401
from semcom.errors import SemcomError


def make_link(
    channel: str,
    options: dict | None = None,
    frame: str = "shared",
    harq=None,
    device: str = "cpu",
) -> Link:
    """A fresh :class:`Link` for registered channel ``channel`` with its ``options``,
    ``frame`` layout (:mod:`channels.frame`) and ``harq`` policy (:mod:`channels.harq`), on
    ``device`` (the draws are the same on every device).

    Every random draw of a transmission comes from the generators of
    :meth:`Link.transmit` (the frame's, or each stream's), seeded by the point, and the TDL
    pilots are a fixed sequence (channels/models/ofdm.py), so a link's results do not depend on
    what the process drew before.
    """
    return Link(channel, channel_options=options, frame=frame, harq=harq, device=device)


def budget_uses(budget_cpp: float, height: int, width: int) -> int:
    """Channel uses per image for a budget in channel uses per pixel (floored)."""
    if not (isinstance(budget_cpp, (int, float)) and math.isfinite(budget_cpp)) or budget_cpp <= 0:
        raise SemcomError(
            f"the budget must be a positive number of channel uses per pixel, not {budget_cpp!r}."
        )
    uses = math.floor(budget_cpp * height * width)
    if uses < 1:
        raise SemcomError(
            f"a budget of {budget_cpp:g} cpp is less than one channel use for a "
            f"{height}×{width} image; raise --budget-cpp."
        )
    return uses


def stream_uses(link: Link, payload_bits: int, mcs: MCS) -> int:
    """Channel uses of one stream in a frame of its own, as :meth:`Link.channel_uses` counts
    them."""
    return link.channel.channel_uses(stream_symbols(payload_bits, mcs))


def max_payload_bits(link: Link, mcs: MCS, uses: int) -> int:
    """The largest payload (a multiple of 8 bits) that takes at most ``uses`` channel uses.

    0 when not even one byte fits. Channel uses grow with the payload, so a binary search
    over bytes finds it.
    """
    if uses < 1 or stream_uses(link, 8, mcs) > uses:
        return 0
    lo, hi = 1, max(2, math.ceil(uses * mcs.spectral_efficiency / 8) + 2)
    while stream_uses(link, 8 * hi, mcs) <= uses:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # stream_uses(lo) fits, stream_uses(hi) does not
        mid = (lo + hi) // 2
        if stream_uses(link, 8 * mid, mcs) <= uses:
            lo = mid
        else:
            hi = mid
    return 8 * lo


# -- the link -------------------------------------------------------------------------------
def send_plans(
    link: Link,
    plans: Sequence[Plan],
    snr_db: float,
    seeds: Sequence[int],
    budget: int | None = None,
) -> list[Transmission | None]:
    """Send every plan that has payloads (batched decoding); ``None`` for empty plans.
    ``budget``: the channel uses each plan was fitted into (what a HARQ policy with
    ``budget="same"`` may not exceed)."""
    idx = [i for i, p in enumerate(plans) if p.payloads]
    out: list[Transmission | None] = [None] * len(plans)
    # One batch per protection map: transmit_many takes one protection for all items.
    groups: dict[tuple, list[int]] = {}
    for i in idx:
        groups.setdefault(
            tuple(sorted(plans[i].protection.items(), key=lambda kv: kv[0])), []
        ).append(i)
    for key, members in groups.items():
        sent = link.transmit_many(
            [plans[i].payloads for i in members],
            snr_db,
            budget,
            dict(key),
            seeds=[seeds[i] for i in members],
        )
        for i, t in zip(members, sent, strict=True):
            out[i] = t
    return out


def stream_report(plan: Plan, tx: Transmission | None, names: Sequence[str]) -> dict[str, dict]:
    """Per-stream outcome: sent, bits, MCS, channel uses (HARQ retransmissions included),
    CRC, pre-FEC BER, iterations, transmissions."""
    report = {}
    for name in names:
        if tx is None or name not in tx.streams:
            report[name] = {
                "sent": False,
                "bits": 0,
                "mcs": None,
                "channel_uses": 0,
                "crc_ok": False,
            }
            continue
        st = tx.streams[name].stats
        report[name] = {
            "sent": True,
            "bits": 8 * len(plan.payloads[name]),
            "mcs": st.mcs,
            "adaptive": plan.adaptive.get(name, st.adaptive),
            "channel_uses": st.channel_uses,
            "crc_ok": st.crc_ok,
            "undetected": st.undetected,
            "pre_fec_ber": st.pre_fec_ber,
            "iterations": st.iterations,
            "transmissions": st.transmissions,
        }
    return report


def delivered(tx: Transmission | None) -> dict[str, bytes]:
    """The streams the link delivered (CRC passed); nothing for an unsent plan."""
    if tx is None:
        return {}
    return {k: bytes(v) for k, v in tx.received().items() if v is not None}


# -- one image, end to end ------------------------------------------------------------------
@dataclass
class Outcome:
    """One image through one link: the reconstruction, per-stream outcome and figures."""

    codec: str
    channel: str
    snr_db: float
    budget_cpp: float
    budget_uses: int
    channel_uses: int
    success: bool
    streams: dict[str, dict]
    figures: dict[str, float | int | None]
    detail: dict[str, object]
    image: torch.Tensor  # [3,H,W] in [0,1], the receiver's reconstruction

    def to_dict(self) -> dict:
        """JSON-ready (no image)."""
        return {
            "codec": self.codec,
            "channel": self.channel,
            "snr_db": self.snr_db,
            "budget_cpp": self.budget_cpp,
            "budget_uses": self.budget_uses,
            "channel_uses": self.channel_uses,
            "success": self.success,
            "streams": self.streams,
            "figures": self.figures,
            **self.detail,
        }


@dataclass(frozen=True)
class Protect:
    """How one transmission's streams are protected: ``mcs`` for the codec's adaptive
    streams (``adaptive``, ``robust``, an MCS name, or ``planned``), ``streams`` by name
    (see :func:`plan`), and with ``planned`` the planner's ``objective``."""

    mcs: str = "adaptive"
    streams: Mapping[str, str] = field(default_factory=dict)
    objective: object = None


def transmit_image(
    image: torch.Tensor,
    *,
    codec: str | object,
    link: Link,
    snr_db: float,
    budget_cpp: float,
    protect: Protect = Protect(),
    seed: int = 0,
    decode_seed: int = 0,
    truth: Sequence[object] | None = None,
    metrics: Sequence[str] | None = None,
) -> Outcome:
    """Send ``image`` [3,H,W] in [0,1] with ``codec`` (a codec, or a registered name built
    with its defaults) over ``link`` at ``snr_db`` in ``budget_cpp`` channel uses per pixel,
    protected as ``protect`` says (with ``planned``: the codec's value table and what the
    sender works out of this image). An analog codec takes no protection: one stream, never
    erased, always a success. ``metrics``: registered metric names scored (default pixel
    and semantic; the others' fields go under ``figures``).
    """
    from semcom.metrics.registry import DEFAULT_METRICS
    from semcom.metrics.scoring import score
    from semcom.registry import make_codec

    if isinstance(codec, str):
        codec = make_codec(codec)
    mcs, protection, objective = protect.mcs, dict(protect.streams), protect.objective
    _, h, w = image.shape
    budget = budget_uses(budget_cpp, h, w)
    if codec.kind == "analog":
        from experiments.analog import send_analog

        if mcs != "adaptive" or protection:
            raise SemcomError(f"{codec.name} sends analog symbols; it takes no --mcs.")
        sent = send_analog(codec, link, image.unsqueeze(0), snr_db, budget, [seed])
        chosen, recon, success, streams = sent.plan(0), sent.images[0], True, sent.report(0)
    else:
        encoded = codec.encode(image)
        unknown = set(protection or {}) - set(encoded.stream_names)
        if unknown:
            raise SemcomError(
                f"{codec.name} has no stream {sorted(unknown)[0]!r}; its streams are "
                f"{', '.join(encoded.stream_names)}."
            )
        values = None
        if mcs == PLANNED:
            from experiments.planning.sender import sender_values
            from semcom.values import values_for

            values = sender_values(values_for(codec), codec, encoded, image, decode_seed)
        chosen = plan(link, encoded, snr_db, budget, protection, mcs, values, objective)
        tx = send_plans(link, [chosen], snr_db, [seed], budget)[0]
        got = delivered(tx)
        recon = codec.decode(encoded.header, got, decode_seed).clamp(0, 1)
        streams = stream_report(chosen, tx, encoded.stream_names)
        success = chosen.arrived(got)
    figures = score(
        image.unsqueeze(0),
        recon.unsqueeze(0),
        [truth] if truth is not None else None,
        tuple(metrics) if metrics else DEFAULT_METRICS,
    )[0]
    return Outcome(
        codec=codec.name,
        channel=link.channel.name,
        snr_db=float(snr_db),
        budget_cpp=float(budget_cpp),
        budget_uses=budget,
        channel_uses=chosen.frame_uses,
        success=success,
        streams=streams,
        figures=figures,
        detail={"not_sent": chosen.not_sent, **chosen.detail},
        image=recon,
    )
