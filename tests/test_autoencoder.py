"""SceneAutoencoder: the output norms as a config switch, saved and loaded like diffusers'."""

from __future__ import annotations

import json

import torch
from diffusers import AutoencoderKL
from torch import nn

from semcom.autoencoder import SceneAutoencoder, autoencoder_class

SMALL = dict(
    down_block_types=("DownEncoderBlock2D",) * 2,
    up_block_types=("UpDecoderBlock2D",) * 2,
    block_out_channels=(8, 16),
    norm_num_groups=4,
    mid_block_add_attention=False,
)


def test_output_norm_off_removes_both_norms_and_survives_a_round_trip(tmp_path):
    torch.manual_seed(0)
    vae = SceneAutoencoder(**SMALL, output_norm=False).eval()
    assert isinstance(vae.encoder.conv_norm_out, nn.Identity)
    assert isinstance(vae.decoder.conv_norm_out, nn.Identity)
    vae.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["_class_name"] == "SceneAutoencoder" and config["output_norm"] is False
    assert autoencoder_class(config) is SceneAutoencoder
    back = SceneAutoencoder.from_pretrained(tmp_path)
    assert isinstance(back.decoder.conv_norm_out, nn.Identity)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(vae(x).sample, back(x).sample)


def test_output_norm_on_is_diffusers_autoencoder_with_the_same_weights():
    torch.manual_seed(0)
    ours = SceneAutoencoder(**SMALL).eval()
    torch.manual_seed(0)
    theirs = AutoencoderKL(**SMALL).eval()
    assert isinstance(ours.decoder.conv_norm_out, nn.GroupNorm)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(ours(x).sample, theirs(x).sample)
    assert autoencoder_class({"_class_name": "AutoencoderKL"}) is AutoencoderKL
