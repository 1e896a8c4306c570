"""``semcom encode``, ``semcom decode`` and ``semcom info``: the MTGC codec on files."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import typer

from semcom.devices import model_dtype, resolve_device
from semcom.errors import SemcomError

_HCI_KINDS = ("learned", "webp", "jpeg")


def _check_output(path: Path) -> None:
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise SemcomError(f"the output folder {parent} does not exist.")


def encode(
    image: Path = typer.Argument(..., help="Image file to encode (PNG, JPEG, WebP, ...)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the .mtgc file."),
    preset: str = typer.Option("tiny", "--preset", help="Backbone preset: tiny or sd21."),
    weights: Path | None = typer.Option(None, "--weights", help="Model directory."),
    caption: str | None = typer.Option(
        None, "--caption", help="Send this caption instead of the captioner's."
    ),
    target_bpp: float | None = typer.Option(
        None, "--target-bpp", help="Choose the HCI setting so the payload fits this bpp."
    ),
    hci_kind: str | None = typer.Option(None, "--hci-codec", help="learned, webp or jpeg."),
    hci_factor: int | None = typer.Option(None, "--hci-factor", help="Downsampling: 2/4/8/16."),
    hci_quality: int | None = typer.Option(None, "--hci-quality", help="Quality index 0..15."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
    half: bool = typer.Option(False, "--half", help="Half precision (fp16 on GPU, bf16 on CPU)."),
    without: list[str] = typer.Option(
        [], "--without", help="Leave a stream out (caption, hci or spw; repeatable): ablations."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rates as JSON."),
) -> None:
    """Encode IMAGE into an .mtgc bitstream (caption, HCI and SPW streams)."""
    from semcom.mtgc.container import STREAMS

    unknown = sorted(set(without) - set(STREAMS))
    if unknown:
        raise SemcomError(f"--without takes {', '.join(STREAMS)}, not {', '.join(unknown)}.")
    from semcom.imageio import load_image
    from semcom.mtgc.presets import load_codec
    from semcom.mtgc.streams.hci import HCISetting

    if target_bpp is not None and not target_bpp > 0:
        raise SemcomError("--target-bpp must be a positive number of bits per pixel.")
    if hci_kind is not None and hci_kind not in _HCI_KINDS:
        raise SemcomError(f"--hci-codec must be one of {', '.join(_HCI_KINDS)}.")
    _check_output(output)
    img = load_image(image)
    dev = resolve_device(device)
    codec = load_codec(preset, weights, device=dev, dtype=model_dtype(dev, half))
    if codec.preset != preset:
        raise SemcomError(f"{weights} holds preset {codec.preset!r}, not {preset!r}.")
    base = codec.config.hci_setting
    setting = HCISetting(
        hci_kind or base.kind,
        hci_factor if hci_factor is not None else base.factor,
        hci_quality if hci_quality is not None else base.quality,
    )
    if without and target_bpp is not None and "hci" in without:
        raise SemcomError("--target-bpp sets the HCI rate; it cannot be used with --without hci.")
    if "caption" in without and caption is None:
        caption = ""  # not sent: no need to run the captioner
    bs = codec.encode(
        img.unsqueeze(0), captions=[caption], hci_setting=setting, target_bpp=target_bpp
    )[0]
    bs = bs.without(*without)
    bs.save(output)
    from semcom.worlds import codec_label, image_notice

    notice = image_notice([(codec_label(codec, "mtgc"), codec.config.world)], img, str(image))
    if notice is not None:  # after the checks, so that an error stands alone
        typer.echo(notice, err=True)
    _print_rates(bs, output, as_json)


def decode(
    bitstream: Path = typer.Argument(..., help="The .mtgc file to decode."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the image."),
    steps: int | None = typer.Option(None, "--steps", help="DDIM steps (default: preset's)."),
    seed: int | None = typer.Option(None, "--seed", help="Sampling seed (default: preset's)."),
    guidance: float | None = typer.Option(None, "--guidance", help="Classifier-free scale."),
    init_strength: float | None = typer.Option(
        None,
        "--init-strength",
        help="1 samples from noise; below 1 starts from the scene sketch noised that far "
        "into the schedule (default: the model's).",
    ),
    weights: Path | None = typer.Option(None, "--weights", help="Model directory."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or auto."),
    half: bool = typer.Option(False, "--half", help="Half precision (fp16 on GPU, bf16 on CPU)."),
) -> None:
    """Decode an .mtgc bitstream into an image with the MGDD diffusion decoder."""
    from semcom.imageio import save_image
    from semcom.mtgc.container import Bitstream
    from semcom.mtgc.presets import load_codec

    if steps is not None and steps < 1:
        raise SemcomError("--steps must be at least 1.")
    if seed is not None and seed < 0:
        raise SemcomError(f"--seed must be a non-negative integer, not {seed}.")
    if guidance is not None and not (math.isfinite(guidance) and guidance >= 0):
        raise SemcomError(
            f"--guidance must be a finite scale ≥ 0 (1: no guidance), not {guidance}."
        )
    if init_strength is not None:
        from semcom.mtgc.mgdd import check_strength

        check_strength(init_strength, "--init-strength")
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"):
        raise SemcomError(f"{output} needs an image suffix such as .png.")
    _check_output(output)
    bs = Bitstream.load(bitstream)
    dev = resolve_device(device)
    if weights is not None:
        from semcom.mtgc.pipeline import MTGC

        codec = MTGC.from_pretrained(weights, device=dev, dtype=model_dtype(dev, half))
    else:
        codec = load_codec(bs.preset, None, device=dev, dtype=model_dtype(dev, half))
    image = codec.decode(
        bs,
        steps=steps,
        seed=seed,
        guidance_scale=guidance,
        strict=True,
        init_strength=init_strength,
    )
    save_image(image[0], output)
    typer.echo(f"wrote {output} ({bs.width}x{bs.height})")


def info(
    bitstream: Path = typer.Argument(..., help="The .mtgc file to describe."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the header fields, bits per stream, total bits and bpp of an .mtgc file."""
    from semcom.mtgc.container import Bitstream

    bs = Bitstream.load(bitstream)
    _print_rates(bs, bitstream, as_json)


def _describe(bs: object, path: Path) -> dict[str, object]:
    from semcom.mtgc.config import PRESET_CAPTION_LMS
    from semcom.mtgc.container import FORMAT_VERSION, Bitstream
    from semcom.mtgc.streams import StreamError
    from semcom.mtgc.streams.caption import CaptionCoder, caption_model
    from semcom.mtgc.streams.hci import HCISetting

    assert isinstance(bs, Bitstream)
    hci = None
    if bs.streams.get("hci"):
        try:
            setting = HCISetting.from_header(bs.streams["hci"][0])
            hci = {"kind": setting.kind, "factor": setting.factor, "quality": setting.quality}
        except StreamError:
            hci = None
    caption = None
    if "caption" in bs.streams:
        try:
            model = caption_model(PRESET_CAPTION_LMS.get(bs.preset, "shapes"))
            caption = CaptionCoder(model).decode(bs.streams["caption"])
        except StreamError:
            caption = None
    return {
        "file": str(path),
        "format_version": FORMAT_VERSION,
        "preset": bs.preset,
        "fingerprint": f"{bs.fingerprint:08x}",
        "height": bs.height,
        "width": bs.width,
        "stream_bits": bs.stream_bits(),
        "payload_bits": bs.payload_bits,
        "bpp": bs.bpp,
        "file_bits": 8 * len(bs.to_bytes()),
        "caption": caption,
        "hci_setting": hci,
    }


def _print_rates(bs: object, path: Path, as_json: bool) -> None:
    d = _describe(bs, path)
    if as_json:
        typer.echo(json.dumps(d, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{path} · preset {d['preset']} ({d['fingerprint']}) · {d['width']}x{d['height']}"
    )
    table.add_column("stream")
    table.add_column("bits", justify="right")
    table.add_column("bpp", justify="right")
    pixels = int(d["height"]) * int(d["width"])  # type: ignore[call-overload]
    for name, bits in d["stream_bits"].items():  # type: ignore[union-attr]
        table.add_row(name, str(bits), f"{bits / pixels:.5f}")
    table.add_row("total (payload)", str(d["payload_bits"]), f"{d['bpp']:.5f}")
    table.add_row("file (with header)", str(d["file_bits"]), f"{int(d['file_bits']) / pixels:.5f}")  # type: ignore[call-overload]
    console = Console()
    console.print(table)
    if d["hci_setting"] is not None:
        h = d["hci_setting"]
        console.print(
            f"hci: {h['kind']}, factor {h['factor']}, quality {h['quality']}",  # type: ignore[index]
            markup=False,
            highlight=False,
        )
    if d["caption"] is not None:
        console.print(f"caption: {d['caption']}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add encode, decode and info to the semcom app."""
    warnings.filterwarnings("ignore", message=".*low_cpu_mem_usage.*")
    app.command("encode")(encode)
    app.command("decode")(decode)
    app.command("info")(info)
