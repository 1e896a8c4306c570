"""MGDD: deterministic DDIM sampling with dual-path guidance."""

from __future__ import annotations

import pytest
import torch

from semcom.errors import SemcomError
from semcom.mtgc.mgdd import MGDD, Guidance, MGDDConfig
from tests._mtgc import single_thread, small_codec  # noqa: F401 (fixture)


def _inputs(b: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ctx = torch.randn(b, 5, 32, generator=g)
    hci = torch.rand(b, 3, 64, 64, generator=g)
    return ctx, torch.zeros_like(ctx), hci


@pytest.fixture(scope="module")
def mgdd() -> MGDD:
    return small_codec().mgdd


def test_geometry_of_the_small_decoder(mgdd: MGDD) -> None:
    assert mgdd.vae_scale == 8 and mgdd.size_multiple == 16


def test_same_seed_gives_the_same_pixels(mgdd: MGDD) -> None:
    ctx, null, hci = _inputs()
    present = torch.tensor([True, True])
    a = mgdd.generate(Guidance(ctx, null, hci, present), [3, 4], (64, 64))
    b = mgdd.generate(Guidance(ctx, null, hci, present), [3, 4], (64, 64))
    assert a.shape == (2, 3, 64, 64) and torch.equal(a, b)
    assert float(a.min()) >= 0 and float(a.max()) <= 1


def test_different_seeds_give_different_pixels(mgdd: MGDD) -> None:
    ctx, null, hci = _inputs(1)
    present = torch.tensor([True])
    a = mgdd.generate(Guidance(ctx, null, hci, present), [1], (64, 64))
    b = mgdd.generate(Guidance(ctx, null, hci, present), [2], (64, 64))
    assert not torch.equal(a, b)


def test_a_decode_does_not_depend_on_its_batch(mgdd: MGDD) -> None:
    ctx, null, hci = _inputs(2)
    both = mgdd.generate(Guidance(ctx, null, hci, torch.tensor([True, True])), [5, 6], (64, 64))
    one = mgdd.generate(Guidance(ctx[1:], null[1:], hci[1:], torch.tensor([True])), [6], (64, 64))
    assert torch.allclose(both[1:], one, atol=1e-4)


def test_the_visual_path_changes_the_output(mgdd: MGDD) -> None:
    ctx, null, hci = _inputs(1)
    with_hci = mgdd.generate(Guidance(ctx, null, hci, torch.tensor([True])), [0], (64, 64))
    without = mgdd.generate(Guidance(ctx, null, hci, torch.tensor([False])), [0], (64, 64))
    none = mgdd.generate(Guidance(ctx, null, None, None), [0], (64, 64))
    assert not torch.equal(with_hci, without)
    assert torch.equal(without, none)


def test_the_semantic_path_changes_the_output(mgdd: MGDD) -> None:
    ctx, null, _ = _inputs(1)
    a = mgdd.generate(Guidance(ctx, null, None, None), [0], (64, 64))
    b = mgdd.generate(Guidance(ctx * 0.5, null, None, None), [0], (64, 64))
    assert not torch.equal(a, b)


def test_latent_control_input_runs_through_the_vae() -> None:
    mgdd = small_codec(control_input="latents").mgdd
    assert mgdd.config.control_input == "latents"
    ctx, null, hci = _inputs(1)
    out = mgdd.generate(Guidance(ctx, null, hci, torch.tensor([True])), [0], (64, 64))
    assert out.shape == (1, 3, 64, 64)


def test_sizes_must_be_multiples_of_the_decoder_stride(mgdd: MGDD) -> None:
    ctx, null, _ = _inputs(1)
    with pytest.raises(SemcomError, match="multiples of 16"):
        mgdd.generate(Guidance(ctx, null, None, None), [0], (60, 64))


def test_invalid_sampling_settings_are_refused() -> None:
    with pytest.raises(SemcomError):
        MGDDConfig(control_input="edges")
    with pytest.raises(SemcomError):
        MGDDConfig(num_inference_steps=0)
    for strength in (0.0, 1.5):
        with pytest.raises(SemcomError, match="init_strength"):
            MGDDConfig(init_strength=strength)


def test_a_start_from_the_guide_needs_a_decoder_that_reads_one(mgdd: MGDD) -> None:
    ctx, null, _ = _inputs(1)
    with pytest.raises(SemcomError, match="guide planes"):
        mgdd.generate(Guidance(ctx, null, None, None), [0], (64, 64), 4, init_strength=0.5)


def test_the_denoising_loss_trains_tascm_through_the_decoder() -> None:
    codec = small_codec(seed=2)
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    spw = codec.tascm(images)
    caption = codec.text_encoder(["a red star", ""])
    context = torch.cat([caption, spw["context"]], dim=1)
    g = torch.Generator().manual_seed(1)
    loss = codec.mgdd.training_loss(images, context, images, torch.tensor([True, False]), g)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert codec.tascm.queries.grad is not None and codec.tascm.queries.grad.abs().sum() > 0
    cn = codec.mgdd.controlnet.controlnet_mid_block.weight.grad
    assert cn is not None and cn.abs().sum() > 0
    for module in (codec.tascm, codec.mgdd.unet, codec.mgdd.controlnet, codec.mgdd.vae):
        module.zero_grad(set_to_none=True)


def test_the_loss_is_reproducible_from_its_generator(mgdd: MGDD) -> None:
    ctx, _, hci = _inputs(2)
    present = torch.tensor([True, True])
    with torch.no_grad():
        a = mgdd.training_loss(hci, ctx, hci, present, torch.Generator().manual_seed(5))
        b = mgdd.training_loss(hci, ctx, hci, present, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_vae_tiling_decodes_large_latents_in_tiles() -> None:
    base = small_codec().mgdd
    try:
        tiled = MGDD(
            base.unet, base.controlnet, base.scheduler, base.vae, MGDDConfig(vae_tiling=True)
        )
        assert base.vae.use_tiling
        ctx, null, _ = _inputs(1)
        out = tiled.generate(Guidance(ctx, null, None, None), [0], (96, 96), num_inference_steps=1)
        assert out.shape == (1, 3, 96, 96) and torch.isfinite(out).all()
    finally:
        base.vae.disable_tiling()


def test_coordinate_planes_and_loss_weights() -> None:
    """With coord_channels the UNet sees two extra planes; Min-SNR and pixel weights
    change the loss, and a pixel weight of 1 everywhere changes nothing."""
    import warnings

    from semcom.mtgc.presets.tiny import build_tiny
    from tests._mtgc import small_config

    cfg = small_config(sketch=False)
    cfg.mgdd = MGDDConfig(num_inference_steps=2, guidance_scale=1.0, coord_channels=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mg = build_tiny(cfg).mgdd
    assert mg.unet.config.in_channels == mg.latent_channels + 2
    planes = mg.with_coords(torch.zeros(1, 4, 3, 5))
    assert planes.shape == (1, 6, 3, 5)
    assert torch.equal(planes[0, 4, :, 0], torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(planes[0, 5, 0], torch.linspace(-1, 1, 5))
    out = mg.generate(Guidance(torch.randn(1, 5, 32), torch.zeros(1, 5, 32)), [0], (64, 64))
    assert out.shape == (1, 3, 64, 64)

    images = torch.rand(2, 3, 64, 64)
    ctx = torch.randn(2, 5, 32)

    def loss(weights=None):
        return mg.training_loss(
            images, ctx, generator=torch.Generator().manual_seed(0), pixel_weights=weights
        )

    plain = loss()
    torch.testing.assert_close(loss(torch.ones(2, 1, 8, 8)), plain)
    assert not torch.equal(loss(torch.rand(2, 1, 8, 8) * 2), plain)
    mg.config.min_snr_gamma = 5.0
    assert not torch.equal(loss(), plain)
