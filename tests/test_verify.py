"""semcom verify: a shipped result set's sampled points re-run and compared field by field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from experiments.verify import compare, sample
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "docs/results/paper"


def test_compare_names_fields_equal_close_and_different() -> None:
    keys = {"image": 0, "codec": "webp", "channel": "awgn", "snr_db": 0.0, "budget_cpp": 0.1}
    stored = pd.DataFrame([{**keys, "trial": 0, "psnr": 20.0, "exact": 3, "caption_bits": None}])
    same = compare(stored, stored.assign(caption_bits=float("nan")))
    assert same.ok and same.equal == {"psnr": 1, "exact": 1, "caption_bits": 1}
    close = compare(stored, stored.assign(psnr=20.0 + 1e-9))
    assert close.ok and close.close == {"psnr": 1}
    off = compare(stored, stored.assign(psnr=20.5, exact=2))
    assert not off.ok and off.different == {"psnr": 1, "exact": 1}
    assert "psnr at image=0" in off.examples[0] and "stored 20.0, now 20.5" in off.examples[0]


@pytest.mark.slow
def test_the_shipped_paper_rows_come_out_and_an_edited_copy_fails(tmp_path, capsys) -> None:
    """A seeded slice of docs/results/paper re-runs to the stored rows (the README's
    numbers come out of this code); a copy with one figure edited fails, naming it."""
    code, out, err = run_cli(["verify", str(PAPER), "--points", "6", "--quiet"], capsys)
    assert code == 0, out + err
    assert "verified: every sampled point gives the stored results" in out
    copy = tmp_path / "paper"
    copy.mkdir()
    rows = pd.read_parquet(PAPER / "results.parquet")
    picked = sample(rows, 6, 0)
    rows.loc[picked.index[0], "objects_read"] += 1  # one semantic count edited
    rows.to_parquet(copy / "results.parquet", index=False)
    shutil.copy(ROOT / "experiments/configs/paper.yaml", tmp_path / "paper.yaml")
    args = [
        "verify",
        str(copy),
        "--points",
        "6",
        "--quiet",
        "--config",
        str(tmp_path / "paper.yaml"),
    ]
    code, out, _ = run_cli(args, capsys)
    assert code == 1 and "objects_read at image=" in out and "NOT verified" in out


def test_verify_says_what_is_wrong(tmp_path, capsys) -> None:
    code, _, err = run_cli(["verify", str(tmp_path / "none")], capsys)
    assert code == 2 and "is not a folder" in err
    (tmp_path / "x").mkdir()
    code, _, err = run_cli(["verify", str(tmp_path / "x")], capsys)
    assert code == 2 and "results.parquet" in err
    shutil.copy(PAPER / "results.parquet", tmp_path / "x" / "results.parquet")
    code, _, err = run_cli(["verify", str(tmp_path / "x")], capsys)
    assert code == 2 and "--config" in err
    code, _, err = run_cli(["verify", str(PAPER), "--points", "0"], capsys)
    assert code == 2 and "--points" in err
