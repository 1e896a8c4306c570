"""What the link will deliver: the probability that a stream arrives, alone or together with
the other streams of its frame.

A stream of ``a`` payload bits at an MCS is a transport block (:func:`~channels.coding.tb_layout`):
C code blocks of K information bits (CRC included), each an LDPC codeword of ``n0`` symbols
sent ``r`` times (``r`` = 1 at rates of 1/5 and above; below, the copies add at the receiver,
a power gain of ``r``). Given the frame's power gain ``x`` (``|h|^2``), a code block fails
with the finite-length normal approximation of the channel's error probability::

    P_cb(x) = Q( (n0 C(γ x r / g) - K) / sqrt(n0 V(γ x r / g)) ),  C = log2(1 + s),
    V = s (s + 2) / (s + 1)^2 log2(e)^2,

where ``g`` is the code's gap to the normal approximation, fitted so that over AWGN the
block error rate is 10 % at the calibrated threshold (:func:`~channels.mcs.threshold_db`,
by MCS and block size; below the table, QPSK 1/5 as :mod:`channels.floor` measured it; a
Polar MCS, one codeword whose K counts the CRC11, as :mod:`channels.polar` measured it),
and the transport block arrives when all its C code blocks do.

The streams of one shared frame see one fade: given ``x`` their noises are independent,
so a set of streams arrives with probability ``E_x[prod_s (1 - P_s(x))]``, integrated over
the fade's distribution (:class:`Fading`) — never the product of the marginals. AWGN has
no fade; flat Rayleigh block fading has ``x ~ Exp(1)``; every other calibrated channel
(TDL/CDL over OFDM, MIMO) is read as Nakagami-m block fading with an SNR offset, both
fitted to that channel's calibrated 10 % thresholds (:func:`fading`). With
``frame="per-stream"`` each stream has its own fade and the arrivals are independent.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy.special import gammainc, gammaincinv, ndtr

from channels.errors import LinkError
from channels.floor import floor_awgn_db
from channels.mcs import (
    MCS,
    MIN_CODE_RATE,
    NR_MCS_TABLE,
    load_thresholds,
    threshold_db,
)
from channels.segmentation import layout_for, transport_block_size

#: Block error rate at a calibrated threshold.
TARGET_BLER = 0.1
#: Cells of the quadrature over the fade.
NODES = 32
#: The gain's quantiles between which the cells are log-spaced (over Rayleigh 10^-4 to 16.1,
#: a ratio of 1.49 (1.7 dB) a cell, as fine as the 48 cells from 10^-6 to 50 were).
QUANTILES = (1e-4, 1 - 1e-7)
_LOG2E = math.log2(math.e)


# -- one code block over AWGN ---------------------------------------------------------------
def _block_error(snr: np.ndarray, n: float, k: float) -> np.ndarray:
    """Normal approximation of a (k, n) block code's error probability at linear SNR
    ``snr`` (any shape) with Gaussian inputs."""
    s = np.maximum(snr, 1e-12)
    cap = np.log2(1 + s)
    disp = s * (s + 2) / (s + 1) ** 2 * _LOG2E**2
    return ndtr(-(n * cap - k) / np.sqrt(n * np.maximum(disp, 1e-30)))


def block_success(snr: np.ndarray, num_cbs, k, n0, power, gap) -> np.ndarray:
    """Probability that a transport block of ``num_cbs`` code blocks of ``k`` bits (``n0``
    symbols a codeword, repetition gain ``power``, code gap ``gap``) arrives at linear SNR
    ``snr``; every argument broadcasts (one model or arrays of them)."""
    return (1.0 - _block_error(snr * power / gap, n0, k)) ** num_cbs


def outcome_probability(
    success: Mapping[object, np.ndarray], arrived: Container[object], ones: np.ndarray
) -> np.ndarray:
    """Per fade node, the probability that of the streams ``success`` (stream -> arrival
    probability per node) exactly those in ``arrived`` arrive: given the fade their noises
    are independent, so a product (``ones``: the result's shape when there are none)."""
    prob = ones
    for key, p in success.items():
        prob = prob * (p if key in arrived else 1 - p)
    return prob


@dataclass(frozen=True)
class BlockModel:
    """The error model of one stream's transport block at one MCS (see the module
    docstring): C code blocks of K bits, ``n0`` symbols per codeword, ``power`` the
    repetition's gain, ``gap`` the code's gap (linear)."""

    num_cbs: int
    k: int
    n0: float
    power: float
    gap: float

    def success(self, snr: np.ndarray) -> np.ndarray:
        """Probability that the whole block arrives at linear SNR ``snr`` (any shape)."""
        return block_success(np.asarray(snr), self.num_cbs, self.k, self.n0, self.power, self.gap)


def _threshold(payload_bits: int, mcs: MCS) -> tuple[MCS, float]:
    """The MCS whose codeword is sent (QPSK 1/5 below the table) and its AWGN 10 %
    threshold (dB) for blocks of ``payload_bits``; a Polar MCS reads
    :func:`~channels.polar.polar_awgn_db`."""
    if mcs.code == "polar":
        from channels.polar import polar_awgn_db

        repeated = mcs.code_rate < MIN_CODE_RATE - 1e-9
        base = MCS("qpsk", MIN_CODE_RATE, code="polar") if repeated else mcs
        return base, polar_awgn_db(payload_bits, mcs)
    if mcs.code_rate < MIN_CODE_RATE - 1e-9:
        return MCS("qpsk", MIN_CODE_RATE), floor_awgn_db(payload_bits)
    if mcs.modulation == "qpsk" and mcs.code_rate <= MIN_CODE_RATE + 1e-9:
        return mcs, floor_awgn_db(payload_bits)
    return mcs, threshold_db(mcs, "awgn", payload_bits)


def block_model(payload_bits: int, mcs: MCS) -> BlockModel:
    """The :class:`BlockModel` of a stream of ``payload_bits`` at ``mcs``: that of its
    transport block size (payloads are zero-padded to it)."""
    return _tb_model(transport_block_size(int(payload_bits), mcs.code_rate), mcs)


@lru_cache(maxsize=8192)
def _tb_model(tb_size: int, mcs: MCS) -> BlockModel:
    lay = layout_for(tb_size, mcs)
    n0 = lay.ldpc_coded_bits / lay.bits_per_symbol
    power = lay.cb_coded_bits / lay.ldpc_coded_bits
    base, t10 = _threshold(tb_size, mcs)
    if not math.isfinite(t10):  # never reaches 10 %: an error floor; never arrives
        return BlockModel(lay.num_cbs, lay.cb_bits, n0, power, math.inf)
    # a repeated codeword's threshold is the unrepeated one's
    power_t = 1.0 if base is not mcs else power
    snr10 = 10 ** (t10 / 10) * power_t
    # the gap g (in dB, bisection) at which the TB error is 10 % at the threshold
    lo, hi = -20.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        ok = block_success(np.array(snr10), lay.num_cbs, lay.cb_bits, n0, 1.0, 10 ** (mid / 10))
        if float(ok) > 1 - TARGET_BLER:
            lo = mid
        else:
            hi = mid
    return BlockModel(lay.num_cbs, lay.cb_bits, n0, power, 10 ** (lo / 10))


# -- the fade ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fading:
    """The distribution of a frame's power gain: Nakagami-m (``m``; None: no fade) and an
    SNR offset in dB (the receiver's losses, fitted for OFDM channels).

    ``transmissions`` T > 1 models HARQ with Chase combining: a stream that fails is sent
    again through a new, independent fade of the same process and the LLRs add, so after T
    transmissions the block is decoded at the sum of T gains — Gamma(T m, 1/m) (AWGN: T).
    Every stream of a frame that is still missing is resent in one retransmission frame,
    so given the T gains the streams' arrivals stay independent: the same quadrature, over
    the sum. (Incremental redundancy decodes better than adding LLRs; for it the model is
    conservative.)
    """

    channel: str
    m: float | None
    offset_db: float = 0.0
    transmissions: int = 1

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Quadrature over the gain: nodes ``x`` [J] and weights [J] (probability masses
        of log-spaced cells, summing to 1)."""
        return _nodes(self.m, self.offset_db, self.transmissions)

    def combined(self, transmissions: int) -> Fading:
        """The gain after ``transmissions`` Chase-combined transmissions (see above)."""
        return replace(self, transmissions=int(transmissions))


@lru_cache(maxsize=64)
def _nodes(
    m: float | None, offset_db: float, transmissions: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    scale = 10 ** (-offset_db / 10)
    t = int(transmissions)
    if m is None:
        return np.array([scale * t]), np.array([1.0])
    # NODES cells log-spaced between the gain's QUANTILES (the deep fades and the far tail
    # outside go to the two end cells); their masses are exact
    shape = m * t  # the sum of t Gamma(m, 1/m) gains
    lo, hi = (float(gammaincinv(shape, q)) / m for q in QUANTILES)
    inner = np.geomspace(lo, hi, NODES - 1)
    edges = np.concatenate([[0.0], inner, [np.inf]])
    cdf = gammainc(shape, m * np.concatenate([edges[:-1], [1.0]]))
    cdf[-1] = 1.0
    weights = np.diff(cdf)
    x = np.concatenate([[inner[0] / 2], np.sqrt(inner[:-1] * inner[1:]), [inner[-1] * 1.5]])
    return x * scale, weights / weights.sum()


#: Nakagami m values the fit tries for OFDM and MIMO channels.
_M_GRID = tuple(float(v) for v in np.geomspace(0.5, 64, 43))


def _t10(model_of, fading: Fading) -> float:
    """Average-SNR (dB) at which a block's arrival probability is 90 % over ``fading``."""
    x, w = fading.nodes()
    lo, hi = -30.0, 60.0
    for _ in range(50):
        mid = (lo + hi) / 2
        ok = float(w @ model_of.success(10 ** (mid / 10) * x))
        if ok < 1 - TARGET_BLER:
            lo = mid
        else:
            hi = mid
    return hi


@lru_cache(maxsize=64)
def fading(channel: str) -> Fading:
    """The fade model of a calibrated channel: ``awgn`` none; ``rayleigh`` Exp(1) (one
    antenna, the fade held for the frame); any other channel of the calibration file,
    the Nakagami ``m`` and offset that best reproduce its measured 10 % thresholds (main
    table, least squares in dB)."""
    if channel == "awgn":
        return Fading("awgn", None)
    if channel == "rayleigh":
        return Fading("rayleigh", 1.0)
    table = load_thresholds()["thresholds"]
    if channel not in table:
        raise LinkError(
            f"no calibrated MCS thresholds for channel {channel!r}, so the planner cannot "
            "predict what it delivers; run python -m channels.calibrate for it or protect "
            "its streams with a fixed MCS."
        )
    pairs = [
        (m, float(table[channel][str(m.index)]))
        for m in NR_MCS_TABLE
        if table[channel].get(str(m.index)) is not None
    ]
    best = (math.inf, 1.0, 0.0)
    for m_value in _M_GRID:
        f = Fading(channel, m_value)
        pred = np.array([_t10(block_model(1024, mcs), f) for mcs, _ in pairs])
        meas = np.array([t for _, t in pairs])
        offset = float(np.mean(meas - pred))
        err = float(np.mean((meas - pred - offset) ** 2))
        if err < best[0]:
            best = (err, m_value, offset)
    return Fading(channel, best[1], best[2])


# -- what a frame delivers ------------------------------------------------------------------
def success_given_gain(payload_bits: int, mcs: MCS, snr_db: float, fade: Fading) -> np.ndarray:
    """Probability [J] that a stream arrives at each quadrature node of ``fade``."""
    x, _ = fade.nodes()
    return block_model(int(payload_bits), mcs).success(10 ** (snr_db / 10) * x)


def arrival_probability(
    payload_bits: int, mcs: MCS, snr_db: float, channel: str = "awgn", transmissions: int = 1
) -> float:
    """Probability that one stream of ``payload_bits`` at ``mcs`` arrives (CRC passes) at
    average Es/N0 ``snr_db`` over ``channel`` within ``transmissions`` (HARQ, Chase)."""
    fade = fading(channel).combined(transmissions)
    _, w = fade.nodes()
    return float(w @ success_given_gain(payload_bits, mcs, snr_db, fade))


def joint_arrivals(
    streams: Sequence[tuple[int, MCS]],
    snr_db: float,
    channel: str = "awgn",
    shared: bool = True,
    transmissions: int = 1,
) -> dict[frozenset[int], float]:
    """Probability of each outcome of sending ``streams`` ((payload bits, MCS) each) in one
    transmission (with HARQ, up to ``transmissions`` each, Chase-combined): subset of stream
    indices that arrive -> probability (summing to 1). ``shared``: one frame, one fade
    (correlated arrivals); else a fade per stream."""
    fade = fading(channel).combined(transmissions)
    _, w = fade.nodes()
    probs = [success_given_gain(b, m, snr_db, fade) for b, m in streams]
    if not shared:
        probs = [np.full_like(w, float(w @ p)) for p in probs]
    out: dict[frozenset[int], float] = {}
    n = len(streams)
    for mask in range(1 << n):
        arrived = frozenset(i for i in range(n) if mask >> i & 1)
        out[arrived] = float(
            w @ outcome_probability(dict(enumerate(probs)), arrived, np.ones_like(w))
        )
    return out


def outage_probability(bits: int, uses: int, snr_db: float, channel: str = "rayleigh") -> float:
    """The physical limit: probability that ``uses`` channel uses at average Es/N0
    ``snr_db`` carry fewer than ``bits`` bits, ``P(uses log2(1 + SNR x) < bits)``, over
    the channel's fade (AWGN: 0 or 1)."""
    snr = 10 ** (snr_db / 10)
    need = (2 ** (bits / uses) - 1) / snr
    f = fading(channel)
    if f.m is None:
        return float(need * 10 ** (f.offset_db / 10) > 1)
    return float(gammainc(f.m, f.m * need * 10 ** (f.offset_db / 10)))
