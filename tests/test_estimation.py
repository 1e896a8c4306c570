"""Channel estimation on TDL: the separable LMMSE estimate against LS, and over the link."""

from __future__ import annotations

import math

import pytest
import torch

from channels.curves import coded_curve
from channels.errors import LinkError
from channels.link import Link
from channels.mcs import MCS
from channels.models import TDLChannel


def test_lmmse_nmse_is_at_least_10_db_below_ls_at_10_db_on_tdl_a():
    # 64 frames of 12 data OFDM symbols (+ 2 pilot symbols) × 72 subcarriers each
    nmse = {
        est: TDLChannel("A", estimator=est).estimation_nmse(
            10.0, 800, 64, torch.Generator().manual_seed(1)
        )
        for est in ("ls", "lmmse")
    }
    # LS on unit-modulus pilots: its NMSE is the noise variance, -10 dB at 10 dB
    assert nmse["ls"] == pytest.approx(-10.0, abs=1.5)
    assert nmse["lmmse"] <= nmse["ls"] - 10.0


@pytest.mark.slow
def test_lmmse_estimate_lowers_the_block_error_rate():
    mcs, snr, blocks = MCS("qam16", 0.5), 9.0, 100
    ls, lmmse = (
        coded_curve(
            Link("tdl-a", channel_options={"estimator": est}), mcs, [snr], 1024, blocks, seed=3
        )[0].bler
        for est in ("ls", "lmmse")
    )
    # three standard deviations of the difference of two BLERs of `blocks` blocks each
    p = (ls + lmmse) / 2
    assert lmmse < ls - 3 * math.sqrt(2 * p * (1 - p) / blocks)


def test_lmmse_is_the_default_and_unknown_estimators_are_named():
    assert TDLChannel("A").estimator == "lmmse"
    with pytest.raises(LinkError, match="choose ls or lmmse"):
        TDLChannel("A", estimator="wiener")
