"""``semcom plan``: what planned protection sends, and what it expects to deliver, per
(SNR, budget) point; ``--plot`` draws the predicted F1–PSNR trade-off as the objective's
weight moves."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from semcom.errors import SemcomError

#: Weights of PSNR (per dB) against F1 for the trade-off figure (F1 first at 0).
FRONT_WEIGHTS: tuple[float, ...] = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3, 1.0, 10.0)


def register(app: typer.Typer) -> None:
    """Add plan to ``app``."""
    app.command("plan")(plan)


def plan(
    codec: str = typer.Option("mtgc", "--codec", help="A registered digital codec."),
    channel: str = typer.Option("rayleigh", "--channel", help="A calibrated channel."),
    snr_db: list[str] = typer.Option(
        ["-6:9:3"], "--snr-db", help="Es/N0 values in dB, or start:stop:step (repeatable)."
    ),
    budget_cpp: list[float] = typer.Option(
        [0.03, 0.1], "--budget-cpp", help="Budgets in channel uses per pixel (repeatable)."
    ),
    objective: str = typer.Option(
        "f1",
        "--objective",
        help="f1, psnr, ms_ssim, ... a weighted sum (0.7*f1+0.01*psnr), or f1,psnr "
        "(psnr breaks ties within --tolerance).",
    ),
    tolerance: float | None = typer.Option(None, "--tolerance", help="Tie-break tolerance."),
    dataset: str = typer.Option(
        "shapes",
        "--dataset",
        help="shapes or shapes-complex: the world whose test scene is planned for (no "
        "--image), whose value tables plan it, and whose preset MTGC loads; with --check, "
        "the world of the sweep's scenes.",
    ),
    image: Path | None = typer.Option(
        None, "--image", help="Plan for this image (default: a --dataset test scene)."
    ),
    scene: int = typer.Option(0, "--scene", help="The --dataset test scene (no --image)."),
    weights: Path | None = typer.Option(None, "--weights", help="MTGC model directory."),
    frame: str = typer.Option("shared", "--frame", help="shared or per-stream."),
    harq: int = typer.Option(
        1,
        "--harq",
        help="HARQ: most transmissions per stream, retransmissions beyond the budget "
        "(planned as Chase combining over independent fades); 1: none.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the plans as JSON."),
    check: Path | None = typer.Option(
        None,
        "--check",
        help="Instead: compare a sweep's planned rows (folder of results.sqlite) with their "
        "predictions: a table per point, and with --out the table and a figure.",
    ),
    against: list[Path] = typer.Option(
        [],
        "--against",
        help="--check: results of the fixed rules on the same frames (a folder of "
        "results.parquet or results.sqlite; repeatable): planned against the best of them.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="--check: write check.md and check.png/pdf (with --against also compare.md and "
        "compare.png/pdf) into this folder.",
    ),
    plot: Path | None = typer.Option(
        None,
        "--plot",
        help="Draw the predicted F1-PSNR trade-off (PSNR's weight against F1 swept) at "
        "each SNR of the first budget to this PNG (and a PDF beside it).",
    ),
) -> None:
    """Plan each stream's payload and MCS to maximise the expected objective and print the
    plans with their channel uses and predicted scores."""
    import warnings

    import torch

    from channels.frame import check_frame
    from experiments.planning import Objective, describe, plan_planned
    from experiments.transmission import budget_uses, make_link
    from semcom.commands.link import parse_snr_list
    from semcom.data.datasets import dataset_names
    from semcom.registry import codec_class, make_codec
    from semcom.values import values_for

    if dataset not in dataset_names():
        raise SemcomError(f"--dataset must be {' or '.join(dataset_names())}, not {dataset!r}.")
    if check is not None:
        _check(check, out, against, dataset)
        return
    from channels.harq import HarqPolicy

    snrs = parse_snr_list(snr_db)
    check_frame(frame)
    HarqPolicy.parse(harq)  # a bad --harq fails before the model loads
    goal = Objective.parse(objective, tolerance)
    for cpp in budget_cpp:
        if not (math.isfinite(cpp) and cpp > 0):
            raise SemcomError(
                f"--budget-cpp {cpp:g} must be a positive number of channel uses per pixel."
            )
    if not 0 <= scene < 10000:
        raise SemcomError(f"--scene must be 0 to 9999, not {scene}.")
    if codec_class(codec).kind != "digital":
        raise SemcomError(f"{codec} sends analog symbols; it has no protection to plan.")
    if plot is not None and plot.suffix.lower() != ".png":
        raise SemcomError(f"--plot {plot} needs a .png name.")
    if image is not None:
        from semcom.imageio import load_image

        img = load_image(image)
    else:
        from semcom.data.datasets import make_dataset

        img = make_dataset(dataset, "test", scene + 1, 128, 0)[scene].image
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chosen = make_codec(codec, {}, weights=str(weights) if weights else None, dataset=dataset)
        table = values_for(chosen, dataset)
        goal.check(table)
        encoded = chosen.encode(img)
        from experiments.planning import sender_values

        table = sender_values(table, chosen, encoded, img)
    link = make_link(channel, None, frame, harq)
    rows = []
    for cpp in budget_cpp:
        budget = budget_uses(cpp, encoded.height, encoded.width)
        for snr in snrs:
            p = plan_planned(link, encoded, snr, budget, table, goal)
            rows.append(
                {
                    "snr_db": snr,
                    "budget_cpp": cpp,
                    "budget_uses": budget,
                    "channel_uses": p.frame_uses,
                    "streams": describe(p, encoded.stream_names),
                    "predicted": p.detail.get("predicted", {}),
                    "outcomes": p.predicted.outcomes,
                }
            )
    if plot is not None:
        _front(link, encoded, table, snrs, budget_cpp[0], plot, codec, channel)
    if as_json:
        typer.echo(
            json.dumps(
                {"codec": codec, "channel": channel, "objective": str(goal), "plans": rows},
                indent=1,
            )
        )
        return
    typer.echo(f"{codec} over {channel}, objective {goal}; predicted means per image:")
    for r in rows:
        figs = r["predicted"]
        sent = ", ".join(f"{k} {v}" for k, v in r["streams"].items())
        typer.echo(
            f"  {r['snr_db']:+6.1f} dB {r['budget_cpp']:g} cpp: {r['channel_uses']:5d}/"
            f"{r['budget_uses']} uses; {sent}; F1 {figs.get('f1', float('nan')):.3f}, "
            f"PSNR {figs.get('psnr', float('nan')):.2f} dB"
        )


def _check(folder: Path, out: Path | None, against: list[Path], dataset: str = "shapes") -> None:
    """``semcom plan --check``: the planner's predictions against a sweep's measurements,
    and with ``--against`` planned protection against the fixed rules on the same frames
    (the caption's outage limit read from the value table of ``dataset``'s world)."""
    from experiments import plan_check, plan_compare
    from experiments.store import atomic_write_text

    table = plan_check.compare(folder)
    text = plan_check.markdown(table)
    if out is not None:
        if out.exists() and not out.is_dir():
            raise SemcomError(f"--out {out} exists and is not a folder.")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "check.md", text + "\n")
        plan_check.figure(table, out / "check.png")
    typer.echo(text)
    if not against:
        return
    rows = plan_compare.load_rows(folder)
    refs = [plan_compare.load_rows(p) for p in against]
    verdict = plan_compare.verdicts(plan_compare.compare_rules(rows, refs))
    text = plan_compare.markdown(verdict)
    bounds = _outage_bounds(rows, refs, dataset)
    captioned = plan_compare.caption_codecs(rows)
    if bounds:
        lines = [
            "",
            "Caption-only outage limit over Rayleigh (and 1 dB lower) against the planned "
            "codec with a caption:",
        ]
        for cpp, by_snr in sorted(bounds.items()):
            for snr, (bound, lower) in sorted(by_snr.items()):
                got = verdict[
                    (verdict["channel"] == "rayleigh")
                    & (verdict["budget_cpp"] == cpp)
                    & (verdict["snr_db"] == snr)
                    & (verdict["planned"].map(plan_compare.base_codec).isin(captioned))
                ]["f1_planned"]
                best = f"{got.max():.3f}" if len(got) else "-"
                lines.append(
                    f"- {cpp:g} cpp, {snr:+g} dB: limit {bound:.3f}, 1 dB lower {lower:.3f}, "
                    f"planned {best}"
                )
        text += "\n".join(lines)
    table_all = plan_compare.compare_rules(rows, refs)
    fronts = plan_compare.front_lines(table_all)
    if fronts:
        text += "\n\nThe F1-PSNR front of the objectives against the fixed rule:\n\n"
        text += plan_compare.front_markdown(fronts)
    if out is not None:
        atomic_write_text(out / "compare.md", text + "\n")
        plan_compare.figure(table_all, out / "compare.png", bounds)
        if fronts:
            plan_compare.front_figure(fronts, out / "front.png")
    typer.echo(text)


def _outage_bounds(rows, refs, dataset: str = "shapes") -> dict:
    """{budget: {snr: (limit, limit 1 dB lower)}} of the caption over Rayleigh, from the
    value table of the codec whose rows send a ``caption`` stream (MTGC's): its
    caption-only F1 (empty without such rows, or with several such codecs)."""
    import pandas as pd

    from experiments.plan_compare import caption_codecs, outage_rows
    from semcom.registry import make_codec
    from semcom.values import values_for

    every = pd.concat([rows, *refs], ignore_index=True)
    codecs = caption_codecs(every)
    if len(codecs) != 1:
        return {}
    codec = make_codec(codecs.pop(), {}, dataset=dataset)
    f1_caption = float(values_for(codec, dataset).value(["caption"], "f1"))
    ray = every[every["channel"] == "rayleigh"]
    return {cpp: outage_rows(ray, f1_caption, cpp) for cpp in sorted(set(ray["budget_cpp"]))}


def _front(link, encoded, table, snrs, cpp, path: Path, codec: str, channel: str) -> None:
    """The predicted F1-PSNR front at each SNR: the plan of f1 + w psnr for each weight
    of :data:`FRONT_WEIGHTS`, and psnr alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from channels.plotting import save_png_pdf
    from experiments.planning import Objective, plan_planned
    from experiments.transmission import budget_uses

    budget = budget_uses(cpp, encoded.height, encoded.width)
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    markers = "osD^vP*X"
    for k, snr in enumerate(snrs):
        pts = []
        for w in (*FRONT_WEIGHTS, None):
            goal = (
                Objective((("psnr", 1.0),))
                if w is None
                else Objective(
                    (("f1", 1.0), ("psnr", w)) if w else (("f1", 1.0),), "psnr" if not w else None
                )
            )
            fig_ = plan_planned(link, encoded, snr, budget, table, goal).predicted.figures
            pts.append((fig_["psnr"], fig_["f1"]))
        pts = sorted(set(pts))
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker=markers[k % len(markers)],
            label=f"{snr:g} dB",
        )
    ax.set_xlabel("predicted PSNR (dB)")
    ax.set_ylabel("predicted object F1")
    ax.set_title(f"{codec} over {channel}, {cpp:g} cpp: planned trade-off", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title="Es/N0", title_fontsize=7)
    fig.tight_layout()
    save_png_pdf(fig, path)
