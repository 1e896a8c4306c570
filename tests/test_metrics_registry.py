"""Metrics as data: the registry, the fields, scoring through it, and the store that keeps
any metric's figures without a migration (and opens stores written before)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch

from experiments.store import COLUMNS, KEY_COLUMNS, Store
from semcom.errors import SemcomError
from semcom.metrics.protocol import Field
from semcom.metrics.registry import (
    DEFAULT_METRICS,
    check_metrics,
    fields_of,
    metric,
    metric_names,
)
from semcom.metrics.scoring import EXTRA, FIGURES, score


def test_the_built_in_metrics_are_registered_with_their_fields() -> None:
    assert {"pixel", "semantic", "lpips", "dists"} <= set(metric_names())
    assert DEFAULT_METRICS == ("pixel", "semantic")
    # the default metrics' fields are exactly the store's own figure columns
    assert tuple(f.name for f in fields_of(DEFAULT_METRICS)) == FIGURES
    assert metric("semantic").needs_truth and not metric("pixel").needs_truth
    lower = {f.name for f in fields_of(metric_names()) if f.better == "lower"}
    assert {"hallucination_rate", "lpips", "dists"} <= lower


def test_fields_and_metric_lists_are_validated() -> None:
    with pytest.raises(ValueError, match="identifier"):
        Field("two words", "x")
    with pytest.raises(ValueError, match="better"):
        Field("x", "x", better="bigger")
    with pytest.raises(SemcomError, match="unknown metric 'psnr'.*installed metrics are"):
        check_metrics(["psnr"])
    with pytest.raises(SemcomError, match="listed twice"):
        check_metrics(["pixel", "pixel"])
    with pytest.raises(SemcomError, match="at least one"):
        check_metrics([])


def test_scoring_goes_through_the_metrics_asked_for() -> None:
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(2, 3, 32, 32, generator=g)
    noisy = (ref + 0.05 * torch.randn(2, 3, 32, 32, generator=g)).clamp(0, 1)
    rows = score(ref, noisy)
    assert set(rows[0]) == {*FIGURES, EXTRA} and rows[0][EXTRA] is None
    assert rows[0]["psnr"] > 20 and rows[0]["attribute_accuracy"] is None  # no truth
    pixel_only = score(ref, noisy, metrics=("pixel",))
    assert pixel_only[1]["psnr"] == rows[1]["psnr"] and pixel_only[1]["ms_ssim"] is not None


def _old_store(path: Path, rows: list[tuple]) -> None:
    """A results.sqlite as written before metrics were data (no ``figures`` column)."""
    path.mkdir()
    db = sqlite3.connect(path / "results.sqlite")
    old = [c for c in COLUMNS if c != EXTRA]
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        f"CREATE TABLE results ({', '.join(old)}, PRIMARY KEY ({', '.join(KEY_COLUMNS)}));"
        "CREATE TABLE images (config_hash TEXT, image INTEGER, codec TEXT, channel TEXT, "
        "snr_db REAL, budget_cpp REAL, png BLOB, PRIMARY KEY (config_hash, image, codec, "
        "channel, snr_db, budget_cpp));"
    )
    db.execute("INSERT INTO meta VALUES ('config_hash', 'h')")
    db.executemany(f"INSERT INTO results VALUES ({', '.join('?' * len(old))})", rows)
    db.commit()
    db.close()


def _row(image: int, psnr: float) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(
        config_hash="h", image=image, codec="webp", channel="awgn", snr_db=0.0,
        budget_cpp=0.1, trial=0, seed=1, success=1, streams="{}", psnr=psnr,
    )  # fmt: skip
    return row


def test_an_old_store_opens_gains_the_column_and_keeps_its_digest(tmp_path: Path) -> None:
    rows = [_row(0, 30.0), _row(1, 31.5)]
    fresh = Store(tmp_path / "new")
    fresh.write(rows)
    fresh.set_meta({"config_hash": "h"})
    _old_store(tmp_path / "old", [tuple(r[c] for c in COLUMNS if c != EXTRA) for r in rows])
    before = (tmp_path / "old" / "results.sqlite").read_bytes()
    reader = Store(tmp_path / "old", create=False)  # plot / export: the file stays as it is
    assert reader.digest("h") == fresh.digest("h")
    assert reader.frame("h")["psnr"].tolist() == [30.0, 31.5]
    reader.close()
    assert (tmp_path / "old" / "results.sqlite").read_bytes() == before
    old = Store(tmp_path / "old")  # a sweep opening it to write adds the column
    assert old.digest("h") == fresh.digest("h")  # an empty figures column hashes as before
    assert old.frame("h")["psnr"].tolist() == [30.0, 31.5]
    # a new metric's figures go into the JSON column: no migration, and they change the digest
    more = _row(2, 29.0)
    more[EXTRA] = {"mae": 0.1}
    old.write([more])
    assert old.frame("h")["mae"].tolist()[-1] == 0.1
    assert json.loads(
        old.db.execute(f"SELECT {EXTRA} FROM results WHERE image = 2").fetchone()[0]
    ) == {"mae": 0.1}
    old.lock()
    old.canonicalize()
    assert old.frame("h")["psnr"].tolist() == [30.0, 31.5, 29.0]
    old.close()
    fresh.close()
