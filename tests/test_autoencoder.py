"""SceneAutoencoder: the output norms as a config switch, saved and loaded like diffusers'."""

from __future__ import annotations

import json

import torch
from diffusers import AutoencoderKL
from torch import nn

from semcom.mtgc.autoencoder import SceneAutoencoder, autoencoder_class

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


def test_colour_skip_keeps_every_cells_mean_colour_even_untrained(tmp_path):
    """Latent channels 0–2 are the 2×2-cell means (f = 2 here) and the decoded cells keep
    them: a solid colour comes back as itself on average, whatever the weights."""
    import pytest

    torch.manual_seed(0)
    vae = SceneAutoencoder(**SMALL, latent_channels=5, colour_skip=True).eval()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mode()
        rec = vae.decode(z).sample
    cells = torch.nn.functional.avg_pool2d(x, 2)
    assert z.shape == (2, 5, 8, 8) and torch.allclose(z[:, :3], cells)
    assert torch.allclose(torch.nn.functional.avg_pool2d(rec, 2), cells, atol=1e-5)
    solid = torch.tensor([0.2, -0.8, 0.9]).view(1, 3, 1, 1).expand(1, 3, 16, 16)
    with torch.no_grad():
        back = vae.decode(vae.encode(solid).latent_dist.mode()).sample
    assert torch.allclose(back.mean((2, 3)), solid[:, :, 0, 0], atol=1e-5)
    vae.save_pretrained(tmp_path)
    again = SceneAutoencoder.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(again.decode(z).sample, rec)
    with pytest.raises(ValueError, match="more than 3 latent channels"):
        SceneAutoencoder(**SMALL, latent_channels=3, colour_skip=True)


def test_mtgc_runs_end_to_end_on_a_colour_skip_autoencoder(tmp_path):
    """The preset option builds a codec whose latents carry the colour channels (the
    UNet, the sketch's guide planes and the HCI path all take the wider latent) and
    whose decode is repeatable."""
    import dataclasses

    from semcom.mtgc.presets.tiny import build_tiny
    from tests._mtgc import scene_image, small_config

    cfg = dataclasses.replace(
        small_config(sketch=True), vae_colour_skip=True, vae_output_norm=False, latent_channels=5
    )
    codec = build_tiny(cfg)
    assert codec.mgdd.vae.config.colour_skip and codec.mgdd.latent_channels == 5
    sent = codec.encode(scene_image(0), captions=["a small red star at the top left"])[0]
    a, b = codec.decode(sent, seed=3), codec.decode(sent, seed=3)
    assert a.shape[-3:] == (3, 64, 64) and torch.equal(a, b)
    codec.save_pretrained(tmp_path / "m")
    back = type(codec).from_pretrained(tmp_path / "m")
    assert back.mgdd.vae.config.colour_skip
    assert torch.equal(back.decode(sent, seed=3), a)
