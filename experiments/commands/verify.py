"""``semcom verify DIR``: do today's code and this machine give a shipped result set's rows?
(:mod:`experiments.verify`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from semcom.errors import SemcomError


def verify(
    folder: Path = typer.Argument(..., help="Results folder: results.parquet or results.sqlite."),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="The config that made them (default: experiments/configs/<DIR>.yaml).",
    ),
    points: int = typer.Option(200, "--points", help="Points re-run, drawn with --seed."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress lines."),
) -> None:
    """Re-run a seeded sample of DIR's points and report per field: equal, equal within
    the outcome digest's precision, or different (exit 1 when any field differs)."""
    import torch

    from experiments.config import load_config
    from experiments.plan_compare import load_rows
    from experiments.verify import compare, default_config, format_verdict, rerun, sample

    if points < 1:
        raise SemcomError(f"--points must be at least 1, not {points}.")
    if seed < 0:
        raise SemcomError(f"--seed must be 0 or more, not {seed}.")
    if not folder.is_dir():
        raise SemcomError(f"{folder} is not a folder; name a folder of sweep results.")
    rows = load_rows(folder)
    config = config if config is not None else default_config(folder)
    if not config.is_file():
        raise SemcomError(f"no config at {config}; name the one that made {folder} with --config.")
    cfg = load_config(config)
    picked = sample(rows, points, seed)
    torch.set_num_threads(1)
    say = None if quiet else (lambda line: typer.echo(line, err=True))
    with tempfile.TemporaryDirectory(prefix="semcom-verify-") as work:
        again = rerun(cfg, picked, Path(work), say)
    verdict = compare(picked, again)
    typer.echo(format_verdict(verdict))
    if not verdict.ok:
        raise typer.Exit(1)
