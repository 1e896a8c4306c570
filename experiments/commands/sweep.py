"""``semcom sweep``, ``semcom export``, ``semcom plot`` (and ``semcom verify``): channel sweeps
and their results."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from semcom.errors import SemcomError


def register(app: typer.Typer) -> None:
    """Add sweep, export, plot and verify (:mod:`experiments.commands.verify`) to ``app``."""
    from experiments.commands.verify import verify

    app.command("sweep")(sweep)
    app.command("export")(export)
    app.command("plot")(plot)
    app.command("verify")(verify)


def sweep(
    config: Path = typer.Argument(..., help="Sweep config (YAML)."),
    out: Path = typer.Option(..., "--out", help="Folder of the results store."),
    resume: bool = typer.Option(False, "--resume", help="Continue a sweep in --out."),
    executor: str = typer.Option(
        "local", "--executor", help="local (this process) or ray (Ray actors, one writer)."
    ),
    address: str | None = typer.Option(
        None, "--address", help="Ray cluster to join (ray only; default: start a local one)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Ray worker actors (ray only; default: the cluster's CPUs)."
    ),
    threads: int = typer.Option(
        1, "--threads", help="torch threads per process (1 is fastest on 2 cores)."
    ),
    weights: Path | None = typer.Option(
        None, "--weights", help="MTGC model folder (default: the preset's; sd21 needs one)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    device: str | None = typer.Option(
        None,
        "--device",
        help="cpu, cuda (cuda:N) or auto, overriding the config's `device` (default cpu); "
        "GPU results are stored apart from CPU ones (the config hash names cuda).",
    ),
) -> None:
    """Run a sweep over codecs, channels, SNRs and budgets; results go to OUT."""
    import torch

    from experiments.config import load_config
    from experiments.sweep import run_sweep, world_notice

    if executor != "ray" and (address or workers):
        raise SemcomError("--address and --workers apply to --executor ray only.")
    if threads < 1 or (workers is not None and workers < 1):
        raise SemcomError("--threads and --workers must be at least 1.")
    cfg = load_config(config)
    if device is not None:
        import dataclasses

        from semcom.devices import resolve_device

        cfg = dataclasses.replace(cfg, device=resolve_device(device))
    torch.set_num_threads(threads)
    notice = world_notice(cfg, weights)
    if notice is not None:
        typer.echo(notice, err=True)
    report = run_sweep(
        cfg,
        out,
        resume=resume,
        progress=not quiet,
        executor=executor,
        address=address,
        workers=workers,
        threads=threads,
        weights=weights,
    )
    print_summary(out, report)


def print_summary(out: Path, report) -> None:
    """The end-of-sweep table: per codec and channel, success rate and mean figures."""
    from rich.console import Console
    from rich.table import Table

    from experiments.store import Store

    store = Store(out, create=False)
    try:
        df = store.frame(report.config_hash)
        digest = store.digest(report.config_hash)
        outcomes = store.outcome_digest(report.config_hash)
    finally:
        store.close()
    console = Console()
    table = Table(title=f"sweep {report.config_hash} · {len(df)} of {report.points_total} points")
    for col in ("codec", "channel", "points", "delivered", "PSNR dB", "MS-SSIM", "attr. acc."):
        table.add_column(col, justify="left" if col in ("codec", "channel") else "right")
    for (codec, channel), g in df.groupby(["codec", "channel"], sort=False):
        acc = g["attribute_accuracy"].dropna()
        table.add_row(
            codec,
            channel,
            str(len(g)),
            f"{g['success'].mean():.0%}",
            f"{g['psnr'].mean():.2f}",
            f"{g['ms_ssim'].mean():.3f}",
            f"{acc.mean():.3f}" if len(acc) else "-",
        )
    console.print(table)
    console.print(f"results digest: {digest}", markup=False, highlight=False)
    console.print(f"outcome digest: {outcomes}", markup=False, highlight=False)
    calls = sum(report.decoder_calls.values())
    per_codec = ", ".join(
        f"{c} {report.decoder_calls.get(c, 0)}/{n}" for c, n in report.points_by_codec.items()
    )
    line = (
        f"this run: {report.points_written} points, {calls} decoder calls "
        f"({report.decoder_calls_per_point:.3f} per point; per codec calls/points: {per_codec})"
    )
    if not report.points_written:
        line = f"this run: nothing to do, all {report.points_total} points were already stored"
    console.print(line, markup=False, highlight=False)
    if report.seconds:
        total = sum(report.seconds.values())
        shares = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(report.seconds.items()))
        console.print(f"time: {total:.1f} s ({shares})", markup=False, highlight=False)
    if report.semantic != "ok":
        console.print(f"semantic figures missing: {report.semantic}", markup=False, highlight=False)


def export(
    folder: Path = typer.Argument(..., help="A sweep's --out folder."),
    fmt: str = typer.Option(
        "csv",
        "--format",
        help="csv or parquet (one row per point), or markdown (object F1 with 95 % "
        "intervals, delivery and delivered bpp per channel, budget, codec and SNR).",
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="File (default: in FOLDER)."),
    with_: list[Path] = typer.Option(
        [],
        "--with",
        help="Another sweep folder whose rows join FOLDER's (repeatable; e.g. two sweeps of "
        "one grid with different codecs).",
    ),
    codec: list[str] = typer.Option(
        [], "--codec", help="Only these codec labels (repeatable; rows then sorted by label)."
    ),
) -> None:
    """Export a sweep's results: rows (one per point, per-stream columns) as CSV or
    Parquet, or its tables as Markdown."""
    import pandas as pd

    from experiments.store import Store

    if fmt not in ("csv", "parquet", "markdown"):
        raise SemcomError(f"--format must be csv, parquet or markdown, not {fmt!r}.")
    frames = []
    for source in (folder, *with_):
        store = Store(source, create=False)
        try:
            frames.append(store.frame())
        finally:
            store.close()
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if codec:
        unknown = sorted(set(codec) - set(df["codec"])) if len(df) else sorted(codec)
        if unknown:
            raise SemcomError(f"no rows of codec {unknown[0]!r} in {folder}; check --codec.")
        df = df[df["codec"].isin(codec)].sort_values("codec", kind="stable")
    if not len(df):
        raise SemcomError(f"{folder} holds no results yet: run the sweep first.")
    name = "tables.md" if fmt == "markdown" else f"results.{fmt}"
    path = output or folder / name
    if not path.parent.is_dir():
        raise SemcomError(f"the folder of --output {path} does not exist; create it first.")
    tmp = path.with_name(f".{path.name}.tmp")
    try:  # written beside it, then renamed: a killed or failed export leaves no partial file
        if fmt == "markdown":
            from experiments.sweep_tables import sweep_tables

            tmp.write_text(sweep_tables(df) + "\n")
        elif fmt == "csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise SemcomError(
            f"cannot write {path} ({err.strerror or err}); free space or choose another "
            "--output, then export again."
        ) from None
    typer.echo(f"wrote {len(df)} rows{' as tables' if fmt == 'markdown' else ''} to {path}")


def plot(
    folder: Path = typer.Argument(..., help="A sweep's --out folder."),
    out: Path | None = typer.Option(None, "--out", help="Figure folder (default FOLDER/figures)."),
    budget_cpp: float | None = typer.Option(None, help="Budget of the vs-SNR figures."),
    snr_db: float | None = typer.Option(None, help="SNR of the vs-budget figures."),
) -> None:
    """Draw a sweep's figures (PNG and PDF) from its results store."""
    from experiments.plots import plot_all

    paths = plot_all(folder, out or folder / "figures", budget_cpp=budget_cpp, snr_db=snr_db)
    for p in paths:
        typer.echo(f"wrote {p}")
