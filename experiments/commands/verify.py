"""``semcom verify DIR``: do today's code and this machine give a shipped result set's rows?
(:mod:`experiments.verify` for sweeps, :mod:`experiments.verify_evaluate` for
``semcom evaluate --out`` result sets)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from semcom.errors import SemcomError


def verify(
    folder: Path = typer.Argument(
        ...,
        help="Results folder: a sweep's results.parquet or results.sqlite, or semcom "
        "evaluate's results.json with its per-image rows.",
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="A sweep's config (default: experiments/configs/<DIR>.yaml); an evaluate "
        "result set records its own.",
    ),
    points: int = typer.Option(
        200, "--points", help="Points (evaluate: codec-image rows) re-run, drawn with --seed."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress lines."),
) -> None:
    """Re-run a seeded sample of DIR's points and report per field: equal, equal within
    the outcome digest's precision, or different (exit 1 when any field differs)."""
    import torch

    from experiments.verify import compare, format_verdict, sample
    from experiments.verify_evaluate import is_evaluation

    if points < 1:
        raise SemcomError(f"--points must be at least 1, not {points}.")
    if seed < 0:
        raise SemcomError(f"--seed must be 0 or more, not {seed}.")
    if not folder.is_dir():
        raise SemcomError(f"{folder} is not a folder; name a folder of sweep or evaluate results.")
    if not any(
        (folder / n).is_file() for n in ("results.parquet", "results.sqlite", "results.json")
    ):
        raise SemcomError(
            f"{folder} holds no results.parquet, results.sqlite or results.json; name a folder "
            "that semcom sweep, semcom export or semcom evaluate --out wrote."
        )
    say = None if quiet else (lambda line: typer.echo(line, err=True))
    torch.set_num_threads(1)
    if is_evaluation(folder):
        from experiments.evaluation.rows import KEYS
        from experiments.verify_evaluate import load_evaluation, rerun

        if config is not None:
            raise SemcomError(
                f"{folder} is a semcom evaluate result set: its results.json records the "
                "config that made it; leave --config out."
            )
        cfg, rows = load_evaluation(folder)
        picked = sample(rows, points, seed)
        verdict = compare(picked, rerun(cfg, picked, say), keys=KEYS)
    else:
        from experiments.config import load_config
        from experiments.plan_compare import load_rows
        from experiments.verify import default_config
        from experiments.verify import rerun as rerun_sweep

        rows = load_rows(folder)
        config = config if config is not None else default_config(folder)
        if not config.is_file():
            raise SemcomError(
                f"no config at {config}; name the one that made {folder} with --config."
            )
        cfg = load_config(config)
        picked = sample(rows, points, seed)
        with tempfile.TemporaryDirectory(prefix="semcom-verify-") as work:
            again = rerun_sweep(cfg, picked, Path(work), say)
        verdict = compare(picked, again)
    typer.echo(format_verdict(verdict))
    if not verdict.ok:
        raise typer.Exit(1)
