"""MCS threshold tables: the monotone fit, the shipped tables, the calibration command."""

from __future__ import annotations

import json
import math

from channels.calibrate import main, markdown_table, monotone, refit
from channels.mcs import load_thresholds


def test_monotone_pools_adjacent_violators_into_their_mean():
    table = {"2": 1.0, "3": 3.0, "4": 2.0, "5": 4.0, "6": 3.9, "7": 3.8}
    fit = monotone(table)
    assert fit == {"2": 1.0, "3": 2.5, "4": 2.5, "5": 3.9, "6": 3.9, "7": 3.9}
    # the fit keeps the mean of each pooled run (least squares) and sorts keys as numbers
    assert monotone({"10": 5.0, "9": 4.0}) == {"9": 4.0, "10": 5.0}
    assert monotone(fit) == fit


def test_every_shipped_table_is_monotone_and_keeps_its_measurements():
    data = load_thresholds()
    groups = [(data["thresholds"], data["measured"])]
    groups += [(t, data["measured_by_bits"][b]) for b, t in data["by_bits"].items()]
    for fitted, measured in groups:
        for channel, table in fitted.items():
            values = [math.inf if table[k] is None else table[k] for k in sorted(table, key=int)]
            assert values == sorted(values), channel
            assert table == monotone(measured[channel]), channel


def test_refit_is_idempotent_and_keeps_the_measured_tables(tmp_path):
    data = {"thresholds": {"x": {"2": 1.0, "3": 0.0}}, "by_bits": {"128": {"x": {"2": 2.0}}}}
    once = refit(json.loads(json.dumps(data)))
    assert once["thresholds"]["x"] == {"2": 0.5, "3": 0.5}
    assert once["measured"]["x"] == {"2": 1.0, "3": 0.0}
    assert refit(json.loads(json.dumps(once))) == once
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    assert main(["--refit", "--out", str(path)]) == 0
    assert json.loads(path.read_text()) == once


def test_print_takes_the_single_antenna_channels_unless_told(capsys):
    data = load_thresholds()
    assert main(["--print"]) == 0
    table = capsys.readouterr().out
    assert table.strip() == markdown_table(data)
    assert "| MCS | AWGN | Rayleigh | TDL-A | TDL-B | TDL-C |" in table


def test_an_unreachable_threshold_is_never_selected():
    """An entry whose BLER never fell to 10 % (null in the file) is infinite, keeps every
    entry above it unreachable, and adaptive selection stops below it."""
    from channels import mcs as mcs_module

    assert monotone({"2": 1.0, "3": 0.5, "4": None, "5": 9.0}) == {
        "2": 0.75,
        "3": 0.75,
        "4": None,
        "5": None,
    }
    data = {"thresholds": {"x": {str(m.index): float(m.index) for m in mcs_module.NR_MCS_TABLE}}}
    data["thresholds"]["x"]["10"] = None
    table = markdown_table(data, channels=["x"])
    assert "| MCS10 16-QAM 0.643 | – |" in table
    original = mcs_module.load_thresholds
    try:
        mcs_module.load_thresholds = lambda: data
        assert math.isinf(mcs_module.threshold_db(mcs_module.NR_MCS_TABLE[8], "x"))
        assert mcs_module.select_mcs(100.0, "x").index == 27  # 11..27 are finite here
        data["thresholds"]["x"] = monotone(data["thresholds"]["x"])
        assert mcs_module.select_mcs(100.0, "x").index == 9
    finally:
        mcs_module.load_thresholds = original
