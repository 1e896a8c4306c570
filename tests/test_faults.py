"""Faults while storing: a full disk stops a sweep in one sentence and --resume finishes
it; a failed or killed export leaves no partial file that looks complete."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments.config import parse_config
from experiments.store import STORE_NAME, Store
from experiments.sweep import run_sweep
from semcom.errors import SemcomError
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
SMALL = {
    "name": "faults",
    "dataset": {"split": "test", "n": 2, "size": 64, "seed": 0},
    "codecs": ["webp", "jpeg"],
    "channels": ["awgn"],
    "snr_db": [0, 6, 12],
    "budget_cpp": [0.1],
    "save_images": 1,
}


def _digest(folder: Path) -> tuple[str, int]:
    store = Store(folder, create=False)
    try:
        return store.digest(), store.count(store.latest_hash())
    finally:
        store.close()


def test_a_full_disk_stops_the_sweep_and_resume_completes_it(tmp_path, monkeypatch) -> None:
    """SQLite's own "database or disk is full" (its page limit reached mid-sweep, as a full
    disk would): one sentence, the store readable with the groups written before, and
    --resume (space back: a fresh connection) gives the uninterrupted run's digest."""
    cfg = parse_config(SMALL)
    run_sweep(cfg, tmp_path / "whole", progress=False)
    writes = {"n": 0}
    original = Store.write

    def filling(self, rows, images=()):
        writes["n"] += 1
        if writes["n"] == 3:  # the disk fills up before the third group
            pages = self.db.execute("PRAGMA page_count").fetchone()[0]
            self.db.execute(f"PRAGMA max_page_count = {pages}")
        return original(self, rows, images)

    monkeypatch.setattr(Store, "write", filling)
    with pytest.raises(SemcomError, match="is full .*free space, then run the sweep again"):
        run_sweep(cfg, tmp_path / "full", progress=False)
    monkeypatch.setattr(Store, "write", original)
    _, kept = _digest(tmp_path / "full")
    assert 0 < kept < cfg.num_points  # readable, with what was written before
    run_sweep(cfg, tmp_path / "full", resume=True, progress=False)
    assert _digest(tmp_path / "full") == _digest(tmp_path / "whole")


def test_a_failed_export_leaves_no_file(tmp_path, capsys, monkeypatch) -> None:
    run_sweep(parse_config(SMALL), tmp_path, progress=False)

    def no_space(self, path, *args, **kwargs):
        Path(path).write_text("image,codec\n0,we")  # part of it, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", no_space)
    code, _, err = run_cli(["export", str(tmp_path), "--format", "csv"], capsys)
    assert code == 2 and "No space left on device" in err and "export again" in err
    assert len(err.strip().splitlines()) == 1
    assert not [p.name for p in tmp_path.iterdir() if "results.csv" in p.name]


@pytest.mark.slow
def test_a_killed_export_leaves_no_file_that_looks_complete(tmp_path) -> None:
    """SIGKILL in the middle of writing: results.csv is not there (the partial bytes are
    in a hidden .tmp file a later export replaces)."""
    run_sweep(parse_config(SMALL), tmp_path, progress=False)
    script = f"""
import os, signal
from pathlib import Path
import pandas as pd
def dying(self, path, *a, **k):
    Path(path).write_text("image,codec\\n0,we")
    os.kill(os.getpid(), signal.SIGKILL)
pd.DataFrame.to_csv = dying
from semcom.cli import main
main(["export", {str(tmp_path)!r}, "--format", "csv"])
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=False)
    assert done.returncode == -signal.SIGKILL
    assert not (tmp_path / "results.csv").exists()
    assert (tmp_path / STORE_NAME).is_file()
    code = subprocess.run(
        [sys.executable, "-m", "semcom.cli", "export", str(tmp_path), "--format", "csv"],
        env=env,
        cwd=ROOT,
        check=False,
        capture_output=True,
    ).returncode
    assert code == 0 and (tmp_path / "results.csv").is_file()
    assert not (tmp_path / ".results.csv.tmp").exists()
