"""experiments.results_diff: what moved between two runs of one config."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.results_diff import compare, main

ROOT = Path(__file__).resolve().parents[1]


def test_a_run_against_itself_moves_nothing_and_a_changed_row_is_counted(tmp_path, capsys):
    rows = pd.read_parquet(ROOT / "docs" / "results" / "harq" / "results.parquet")
    same = compare(rows, rows)
    assert same["uses_changed"] == 0 and same["deliveries_changed"] == 0
    assert (same["points"].df1 == 0).all()
    changed = rows.copy()
    first = changed.index[changed["exact"] > 0][0]
    changed.loc[first, "channel_uses"] += 1
    stream = next(c for c in rows.columns if c.endswith("_crc_ok"))
    changed.loc[first, stream] = not bool(rows.loc[first, stream])
    changed.loc[first, "exact"] = 0  # that image read nothing right
    moved = compare(rows, changed)
    assert moved["uses_changed"] == 1 and moved["deliveries_changed"] == 1
    assert moved["points"].df1.min() < 0
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    rows.to_parquet(tmp_path / "a" / "results.parquet")
    changed.to_parquet(tmp_path / "b" / "results.parquet")
    assert main([str(tmp_path / "a"), str(tmp_path / "b"), "--f1", "0"]) == 0
    out = capsys.readouterr().out
    assert "channel uses changed in 1" in out and "stream deliveries changed 1" in out
