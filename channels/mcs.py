"""Modulation and coding schemes: the 5G NR MCS table and adaptive selection.

The table follows 3GPP TS 38.214 Table 5.1.3.1-2 (the 256-QAM PDSCH table): each entry is
a Gray-mapped QAM order and a target code rate ``R = R_x1024 / 1024``. Its first two
entries (rates 120/1024 and 193/1024) are below 1/5, the lowest rate Sionna's
``LDPC5GEncoder`` accepts, so they are left out; indices keep the standard's numbering.

Each entry carries a measured Es/N0 threshold (dB) for 10 % block error rate on each
channel, written by ``python -m channels.calibrate`` into ``channels/data/mcs_thresholds.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources

from channels.errors import LinkError

#: Channel codes a stream can use: 5G LDPC (every size) and 5G Polar (short payloads,
#: :mod:`channels.polar`).
CODES: tuple[str, ...] = ("ldpc", "polar")

#: Modulation name -> bits per symbol (Gray-mapped square QAM, unit average energy).
MODULATIONS: dict[str, int] = {"qpsk": 2, "qam16": 4, "qam64": 6, "qam256": 8}

#: Lowest code rate Sionna's 5G LDPC encoder accepts, and the highest in the NR tables.
MIN_CODE_RATE = 1 / 5
MAX_CODE_RATE = 948 / 1024
#: Lowest rate a stream can be sent at. Below :data:`MIN_CODE_RATE` the rate-1/5 codeword
#: is repeated (as TS 38.212 5.4.2.1 repeats the circular buffer when E exceeds it) and
#: the receiver adds the copies' LLRs: each doubling buys about 3 dB.
MIN_REPEAT_RATE = 1 / 40

# (index, bits per symbol, R x 1024) from TS 38.214 Table 5.1.3.1-2, indices 2..27.
_NR_TABLE_2: tuple[tuple[int, int, float], ...] = (
    (2, 2, 308), (3, 2, 449), (4, 2, 602),
    (5, 4, 378), (6, 4, 434), (7, 4, 490), (8, 4, 553), (9, 4, 616), (10, 4, 658),
    (11, 6, 466), (12, 6, 517), (13, 6, 567), (14, 6, 616), (15, 6, 666), (16, 6, 719),
    (17, 6, 772), (18, 6, 822), (19, 6, 873),
    (20, 8, 682.5), (21, 8, 711), (22, 8, 754), (23, 8, 797), (24, 8, 841), (25, 8, 885),
    (26, 8, 916.5), (27, 8, 948),
)  # fmt: skip

_NAME_BY_BITS = {m: name for name, m in MODULATIONS.items()}


def modulation_bits(modulation: str) -> int:
    """Bits per symbol of a modulation name (``qpsk``, ``qam16``, ``qam64``, ``qam256``)."""
    key = modulation.lower().replace("-", "")
    if key not in MODULATIONS:
        raise LinkError(
            f"unknown modulation {modulation!r}; choose one of {', '.join(MODULATIONS)}."
        )
    return MODULATIONS[key]


@dataclass(frozen=True)
class MCS:
    """A modulation and coding scheme.

    Attributes:
        modulation: ``qpsk``, ``qam16``, ``qam64`` or ``qam256``.
        code_rate: target code rate in [1/5, 948/1024]; down to 1/40 by repeating the
            rate-1/5 codeword.
        index: the 5G NR MCS index when the entry comes from the table, else ``None``.
        code: ``ldpc`` (the 5G LDPC transport block, default) or ``polar`` (the 5G Polar
            code with CRC11 and list decoding, for payloads of at most 1013 bits).
    """

    modulation: str
    code_rate: float
    index: int | None = None
    code: str = "ldpc"

    def __post_init__(self) -> None:
        object.__setattr__(self, "modulation", self.modulation.lower().replace("-", ""))
        modulation_bits(self.modulation)
        if self.code not in CODES:
            raise LinkError(
                f"unknown channel code {self.code!r}; choose one of {', '.join(CODES)}."
            )
        if self.code == "polar" and self.index is not None:
            raise LinkError("a table MCS index names an LDPC entry; a Polar MCS has none.")
        rate = self.code_rate
        if not (isinstance(rate, (int, float)) and math.isfinite(rate)):
            raise LinkError(f"code rate {rate!r} is not a number; give a value in [0.025, 0.925].")
        if not (MIN_REPEAT_RATE - 1e-9 <= rate <= MAX_CODE_RATE + 1e-9):
            raise LinkError(
                f"code rate {rate:g} is out of range; the 5G LDPC code supports "
                f"{MIN_CODE_RATE:g} to {MAX_CODE_RATE:.3f}, and repetition of its rate-1/5 "
                f"codeword down to {MIN_REPEAT_RATE:g}."
            )

    @property
    def bits_per_symbol(self) -> int:
        """Coded bits carried by one complex symbol."""
        return MODULATIONS[self.modulation]

    @property
    def repetition(self) -> float:
        """How many times the rate-1/5 codeword is sent (1 at rates of 1/5 and above)."""
        return max(1.0, MIN_CODE_RATE / self.code_rate)

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per channel use, ``bits_per_symbol * code_rate``."""
        return self.bits_per_symbol * self.code_rate

    @property
    def label(self) -> str:
        """A short human label, e.g. ``QPSK 1/2`` or ``16-QAM 0.602`` or ``MCS 4``."""
        mod = "QPSK" if self.modulation == "qpsk" else f"{self.modulation[3:]}-QAM"
        frac = Fraction(self.code_rate).limit_denominator(12 if self.code_rate >= 0.2 else 40)
        rate = f"{frac.numerator}/{frac.denominator}"
        if abs(float(frac) - self.code_rate) > 1e-6:
            rate = f"{self.code_rate:.3f}"
        return f"{'Polar ' if self.code == 'polar' else ''}{mod} {rate}"

    def __str__(self) -> str:
        prefix = f"MCS{self.index} " if self.index is not None else ""
        return prefix + self.label


#: The 5G NR MCS table (TS 38.214 Table 5.1.3.1-2, entries with R >= 1/5).
NR_MCS_TABLE: tuple[MCS, ...] = tuple(
    MCS(_NAME_BY_BITS[m], r / 1024, index=i) for i, m, r in _NR_TABLE_2
)

#: Channels with a calibrated threshold column in the shipped data file.
CALIBRATED_CHANNELS = ("awgn", "rayleigh", "tdl-a", "tdl-b", "tdl-c")

THRESHOLD_FILE = "mcs_thresholds.json"
#: Payload bits per block of the main threshold table; smaller streams use a size class.
MAIN_BITS = 1024


@lru_cache(maxsize=1)
def load_thresholds() -> dict:
    """The shipped calibration: ``{"meta": {...}, "thresholds": {channel: {index: dB}}}``."""
    text = resources.files("channels").joinpath("data", THRESHOLD_FILE).read_text()
    return json.loads(text)


def _table_threshold(mcs: MCS, channel: str, table: Mapping[str, Mapping[str, float]]) -> float:
    """``mcs``'s threshold in one calibrated table ``{channel: {index: dB}}``."""
    if channel not in table:
        raise LinkError(
            f"no calibrated MCS thresholds for channel {channel!r} (calibrated: "
            f"{', '.join(sorted(table))}); give its streams a fixed MCS such as qpsk:1/3, or "
            "set the channel's thresholds_from to a calibrated channel it resembles."
        )
    try:
        value = table[channel][str(mcs.index)]
    except KeyError as err:
        raise LinkError(f"{mcs} has no calibrated threshold on {channel}.") from err
    # null: the calibration never reached 10 % BLER (an error floor): never selected
    return math.inf if value is None else float(value)


def threshold_db(mcs: MCS, channel: str, bits: int | None = None) -> float:
    """Measured Es/N0 (dB) at which ``mcs`` reaches 10 % BLER on ``channel`` for a block of
    ``bits`` payload bits (None: the main table's :data:`MAIN_BITS`).

    Short blocks code worse, so a size class calibrated on shorter blocks (``by_bits`` in
    the data file) gives the threshold below :data:`MAIN_BITS`, interpolated linearly in
    log2(bits) between the classes and the main table, and held at the smallest class
    below it. An MCS outside the table gets the threshold interpolated linearly in
    spectral efficiency between the two nearest table entries of its modulation.
    """
    if mcs.index is None:
        same = sorted(
            (m for m in NR_MCS_TABLE if m.modulation == mcs.modulation),
            key=lambda m: abs(m.spectral_efficiency - mcs.spectral_efficiency),
        )[:2]
        (a, ta), (b, tb) = ((m, threshold_db(m, channel, bits)) for m in same)
        if math.isinf(ta) or math.isinf(tb):
            return math.inf
        slope = (tb - ta) / (b.spectral_efficiency - a.spectral_efficiency)
        return ta + slope * (mcs.spectral_efficiency - a.spectral_efficiency)
    data = load_thresholds()
    main = _table_threshold(mcs, channel, data["thresholds"])
    if bits is None or bits >= MAIN_BITS:
        return main
    classes = sorted(
        int(b)
        for b, tables in data.get("by_bits", {}).items()
        if int(b) < MAIN_BITS and channel in tables
    )
    points = [(b, _table_threshold(mcs, channel, data["by_bits"][str(b)])) for b in classes]
    points.append((MAIN_BITS, main))
    return log2_interpolate(points, bits)


def log2_interpolate(points: list[tuple[int, float]], bits: int) -> float:
    """A threshold at ``bits`` from (bits, dB) ``points`` in ascending bits: linear in
    log2(bits) between the two around it (infinite if either is), held beyond the ends."""
    if bits <= points[0][0]:
        return points[0][1]
    if bits >= points[-1][0]:
        return points[-1][1]
    for (b0, t0), (b1, t1) in zip(points, points[1:], strict=False):
        if b0 <= bits <= b1:
            if math.isinf(t0) or math.isinf(t1):
                return math.inf
            w = (math.log2(bits) - math.log2(b0)) / (math.log2(b1) - math.log2(b0))
            return t0 + w * (t1 - t0)
    return points[-1][1]


def select_mcs(snr_db: float, channel: str, margin_db: float = 0.0, bits: int | None = None) -> MCS:
    """The highest-rate table MCS whose 10 % BLER threshold (for blocks of ``bits`` payload
    bits, :func:`threshold_db`) is at most ``snr_db - margin_db``.

    Below every threshold the most robust entry is returned (it will mostly fail; the
    caller sees that in the CRC results rather than getting nothing sent).
    """
    if not math.isfinite(snr_db):
        raise LinkError(f"SNR {snr_db} dB is not finite; give a finite Es/N0 in dB.")
    usable = [m for m in NR_MCS_TABLE if threshold_db(m, channel, bits) <= snr_db - margin_db]
    if not usable:
        return NR_MCS_TABLE[0]
    return max(usable, key=lambda m: m.spectral_efficiency)


#: Protection keywords chosen per transmission from the SNR (everything else is a fixed MCS).
ADAPTIVE = "adaptive"
ROBUST = "robust"
#: Extra margin of ``robust`` over ``adaptive``: over Rayleigh block fading, where the block
#: error rate falls as 1/SNR, 3 dB halves it; over AWGN it is about two decades.
ROBUST_MARGIN_DB = 3.0


def protection_keyword(text: object) -> str | None:
    """``"adaptive"`` or ``"robust"`` when ``text`` names one (any case), else None."""
    if isinstance(text, str) and text.strip().lower() in (ADAPTIVE, ROBUST):
        return text.strip().lower()
    return None


#: Repetitions of the rate-1/5 codeword ``robust`` may choose below the table.
ROBUST_REPEATS: tuple[int, ...] = (1, 2, 3, 4, 6, 8)


def floor_threshold_db(channel: str, bits: int | None = None) -> float:
    """Estimated 10 % BLER Es/N0 (dB) of QPSK 1/5 (not calibrated: the table starts at
    QPSK 0.30): the lowest table entry's threshold less the gap between their Shannon
    limits (2.1 dB; over block fading the outage threshold moves by the same dB)."""
    lowest = NR_MCS_TABLE[0]
    gap = shannon_snr_db(lowest.spectral_efficiency) - shannon_snr_db(2 * MIN_CODE_RATE)
    return threshold_db(lowest, channel, bits) - gap


def robust_ladder(
    snr_db: float, channel: str, margin_db: float = 0.0, bits: int | None = None
) -> list[MCS]:
    """Protections for a stream that must arrive (MTGC's caption and SPWs), most robust
    first; a planner sends the first that fits the budget.

    Where a table entry holds with :data:`ROBUST_MARGIN_DB` more margin than ``adaptive``
    keeps, that entry alone (:func:`select_mcs` at that margin). Below the whole table:
    QPSK 1/5 repeated r times (:data:`ROBUST_REPEATS`, the fewest whose estimated
    threshold, :func:`floor_threshold_db` less 10 log10 r, holds with that margin; the most
    when none does), then each smaller repetition down to plain QPSK 1/5, so that a short
    budget still carries the stream at the lowest rate that fits.
    """
    if not math.isfinite(snr_db):
        raise LinkError(f"SNR {snr_db} dB is not finite; give a finite Es/N0 in dB.")
    margin = margin_db + ROBUST_MARGIN_DB
    chosen = select_mcs(snr_db, channel, margin, bits)
    if threshold_db(chosen, channel, bits) <= snr_db - margin:  # a table entry holds
        return [chosen]
    floor = floor_threshold_db(channel, bits)
    fits = [r for r in ROBUST_REPEATS if floor - 10 * math.log10(r) <= snr_db - margin]
    top = fits[0] if fits else ROBUST_REPEATS[-1]
    return [MCS("qpsk", MIN_CODE_RATE / r) for r in reversed(ROBUST_REPEATS) if r <= top]


def select_robust(
    snr_db: float, channel: str, margin_db: float = 0.0, bits: int | None = None
) -> MCS:
    """The first of :func:`robust_ladder`: the protection ``robust`` sends when the budget
    has room."""
    return robust_ladder(snr_db, channel, margin_db, bits)[0]


def shannon_snr_db(spectral_efficiency: float) -> float:
    """Es/N0 (dB) at which AWGN capacity ``log2(1 + SNR)`` equals ``spectral_efficiency``."""
    return 10 * math.log10(2**spectral_efficiency - 1)


def parse_mcs(text: str) -> MCS:
    """Parse fixed MCS text (not ``adaptive`` / ``robust``): ``"4"``/``"mcs4"`` (table
    index), ``"qam16:0.5"``, or ``"polar:qpsk:1/5"`` (the 5G Polar code)."""
    t = text.strip().lower()
    if t.startswith("polar:"):
        rest = parse_mcs(t[len("polar:") :])
        if rest.index is not None or rest.code != "ldpc":
            raise LinkError(f"write a Polar MCS as 'polar:modulation:rate', not {text!r}.")
        return MCS(rest.modulation, rest.code_rate, code="polar")
    if t.startswith("mcs"):
        t = t[3:]
    if t.isdigit():
        for m in NR_MCS_TABLE:
            if m.index == int(t):
                return m
        valid = f"{NR_MCS_TABLE[0].index}..{NR_MCS_TABLE[-1].index}"
        raise LinkError(f"MCS index {t} is not in the table; use {valid}.")
    if ":" in t:
        mod, rate = t.split(":", 1)
        try:
            value = float(Fraction(rate))
        except (ValueError, ZeroDivisionError) as err:
            raise LinkError(f"code rate {rate!r} in {text!r} is not a number.") from err
        return MCS(mod, value)
    raise LinkError(
        f"cannot read MCS {text!r}; write a table index (e.g. 'mcs4'), "
        "'modulation:rate' (e.g. 'qam16:1/2') or 'polar:modulation:rate' (e.g. 'polar:qpsk:1/5')."
    )
