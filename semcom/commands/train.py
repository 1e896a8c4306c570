"""``semcom train``: the three training stages of the tiny preset (see the semcom.train package)."""

from __future__ import annotations

from pathlib import Path

import typer

from semcom.errors import SemcomError


def register(app: typer.Typer) -> None:
    """Add train to ``app``."""
    app.command("train")(train)


def train(
    stage: int | None = typer.Option(
        None,
        "--stage",
        help="1 (decoder and its parts), 2 (TASCM), 3 (joint); default: every stage from "
        "scratch in WORK/model, then replace --out.",
    ),
    part: list[str] = typer.Option(
        [],
        "--part",
        help="Only these parts of the stage (stage 1: captioner, hci, vae, spw, decoder).",
    ),
    config: Path | None = typer.Option(None, "--config", help="YAML of training settings."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Model directory to update (default: the shipped tiny weights in a source "
        "checkout, else runs/tiny-model: an installed package is never written to).",
    ),
    work: Path = typer.Option(Path("runs/train"), "--work", help="Checkpoints and logs."),
    steps: int | None = typer.Option(None, "--steps", help="Override every part's steps."),
    threads: int | None = typer.Option(None, "--threads", help="torch threads (default 2)."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore checkpoints in --work."),
) -> None:
    """Train MTGC-tiny on ShapesWorld; each part checkpoints, resumes and logs to WORK."""
    from semcom.train import STAGE_PARTS, TrainConfig, run_all, run_stage

    if stage is not None and stage not in STAGE_PARTS:
        raise SemcomError(f"--stage must be 1, 2 or 3, not {stage}.")
    cfg = TrainConfig.from_yaml(config) if config is not None else TrainConfig()
    overrides: dict = {}
    if steps is not None:
        known = set(TrainConfig.__dataclass_fields__)
        overrides.update(
            {
                f"{p}_steps": steps
                for parts in STAGE_PARTS.values()
                for p in parts
                if f"{p}_steps" in known  # `sampling` trains nothing
            }
        )
    if threads is not None:
        overrides["threads"] = threads
    cfg = cfg.updated(overrides, "the command line")
    if out is None:
        out = default_out()
        typer.echo(f"training into {out}", err=True)
    if stage is None:
        if part:
            raise SemcomError("--part needs --stage (the parts are named per stage).")
        reports = run_all(cfg, out, work, not fresh)
    else:
        reports = run_stage(stage, cfg, out, work, tuple(part) or None, not fresh)
    for name, report in reports.items():
        typer.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in report.items()))


#: Where ``semcom train`` writes when semcom is an installed package, not a source checkout.
INSTALLED_OUT = Path("runs/tiny-model")


def default_out() -> Path:
    """The shipped tiny weights' folder when semcom runs from a source checkout (a
    pyproject.toml beside the package: that is how the shipped weights are made), else
    :data:`INSTALLED_OUT`, so that training never writes into an installed package."""
    import semcom
    from semcom.presets.tiny import WEIGHTS_DIR

    source = Path(semcom.__file__).resolve().parents[1]
    return WEIGHTS_DIR if (source / "pyproject.toml").is_file() else INSTALLED_OUT
