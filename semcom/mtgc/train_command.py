"""``semcom train``: the three training stages of MTGC: the tiny preset on ShapesWorld (the
semcom.mtgc.train package) or the sd21 preset on a folder of natural images
(:mod:`semcom.mtgc.train.natural`)."""

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
        help="1 (decoder and its parts), 2 (TASCM), 3 (joint, overlay painter, SPW entropy model, "
        "sampling); "
        "default: every stage from scratch in WORK/model, then replace --out.",
    ),
    part: list[str] = typer.Option(
        [],
        "--part",
        help="Only these parts of the stage (stage 1: captioner, hci, vae, spw, sketch, "
        "decoder; stage 3: joint, overlay, spw_code, sampling).",
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
    value_scenes: int = typer.Option(
        48,
        "--value-scenes",
        help="After a full run: measure the model's value table (what planned protection "
        "reads) on this many validation scenes into OUT/values.json; 0 skips it.",
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore checkpoints in --work."),
    preset: str = typer.Option(
        "tiny",
        "--preset",
        help="tiny (ShapesWorld, CPU recipe), tiny-complex (ShapesWorld-Complex, the same "
        "recipe) or sd21 (an image folder: --data, --out).",
    ),
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        help="The named data set to train on: shapes (the tiny preset) or shapes-complex "
        "(the tiny-complex preset); the same as --preset.",
    ),
    data: Path | None = typer.Option(
        None, "--data", help="sd21: the folder of training images (PNG, JPEG, WebP)."
    ),
    captions: Path | None = typer.Option(
        None,
        "--captions",
        help='sd21: JSONL of {"file": ..., "caption": ...} (default DATA/captions.jsonl).',
    ),
    sd: Path | None = typer.Option(
        None,
        "--sd",
        help="sd21: a local Stable Diffusion 2.1-base diffusers snapshot, to assemble --out "
        "from when it holds no model yet.",
    ),
    image_encoder: Path | None = typer.Option(
        None,
        "--image-encoder",
        help="sd21: a local transformers CLIPVisionModel folder (with --sd).",
    ),
    device: str = typer.Option(
        "cpu", "--device", help="cpu, cuda (cuda:N) or auto: where sd21 trains."
    ),
) -> None:
    """Train MTGC (tiny on ShapesWorld, tiny-complex on ShapesWorld-Complex, sd21 on an image
    folder); each part checkpoints, resumes and logs to WORK."""
    from semcom.devices import resolve_device
    from semcom.mtgc.train import STAGE_PARTS, TrainConfig, run_all, run_stage

    if dataset is not None:
        from semcom.mtgc.config import DATASET_PRESETS as presets

        if dataset not in presets:
            raise SemcomError(
                f"--dataset must be shapes or shapes-complex, not {dataset!r} (a folder of "
                "images trains --preset sd21 with --data FOLDER)."
            )
        if preset not in ("tiny", presets[dataset]):
            raise SemcomError(
                f"--dataset {dataset} trains the {presets[dataset]} preset, not {preset}."
            )
        preset = presets[dataset]

    where = resolve_device(device)
    if preset == "sd21":
        _train_sd21(
            stage=stage,
            part=part,
            config=config,
            out=out,
            work=work,
            steps=steps,
            threads=threads,
            fresh=fresh,
            data=data,
            captions=captions,
            sd=sd,
            image_encoder=image_encoder,
            device=where,
        )
        return
    if preset not in ("tiny", "tiny-complex"):
        raise SemcomError(f"--preset must be tiny, tiny-complex or sd21, not {preset!r}.")
    for flag, value in (
        ("--data", data),
        ("--captions", captions),
        ("--sd", sd),
        ("--image-encoder", image_encoder),
    ):
        if value is not None:
            raise SemcomError(f"{flag} applies to --preset sd21 ({preset} renders its scenes).")
    if where != "cpu":
        raise SemcomError(
            "the tiny recipe trains on the CPU (its shipped weights come from 2 cores); "
            "--device cuda applies to --preset sd21."
        )
    if stage is not None and stage not in STAGE_PARTS:
        raise SemcomError(f"--stage must be 1, 2 or 3, not {stage}.")
    if not 0 <= value_scenes <= 10000:
        raise SemcomError(f"--value-scenes must be 0 to 10000, not {value_scenes}.")
    from semcom.mtgc.train.run import preset_training

    cfg = preset_training(preset)
    if config is not None:
        cfg = TrainConfig.from_yaml(config, base=cfg)
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
        out = default_out(preset)
        typer.echo(f"training into {out}", err=True)
    if stage is None:
        if part:
            raise SemcomError("--part needs --stage (the parts are named per stage).")
        reports = run_all(cfg, out, work, not fresh, preset=preset)
        if value_scenes > 0:
            _measure_values(out, value_scenes)
    else:
        reports = run_stage(stage, cfg, out, work, tuple(part) or None, not fresh, preset)
    for name, report in reports.items():
        typer.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in report.items()))


def _measure_values(out: Path, scenes: int) -> None:
    """The last part of ``semcom train``: the trained model's value table on validation
    scenes of the world it was trained on, through ``semcom evaluate --values`` (the
    command that measures every codec's)."""
    from semcom.cli import main

    args = value_args(out, scenes)
    if main(args) != 0:
        raise SemcomError(
            f"measuring the value table of {out} failed; run semcom {' '.join(args)}."
        )


def value_args(out: Path, scenes: int) -> list[str]:
    """The ``semcom`` arguments that measure the value table of the model in ``out`` on
    ``scenes`` validation scenes of its world (:func:`~semcom.mtgc.config.recorded_world`;
    ShapesWorld when it states none)."""
    from semcom.mtgc.config import recorded_world

    world = recorded_world(out) or "shapes"
    args = ["evaluate", "--split", "val", "--dataset", world, "--n", str(scenes)]
    args += ["--codec", "mtgc", "--steps", "10", "--weights", str(out)]
    return args + ["--values", str(out / "values.json"), "--quiet"]


def _train_sd21(
    *,
    stage,
    part,
    config,
    out,
    work,
    steps,
    threads,
    fresh,
    data,
    captions,
    sd,
    image_encoder,
    device,
) -> None:
    """``semcom train --preset sd21``: assemble ``out`` if asked, then train on ``data``."""
    from semcom.mtgc.presets.sd21 import assemble_sd21
    from semcom.mtgc.train.natural import NATURAL_STAGE_PARTS, NaturalTrainConfig, train_natural

    if data is None or out is None:
        raise SemcomError(
            "--preset sd21 trains on --data FOLDER (images and captions.jsonl) into --out "
            "MODEL_DIR (an sd21 weights directory)."
        )
    cfg = NaturalTrainConfig.from_yaml(config) if config is not None else NaturalTrainConfig()
    overrides: dict = {}
    if steps is not None:
        overrides.update({f"{p}_steps": steps for ps in NATURAL_STAGE_PARTS.values() for p in ps})
    if threads is not None:
        overrides["threads"] = threads
    cfg = cfg.updated(overrides, "the command line")
    if not (out / "mtgc.json").is_file():
        if sd is None or image_encoder is None:
            raise SemcomError(
                f"{out} holds no sd21 model: pass --sd SD21_BASE_DIR and --image-encoder "
                "CLIP_VISION_DIR to assemble one there."
            )
        if not image_encoder.is_dir():
            raise SemcomError(f"the image encoder folder {image_encoder} does not exist.")
        typer.echo(f"assembling an sd21 model in {out} from {sd} and {image_encoder}", err=True)
        # images smaller than the preset default of 256 set the smallest size taken
        assemble_sd21(sd, image_encoder, out, min_size=min(256, cfg.image_size))
    reports = train_natural(
        stage, data, out, work, cfg, tuple(part) or None, not fresh, device, captions
    )
    for name, report in reports.items():
        typer.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in report.items()))


#: Where ``semcom train`` writes when semcom is an installed package, not a source checkout.
INSTALLED_OUT = Path("runs/tiny-model")


def default_out(preset: str = "tiny") -> Path:
    """The preset's shipped weights' folder when semcom runs from a source checkout (a
    pyproject.toml beside the package: that is how the shipped weights are made), else
    :data:`INSTALLED_OUT` (``runs/<preset>-model``), so that training never writes into an
    installed package."""
    import semcom
    from semcom.mtgc.presets.tiny import WEIGHTS_DIR

    source = Path(semcom.__file__).resolve().parents[1]
    if not (source / "pyproject.toml").is_file():
        return INSTALLED_OUT if preset == "tiny" else Path(f"runs/{preset}-model")
    return WEIGHTS_DIR.with_name(preset)
