"""``semcom transmit``: one image through one simulated link, with any registered codec."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import typer

from semcom.errors import SemcomError

_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".webp")


def register(app: typer.Typer) -> None:
    """Add ``semcom transmit`` to ``app``."""
    app.command("transmit")(transmit)


def _channel_options(items: list[str]) -> dict:
    """``KEY=VALUE`` strings → options, each value read as a YAML scalar (1, 0.5, true)."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise SemcomError(f"--channel-option {item!r} must be KEY=VALUE, e.g. coherence=1.")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise SemcomError(f"--channel-option {item!r}: the value is not a scalar.") from err
    return out


def transmit(
    image: Path = typer.Argument(..., help="Image file to send (PNG, JPEG, WebP, ...)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the received image."),
    codec: str = typer.Option(
        "mtgc",
        "--codec",
        help="A registered codec (`semcom list codecs`): mtgc, jpeg, webp, jpeg2000, avif, "
        "jpegxl, compressai, deepjscc (analog) or a plug-in's.",
    ),
    channel: str = typer.Option(
        "awgn",
        "--channel",
        help="A registered channel (`semcom list channels`): awgn, rayleigh, tdl-a, tdl-b, "
        "tdl-c or a plug-in's.",
    ),
    channel_option: list[str] = typer.Option(
        [],
        "--channel-option",
        help="KEY=VALUE, repeatable: an option of the channel (e.g. coherence=1 for "
        "rayleigh, perfect_csi=true for tdl-a); values are read as YAML scalars.",
    ),
    snr_db: float = typer.Option(..., "--snr-db", help="Es/N0 in dB (average over fading)."),
    budget_cpp: float = typer.Option(
        ..., "--budget-cpp", help="Bandwidth budget in complex channel uses per pixel."
    ),
    mcs: str = typer.Option(
        "adaptive",
        "--mcs",
        help="Protection of the codec's adaptive streams (MTGC: the HCI; a baseline: its "
        "one stream): 'adaptive', 'robust' (3 dB more margin; below the table QPSK 1/5, repeated), "
        "table index 'mcsN', 'modulation:rate' or 'polar:modulation:rate' (the 5G Polar code).",
    ),
    protection_mode: str = typer.Option(
        "fixed",
        "--protection",
        help="fixed (the --mcs and --protect rules) or planned: every stream's payload and "
        "MCS chosen to maximise --objective's expected value (the codec's value table).",
    ),
    objective: str = typer.Option(
        "f1",
        "--objective",
        help="--protection planned: a metric field (f1, psnr, ms_ssim, ...), a weighted sum "
        "(0.7*f1+0.01*psnr) or f1,psnr (psnr breaks ties within --tolerance of the best f1).",
    ),
    tolerance: float | None = typer.Option(
        None, "--tolerance", help="--protection planned: the tie-break tolerance (0.005)."
    ),
    protect: list[str] = typer.Option(
        [],
        "--protect",
        help="STREAM=MCS, repeatable: one stream's protection (e.g. caption=qpsk:1/3, hci=mcs9); "
        "unnamed streams keep the codec's default (MTGC: caption and SPWs robust).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise and fading."),
    frame: str = typer.Option(
        "shared",
        "--frame",
        help="'shared': all streams in one frame with one channel realisation; "
        "'per-stream': each stream its own frame and fade (the old layout).",
    ),
    harq: int = typer.Option(
        1,
        "--harq",
        help="Transmissions per stream: a stream whose CRC fails is sent again (IR, "
        "redundancy versions 0,2,3,1, beyond the budget) up to this many times.",
    ),
    decode_seed: int = typer.Option(0, help="MTGC sampling seed at the receiver."),
    steps: int | None = typer.Option(None, "--steps", help="MTGC DDIM steps (preset default)."),
    preset: str = typer.Option("tiny", "--preset", help="MTGC backbone preset."),
    weights: Path | None = typer.Option(None, "--weights", help="MTGC model directory."),
    metric: list[str] = typer.Option(
        [],
        "--metric",
        help="Also score this metric (repeatable; `semcom list metrics`), e.g. lpips.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    half: bool = typer.Option(
        False,
        "--half",
        help="MTGC's networks in half precision (float16 on a GPU, bfloat16 on a CPU).",
    ),
    device: str = typer.Option(
        "cpu",
        "--device",
        help="cpu, cuda (cuda:N) or auto: where the codec's models and the link run (the "
        "channel's draws are the same on every device).",
    ),
) -> None:
    """Send IMAGE through one link and write what the receiver reconstructs."""
    import warnings

    import torch

    from experiments.transmission import Protect, make_link, transmit_image
    from semcom.imageio import load_image, save_image

    if output.suffix.lower() not in _SUFFIXES:
        raise SemcomError(f"{output} needs a lossless image suffix such as .png.")
    parent = output.expanduser().resolve().parent
    if not parent.is_dir():
        raise SemcomError(f"the output folder {parent} does not exist.")
    if steps is not None and steps < 1:
        raise SemcomError("--steps must be at least 1.")
    if tolerance is not None and not (math.isfinite(tolerance) and tolerance >= 0):
        raise SemcomError(f"--tolerance must be 0 or more, not {tolerance:g}.")
    for flag, value in (("--seed", seed), ("--decode-seed", decode_seed)):
        if value < 0:
            raise SemcomError(f"{flag} must be a non-negative integer, not {value}.")
    from channels.frame import check_frame
    from channels.harq import HarqPolicy
    from semcom.devices import resolve_device

    HarqPolicy.parse(harq)  # a bad --harq, --frame or --device fails before the model loads
    check_frame(frame)
    dev = resolve_device(device)
    img = load_image(image)
    from semcom.metrics.registry import DEFAULT_METRICS, check_metrics
    from semcom.metrics.scoring import check_available
    from semcom.registry import codec_class, make_codec

    metrics = check_metrics((*DEFAULT_METRICS, *[m for m in metric if m not in DEFAULT_METRICS]))
    check_available(metrics)

    cls = codec_class(codec)
    streams = cls.streams
    protection: dict[str, str] = {}  # the codec's own defaults, unless --protect says
    for item in protect:
        name, sep, value = item.partition("=")
        if not sep or name not in streams:
            raise SemcomError(
                f"--protect {item!r} must be STREAM=MCS with a stream of {codec}: "
                f"{', '.join(streams)}."
            )
        protection[name] = value
    if half and "half" not in cls.option_names:
        raise SemcomError(f"--half applies to codecs with networks such as mtgc, not {codec}.")
    flags = {"steps": steps, "preset": preset}  # offered to the codecs that declare them
    if half:
        flags["half"] = True
    options = {k: v for k, v in flags.items() if k in cls.option_names}
    torch.set_num_threads(1)  # the tiny models are far faster on one thread
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chosen = make_codec(codec, options, weights=weights, device=dev)
    if protection_mode not in ("fixed", "planned"):
        raise SemcomError(f"--protection {protection_mode!r}: choose fixed or planned.")
    objective_ = None
    if protection_mode == "planned":
        from experiments.planning import Objective

        if chosen.kind == "analog":
            raise SemcomError(f"{codec} sends analog symbols; it has no protection to plan.")
        if protect or mcs != "adaptive":
            raise SemcomError("--protection planned chooses every MCS; drop --mcs and --protect.")
        objective_ = Objective.parse(objective, tolerance)
        mcs, protection = "planned", {}
    if chosen.kind == "analog":
        protection = {}
    out = transmit_image(
        img,
        codec=chosen,
        link=make_link(channel, _channel_options(channel_option), frame, harq, dev),
        snr_db=snr_db,
        budget_cpp=budget_cpp,
        protect=Protect(mcs, protection or {}, objective_),
        seed=seed,
        decode_seed=decode_seed,
        metrics=metrics,
    )
    tmp = output.with_name(f".{output.stem}.tmp{output.suffix}")
    save_image(out.image, tmp)
    os.replace(tmp, output)
    from semcom.worlds import codec_label, codec_world, image_notice

    notice = image_notice([(codec_label(chosen, codec), codec_world(chosen))], img, str(image))
    if notice is not None:  # after the checks, so that an error stands alone
        typer.echo(notice, err=True)
    report = {"image": str(image), "output": str(output), **out.to_dict()}
    if as_json:
        typer.echo(json.dumps(report, indent=1))
        return
    _print(report)


def _print(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{report['codec']} over {report['channel']} at {report['snr_db']:g} dB, "
        f"budget {report['budget_cpp']:g} cpp ({report['budget_uses']} channel uses)"
    )
    for col in ("stream", "bits", "MCS", "channel uses", "CRC"):
        table.add_column(col, justify="left" if col in ("stream", "MCS") else "right")
    for name, s in report["streams"].items():
        if not s["sent"]:
            crc = "not sent"
        elif s["crc_ok"] is None:
            crc = "none (analog)"
        else:
            crc = "pass" if s["crc_ok"] else "FAIL (erased)"
        table.add_row(name, str(s["bits"]), s["mcs"] or "-", str(s["channel_uses"]), crc)
    table.add_row("total", "", "", str(report["channel_uses"]), "")
    console = Console()
    console.print(table)
    f = report["figures"]
    line = f"PSNR {f['psnr']:.2f} dB, MS-SSIM {f['ms_ssim']:.4f}"
    if f.get("attribute_accuracy") is not None:
        line += (
            f", attribute accuracy {f['attribute_accuracy']:.3f}, "
            f"hallucination rate {f['hallucination_rate']:.3f}"
        )
    else:
        line += " (semantic figures need ShapesWorld ground truth: see `semcom sweep`)"
    for name, value in sorted((f.get("figures") or {}).items()):
        line += f", {name} {value:.4f}" if isinstance(value, float) else f", {name} {value}"
    status = "delivered" if report["success"] else "FAILED (receiver fallback)"
    console.print(f"{status}; {line}", markup=False, highlight=False)
    console.print(f"wrote {report['output']}", markup=False, highlight=False)
