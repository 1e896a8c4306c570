"""MIMO: N×N spatial multiplexing over i.i.d. Rayleigh, MIMO TDL and CDL-A…E.

Closed forms with sample-size tolerances (uncoded 2×2/4×4 ZF BER, diversity order of
LMMSE), multi-stream LMMSE channel estimation against LS, determinism of the seeded CDL
and the coded link over a CDL frame.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from channels.cdl import CDLChannel
from channels.curves import uncoded_curve
from channels.errors import LinkError
from channels.link import Link
from channels.mcs import MCS
from channels.models import RayleighBlockFading, TDLChannel
from channels.theory import ber_qpsk_mimo_zf
from tests.conftest import binomial_tolerance

BITS, BLOCKS = 4000, 100  # 400,000 bits per SNR point


def _fast_mimo(antennas: int, detector: str) -> Link:
    options = {"coherence": 1, "antennas": antennas, "detector": detector}
    return Link("rayleigh", channel_options=options)


@pytest.mark.parametrize(("antennas", "snr_db"), [(2, 10.0), (2, 20.0), (4, 20.0)])
def test_uncoded_zf_ber_matches_closed_form(antennas, snr_db):
    (point,) = uncoded_curve(_fast_mimo(antennas, "zf"), "qpsk", [snr_db], BITS, BLOCKS, seed=4)
    expected = ber_qpsk_mimo_zf(snr_db, antennas)
    # the bits of one channel use share its fade: count channel uses, not bits
    uses = BITS * BLOCKS // (2 * antennas)
    assert abs(point.ber - expected) <= binomial_tolerance(expected, uses)


def test_uncoded_lmmse_has_zf_diversity_order_and_no_more_errors():
    """2×2 LMMSE: at high SNR its BER falls one decade per 10 dB (diversity Nr - Nt + 1 =
    1, as ZF) and it never errs more than ZF."""
    snrs = [25.0, 35.0]
    lmmse = uncoded_curve(_fast_mimo(2, "lmmse"), "qpsk", snrs, BITS, 4 * BLOCKS, seed=5)
    zf = uncoded_curve(_fast_mimo(2, "zf"), "qpsk", snrs, BITS, 4 * BLOCKS, seed=5)
    uses = BITS * 4 * BLOCKS // 4
    for a, b in zip(lmmse, zf, strict=True):
        assert a.ber <= b.ber + binomial_tolerance(b.ber, uses)
    # slope from ~550 errors at 35 dB: 5σ of log10 ≈ 5 · 0.434 / sqrt(550) ≈ 0.09 per point
    slope = math.log10(lmmse[0].ber / lmmse[1].ber)
    errors = lmmse[1].ber * BITS * 4 * BLOCKS / 2
    tol = 2 * 5 * 0.434 / math.sqrt(errors)
    assert abs(slope - 1.0) <= tol + 0.1  # 0.1: the MMSE gain still shrinking at 25 dB


def test_spatial_multiplexing_takes_1_over_n_channel_uses():
    for n in (1, 2, 4):
        assert RayleighBlockFading(antennas=n).channel_uses(1000) == math.ceil(1000 / n)
    one = TDLChannel("A").channel_uses(2000)
    two = TDLChannel("A", antennas=2).channel_uses(2000)
    assert two < one and CDLChannel("C", antennas=2).channel_uses(2000) == two


def test_mimo_names_key_their_own_thresholds():
    assert RayleighBlockFading(antennas=2).name == "rayleigh-2x2"
    assert TDLChannel("B", antennas=4).name == "tdl-b-4x4"
    assert CDLChannel("E").name == "cdl-e"
    assert CDLChannel("C", antennas=2).name == "cdl-c-2x2"


@pytest.mark.parametrize("channel", [TDLChannel, CDLChannel])
def test_multi_stream_lmmse_estimate_beats_ls(channel):
    """Each layer's pilots on every other subcarrier: the Wiener filter still gains ≥ 5 dB
    NMSE over LS with linear interpolation at 10 dB (measured 7.5 dB on TDL-A 2×2)."""
    g = torch.Generator().manual_seed(1)
    lmmse = channel("A", antennas=2).estimation_nmse(10.0, 1000, 32, g)
    g = torch.Generator().manual_seed(1)
    ls = channel("A", antennas=2, estimator="ls").estimation_nmse(10.0, 1000, 32, g)
    assert lmmse <= ls - 5.0


def test_cdl_draws_only_from_the_callers_generator():
    ch = CDLChannel("C", antennas=2)
    x = torch.complex(torch.randn(4, 600), torch.randn(4, 600)) / math.sqrt(2)
    torch.manual_seed(0)
    a = ch(x, 0.1, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(123)
    torch.rand(5)
    b = ch(x, 0.1, generator=torch.Generator().manual_seed(7))
    c = ch(x, 0.1, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize(("name", "antennas"), [("cdl-c", 2), ("cdl-d", 4), ("tdl-a", 2)])
def test_coded_blocks_decode_over_mimo_ofdm_at_high_snr(name, antennas):
    link = Link(name, channel_options={"antennas": antennas})
    g = torch.Generator().manual_seed(3)
    payload = torch.randint(0, 2, (8, 1024), generator=g).float()
    out = link.run_blocks(payload, MCS("qpsk", 1 / 2), 25.0, g)
    assert bool(out.tb_ok.all())
    assert torch.equal(out.bits, payload)


@pytest.mark.parametrize(
    "options",
    [{"antennas": 3}, {"antennas": 2, "detector": "ml"}, {"antennas": 4, "fft_size": 70}],
)
def test_bad_mimo_options_are_refused(options):
    with pytest.raises(LinkError):
        Link("cdl-a", channel_options=options)
    with pytest.raises(LinkError):
        CDLChannel("F")


@pytest.mark.slow
def test_semcom_link_takes_antennas_and_refuses_them_where_they_do_not_apply(capsys):
    from tests.conftest import run_cli

    args = ["link", "--channel", "cdl-c", "--antennas", "2", "--snr-db", "25", "--blocks", "4"]
    code, out, _ = run_cli([*args, "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["channel"] == "cdl-c-2x2" and report["channel_options"]["antennas"] == 2
    assert report["curves"][0]["points"][0]["bler"] == 0.0
    for channel, antennas, message in (
        ("awgn", "2", "apply to rayleigh"),
        ("cdl-a", "3", "antennas must be one of"),
    ):
        cmd = ["link", "--channel", channel, "--antennas", antennas, "--snr-db", "5"]
        code, _, err = run_cli(cmd, capsys)
        assert code == 2 and message in err


def test_analog_symbols_fill_every_layer_of_the_budget():
    from channels.analog import data_symbols

    assert data_symbols(RayleighBlockFading(antennas=2), 491) == 982
    one, four = data_symbols(CDLChannel("C"), 491), data_symbols(CDLChannel("C", antennas=4), 491)
    assert four == 4 * one


def test_searching_detectors_err_less_than_lmmse():
    """2×2 over i.i.d. Rayleigh, uncoded 16-QAM at 20 dB: K-best (16 paths) and EP search
    the constellation and make fewer bit errors than LMMSE."""
    ber = {}
    for detector in ("lmmse", "kbest", "ep"):
        (point,) = uncoded_curve(_fast_mimo(2, detector), "qam16", [20.0], BITS, 20, seed=6)
        ber[detector] = point.ber
    uses = BITS * 20 // 8  # 8 bits per channel use
    for detector in ("kbest", "ep"):
        assert ber[detector] + binomial_tolerance(ber["lmmse"], uses) < ber["lmmse"], ber


def test_a_shared_frame_mixes_modulations_under_kbest():
    """Each stream starts on a new channel use, so K-best detects each with its own
    constellation; the planned channel uses count the padding."""
    from channels.frame import frame_uses

    link = Link("cdl-c", channel_options={"antennas": 2, "detector": "kbest"})
    items = [{"caption": b"a red circle left of a blue square", "hci": bytes(range(200))}] * 3
    protection = {"caption": "qpsk:1/3", "hci": "qam16:1/2"}
    out = link.transmit_many(items, 25.0, protection=protection, budget=4000, seeds=range(3))
    assert all(t.received() == items[0] for t in out)
    ray = RayleighBlockFading(antennas=2)
    assert frame_uses(ray, [3, 3], "shared") == 4 and ray.channel_uses(6) == 3
