"""Adaptive MCS by block size: thresholds of short blocks from their own size class."""

from __future__ import annotations

import pytest

from channels import mcs as mcs_module
from channels.link import Link
from channels.mcs import MAIN_BITS, NR_MCS_TABLE, select_mcs, threshold_db

MAIN = {str(m.index): float(m.index) for m in NR_MCS_TABLE}  # MCS i holds from i dB
SHORT = {str(m.index): float(m.index) + 3.0 for m in NR_MCS_TABLE}  # short blocks: +3 dB


@pytest.fixture
def table(monkeypatch):
    data = {"thresholds": {"awgn": MAIN, "rayleigh": MAIN}, "by_bits": {"128": {"awgn": SHORT}}}
    monkeypatch.setattr(mcs_module, "load_thresholds", lambda: data)
    return data


def test_thresholds_interpolate_in_log_size_between_classes(table) -> None:
    m = NR_MCS_TABLE[5]
    i = str(m.index)
    assert threshold_db(m, "awgn") == MAIN[i]
    assert threshold_db(m, "awgn", MAIN_BITS) == MAIN[i]
    assert threshold_db(m, "awgn", 4 * MAIN_BITS) == MAIN[i]
    assert threshold_db(m, "awgn", 128) == SHORT[i]
    assert threshold_db(m, "awgn", 40) == SHORT[i]  # held below the smallest class
    # 362 bits ≈ 2**8.5, halfway between 2**7 and 2**10 in log2
    assert threshold_db(m, "awgn", 362) == pytest.approx(SHORT[i] - 3.0 * 0.5, abs=0.01)
    assert threshold_db(m, "rayleigh", 128) == MAIN[i]  # no class for it: the main table


def test_short_streams_get_a_more_robust_adaptive_mcs(table) -> None:
    snr = 10.0
    assert select_mcs(snr, "awgn").index == 10
    assert select_mcs(snr, "awgn", bits=100).index == 7
    link = Link("awgn")
    caption, _ = link.resolve("adaptive", snr, payload_bits=100)
    image, _ = link.resolve("adaptive", snr, payload_bits=4096)
    assert caption.index == 7 and image.index == 10


def test_the_shipped_file_has_a_short_block_class_for_every_calibrated_channel() -> None:
    data = mcs_module.load_thresholds()
    for channel in data["thresholds"]:
        assert channel in data["by_bits"]["128"], channel
    # single antenna: short blocks need no less SNR (within the scatter of 100 blocks per
    # point); the MIMO fading columns scatter by up to ±3 dB either way (docs/link.md)
    for channel in mcs_module.CALIBRATED_CHANNELS:
        short = threshold_db(NR_MCS_TABLE[0], channel, 128)
        assert short >= threshold_db(NR_MCS_TABLE[0], channel) - 1.0
