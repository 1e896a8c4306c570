"""``semcom evaluate``: a reference codec (MTGC), its ablations and every other digital
codec on ShapesWorld test scenes (or validation scenes, for choosing settings), or on a
folder of natural images (``--dataset folder:PATH``: pixel and perceptual figures)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from semcom.errors import SemcomError

#: How the summary line names each synthetic world's scenes.
_WORLD_TITLES = {"shapes": "ShapesWorld", "shapes-complex": "ShapesWorld-Complex"}


def register(app: typer.Typer) -> None:
    """Add evaluate to ``app``."""
    app.command("evaluate")(evaluate)


def evaluate(
    codec: list[str] = typer.Option(
        [],
        "--codec",
        help="Codecs to run: registered digital codecs and ablations of the reference such "
        "as mtgc-caption or mtgc-caption-hci (default: the reference, each of its streams "
        "alone, each leave-one-out set, then every other installed digital codec).",
    ),
    reference: str = typer.Option(
        "mtgc",
        "--reference",
        help="The codec whose rate the others match and whose ablations may be named.",
    ),
    dataset: str = typer.Option(
        "shapes",
        "--dataset",
        help="shapes (ShapesWorld) or shapes-complex (ShapesWorld-Complex): semantic and pixel "
        "figures; or folder:PATH (every PNG, JPEG and WebP image in PATH, by name: pixel and "
        "perceptual figures, no semantic ones).",
    ),
    image_size: int | None = typer.Option(
        None,
        "--image-size",
        help="folder: images centre-cropped and resized to this square side (default: the "
        "reference's natural size, 128 for MTGC-tiny, 512 for sd21).",
    ),
    captions: Path | None = typer.Option(
        None,
        "--captions",
        help='folder: JSONL of {"file": "name.png", "caption": "..."}, the transmitter\'s '
        "caption per image (default: PATH/captions.jsonl if present; others: the captioner's).",
    ),
    clip: Path | None = typer.Option(
        None,
        "--clip",
        help="folder: a local transformers CLIP model folder for the CLIP score (else skipped).",
    ),
    inception: Path | None = typer.Option(
        None,
        "--inception",
        help="folder: Inception-v3 safetensors for FID/KID on patches (default: "
        "inception/inception_v3.safetensors in the perceptual weights folder; else skipped).",
    ),
    fid_patch: int | None = typer.Option(
        None,
        "--fid-patch",
        help="folder: FID/KID patch side (default 64; 256 for images of 512 pixels or more).",
    ),
    split: str = typer.Option(
        "test",
        "--split",
        help="test (results) or val (validation scenes: choose models and settings there, "
        "never on test scenes).",
    ),
    n: int = typer.Option(200, "--n", help="Number of scenes (folder: at most this many images)."),
    seed: int = typer.Option(
        0, "--seed", help="Data set seed within the split (and bootstrap seed)."
    ),
    target_bpp: float = typer.Option(
        0.05, "--target-bpp", help="The reference's rate per image (its planner's budget)."
    ),
    match: str = typer.Option(
        "equal",
        "--match",
        help="Other codecs' rate vs the reference's: equal (each image's figures "
        "interpolated in bits between its points below and above the reference's bits); "
        "per image above, nearest or below; or interpolate (pooled figures interpolated "
        "to the reference's mean rate).",
    ),
    steps: int | None = typer.Option(None, "--steps", help="Diffusion steps (preset default)."),
    weights: Path | None = typer.Option(
        None, "--weights", help="The reference's model directory (MTGC's)."
    ),
    hci_lowpass: int | None = typer.Option(
        None,
        "--hci-lowpass",
        help="Receiver's low-frequency swap from the HCI: 0 off, or a factor (default: the "
        "model's).",
    ),
    init_strength: float | None = typer.Option(
        None,
        "--init-strength",
        help="Where the decoder starts: 1 from noise, below 1 from the scene sketch noised "
        "that far into the schedule (default: the model's).",
    ),
    metric: list[str] = typer.Option(
        [],
        "--metric",
        help="Also score this metric (repeatable; `semcom list metrics`), e.g. lpips.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Write results.json, images.parquet (per-image rows, for semcom verify), "
        "table.md, reconstructions.png/pdf and rate.png/pdf (object F1 and PSNR against bpp) "
        "here.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    threads: int = typer.Option(1, "--threads", help="torch threads (1 is fastest on 2 cores)."),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Processes decoding the reference (each loads its model; use your cores).",
    ),
    values: Path | None = typer.Option(
        None,
        "--values",
        help="Measure value tables instead (what each subset of streams is worth, for the "
        "planner; needs --split val): one --codec (default the reference) to this JSON "
        "file, several to NAME.json in this folder.",
    ),
    value_options: int = typer.Option(
        6,
        "--value-options",
        help="--values: payload options per variable stream decoded per scene, spread over "
        "its sizes.",
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress messages."),
    half: bool = typer.Option(
        False,
        "--half",
        help="The reference's networks in half precision (float16 on a GPU, bfloat16 on a CPU).",
    ),
    device: str = typer.Option(
        "cpu",
        "--device",
        help="cpu, cuda (cuda:N) or auto: where the reference codec's models run (the other "
        "codecs' encoders are CPU libraries).",
    ),
) -> None:
    """Real bpp, semantic accuracy, object F1, hallucination rate, PSNR, MS-SSIM (95 % CIs);
    on a folder: bpp, PSNR, MS-SSIM, and LPIPS, DISTS, CLIP score, FID/KID where their
    local weights are."""
    import sys

    import torch

    from experiments.evaluation import (
        EvalConfig,
        check_claim,
        format_differences,
        format_markdown,
        format_table,
        measure,
        pooled,
        rate_figure,
        reconstruction_figure,
    )

    if threads < 1:
        raise SemcomError("--threads must be at least 1.")
    if value_options < 1:
        raise SemcomError(f"--value-options must be at least 1, not {value_options}.")
    from semcom.devices import resolve_device

    dev = resolve_device(device)
    if half:
        from semcom.registry import codec_class

        if "half" not in getattr(codec_class(reference), "option_names", ()):
            raise SemcomError(f"--half applies to a reference with networks, not {reference}.")
    if out is not None and out.exists() and not out.is_dir():
        raise SemcomError(f"--out {out} exists and is not a folder.")
    if values is not None:
        torch.set_num_threads(threads)
        _measure_values(
            list(codec) or [reference],
            values,
            split=split,
            dataset=dataset,
            n=n,
            seed=seed,
            steps=steps,
            weights=weights,
            options=value_options,
            metrics=tuple(metric),
            device=dev,
            quiet=quiet,
        )
        return
    cfg = EvalConfig(
        codecs=tuple(codec) or None,
        reference=reference,
        n=n,
        split=split,
        seed=seed,
        target_bpp=target_bpp,
        match=match,
        steps=steps,
        weights=str(weights) if weights is not None else None,
        workers=workers,
        hci_lowpass=hci_lowpass,
        init_strength=init_strength,
        metrics=tuple(metric),
        device=dev,
        options={"half": True} if half else {},
        dataset=dataset,
        image_size=image_size,
        captions=str(captions) if captions is not None else None,
        clip=str(clip) if clip is not None else None,
        inception=str(inception) if inception is not None else None,
        fid_patch=fid_patch,
    )
    torch.set_num_threads(threads)

    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    about: dict = {}
    measured = measure(cfg, say, about, lambda line: typer.echo(line, err=True))
    summaries = pooled(cfg, measured)
    results, reference = measured.results, measured.reference
    failures = check_claim(summaries, cfg.reference)
    semantic = any("f1" in s for s in summaries)
    notes = about.get("notes", [])
    report = {
        "config": {**cfg.__dict__, "codecs": list(cfg.codecs or ())},
        "data": about,
        "results": summaries,
        "claim_holds": not failures if semantic else None,
        "claim_failures": failures,
    }
    if out is not None:
        from experiments.evaluation.rows import ROWS_FILE, image_rows, write_rows
        from experiments.store import atomic_write_text

        out.mkdir(parents=True, exist_ok=True)
        # the per-image rows first: a results.json that names them has them beside it
        write_rows(image_rows(measured, tuple(cfg.codecs or ())), out / ROWS_FILE)
        report["image_rows"] = ROWS_FILE
        atomic_write_text(out / "results.json", json.dumps(report, indent=2) + "\n")
        diffs = format_differences(summaries, cfg.reference)
        table = format_markdown(summaries) + ("\n\n" + diffs if diffs else "")
        table += "".join(f"\n\n{note}" for note in notes)
        if about.get("world"):  # the codecs trained on other images (printed at the start)
            table += f"\n\n{about['world']}"
        atomic_write_text(out / "table.md", table + "\n")
        reconstruction_figure(results, reference, summaries, out / "reconstructions.png")
        rate_figure(summaries, out / "rate.png", cfg.reference)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(format_table(summaries))
    diffs = format_differences(summaries, cfg.reference)
    if diffs:
        typer.echo("\nDifferences from the reference (paired 95 % bootstrap intervals):")
        typer.echo(diffs)
    from semcom.registry import codec_title

    ref = codec_title(cfg.reference)
    side = "x".join(str(v) for v in about["image_size"])
    what = (
        f"{cfg.n} {_WORLD_TITLES.get(dataset, dataset)} "
        f"{'validation' if cfg.split == 'val' else 'test'} scenes"
        if semantic
        else f"{about['images']} images of {dataset[len('folder:') :]} at {side}"
    )
    typer.echo(
        f"{what}; "
        "other codecs "
        + (
            f"interpolated in bpp to {ref}'s mean rate"
            if cfg.match == "interpolate"
            else f"interpolated per image to {ref}'s bits"
            if cfg.match == "equal"
            else f"matched '{cfg.match}' {ref}'s rate per image"
        )
        + "; [95 % bootstrap intervals]."
    )
    for note in notes:
        typer.echo(note)
    if not semantic:
        return
    if failures:
        typer.echo(f"{ref} does not beat every rival: " + "; ".join(failures) + ".")
    elif cfg.reference in (cfg.codecs or ()):
        typer.echo(f"{ref} is above every rival in object F1 (paired 95 % intervals above 0).")


def _measure_values(
    names: list[str],
    path: Path,
    *,
    split: str,
    dataset: str,
    n: int,
    seed: int,
    steps: int | None,
    weights: Path | None,
    options: int,
    metrics: tuple[str, ...],
    device: str,
    quiet: bool,
) -> None:
    """``semcom evaluate --values``: each codec's value table on validation scenes."""
    import sys

    from experiments.values import measure_values
    from semcom.data.datasets import dataset_names, make_dataset
    from semcom.metrics.registry import DEFAULT_METRICS
    from semcom.registry import codec_class, make_codec

    if split != "val":
        raise SemcomError("value tables are measured on validation scenes only; add --split val.")
    if dataset not in dataset_names():
        raise SemcomError(
            "value tables are measured on the validation scenes of a named world "
            f"(--dataset {' or '.join(dataset_names())}), not on {dataset}."
        )
    if not 1 <= n <= 10000:
        raise SemcomError(f"--n must be 1 to 10000 scenes, not {n}.")
    if len(names) > 1 and path.exists() and not path.is_dir():
        raise SemcomError(f"--values {path} must be a folder for several codecs.")
    for name in names:
        if codec_class(name).kind != "digital":
            raise SemcomError(f"{name} sends analog symbols; value tables are for digital codecs.")
    data = make_dataset(dataset, "val", n, 128, seed)
    items = [data[i] for i in range(n)]
    import torch

    images = torch.stack([it.image for it in items])
    truths = [it.objects for it in items]
    for name in names:
        opts = (
            {"steps": steps}
            if steps is not None and "steps" in codec_class(name).option_names
            else {}
        )
        codec = make_codec(
            name, opts, weights=str(weights) if weights else None, device=device, dataset=dataset
        )  # MTGC without --weights: the preset trained for the data set (tiny-complex)
        target = path / f"{name}.json" if len(names) > 1 else path
        cmd = f"semcom evaluate --split val --n {n} --seed {seed} --codec {name}"
        cmd += f" --dataset {dataset}" if dataset != "shapes" else ""
        cmd += f" --value-options {options}" + (f" --steps {steps}" if opts else "")
        table = measure_values(
            codec,
            images,
            truths,
            options=options,
            metrics=metrics or DEFAULT_METRICS,
            meta={
                "split": "val",
                "dataset": dataset,
                "dataset_seed": seed,
                "options": opts,
                "command": cmd,
            },
            progress=None
            if quiet
            else (lambda m, name=name: print(f"{name}: {m}", file=sys.stderr, flush=True)),
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        table.save(target)
        typer.echo(f"{name}: value table of {len(table.curves)} stream subsets -> {target}")
