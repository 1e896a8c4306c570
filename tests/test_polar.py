"""The 5G Polar code for short payloads: layout, round trip, the link and its delivery model."""

from __future__ import annotations

import math

import pytest
import torch

from channels.delivery import block_model
from channels.errors import LinkError
from channels.link import Link
from channels.mcs import MCS, parse_mcs
from channels.polar import (
    CRC_BITS,
    MAX_CODED_BITS,
    PolarDecoder,
    PolarEncoder,
    polar_awgn_db,
    polar_layout,
)
from channels.segmentation import stream_symbols

POLAR_15 = MCS("qpsk", 0.2, code="polar")


def test_polar_mcs_text_and_label():
    assert parse_mcs("polar:qpsk:1/5") == POLAR_15
    assert str(POLAR_15) == "Polar QPSK 1/5" and MCS("qpsk", 0.2) != POLAR_15
    with pytest.raises(LinkError, match="polar:modulation:rate"):
        parse_mcs("polar:mcs4")
    with pytest.raises(LinkError, match="unknown channel code"):
        MCS("qpsk", 0.2, code="turbo")


def test_polar_layout_counts_the_crc11_and_repeats_below_rate_one_fifth():
    lay = polar_layout(40, POLAR_15)
    assert (lay.cb_bits, lay.cb_coded_bits, lay.num_cbs, lay.code) == (
        40 + CRC_BITS,
        256,
        1,
        "polar",
    )
    assert not lay.repeated
    low = polar_layout(40, MCS("qpsk", 0.05, code="polar"))  # rate 1/20: the 1/5 codeword x4
    assert low.ldpc_coded_bits == 256 and low.cb_coded_bits == 1020 and low.repeated
    # the caption-sized stream takes fewer symbols than on LDPC (CRC11 against CRC16)
    assert stream_symbols(38, POLAR_15) < stream_symbols(38, MCS("qpsk", 0.2))
    with pytest.raises(LinkError, match="20 to 1013"):
        polar_layout(2000, POLAR_15)
    with pytest.raises(LinkError, match=f"at most {MAX_CODED_BITS}"):
        polar_layout(400, POLAR_15)


@pytest.mark.parametrize("rate", [0.5, 0.2, 0.08])
def test_polar_round_trip_without_noise(rate):
    enc = PolarEncoder(56, MCS("qpsk", rate, code="polar"))
    dec = PolarDecoder(enc)
    u = torch.randint(0, 2, (4, 56), generator=torch.Generator().manual_seed(1)).float()
    c = enc(u)
    assert c.shape == (4, enc.layout.coded_bits)
    out = dec((2 * c - 1) * 20.0)
    assert torch.equal(out.bits, u) and out.tb_ok.all() and out.cb_ok.shape == (4, 1)
    flipped = dec((1 - 2 * c) * 20.0)  # every bit wrong: the CRC fails
    assert not flipped.tb_ok.any()


def test_polar_through_the_link_beats_ldpc_on_a_caption_over_awgn():
    # 40-bit caption at -4.5 dB, 20 frames each: Polar 1/5 (128 symbols) mostly arrives,
    # LDPC 1/5 (140 symbols, threshold about -2.7 dB) mostly does not
    link = Link("awgn")
    payload = {"caption": bytes(range(5))}

    def delivered(protection: str) -> int:
        sent = [link.transmit(payload, -4.5, protection=protection, seed=s) for s in range(20)]
        assert all(t.streams["caption"].stats.mcs.startswith(("Polar", "QPSK")) for t in sent)
        return sum(t.streams["caption"].stats.crc_ok for t in sent)

    assert delivered("polar:qpsk:1/5") >= 12 and delivered("qpsk:1/5") <= 4
    clean = link.transmit(payload, 10.0, protection="polar:qpsk:1/3", seed=0)
    assert clean.received() == payload


def test_polar_harq_adds_the_retransmissions():
    # at -9 dB one rate-1/5 Polar codeword never arrives; four transmissions (Chase, +6 dB)
    # carry it in most frames
    payload = {"caption": bytes(range(5))}
    one = [
        Link("awgn").transmit(payload, -9.0, protection="polar:qpsk:1/5", seed=s) for s in range(10)
    ]
    four = [
        Link("awgn", harq=4).transmit(payload, -9.0, protection="polar:qpsk:1/5", seed=s)
        for s in range(10)
    ]
    assert sum(t.streams["caption"].stats.crc_ok for t in one) == 0
    assert sum(t.streams["caption"].stats.crc_ok for t in four) >= 8


def test_polar_thresholds_are_shipped_and_read_by_the_delivery_model():
    t = polar_awgn_db(40, POLAR_15)
    assert math.isfinite(t)
    # rate 1/10 is the 1/5 codeword repeated: its model is the 1/5 one's with a power gain
    rep = block_model(40, MCS("qpsk", 0.1, code="polar"))
    base = block_model(40, POLAR_15)
    assert rep.power == pytest.approx(2.0, rel=0.01) and rep.gap == pytest.approx(base.gap)
    ten = 10 ** (t / 10)
    assert base.success(ten) == pytest.approx(0.9, abs=1e-6)
    with pytest.raises(LinkError, match="QPSK"):
        polar_awgn_db(40, MCS("qam16", 0.5, code="polar"))


@pytest.mark.slow
def test_polar_delivery_model_matches_the_link_over_awgn():
    # 400 blocks of 40 bits at rate 1/5, 1/10 and 1/3 around their thresholds: the
    # predicted arrival probability within 3 sigma (binomial) of the measured one
    link = Link("awgn")
    gen = torch.Generator().manual_seed(5)
    for rate, offset in ((0.2, -0.5), (0.1, 0.5), (1 / 3, 0.0)):
        mcs = MCS("qpsk", rate, code="polar")
        base = MCS("qpsk", max(rate, 0.2), code="polar")
        snr_db = polar_awgn_db(40, base) - 10 * math.log10(max(1.0, 0.2 / rate)) + offset
        bits = torch.randint(0, 2, (400, 40), generator=gen).float()
        measured = link.run_blocks(bits, mcs, snr_db, gen).tb_ok.float().mean().item()
        predicted = float(block_model(40, mcs).success(10 ** (snr_db / 10)))
        sigma = math.sqrt(predicted * (1 - predicted) / 400)
        assert abs(measured - predicted) <= 3 * sigma + 0.01, (rate, measured, predicted)
