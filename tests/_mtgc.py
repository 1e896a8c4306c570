"""Small randomly initialised MTGC codecs shared by the codec tests (fast on a CPU)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

from semcom.mtgc.mgdd import MGDDConfig
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.presets.tiny import TinyConfig, build_tiny


@pytest.fixture(autouse=True, scope="module")
def single_thread() -> Iterator[None]:
    """Run a test module's tiny models on one torch thread, then restore the setting.

    These models are tiny: one thread is ~100x faster than two when another process keeps
    the second core busy (OpenMP threads then wait on each other). Import this fixture
    into a test module to use it.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_config(
    seed: int = 0, control_input: str = "pixels", layout: bool = False, sketch: bool = False
) -> TinyConfig:
    """A tiny-style config shrunk so a decode step takes milliseconds (64×64 images).

    layout: SPWs on a 2×2 grid with 4-channel layout planes (as the shipped preset's 3×3).
    sketch: the scene sketch's guide planes (off by default: the shared small codecs
    keep the random draws, and so the payload sizes, the codec tests were written for).
    """
    grid = 2 if layout else 0
    return TinyConfig(
        min_size=32,
        vae_channels=(8, 8, 8, 8),
        unet_channels=(16, 32),
        cross_attn_levels=(False, True),
        attention_head_dim=4,
        control_embedding=(8, 8, 8, 16),
        text_width=32,
        text_layers=1,
        text_heads=2,
        max_tokens=24,
        tascm_cnn=(8, 16),
        tascm_norm=False,
        tascm_dim=32,
        num_queries=4 if layout else 8,
        query_grid=grid,
        layout_dim=2 * grid,
        codebook_size=1024,
        code_dim=8,
        quantizer="vq",
        hci_n=16,
        hci_m=16,
        hci_factor=4,
        captioner_channels=(8, 8),
        sketch=sketch,
        mgdd=MGDDConfig(
            num_inference_steps=2,
            guidance_scale=2.0,
            control_input=control_input,
            layout_grid=grid,
            layout_channels=2 * grid,
        ),
        seed=seed,
    )


@lru_cache(maxsize=4)
def small_codec(
    seed: int = 0, control_input: str = "pixels", layout: bool = False, sketch: bool = False
) -> MTGC:
    """A cached small codec; treat it as read-only.

    A fresh ControlNet's output convolutions are zero (so training starts from the
    UNet), and so are the UNet's weights on the layout and sketch planes; here they get
    small random values, as after training, so that the visual, layout and sketch paths
    have an effect to test.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = build_tiny(small_config(seed, control_input, layout, sketch))
    g = torch.Generator().manual_seed(seed)
    cn = codec.mgdd.controlnet
    with torch.no_grad():
        for conv in [*cn.controlnet_down_blocks, cn.controlnet_mid_block]:
            conv.weight.copy_(0.1 * torch.randn(conv.weight.shape, generator=g))
        w = codec.mgdd.unet.conv_in.weight
        d = codec.mgdd.config.layout_channels + codec.mgdd.config.guide_channels
        if d:
            w[:, -d:] = 0.3 * torch.randn(w[:, -d:].shape, generator=g)
    return codec


def scene_image(seed: int = 0, size: tuple[int, int] = (64, 64)) -> torch.Tensor:
    """A smooth synthetic RGB image [1,3,H,W] in [0,1] (blocks of colour)."""
    rng = np.random.default_rng(seed)
    h, w = size
    img = np.zeros((3, h, w), dtype=np.float32) + rng.random((3, 1, 1), dtype=np.float32)
    for _ in range(3):
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        img[:, y0 : y0 + h // 3, x0 : x0 + w // 3] = rng.random((3, 1, 1), dtype=np.float32)
    return torch.from_numpy(img).unsqueeze(0)


def load_shipped(load: Callable[[], MTGC]) -> MTGC:
    """``load()`` of a shipped preset, failing on any warning (the untrained fallback
    warns; shipped weights must not)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load()


def shipped_record(weights: Path, min_steps: int) -> dict:
    """The training.json of shipped ``weights``, checked to record every part of every
    stage that its recipe trains in its stage, each trained part (all but ``sampling`` and
    ``spw_code``, which count and choose) with ≥ ``min_steps``."""
    from semcom.mtgc.train import STAGE_PARTS
    from semcom.mtgc.train.config import OPTIONAL_PARTS

    record = json.loads((weights / "training.json").read_text())
    for stage, parts in STAGE_PARTS.items():
        for part in parts:
            if part in OPTIONAL_PARTS and not record["config"].get(OPTIONAL_PARTS[part]):
                continue  # the recipe does not train it
            assert record["parts"][part]["stage"] == stage
            if part not in ("sampling", "spw_code"):
                assert record["parts"][part]["steps"] >= min_steps
    return record


def toy_sd21(root: Path, name: str = "mtgc-sd21") -> tuple[Path, Path, Path]:
    """The sd21 layout at toy size (random weights, semcom.mtgc.presets.sd21_random) assembled as
    a user would: returns (the SD snapshot, the CLIP vision folder, the model directory)."""
    from semcom.mtgc.presets.sd21 import assemble_sd21
    from semcom.mtgc.presets.sd21_random import random_sd_snapshot

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd, clip = random_sd_snapshot(root, "toy")
        model = assemble_sd21(
            sd,
            clip,
            root / name,
            hci_channels=(16, 16),
            min_size=32,
            mgdd=MGDDConfig(num_inference_steps=2, guidance_scale=4.0),
        )
    return sd, clip, model
