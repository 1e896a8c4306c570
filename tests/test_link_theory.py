"""The link against closed forms and the Shannon limit, with sample-size tolerances."""

from __future__ import annotations

import pytest
import torch

from channels.curves import coded_curve, uncoded_curve
from channels.link import Link
from channels.mcs import MCS, shannon_snr_db
from channels.theory import ber_qam16_awgn, ber_qpsk_awgn, ber_qpsk_rayleigh
from tests.conftest import binomial_tolerance

BITS, BLOCKS = 4000, 50  # 200,000 bits per SNR point


@pytest.mark.parametrize("snr_db", [0.0, 4.0, 8.0])
def test_uncoded_qpsk_awgn_ber_matches_q_function(snr_db):
    (point,) = uncoded_curve(Link("awgn"), "qpsk", [snr_db], BITS, BLOCKS, seed=1)
    expected = ber_qpsk_awgn(snr_db)
    n = BITS * BLOCKS
    assert abs(point.ber - expected) <= binomial_tolerance(expected, n)


@pytest.mark.parametrize("snr_db", [4.0, 10.0, 14.0])
def test_uncoded_qam16_awgn_ber_matches_closed_form(snr_db):
    (point,) = uncoded_curve(Link("awgn"), "qam16", [snr_db], BITS, BLOCKS, seed=2)
    expected = ber_qam16_awgn(snr_db)
    symbols = BITS * BLOCKS // 4  # bits of one symbol share its noise: count symbols
    assert abs(point.ber - expected) <= binomial_tolerance(expected, symbols)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_uncoded_qpsk_rayleigh_ber_matches_closed_form(snr_db):
    link = Link("rayleigh", channel_options={"coherence": 1})
    (point,) = uncoded_curve(link, "qpsk", [snr_db], BITS, BLOCKS, seed=3)
    expected = ber_qpsk_rayleigh(snr_db)
    symbols = BITS * BLOCKS // 2  # both bits of a symbol see the same fade
    assert abs(point.ber - expected) <= binomial_tolerance(expected, symbols)


def test_coded_bler_falls_monotonically_with_snr():
    snrs = [-1.0, 0.5, 1.0, 1.5, 3.0]
    points = coded_curve(Link("awgn"), MCS("qpsk", 0.5), snrs, bits=512, blocks=60, seed=4)
    blers = [p.bler for p in points]
    for hi, lo in zip(blers, blers[1:], strict=False):
        assert lo <= hi + binomial_tolerance(max(hi, lo), 60, sigmas=2.0)
    assert blers[0] > 0.9 and blers[-1] == 0.0


def test_rate_half_qpsk_awgn_against_the_shannon_limit():
    limit = shannon_snr_db(MCS("qpsk", 0.5).spectral_efficiency)  # 0 dB
    assert limit == pytest.approx(0.0, abs=1e-9)
    above, below = coded_curve(
        Link("awgn"), MCS("qpsk", 0.5), [limit + 2.5, limit - 0.5], bits=1024, blocks=60, seed=5
    )
    assert above.bler < 0.1
    assert below.bler > 0.9


def test_tdl_with_perfect_csi_is_no_worse_than_ls_estimation():
    mcs, snr, blocks = MCS("qpsk", 0.5), 6.0, 80
    ls_link = Link("tdl-a", channel_options={"estimator": "ls"})
    ls = coded_curve(ls_link, mcs, [snr], bits=512, blocks=blocks, seed=6)[0]
    ideal = coded_curve(
        Link("tdl-a", channel_options={"perfect_csi": True}), mcs, [snr], 512, blocks, seed=6
    )[0]
    assert ls.bler > 0.05  # the comparison is informative only where LS makes errors
    assert ideal.bler <= ls.bler + binomial_tolerance(ls.bler, blocks, sigmas=2.0)


def test_undetected_errors_are_counted_not_delivered():
    # At low SNR every block fails its CRC; none may be counted as delivered.
    link = Link("awgn")
    bits = torch.randint(0, 2, (40, 256), generator=torch.Generator().manual_seed(0)).float()
    out = link.run_blocks(bits, MCS("qpsk", 0.5), -3.0, torch.Generator().manual_seed(1))
    assert not out.tb_ok.any()
    assert int(out.undetected.sum()) == 0
