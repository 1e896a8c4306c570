"""``semcom evaluate``: a reference codec (MTGC), its ablations and every other digital
codec on ShapesWorld test scenes (or validation scenes, for choosing settings)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from semcom.errors import SemcomError


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
    dataset: str = typer.Option("shapes", "--dataset", help="Data set (shapes: ShapesWorld)."),
    split: str = typer.Option(
        "test",
        "--split",
        help="test (results) or val (validation scenes: choose models and settings there, "
        "never on test scenes).",
    ),
    n: int = typer.Option(200, "--n", help="Number of scenes."),
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
        help="Write results.json, table.md, reconstructions.png/pdf and rate.png/pdf "
        "(object F1 and PSNR against bpp) here.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    threads: int = typer.Option(1, "--threads", help="torch threads (1 is fastest on 2 cores)."),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Processes decoding the reference (each loads its model; use your cores).",
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
    """Real bpp, semantic accuracy, object F1, hallucination rate, PSNR, MS-SSIM (95 % CIs)."""
    import sys

    import torch

    from experiments.evaluate import (
        EvalConfig,
        check_claim,
        format_differences,
        format_markdown,
        format_table,
        rate_figure,
        reconstruction_figure,
    )
    from experiments.evaluate import evaluate as run

    if dataset != "shapes":
        raise SemcomError(
            f"--dataset {dataset} is not available: semantic scores need ground truth, "
            "which only ShapesWorld (shapes) has."
        )
    if threads < 1:
        raise SemcomError("--threads must be at least 1.")
    from semcom.devices import resolve_device

    dev = resolve_device(device)
    if half:
        from semcom.registry import codec_class

        if "half" not in getattr(codec_class(reference), "option_names", ()):
            raise SemcomError(f"--half applies to a reference with networks, not {reference}.")
    if out is not None and out.exists() and not out.is_dir():
        raise SemcomError(f"--out {out} exists and is not a folder.")
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
    )
    torch.set_num_threads(threads)

    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    summaries, results, reference = run(cfg, say)
    failures = check_claim(summaries, cfg.reference)
    report = {
        "config": {**cfg.__dict__, "codecs": list(cfg.codecs or ())},
        "results": summaries,
        "claim_holds": not failures,
        "claim_failures": failures,
    }
    if out is not None:
        from experiments.store import atomic_write_text

        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "results.json", json.dumps(report, indent=2) + "\n")
        diffs = format_differences(summaries, cfg.reference)
        table = format_markdown(summaries) + ("\n\n" + diffs if diffs else "")
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
    ref = "MTGC" if cfg.reference == "mtgc" else cfg.reference
    typer.echo(
        f"{cfg.n} ShapesWorld {'validation' if cfg.split == 'val' else 'test'} scenes; "
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
    if failures:
        typer.echo(f"{ref} does not beat every rival: " + "; ".join(failures) + ".")
    elif cfg.reference in (cfg.codecs or ()):
        typer.echo(f"{ref} is above every rival in object F1 (paired 95 % intervals above 0).")
