"""The ``sd21`` preset: Stable Diffusion 2.1-base, CLIP image features, GPU.

A weights directory (``--weights DIR``) is a diffusers Stable Diffusion 2.1-base
snapshot plus MTGC's parts::

    DIR/
      mtgc.json                 codec config (preset "sd21"), written by assemble_sd21
      mgdd.json                 sampling settings (steps, guidance, control input)
      vae/ unet/ scheduler/     from stabilityai/stable-diffusion-2-1-base
      text_encoder/ tokenizer/  from the same snapshot (OpenCLIP ViT-H as CLIPTextModel)
      image_encoder/            a transformers CLIPVisionModel (e.g. CLIP ViT-L/14 or H/14)
      controlnet/               ControlNetModel (made from the UNet, then trained)
      tascm/                    TASCM with image_encoder="external"
      hci/                      the learned HCI codec (optional: webp/jpeg work without it)
      captioner/                optional transformers image-to-text model + processor

:func:`assemble_sd21` adds the MTGC parts (initialised, untrained) to a snapshot.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import torch
from diffusers import ControlNetModel, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPVisionConfig

from semcom.errors import SemcomError
from semcom.mtgc.mgdd import MGDDConfig
from semcom.mtgc.pipeline import MTGC, MTGC_CONFIG, CodecConfig
from semcom.mtgc.streams.hci import LearnedHCICodec
from semcom.mtgc.tascm import TASCM

#: A file :func:`~semcom.mtgc.presets.sd21_random.random_sd_snapshot` leaves in a snapshot
#: of random weights.
RANDOM_MARKER = "RANDOM_WEIGHTS"
#: Parts a diffusers Stable Diffusion snapshot provides, and parts MTGC adds.
SD_PARTS: tuple[str, ...] = ("vae", "unet", "scheduler", "text_encoder", "tokenizer")
MTGC_PARTS: tuple[str, ...] = ("image_encoder", "controlnet", "tascm", MTGC_CONFIG)


def load_sd21(
    weights: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> MTGC:
    """Load the sd21 codec from a weights directory (layout in this module's docstring)."""
    path = Path(weights)
    if not path.is_dir():
        raise SemcomError(f"the sd21 weights directory {path} does not exist.")
    missing = [p for p in (*SD_PARTS, *MTGC_PARTS) if not (path / p).exists()]
    if missing:
        raise SemcomError(
            f"{path} lacks {', '.join(missing)}: copy a Stable Diffusion 2.1-base diffusers "
            "snapshot there, then add the MTGC parts (see docs/codec.md)."
        )
    try:
        preset = json.loads((path / MTGC_CONFIG).read_text()).get("preset")
    except (OSError, ValueError, AttributeError) as err:
        raise SemcomError(f"{path / MTGC_CONFIG} is not a readable JSON object.") from err
    if preset != "sd21":
        raise SemcomError(f"{path} holds preset {preset!r}, not sd21.")
    return MTGC.from_pretrained(path, device=device, dtype=dtype)


def assemble_sd21(
    sd_dir: str | Path,
    image_encoder_dir: str | Path,
    out_dir: str | Path,
    num_queries: int = 8,
    codebook_size: int = 1024,
    hci_channels: tuple[int, int] = (128, 192),
    hci_arch: str = "hyperprior",
    min_size: int = 256,
    mgdd: MGDDConfig | None = None,
    seed: int = 0,
) -> Path:
    """Copy an SD snapshot and a CLIPVisionModel into ``out_dir`` and add untrained
    MTGC parts (ControlNet from the UNet, TASCM on CLIP tokens, learned HCI codec: a
    scale hyperprior by default). Its mtgc.json states world ``natural`` (the backbone's
    photographs), or ``untrained`` for a snapshot of random weights
    (:data:`RANDOM_MARKER`).
    """
    sd, out = Path(sd_dir), Path(out_dir)
    missing = [p for p in SD_PARTS if not (sd / p).exists()]
    if missing:
        raise SemcomError(f"{sd} is not a diffusers SD snapshot: it lacks {', '.join(missing)}.")
    out.mkdir(parents=True, exist_ok=True)
    for part in SD_PARTS:
        if not (out / part).exists():
            shutil.copytree(sd / part, out / part)
    if not (out / "image_encoder").exists():
        shutil.copytree(Path(image_encoder_dir), out / "image_encoder")
    text_cfg = CLIPTextConfig.from_pretrained(out / "text_encoder")
    vision_cfg = CLIPVisionConfig.from_pretrained(out / "image_encoder")
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        unet = UNet2DConditionModel.from_pretrained(
            out / "unet", low_cpu_mem_usage=False, use_safetensors=True
        )
        ControlNetModel.from_unet(unet).save_pretrained(out / "controlnet")
        TASCM(
            image_encoder="external",
            feature_dim=vision_cfg.hidden_size,
            model_dim=min(1024, vision_cfg.hidden_size),
            num_queries=num_queries,
            num_heads=8 if vision_cfg.hidden_size % 8 == 0 else 1,
            codebook_size=codebook_size,
            code_dim=64,
            context_dim=text_cfg.hidden_size,
        ).save_pretrained(out / "tascm")
        LearnedHCICodec(n=hci_channels[0], m=hci_channels[1], arch=hci_arch).save_pretrained(
            out / "hci"
        )
    finally:
        torch.random.set_rng_state(gen_state)
    # the backbone knows natural photographs; a random snapshot (sd21_random) knows nothing
    world = "untrained" if (sd / RANDOM_MARKER).exists() else "natural"
    config = CodecConfig(preset="sd21", min_size=min_size, hci_factor=8, seed=seed, world=world)
    (out / MTGC_CONFIG).write_text(json.dumps(asdict(config), indent=2))
    m = mgdd or MGDDConfig(num_inference_steps=50, guidance_scale=5.0)
    (out / "mgdd.json").write_text(json.dumps(asdict(m), indent=2))
    return out
