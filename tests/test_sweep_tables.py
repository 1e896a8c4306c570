"""``semcom export --format markdown``: a sweep's object-F1 and delivery tables."""

from __future__ import annotations

import pandas as pd
import pytest

from experiments.sweep_tables import sweep_tables


def rows(codec: str, exact: list[float], read: float, success: int, bpp: float) -> list[dict]:
    """One row per image (4 true objects each) at one channel, budget and SNR."""
    return [
        dict(
            codec=codec,
            channel="awgn",
            snr_db=0.0,
            budget_cpp=0.1,
            image=i,
            trial=0,
            exact=e,
            objects_true=4.0,
            objects_read=read,
            success=success,
            bpp=bpp,
        )
        for i, e in enumerate(exact)
    ]


def test_pooled_f1_interval_and_delivery() -> None:
    df = pd.DataFrame(
        rows("mtgc", [4, 4, 4, 4], 4.0, 1, 0.03) + rows("webp", [0, 2, 4, 2], 4.0, 1, 0.05)
    )
    text = sweep_tables(df, bootstrap=200)
    lines = text.splitlines()
    assert "### awgn, 0.1 cpp: object F1 (95 % interval over 4 images × 1 trials)" in lines
    assert "| mtgc | 1.00 (1.00–1.00) |" in lines
    # webp: 8 exact of 16 true and 16 read → F1 = 2·8 / 32 = 0.50; every bootstrap draw
    # of 4 images lies between all-zero (0.00) and all-four (1.00) images
    row = next(line for line in lines if line.startswith("| webp | 0.50 ("))
    lo, hi = (float(v) for v in row.split("(")[1].split(")")[0].split("–"))
    assert 0.0 <= lo < 0.5 < hi <= 1.0
    assert "| webp | 1.00 / 0.0500 |" in lines
    assert sweep_tables(df, bootstrap=200) == text  # the same draws every time


def test_lost_images_count_as_missed_objects() -> None:
    # an image that did not arrive reads no objects: its 4 true objects are misses
    df = pd.DataFrame(rows("jpeg", [4, 0], 0.0, 0, 0.0))
    df.loc[0, "objects_read"] = 4.0
    df.loc[0, "success"] = 1
    text = sweep_tables(df, bootstrap=50)
    assert "| jpeg | 0.67 (" in text  # 2·4 / (8 true + 4 read)
    assert "| jpeg | 0.50 / 0.0000 |" in text


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="exact"):
        sweep_tables(pd.DataFrame({"codec": ["a"], "channel": ["awgn"]}))
