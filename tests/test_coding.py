"""Transport-block segmentation, encoding and decoding."""

from __future__ import annotations

import pytest
import torch

from channels.coding import (
    MAX_CB_BITS_BG1,
    MAX_CB_BITS_BG2,
    TransportBlockDecoder,
    TransportBlockEncoder,
    fold_repetitions,
    tb_crc,
    tb_layout,
)
from channels.errors import LinkError
from channels.link import Link
from channels.mcs import MCS, NR_MCS_TABLE


@pytest.mark.parametrize("bits", [1, 40, 800, 3816, 3900, 9000, 30000])
@pytest.mark.parametrize("mcs", [MCS("qpsk", 0.3), MCS("qam16", 0.5), MCS("qam256", 0.9)])
def test_layout_holds_the_payload_in_equal_code_blocks(bits, mcs):
    lay = tb_layout(bits, mcs)
    crc = tb_crc(bits)[1] + 24 * (lay.num_cbs > 1) * lay.num_cbs
    assert lay.num_cbs * lay.cb_bits == bits + lay.pad_bits + crc
    assert lay.pad_bits < lay.num_cbs
    assert lay.cb_bits <= MAX_CB_BITS_BG1
    if mcs.code_rate < 0.35:
        assert lay.cb_bits <= MAX_CB_BITS_BG2
    assert lay.cb_coded_bits % mcs.bits_per_symbol == 0
    assert 0.2 <= lay.cb_bits / lay.cb_coded_bits <= mcs.code_rate + 1e-9


def test_the_tb_crc_is_crc16_up_to_3824_bits_as_in_ts_38_212():
    assert tb_crc(3824) == ("CRC16", 16) and tb_crc(3825) == ("CRC24A", 24)
    assert tb_layout(40, MCS("qpsk", 0.3)).cb_bits == 56
    enc = TransportBlockEncoder(40, MCS("qpsk", 0.3))
    assert enc.tb_crc.crc_length == 16


def test_large_payloads_are_segmented_into_several_code_blocks():
    assert tb_layout(30000, MCS("qam64", 0.75)).num_cbs == 4
    assert tb_layout(1000, MCS("qpsk", 0.5)).num_cbs == 1


@pytest.mark.parametrize("bits", [8, 1000, 9000])
@pytest.mark.parametrize("mcs", [MCS("qpsk", 0.5), MCS("qam64", 0.75)])
def test_noiseless_round_trip_passes_every_crc(bits, mcs):
    enc = TransportBlockEncoder(bits, mcs)
    dec = TransportBlockDecoder(enc)
    u = torch.randint(0, 2, (3, bits), generator=torch.Generator().manual_seed(bits)).float()
    c = enc(u)
    assert c.shape == (3, enc.layout.coded_bits)
    llr = (2 * c - 1) * 20.0  # logits: positive means bit 1
    out = dec(llr)
    assert torch.equal(out.bits, u)
    assert out.tb_ok.all() and out.cb_ok.all()
    assert (out.iterations <= 2).all()  # early stop (the 2Z punctured bits need two)


def test_scrambling_whitens_an_all_zero_payload():
    enc = TransportBlockEncoder(2000, MCS("qam16", 0.5))
    c = enc(torch.zeros(1, 2000))
    assert 0.4 < c.mean().item() < 0.6


def test_early_stop_keeps_the_result_and_saves_iterations():
    gen = torch.Generator().manual_seed(7)
    bits = torch.randint(0, 2, (30, 1024), generator=gen).float()
    mcs = MCS("qpsk", 0.5)
    fast = Link("awgn").run_blocks(bits, mcs, 3.0, torch.Generator().manual_seed(8))
    full = Link("awgn", early_stop=False).run_blocks(
        bits, mcs, 3.0, torch.Generator().manual_seed(8)
    )
    assert torch.equal(fast.tb_ok, full.tb_ok)
    assert torch.equal(fast.bits[fast.tb_ok], full.bits[full.tb_ok])
    assert (full.iterations == 20).all()
    assert fast.iterations.float().mean() < 10


def test_transport_block_sizes_follow_the_nr_grid_and_hold_the_payload():
    from channels.coding import NR_TBS_TABLE, transport_block_size

    assert transport_block_size(1, 0.5) == 24
    assert transport_block_size(80, 0.3) == 80
    assert transport_block_size(81, 0.3) == 88
    assert transport_block_size(3824, 0.5) == 3824
    for bits in range(1, 40000, 37):
        tbs = transport_block_size(bits, 0.5)
        assert tbs >= bits
        assert tbs - bits <= max(0.065 * bits, 24)  # one step of the table or the grid
        assert tbs in NR_TBS_TABLE or tbs > 3824


def test_nearby_payload_sizes_share_one_codec():
    link = Link("awgn")
    decoders = {id(link.fec(8 * nbytes, MCS("qpsk", 0.5))[1]) for nbytes in range(100, 121)}
    assert len(decoders) <= 5
    assert Link("awgn").fec(800, MCS("qpsk", 0.5)) is link.fec(808, MCS("qpsk", 0.5))


def test_empty_payload_is_refused():
    with pytest.raises(LinkError, match="empty"):
        tb_layout(0, NR_MCS_TABLE[0])


@pytest.mark.parametrize("bits", [40, 600, 5000])
def test_rates_below_one_fifth_repeat_the_rate_one_fifth_codeword(bits):
    low, fifth = MCS("qpsk", 1 / 10), MCS("qpsk", 1 / 5)
    assert low.repetition == 2.0 and fifth.repetition == 1.0 and low.label == "QPSK 1/10"
    lay, lay5 = tb_layout(bits, low), tb_layout(bits, fifth)
    assert lay.repeated and not lay5.repeated
    assert lay.ldpc_coded_bits == lay5.cb_coded_bits and lay.cb_coded_bits == 2 * lay5.cb_coded_bits
    enc = TransportBlockEncoder(bits, low, scramble=False)
    enc5 = TransportBlockEncoder(bits, fifth, scramble=False)
    u = torch.randint(0, 2, (2, bits), generator=torch.Generator().manual_seed(7)).float()
    c, c5 = (e(u).reshape(2, lay.num_cbs, -1) for e in (enc, enc5))
    assert torch.equal(c, torch.cat([c5, c5], dim=-1))  # each code block sent twice
    # the decoder adds the copies: LLRs x and y of the two halves decode as x + y
    llr = torch.randn(2, lay.coded_bits, generator=torch.Generator().manual_seed(8))
    folded = fold_repetitions(llr, lay).reshape(2, lay.num_cbs, -1)
    halves = llr.reshape(2, lay.num_cbs, 2, -1)
    assert torch.allclose(folded, halves[:, :, 0] + halves[:, :, 1])
    enc = TransportBlockEncoder(bits, low)  # scrambled, noiseless: every CRC passes
    out = TransportBlockDecoder(enc)((2 * enc(u) - 1) * 20.0)
    assert torch.equal(out.bits, u) and out.tb_ok.all()


def test_repetition_buys_about_three_db_per_doubling_over_awgn():
    # 40-bit blocks (CRC16), 20 each, fixed seeds: at -5.5 dB QPSK 1/5 (threshold about
    # -3 dB) fails and its twice-repeated codeword (1/10) holds; at -8 dB 1/20 still holds
    link = Link("awgn")
    payload = {"caption": bytes(5)}

    def delivered(rate: str, snr: float) -> int:
        sent = [link.transmit(payload, snr, protection=rate, seed=s) for s in range(20)]
        return sum(t.streams["caption"].stats.crc_ok for t in sent)

    assert delivered("qpsk:1/5", -5.5) <= 2
    assert delivered("qpsk:1/10", -5.5) >= 16
    assert delivered("qpsk:1/10", -8.0) <= 4 and delivered("qpsk:1/20", -8.0) >= 16
    # HARQ over a repeated code: the retransmission's copies add to the first's
    harq = Link("awgn", harq=2).transmit(payload, -9.0, protection="qpsk:1/20", seed=3)
    assert harq.streams["caption"].stats.crc_ok
