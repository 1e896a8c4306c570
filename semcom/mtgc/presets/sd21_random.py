"""A Stable Diffusion 2.1-base layout with random weights, for timings and tests.

:func:`random_sd_snapshot` writes a folder with the layout of a diffusers SD 2.1-base
snapshot (vae, unet, scheduler, text_encoder, tokenizer) and a CLIPVisionModel, every
network randomly initialised from a seed; :func:`semcom.mtgc.presets.sd21.assemble_sd21`
then adds MTGC's parts. ``scale="full"`` uses the published sizes (UNet 865 M
parameters at 64×64 latents, OpenCLIP ViT-H text encoder, CLIP ViT-L/14 image encoder),
so decode and encode seconds and GPU memory are those of the real model: the time of a
network does not depend on its weights' values. ``scale="toy"`` builds the same classes
a few hundred times smaller (the tests' configuration). Nothing is downloaded; the
tokenizer knows single bytes only (captions still encode and decode, as byte strings).
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModel,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode

from semcom.errors import SemcomError
from semcom.mtgc.presets.sd21 import RANDOM_MARKER

__all__ = ["RANDOM_MARKER", "SCALES", "random_sd_snapshot"]

SCALES: tuple[str, ...] = ("full", "toy")

#: stabilityai/stable-diffusion-2-1-base's configs (the ones that set sizes).
_FULL = {
    "vae": dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32),
    "unet": dict(
        sample_size=64,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        layers_per_block=2,
        cross_attention_dim=1024,
        attention_head_dim=(5, 10, 20, 20),
        use_linear_projection=True,
        norm_num_groups=32,
    ),
    # OpenCLIP ViT-H/14's text tower as transformers' CLIPTextModel
    "text": dict(
        vocab_size=49408,
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=23,
        num_attention_heads=16,
        max_position_embeddings=77,
        hidden_act="gelu",
        projection_dim=512,
    ),
    # CLIP ViT-L/14 (openai/clip-vit-large-patch14)
    "vision": dict(
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        image_size=224,
        patch_size=14,
        projection_dim=768,
    ),
}

_TOY = {
    "vae": dict(block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=8),
    "unet": dict(
        sample_size=8,
        block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        layers_per_block=1,
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        norm_num_groups=8,
    ),
    "text": dict(
        vocab_size=514,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=16,
    ),
    "vision": dict(
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=1,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
    ),
}


def _tokenizer(vocab_size: int, max_length: int) -> CLIPTokenizer:
    """A byte-level CLIP tokenizer (no merges) whose specials are the vocabulary's last
    two ids, as in CLIP's own (49406, 49407)."""
    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab |= {c + "</w>": len(chars) + i for i, c in enumerate(chars)}
    vocab |= {"<|startoftext|>": vocab_size - 2, "<|endoftext|>": vocab_size - 1}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def random_sd_snapshot(root: str | Path, scale: str = "full", seed: int = 0) -> tuple[Path, Path]:
    """Write ``root/sd21-base`` (the SD layout) and ``root/clip-vision`` with random
    weights; returns both paths for :func:`~semcom.mtgc.presets.sd21.assemble_sd21`.

    The full scale writes about 6 GB (float32 safetensors) and needs as much memory.
    """
    if scale not in SCALES:
        raise SemcomError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}.")
    sizes = _FULL if scale == "full" else _TOY
    root = Path(root)
    sd, clip = root / "sd21-base", root / "clip-vision"
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            latent_channels=4,
            **sizes["vae"],
        ).save_pretrained(sd / "vae")
        UNet2DConditionModel(**sizes["unet"]).save_pretrained(sd / "unet")
        DDIMScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            clip_sample=False,
            set_alpha_to_one=False,
            steps_offset=1,
        ).save_pretrained(sd / "scheduler")
        text = sizes["text"]
        vocab = text["vocab_size"]
        CLIPTextModel(
            CLIPTextConfig(
                bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1, **text
            )
        ).save_pretrained(sd / "text_encoder")
        _tokenizer(vocab, text["max_position_embeddings"]).save_pretrained(sd / "tokenizer")
        CLIPVisionModel(CLIPVisionConfig(**sizes["vision"])).save_pretrained(clip)
    finally:
        torch.random.set_rng_state(state)
    # so that assemble_sd21 records world "untrained", not the real backbone's "natural"
    (sd / RANDOM_MARKER).write_text("random weights (semcom.mtgc.presets.sd21_random)\n")
    return sd, clip
