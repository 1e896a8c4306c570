"""`semcom link` and the command line's error contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from semcom.cli import expand_multi_value_options
from tests.conftest import run_cli


def test_link_json_reports_one_point_per_snr(capsys):
    code, out, _ = run_cli(
        [
            "link",
            "--channel",
            "awgn",
            "--modulation",
            "qpsk",
            "--code-rate",
            "0.5",
            "--snr-db",
            "-2",
            "4",
            "--bits",
            "256",
            "--blocks",
            "10",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    report = json.loads(out)
    (curve,) = report["curves"]
    assert [p["snr_db"] for p in curve["points"]] == [-2.0, 4.0]
    low, high = curve["points"]
    assert low["bler"] == 1.0 and high["bler"] == 0.0
    assert high["iterations"] < low["iterations"] == 20.0
    assert high["info_kbps"] > 0


def test_link_uncoded_json_carries_the_theory(capsys):
    code, out, _ = run_cli(
        [
            "link",
            "--uncoded",
            "--modulation",
            "qam16",
            "--snr-db",
            "0:4:2",
            "--bits",
            "400",
            "--blocks",
            "5",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    points = json.loads(out)["curves"][0]["points"]
    assert [p["snr_db"] for p in points] == [0.0, 2.0, 4.0]
    assert all(p["ber_theory"] is not None and p["pre_fec_ber"] is None for p in points)


def test_link_plot_writes_a_figure(tmp_path, capsys):
    fig = tmp_path / "bler.png"
    code, out, _ = run_cli(
        [
            "link",
            "--mcs",
            "qpsk:1/2",
            "mcs9",
            "--snr-db",
            "0",
            "6",
            "--bits",
            "128",
            "--blocks",
            "4",
            "--plot",
            str(fig),
        ],
        capsys,
    )
    assert code == 0
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "QPSK 1/2" in out and "MCS9" in out


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--channel", "fiber"], "unknown channel"),
        (["--modulation", "qam1024"], "unknown modulation"),
        (["--code-rate", "0.01"], "code rate"),  # below 1/40, the lowest rate repetition reaches
        (["--snr-db", "inf"], "not finite"),
        (["--snr-db", "loud"], "not a number"),
        (["--bits", "0"], "--bits"),
        (["--bits", "1000000", "--blocks", "1000"], "lower --bits or --blocks"),
        (["--plot", "figure.jpg"], ".png"),
        (["--channel", "rayleigh", "--coherence", "often"], "--coherence"),
    ],
)
def test_bad_link_input_exits_2_with_one_sentence(args, phrase, capsys):
    base = ["link", "--snr-db", "1", "--blocks", "1", "--bits", "64"]
    code, out, err = run_cli(base + args, capsys)
    assert code == 2
    assert phrase in err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err + out


@pytest.mark.slow
def test_console_script_exits_2_without_traceback_and_debug_shows_it():
    cmd = [sys.executable, "-m", "semcom.cli", "link", "--snr-db", "1", "--channel", "x"]
    plain = subprocess.run(cmd, capture_output=True, text=True)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    debug = subprocess.run(cmd[:3] + ["--debug"] + cmd[3:], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_multi_value_options_are_split_for_click():
    args = ["link", "--snr-db", "0", "-2", "4", "--json", "--mcs", "mcs4", "qpsk:1/2"]
    assert expand_multi_value_options(args) == [
        "link",
        "--snr-db=0",
        "--snr-db=-2",
        "--snr-db=4",
        "--json",
        "--mcs=mcs4",
        "--mcs=qpsk:1/2",
    ]


def test_usage_errors_exit_2_without_traceback():
    """Unknown options and commands: click's usage message, exit 2 (typer's vendored click
    raises its own exception classes, not click's)."""
    for args in (["link", "--no-such-option"], ["no-such-command"]):
        cmd = [sys.executable, "-m", "semcom.cli", *args]
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stderr and "No such" in done.stderr
