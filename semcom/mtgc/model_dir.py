"""An MTGC model directory: :func:`save_model` writes one, :func:`load_model` reads one.

The layout is a diffusers Stable Diffusion snapshot (unet/, controlnet/, scheduler/,
vae/, text_encoder/, tokenizer/) plus MTGC's own parts (mtgc.json, tascm/, hci/,
captioner/, image_encoder/, sketch/); docs/codec.md lists them.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from semcom.errors import SemcomError
from semcom.mtgc.config import MTGC_CONFIG, CodecConfig
from semcom.mtgc.mgdd import MGDD
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.sketch import SceneSketch
from semcom.mtgc.streams.caption import CAPTION_MODELS
from semcom.mtgc.streams.hci import KINDS, HCICodec, LearnedHCICodec
from semcom.mtgc.streams.spw_model import SPWEntropyModel
from semcom.mtgc.tascm import TASCM
from semcom.mtgc.textenc import HFTokenizer, TextEncoder, WordTokenizer


def save_model(codec: MTGC, path: str | Path) -> None:
    """Write ``codec``'s model directory (the layout is in docs/codec.md)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MTGC_CONFIG).write_text(json.dumps(asdict(codec.config), indent=2))
    codec.mgdd.save_pretrained(path)
    codec.text_encoder.model.save_pretrained(path / "text_encoder")
    codec.text_encoder.tokenizer.save_pretrained(path / "tokenizer")  # type: ignore[attr-defined]
    codec.tascm.save_pretrained(path / "tascm")
    if codec.hci.learned is not None:
        codec.hci.learned.save_pretrained(path / "hci")
    if codec.image_encoder is not None:
        codec.image_encoder.save_pretrained(path / "image_encoder")
    if codec.captioner is not None and hasattr(codec.captioner, "save_pretrained"):
        codec.captioner.save_pretrained(path / "captioner")
    if codec.sketch is not None:
        codec.sketch.save_pretrained(path / "sketch")
    if codec.spw.model is not None:
        codec.spw.model.save_pretrained(path / "spw_model")


def load_model(
    path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> MTGC:
    """Load a model directory; a missing or unreadable part raises SemcomError naming it."""
    path = Path(path)
    required = ["unet", "controlnet", "scheduler", "text_encoder", "tokenizer", "tascm"]
    if not path.is_dir():
        raise SemcomError(f"the weights directory {path} does not exist.")
    missing = [p for p in [MTGC_CONFIG, *required] if not (path / p).exists()]
    if missing:
        raise SemcomError(
            f"{path} lacks {', '.join(missing)}; see docs/codec.md for the layout an "
            "MTGC weights directory needs."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _load(path, device, dtype)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            only = " (weights are read from .safetensors files only)"
            hint = only if "safetensors" in first else ""
            raise SemcomError(f"cannot load the MTGC weights in {path}: {first}{hint}") from err


def _load(path: Path, device: str | torch.device, dtype: torch.dtype | None) -> MTGC:
    from transformers import CLIPTextModel, CLIPVisionModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    raw = json.loads((path / MTGC_CONFIG).read_text())
    for key in ("clip_mean", "clip_std"):
        if key in raw:
            raw[key] = tuple(raw[key])
    if raw.get("hci_factors") is not None:
        from semcom.mtgc.streams.hci import FACTORS

        factors = raw["hci_factors"]
        good = isinstance(factors, list) and factors
        if not (good and all(type(f) is int and f in FACTORS for f in factors)):
            raise SemcomError(
                f"{path / MTGC_CONFIG}: hci_factors must be a non-empty list of {FACTORS}."
            )
        raw["hci_factors"] = tuple(factors)
    world = raw.get("world")
    if world is not None and not (isinstance(world, str) and world.strip()):
        raise SemcomError(
            f"{path / MTGC_CONFIG}: world must name the images the weights were trained "
            f"on (e.g. shapes), not {world!r}."
        )
    config = CodecConfig(**raw)
    if config.hci_kind not in KINDS:
        raise SemcomError(f"{path / MTGC_CONFIG}: unknown hci_kind {config.hci_kind!r}.")
    if config.caption_lm not in CAPTION_MODELS:
        raise SemcomError(
            f"{path / MTGC_CONFIG}: unknown caption_lm {config.caption_lm!r}; choose one of "
            f"{', '.join(CAPTION_MODELS)}."
        )
    mgdd = MGDD.from_pretrained(path).to(device, dtype)
    text_model = CLIPTextModel.from_pretrained(
        path / "text_encoder",
        local_files_only=True,
        use_safetensors=True,
        dtype=dtype or torch.float32,
    )
    text_model.to(device, dtype)
    if (path / "tokenizer" / "tokenizer.json").is_file() and _is_word_tokenizer(path / "tokenizer"):
        tokenizer = WordTokenizer.from_pretrained(path / "tokenizer")
    else:
        from transformers import CLIPTokenizer

        tokenizer = HFTokenizer(
            CLIPTokenizer.from_pretrained(path / "tokenizer", local_files_only=True)
        )
    tascm = TASCM.from_pretrained(path / "tascm", low_cpu_mem_usage=False, use_safetensors=True).to(
        device
    )
    learned = LearnedHCICodec.from_pretrained(path / "hci") if (path / "hci").is_dir() else None
    image_encoder = None
    if (path / "image_encoder").is_dir():
        image_encoder = CLIPVisionModel.from_pretrained(
            path / "image_encoder", local_files_only=True, use_safetensors=True
        )
        image_encoder.to(device, dtype)
    captioner = _load_captioner(path / "captioner", device)
    sketch = None
    if (path / "sketch").is_dir():
        sketch = SceneSketch.from_pretrained(
            path / "sketch", low_cpu_mem_usage=False, use_safetensors=True
        ).to(device)
    spw_model = None
    if (path / "spw_model").is_dir():
        spw_model = SPWEntropyModel.from_pretrained(path / "spw_model")
    return MTGC(
        config,
        HCICodec(learned, config.hci_setting),
        tascm,
        TextEncoder(tokenizer, text_model),
        mgdd,
        captioner=captioner,
        image_encoder=image_encoder,
        sketch=sketch,
        spw_model=spw_model,
    )


def _is_word_tokenizer(path: Path) -> bool:
    try:
        data = json.loads((path / "tokenizer.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("vocab"), list) and "max_length" in data


def _load_captioner(path: Path, device: str | torch.device) -> object | None:
    if not (path / "config.json").is_file():
        return None
    from semcom.mtgc.captioner import HFCaptioner, ShapesCaptioner

    cfg = json.loads((path / "config.json").read_text())
    if cfg.get("_class_name") == "ShapesCaptioner":
        return (
            ShapesCaptioner.from_pretrained(path, low_cpu_mem_usage=False, use_safetensors=True)
            .to(device)
            .eval()
        )
    return HFCaptioner(path)
