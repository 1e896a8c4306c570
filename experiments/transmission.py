"""One image through one link: MTGC (three streams, unequal protection) or a baseline codec.

Transmitter side (sees the image only): the codec's payloads are fitted to the budget at
the MCS each stream uses, then sent with :meth:`channels.Link.transmit_many`.
Receiver side (sees only what the link delivered): MTGC decodes whatever arrived (an
erased or unsent stream is absent and the decoder falls back); a baseline decodes its one
stream, or, when the CRC failed or nothing fitted, shows the mean (mid-grey) image and the
point counts as a failure.

Budgets are complex channel uses per image; ``budget_cpp`` is channel uses per pixel.
Channel uses are counted exactly as the link counts them (transport-block padding, CRC,
LDPC rate matching and pilots), see :func:`stream_uses`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from channels.coding import tb_layout, transport_block_size
from channels.link import Link, Transmission
from channels.mcs import MCS
from semcom.errors import SemcomError

#: Names of the codecs this module sends; every other name is a conventional baseline.
MTGC_NAME = "mtgc"
#: Stream name of a baseline's single payload on the link.
IMAGE_STREAM = "image"
#: MTGC stream order: what is kept first when the budget is short.
MTGC_PRIORITY = ("caption", "spw", "hci")
#: Default MTGC protection: semantics robust, HCI adaptive.
DEFAULT_PROTECTION: dict[str, str] = {"caption": "qpsk:1/3", "spw": "qpsk:1/3", "hci": "adaptive"}


def make_link(channel: str) -> Link:
    """A fresh :class:`Link` for ``channel``.

    Every random draw of a transmission comes from the per-stream generators of
    :meth:`Link.transmit`, seeded by the point, and the TDL pilots are a fixed sequence
    (channels/models.py), so a link's results do not depend on what the process drew
    before.
    """
    return Link(channel)


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
    """Channel uses of one stream, as :meth:`Link.channel_uses` counts them, without
    building the LDPC codec (pure arithmetic on the transport-block layout)."""
    layout = tb_layout(transport_block_size(payload_bits, mcs.code_rate), mcs)
    return link.channel.channel_uses(layout.num_symbols)


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


# -- MTGC ------------------------------------------------------------------------------------
@dataclass
class MTGCImage:
    """What the MTGC transmitter prepared for one image: its fixed streams and the HCI
    payloads it can choose from (largest first)."""

    caption: bytes
    spw: bytes
    hci_options: list[bytes]
    height: int
    width: int
    header: object  # the Bitstream of the default encoding (preset, fingerprint, size)


def prepare_mtgc(codec, image: torch.Tensor, caption: str | None = None) -> MTGCImage:
    """Encode ``image`` [3,H,W] in [0,1] once and every distinct HCI payload (largest first;
    at equal size the codec's preferred, finer setting)."""
    img = image.unsqueeze(0) if image.dim() == 3 else image
    bs = codec.encode(img, captions=[caption])[0]
    seen: dict[bytes, tuple[int, int, int]] = {}
    for s in codec.hci_candidates():
        payload = codec.hci.encode(img, s)[0]
        key = (len(payload), -s.factor, s.quality)
        if payload not in seen or key > seen[payload]:
            seen[payload] = key
    options = sorted(seen, key=lambda p: seen[p], reverse=True)
    return MTGCImage(bs.streams["caption"], bs.streams["spw"], options, bs.height, bs.width, bs)


@dataclass
class Plan:
    """The transmitter's decision for one point: payloads to send and what was left out."""

    payloads: dict[str, bytes]
    protection: dict[str, MCS]
    uses: dict[str, int]
    not_sent: list[str] = field(default_factory=list)
    adaptive: dict[str, bool] = field(default_factory=dict)
    detail: dict[str, object] = field(default_factory=dict)

    @property
    def total_uses(self) -> int:
        return sum(self.uses.values())


def resolve_protection(
    link: Link, protection: Mapping[str, str | MCS] | str | MCS, names: Sequence[str], snr_db: float
) -> dict[str, tuple[MCS, bool]]:
    """Each stream's MCS at ``snr_db`` and whether it was chosen adaptively (``adaptive``
    picks the table's best MCS for the SNR)."""
    out = {}
    for name in names:
        prot = protection.get(name, "adaptive") if isinstance(protection, Mapping) else protection
        out[name] = link.resolve(prot, snr_db)
    return out


def plan_mtgc(
    link: Link,
    prepared: MTGCImage,
    snr_db: float,
    budget: int,
    protection: Mapping[str, str | MCS] | None = None,
) -> Plan:
    """Fit MTGC's streams into ``budget`` channel uses.

    Caption, then SPWs, then HCI (:data:`MTGC_PRIORITY`) each take their channel uses at
    their own MCS; a stream that does not fit what is left is not sent (the receiver falls
    back as for an erasure). HCI takes the largest payload that fits.
    """
    prot = {**DEFAULT_PROTECTION, **dict(protection or {})}
    mcs = resolve_protection(link, prot, MTGC_PRIORITY, snr_db)
    left = budget
    plan = Plan({}, {}, {})
    for name in MTGC_PRIORITY:
        options = [getattr(prepared, name)] if name != "hci" else prepared.hci_options
        for payload in options:
            if not payload:
                continue
            uses = stream_uses(link, 8 * len(payload), mcs[name][0])
            if uses <= left:
                plan.payloads[name], plan.protection[name], plan.uses[name] = (
                    payload,
                    mcs[name][0],
                    uses,
                )
                plan.adaptive[name] = mcs[name][1]
                left -= uses
                break
        else:
            plan.not_sent.append(name)
    return plan


# -- conventional baselines -----------------------------------------------------------------
def plan_baseline(
    link: Link,
    points: Sequence,
    snr_db: float,
    budget: int,
    protection: str | MCS = "adaptive",
) -> Plan:
    """The best-PSNR operating point (``points`` from
    :func:`semcom.baselines.operating_points`) whose stream fits ``budget`` channel uses at
    the MCS ``protection`` gives at ``snr_db``; nothing is sent when none fits."""
    from semcom.baselines import fit_bits

    mcs, adaptive = link.resolve(protection, snr_db)
    max_bits = max_payload_bits(link, mcs, budget)
    detail: dict[str, object] = {"max_bits": max_bits}
    variant = (
        fit_bits(None, max_bits, points[0].codec, points=points, allow_none=True)
        if max_bits
        else None
    )
    if variant is None:
        return Plan({}, {}, {}, not_sent=[IMAGE_STREAM], detail=detail)
    uses = stream_uses(link, variant.bits, mcs)
    if uses > budget:  # cannot happen: max_payload_bits is exact
        raise AssertionError(f"{variant.bits} bits need {uses} > {budget} channel uses")
    detail.update(factor=variant.factor, quality=variant.quality, sender_psnr=variant.psnr)
    return Plan(
        {IMAGE_STREAM: variant.data},
        {IMAGE_STREAM: mcs},
        {IMAGE_STREAM: uses},
        adaptive={IMAGE_STREAM: adaptive},
        detail=detail,
    )


# -- the link -------------------------------------------------------------------------------
def send_plans(
    link: Link, plans: Sequence[Plan], snr_db: float, seeds: Sequence[int]
) -> list[Transmission | None]:
    """Send every plan that has payloads (batched decoding); ``None`` for empty plans."""
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
            None,
            dict(key),
            seeds=[seeds[i] for i in members],
        )
        for i, t in zip(members, sent, strict=True):
            out[i] = t
    return out


def stream_report(plan: Plan, tx: Transmission | None, names: Sequence[str]) -> dict[str, dict]:
    """Per-stream outcome: sent, bits, MCS, channel uses, CRC, pre-FEC BER, iterations."""
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
        }
    return report


def mtgc_received(prepared: MTGCImage, tx: Transmission | None):
    """The receiver's bitstream: the header and only the streams the link delivered."""
    received = tx.received() if tx is not None else {}
    return prepared.header.with_received(received)  # type: ignore[attr-defined]


def baseline_received(tx: Transmission | None) -> bytes | None:
    """The delivered baseline stream, or ``None`` (erased or not sent)."""
    if tx is None:
        return None
    return tx.received().get(IMAGE_STREAM)


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


def transmit_image(
    image: torch.Tensor,
    *,
    codec: str,
    link: Link,
    snr_db: float,
    budget_cpp: float,
    mcs: str = "adaptive",
    protection: Mapping[str, str] | None = None,
    seed: int = 0,
    mtgc_codec=None,
    steps: int | None = None,
    decode_seed: int = 0,
    truth: Sequence[object] | None = None,
) -> Outcome:
    """Send ``image`` [3,H,W] in [0,1] with ``codec`` (``mtgc`` or a baseline name).

    ``mcs`` is the baseline's protection, and MTGC's HCI protection unless ``protection``
    names one; ``mtgc_codec`` is the loaded MTGC codec (needed for ``mtgc``). ``deepjscc``
    is analog (:mod:`experiments.analog`): no MCS, one stream, always a success.
    """
    from experiments.scoring import score
    from semcom.baselines import ANALOG_NAMES, BASELINE_NAMES, get_codec, operating_points

    _, h, w = image.shape
    budget = budget_uses(budget_cpp, h, w)
    if codec == MTGC_NAME:
        if mtgc_codec is None:
            raise SemcomError("transmitting with mtgc needs a loaded MTGC codec.")
        prepared = prepare_mtgc(mtgc_codec, image)
        prot = {**DEFAULT_PROTECTION, "hci": mcs, **dict(protection or {})}
        plan = plan_mtgc(link, prepared, snr_db, budget, prot)
        tx = send_plans(link, [plan], snr_db, [seed])[0]
        received = mtgc_received(prepared, tx)
        recon = mtgc_codec.decode(received, steps=steps, seed=decode_seed)[0].clamp(0, 1)
        streams = stream_report(plan, tx, MTGC_PRIORITY)
        success = bool(plan.payloads) and set(received.streams) == set(plan.payloads)
    elif codec in BASELINE_NAMES:
        points = operating_points(image, codec)
        plan = plan_baseline(link, points, snr_db, budget, mcs)
        tx = send_plans(link, [plan], snr_db, [seed])[0]
        data = baseline_received(tx)
        recon = get_codec(codec).decode(data, h, w, fallback="mean")
        streams = stream_report(plan, tx, (IMAGE_STREAM,))
        success = data is not None
    elif codec in ANALOG_NAMES:
        from experiments.analog import send_deepjscc
        from semcom.baselines.deepjscc import load

        if mcs != "adaptive":
            raise SemcomError("deepjscc sends analog symbols; it takes no --mcs.")
        sent = send_deepjscc(load(), link, image.unsqueeze(0), snr_db, budget, [seed])
        plan, recon, success, streams = sent.plan(0), sent.images[0], True, sent.report(0)
    else:
        choices = ", ".join((*BASELINE_NAMES, *ANALOG_NAMES))
        raise SemcomError(f"unknown codec {codec!r}; choose {MTGC_NAME} or one of {choices}.")
    figures = score(image.unsqueeze(0), recon.unsqueeze(0), [truth] if truth is not None else None)[
        0
    ]
    return Outcome(
        codec=codec,
        channel=link.channel.name,
        snr_db=float(snr_db),
        budget_cpp=float(budget_cpp),
        budget_uses=budget,
        channel_uses=plan.total_uses,
        success=success,
        streams=streams,
        figures=figures,
        detail={"not_sent": plan.not_sent, **plan.detail},
        image=recon,
    )
