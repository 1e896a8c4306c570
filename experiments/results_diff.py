"""What moved between two runs of one sweep config: ``python -m experiments.results_diff
OLD NEW`` (each a folder holding ``results.parquet`` or a sweep's ``results.sqlite``).

Rows are matched on (image, codec, channel, SNR, budget, trial) — the same frames when the
seeds are the same. Prints how many rows took other channel uses, how many stream
deliveries changed, and per (codec, channel, budget, SNR) point the pooled object F1 and
mean PSNR of each run: the mean and largest moves per codec and every point that moved
by more than ``--f1`` (0.03).
"""

from __future__ import annotations

import argparse

import pandas as pd

from experiments.plan_compare import load_rows
from experiments.sweep_tables import counts_filled
from experiments.sweep_tables import pooled as sweep_pooled

KEY = ["codec", "channel", "budget_cpp", "snr_db"]
ROW = [*KEY, "image", "trial"]


def pooled(rows: pd.DataFrame) -> pd.DataFrame:
    """Per point: pooled object F1 (:func:`experiments.sweep_tables.pooled`), mean PSNR,
    mean channel uses."""
    g = counts_filled(rows).groupby(KEY)
    counts = g[["exact", "objects_true", "objects_read"]].sum()
    return pd.DataFrame(
        {
            "f1": sweep_pooled(counts.to_numpy(dtype=float)),
            "psnr": g.psnr.mean(),
            "uses": g.channel_uses.mean(),
        },
        index=counts.index,
    )


def compare(old: pd.DataFrame, new: pd.DataFrame) -> dict:
    """The moves between two runs' rows (see the module docstring)."""
    both = old.merge(new, on=ROW, suffixes=("_o", "_n"))
    streams = [c[: -len("_crc_ok")] for c in old.columns if c.endswith("_crc_ok")]
    delivered = 0
    for s in streams:
        a = both[f"{s}_crc_ok_o"].fillna(False).astype(bool)
        b = both[f"{s}_crc_ok_n"].fillna(False).astype(bool)
        delivered += int((a != b).sum())
    points = pooled(old).merge(
        pooled(new), left_index=True, right_index=True, suffixes=("", "_new")
    )
    points["df1"] = points.f1_new - points.f1
    points["dpsnr"] = points.psnr_new - points.psnr
    return {
        "rows": len(both),
        "uses_changed": int((both.channel_uses_o != both.channel_uses_n).sum()),
        "deliveries_changed": delivered,
        "points": points,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--f1", type=float, default=0.03, help="list points that moved more")
    args = parser.parse_args(argv)
    out = compare(load_rows(args.old), load_rows(args.new))
    p = out["points"]
    print(
        f"rows {out['rows']}; channel uses changed in {out['uses_changed']}; "
        f"stream deliveries changed {out['deliveries_changed']}"
    )
    print(
        f"pooled F1: mean {p.df1.mean():+.4f}, largest |move| {p.df1.abs().max():.3f}; "
        f"PSNR: mean {p.dpsnr.mean():+.3f} dB, largest |move| {p.dpsnr.abs().max():.2f} dB"
    )
    for codec, g in p.groupby(level=0):
        print(
            f"  {codec:28s} F1 {g.df1.mean():+.4f} (largest {g.df1.abs().max():.3f}), "
            f"PSNR {g.dpsnr.mean():+.3f} dB"
        )
    big = p[p.df1.abs() > args.f1].sort_values("df1")
    if len(big):
        print(f"points that moved by more than {args.f1} in F1:")
        print(big[["f1", "f1_new", "df1", "psnr", "psnr_new"]].round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
