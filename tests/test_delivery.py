"""The delivery model (channels.delivery) against theory and against the link itself."""

from __future__ import annotations

import math

import numpy as np
import pytest

from channels.delivery import (
    arrival_probability,
    fading,
    joint_arrivals,
    outage_probability,
)
from channels.mcs import MCS, threshold_db


def test_awgn_arrival_is_ninety_percent_at_the_calibrated_threshold():
    mcs = MCS("qam16", 490 / 1024, index=7)
    t10 = threshold_db(mcs, "awgn", 1024)
    assert arrival_probability(1024, mcs, t10, "awgn") == pytest.approx(0.9, abs=1e-6)
    assert arrival_probability(1024, mcs, t10 - 1, "awgn") < 0.5
    assert arrival_probability(1024, mcs, t10 + 1, "awgn") > 0.99


def test_repetition_and_snr_only_help():
    rates = [MCS("qpsk", 0.2 / r) for r in (1, 2, 4, 8)]
    for channel in ("awgn", "rayleigh"):
        by_rep = [arrival_probability(56, m, -6.0, channel) for m in rates]
        assert by_rep == sorted(by_rep)
        by_snr = [arrival_probability(56, rates[1], s, channel) for s in (-9, -6, -3, 0)]
        assert by_snr == sorted(by_snr)


def test_rayleigh_quadrature_is_the_exponential_distribution():
    nodes, weights = fading("rayleigh").nodes()
    assert weights.sum() == pytest.approx(1.0)
    assert float(weights @ nodes) == pytest.approx(1.0, abs=0.01)  # E|h|^2 = 1
    # P(|h|^2 < 0.1) = 1 - exp(-0.1)
    assert float(weights[nodes < 0.1].sum()) == pytest.approx(1 - math.exp(-0.1), abs=0.01)


def test_outage_bound_matches_the_closed_form():
    # the anchors' example: 38 bits in 491 channel uses at -6 dB over Rayleigh: 0.80 arrive
    snr = 10 ** (-6 / 10)
    expected = 1 - math.exp(-(2 ** (38 / 491) - 1) / snr)
    assert outage_probability(38, 491, -6.0, "rayleigh") == pytest.approx(expected, rel=1e-6)
    assert 1 - expected == pytest.approx(0.80, abs=0.01)
    assert outage_probability(38, 491, -6.0, "awgn") == 0.0


def test_one_fade_correlates_the_streams_of_a_frame():
    a, b = MCS("qpsk", 0.05), MCS("qpsk", 0.1)
    shared = joint_arrivals([(56, a), (88, b)], -3.0, "rayleigh")
    apart = joint_arrivals([(56, a), (88, b)], -3.0, "rayleigh", shared=False)
    assert sum(shared.values()) == pytest.approx(1.0)
    pa = arrival_probability(56, a, -3.0, "rayleigh")
    pb = arrival_probability(88, b, -3.0, "rayleigh")
    both = frozenset({0, 1})
    assert apart[both] == pytest.approx(pa * pb, rel=1e-9)
    assert shared[both] > pa * pb + 0.05  # one fade: they fail together
    assert shared[both] + shared[frozenset({0})] == pytest.approx(pa, rel=1e-9)


def _two_streams_match_the_link(link, snr, mcs_a, mcs_b, n, seed, transmissions=1):
    """A caption-sized (56 bits) and an SPW-sized (88 bits) stream in one Rayleigh frame, n
    frames of ``link``: the predicted arrival of each and of both within 3 sigma."""
    rng = np.random.default_rng(seed)
    items = [{"caption": rng.bytes(7), "spw": rng.bytes(11)} for _ in range(n)]
    sent = link.transmit_many(items, snr, None, {"caption": mcs_a, "spw": mcs_b}, seeds=range(n))
    ok_a = np.array([t.streams["caption"].stats.crc_ok for t in sent])
    ok_b = np.array([t.streams["spw"].stats.crc_ok for t in sent])
    pred = joint_arrivals([(56, mcs_a), (88, mcs_b)], snr, "rayleigh", transmissions=transmissions)
    checks = {
        "caption": (ok_a.mean(), pred[frozenset({0})] + pred[frozenset({0, 1})]),
        "spw": (ok_b.mean(), pred[frozenset({1})] + pred[frozenset({0, 1})]),
        "both": ((ok_a & ok_b).mean(), pred[frozenset({0, 1})]),
    }
    for what, (measured, predicted) in checks.items():
        sigma = math.sqrt(max(predicted * (1 - predicted), 1e-4) / n)
        assert abs(measured - predicted) <= 3 * sigma, (what, measured, predicted)


@pytest.mark.slow
def test_two_streams_in_one_rayleigh_frame_match_the_link():
    """The predicted probabilities that the caption-sized and the SPW-sized stream of one
    frame arrive, each and both, lie within 3 sigma of a Monte Carlo of the link (1000
    frames: seeds 0-399 alone hold 25 % fades below 0.21 against 19 % expected)."""
    from channels.link import Link

    _two_streams_match_the_link(
        Link("rayleigh"), -3.0, MCS("qpsk", 0.05), MCS("qpsk", 0.1), n=1000, seed=0
    )


def test_harq_gain_is_the_sum_of_independent_fades():
    # Rayleigh: T transmissions Chase-combined see Gamma(T, 1) (mean T); AWGN: exactly T
    x, w = fading("rayleigh").combined(3).nodes()
    assert w.sum() == pytest.approx(1.0) and float(w @ x) == pytest.approx(3.0, rel=0.02)
    x, w = fading("awgn").combined(4).nodes()
    assert list(x) == [4.0] and list(w) == [1.0]
    one = arrival_probability(56, MCS("qpsk", 0.2), -3.0, "rayleigh")
    two = arrival_probability(56, MCS("qpsk", 0.2), -3.0, "rayleigh", transmissions=2)
    assert two > one + 0.1


@pytest.mark.slow
def test_harq_arrivals_in_one_rayleigh_frame_match_the_link():
    """With HARQ (2 transmissions, Chase), the predicted arrival of a caption- and an
    SPW-sized stream, each and both, lie within 3 sigma of a Monte Carlo of the link."""
    from channels.link import Link

    link = Link("rayleigh", harq={"max_transmissions": 2, "combining": "chase"})
    _two_streams_match_the_link(
        link, -6.0, MCS("qpsk", 0.1), MCS("qpsk", 0.2), n=600, seed=1, transmissions=2
    )
