"""Short payloads on the 5G Polar code: CRC11, rate matching and list decoding.

5G sends its shortest payloads (uplink control information) with a Polar code, not LDPC
(TS 38.212 5.3.1 and 6.3.1): for MTGC's captions and SPWs (tens of bits) it needs 1.3 to
2.1 dB less than our LDPC transport block in the same channel uses
(``benchmarks/short_codes.py``). A Polar MCS (``MCS(..., code="polar")``, written
``polar:qpsk:1/5``) sends a stream as::

    payload [..., A] ─► zero pad to the TBS ─► Polar5GEncoder (CRC11, sub-block interleaving,
        rate matching to E0, channel interleaving) ─► repeated to E below rate 1/5
        ─► TB5GScrambler

and decodes with Sionna's ``Polar5GDecoder`` (successive-cancellation list decoding, list
:data:`LIST_SIZE`, the CRC11 picking the path and then checking it). Without segmentation
a Polar codeword carries at most :data:`MAX_PAYLOAD_BITS` bits in at most
:data:`MAX_CODED_BITS` code bits; below rate 1/5 the rate-1/5 codeword is repeated
cyclically and the copies' LLRs added, as for LDPC (:func:`channels.coding.fold_repetitions`),
so the planner's delivery model (:mod:`channels.delivery`) reads both codes alike. Polar has
no redundancy versions: a HARQ retransmission repeats the codeword and the receiver adds
the LLRs (Chase combining).

The list decoder's CRC misses a failed block more often than a plain CRC11 (about
``L * 2^-11``, 0.4 % of failed blocks at list 8): the calibration counts such blocks as
failed and reports them (``python -m channels.polar``).

``python -m channels.polar`` measures the 10 % BLER Es/N0 of QPSK Polar at the rates of
:data:`RATES` over AWGN for each size of :data:`SIZES` (through :class:`~channels.link.Link`,
the bracket search of :func:`channels.calibrate.find_threshold`) and writes
``channels/data/polar_thresholds.json``; :func:`polar_awgn_db` reads it.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import UTC, datetime
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch
from sionna.phy import Block
from sionna.phy.fec.polar import Polar5GDecoder, Polar5GEncoder
from sionna.phy.fec.scrambling import TB5GScrambler

from channels.coding import DecodedBlocks
from channels.errors import LinkError
from channels.mcs import MCS, MIN_CODE_RATE, log2_interpolate
from channels.segmentation import TBLayout, fold_repetitions, repeat_index

#: CRC the uplink Polar code appends to payloads of 20 bits and more (TS 38.212 6.3.1.2.1).
CRC_BITS = 11
#: Largest payload and codeword Sionna's Polar5GEncoder takes (no code-block segmentation).
MAX_PAYLOAD_BITS = 1013
MAX_CODED_BITS = 1088
#: Smallest payload with the CRC11 (the TBS grid starts at 24 bits).
MIN_PAYLOAD_BITS = 20
#: Paths of the list decoder.
LIST_SIZE = 8

POLAR_FILE = "polar_thresholds.json"
DEFAULT_OUT = Path(__file__).parent / "data" / POLAR_FILE
#: Payload sizes (bits) calibrated: captions and SPWs, up to the largest TBS whose rate-1/5
#: codeword fits :data:`MAX_CODED_BITS` (192 + 11 bits in 1020).
SIZES: tuple[int, ...] = (24, 40, 56, 88, 128, 192)
#: QPSK code rates calibrated (below 1/5 the rate-1/5 codeword is repeated).
RATES: tuple[str, ...] = ("1/5", "1/3", "1/2")


def polar_layout(payload_bits: int, mcs: MCS) -> TBLayout:
    """One Polar codeword for ``payload_bits`` at ``mcs``: K = A + 11 (CRC11),
    E = m ceil(K / (R m)) code bits; below rate 1/5 the rate-1/5 codeword's E0 bits are
    repeated cyclically to E."""
    a, rate, m = int(payload_bits), mcs.code_rate, mcs.bits_per_symbol
    if not MIN_PAYLOAD_BITS <= a <= MAX_PAYLOAD_BITS:
        raise LinkError(
            f"the 5G Polar code carries {MIN_PAYLOAD_BITS} to {MAX_PAYLOAD_BITS} payload bits "
            f"(no segmentation), not {a}; send this stream with LDPC (e.g. qpsk:1/5)."
        )
    k = a + CRC_BITS
    e = m * math.ceil(k / (rate * m))
    e0 = e if rate >= MIN_CODE_RATE - 1e-9 else m * math.ceil(k / (MIN_CODE_RATE * m))
    if e0 > MAX_CODED_BITS:
        raise LinkError(
            f"a Polar codeword is at most {MAX_CODED_BITS} code bits; {a} bits at {mcs} "
            "need more: raise the rate or send the stream with LDPC."
        )
    return TBLayout(a, 0, 1, k, e, m, e0 if e0 < e else 0, code="polar")


class PolarEncoder(Block):
    """Payload bits to scrambled 5G Polar code bits (the interface of
    :class:`~channels.coding.TransportBlockEncoder`).

    Input: ``bits`` [..., payload_bits] float {0, 1}; ``rv`` is accepted and ignored (a
    Polar retransmission repeats the codeword). Output: [..., coded_bits] float {0, 1}.
    """

    def __init__(
        self,
        payload_bits: int,
        mcs: MCS,
        *,
        scramble: bool = True,
        precision: str | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__(precision=precision, device=device)
        self.mcs = mcs
        self.layout = lay = polar_layout(payload_bits, mcs)
        self.polar = Polar5GEncoder(
            lay.payload_bits, lay.ldpc_coded_bits, precision=precision, device=device
        )
        self.scrambler = (
            TB5GScrambler(binary=True, precision=precision, device=device) if scramble else None
        )

    def call(self, bits: torch.Tensor, rv: int = 0) -> torch.Tensor:
        lay = self.layout
        if bits.shape[-1] != lay.payload_bits:
            raise ValueError(f"expected {lay.payload_bits} bits on the last axis")
        c = self.polar(bits.to(self.dtype))
        if lay.repeated:
            c = c[..., repeat_index(lay, c.device)]
        if self.scrambler is not None:
            c = self.scrambler(c)
        return c


class PolarDecoder(Block):
    """LLRs (logits, [..., coded_bits]; with ``rv``, [..., R, coded_bits] of R
    transmissions, added) to payload bits: descramble, add the repetitions' LLRs, SCL
    decode. Output: :class:`~channels.coding.DecodedBlocks` with one code block and one
    "iteration" (a single list-decoding pass)."""

    def __init__(
        self,
        encoder: PolarEncoder,
        *,
        list_size: int = LIST_SIZE,
        precision: str | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__(precision=precision, device=device)
        self.encoder = encoder
        self.layout = encoder.layout
        self.polar = Polar5GDecoder(
            encoder.polar,
            dec_type="SCL",
            list_size=list_size,
            return_crc_status=True,
            precision=precision,
            device=device,
        )

    def call(self, llr: torch.Tensor, rv: list[int] | None = None) -> DecodedBlocks:
        lay = self.layout
        if llr.shape[-1] != lay.coded_bits:
            raise ValueError(f"expected {lay.coded_bits} LLRs on the last axis")
        if rv is not None:
            if llr.ndim < 2 or llr.shape[-2] != len(rv):
                raise ValueError(f"expected {len(rv)} transmissions on the second-last axis")
            llr = llr.sum(dim=-2)  # every transmission is the same codeword: Chase
        batch = llr.shape[:-1]
        llr = llr.to(self.dtype).reshape(-1, lay.coded_bits)
        if self.encoder.scrambler is not None:
            llr = self.encoder.scrambler(llr, binary=False)
        if lay.repeated:
            llr = fold_repetitions(llr, lay)
        if llr.shape[0] == 0:
            bits = llr.new_zeros(0, lay.payload_bits)
            ok = torch.zeros(0, dtype=torch.bool, device=llr.device)
        else:
            bits, ok = self.polar(llr)
        tb_ok = ok.reshape(batch).bool()
        return DecodedBlocks(
            bits=bits.reshape(*batch, lay.payload_bits),
            tb_ok=tb_ok,
            cb_ok=tb_ok.reshape(*batch, 1),
            iterations=torch.ones(*batch, 1, dtype=torch.int64, device=llr.device),
        )


# -- the calibration ------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _table() -> dict[str, list[tuple[int, float]]]:
    path = resources.files("channels").joinpath("data", POLAR_FILE)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {
        rate: sorted((int(b), math.inf if t is None else float(t)) for b, t in by_bits.items())
        for rate, by_bits in data["thresholds"].items()
    }


def polar_awgn_db(bits: int, mcs: MCS) -> float:
    """Es/N0 (dB) of 10 % BLER over AWGN of a Polar codeword of ``bits`` payload bits at
    ``mcs`` (at or above rate 1/5; a repeated codeword's is its rate-1/5 codeword's):
    measured by :func:`main`, interpolated linearly in log2(bits) and, between the
    calibrated rates, in spectral efficiency."""
    table = _table()
    if mcs.modulation != "qpsk" or not table:
        raise LinkError(
            f"no measured Polar threshold for {mcs}; the calibration covers QPSK "
            f"({', '.join(RATES)}) — run `python -m channels.polar` or use LDPC."
        )
    rate = max(mcs.code_rate, MIN_CODE_RATE)
    points = sorted((float(Fraction(r)), log2_interpolate(p, bits)) for r, p in table.items())
    if rate <= points[0][0]:
        return points[0][1]
    for (r0, t0), (r1, t1) in zip(points, points[1:], strict=False):
        if rate <= r1:
            return t0 + (t1 - t0) * (rate - r0) / (r1 - r0)
    raise LinkError(
        f"no measured Polar threshold above rate {points[-1][0]:g}; {mcs} is out of the "
        "calibrated range — use LDPC for it."
    )


def main(argv: list[str] | None = None) -> int:
    from channels.calibrate import find_threshold, write_atomic
    from channels.link import Link
    from channels.mcs import shannon_snr_db

    parser = argparse.ArgumentParser(description="Calibrate QPSK Polar over AWGN by size.")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rates", nargs="+", default=list(RATES))
    parser.add_argument("--blocks", type=int, default=2000, help="blocks per SNR point")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    link = Link("awgn")
    data = json.loads(args.out.read_text()) if args.out.exists() else {"thresholds": {}}
    t0 = time.time()
    for rate in args.rates:
        mcs = MCS("qpsk", float(Fraction(rate)), code="polar")
        for bits in args.sizes:
            start = round(shannon_snr_db(2 * mcs.code_rate) + 1.0, 2)
            t10, points = find_threshold(link, mcs, start, 0.5, bits, args.blocks, args.seed)
            data["thresholds"].setdefault(rate, {})[str(bits)] = (
                round(t10, 3) if math.isfinite(t10) else None
            )
            data["thresholds"][rate] = dict(
                sorted(data["thresholds"][rate].items(), key=lambda kv: int(kv[0]))
            )
            data["meta"] = {
                "code": f"5G Polar, uplink CRC11, SCL list {LIST_SIZE}, QPSK",
                "channel": "awgn",
                "target_bler": 0.1,
                "blocks_per_point": args.blocks,
                "seed": args.seed,
                "command": "python -m channels.polar",
                "date": datetime.now(UTC).date().isoformat(),
            }
            write_atomic(args.out, data)  # after every point: a stop loses none
            print(
                f"rate {rate} {bits:5d} bits: {t10:6.2f} dB ({points} points, "
                f"{time.time() - t0:.0f} s)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
