"""Scene sketch: readers of the caption and SPWs, the painter, and its path into MGDD."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from semcom.errors import SemcomError
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.sketch import SceneSketch
from tests._mtgc import scene_image, single_thread, small_codec  # noqa: F401 (fixture)

P = 1 + 6 + 8 + 2


@pytest.fixture(autouse=True)
def _no_grad():
    """These tests read the sketch's outputs as numbers; none trains."""
    with torch.no_grad():
        yield


@pytest.fixture(scope="module")
def sketch() -> SceneSketch:
    torch.manual_seed(0)
    return SceneSketch(context_dim=16, vocab_size=20, max_tokens=12, width=16, heads=2).eval()


def _one_object(cell: int, shape: int, colour: int, size: int, cells: int = 9) -> torch.Tensor:
    t = torch.full((1, cells, 4), -100, dtype=torch.int64)
    t[..., 0] = 0
    t[0, cell] = torch.tensor([1, shape, colour, size])
    return t


def test_target_beliefs_are_one_hot_per_group(sketch: SceneSketch) -> None:
    b = sketch.target_beliefs(_one_object(4, 2, 5, 1))
    assert b.shape == (1, 9, P)
    assert b[0, 4].tolist() == [1] + [0, 0, 1, 0, 0, 0] + [0] * 5 + [1, 0, 0] + [0, 1]
    assert b[0, 0, 0] == 0  # empty cells are absent


def test_an_empty_scene_paints_nothing(sketch: SceneSketch) -> None:
    beliefs = sketch.target_beliefs(torch.tensor([[[0, -100, -100, -100]] * 9]))
    with torch.no_grad():
        rgb, cover = sketch.paint(beliefs)
    assert rgb.shape == (1, 3, 128, 128) and cover.shape == (1, 1, 128, 128)
    assert float(cover.abs().max()) == 0.0


def test_an_object_paints_its_template_over_its_own_cell_in_its_fill() -> None:
    sk = SceneSketch(context_dim=16, vocab_size=20, max_tokens=12, width=16, heads=2)
    with torch.no_grad():
        sk.templates.fill_(-1.0)  # σ(−30): nothing
        sk.templates[2 * 2 + 1, 16:48, 16:48] = 1.0  # (shape 2, large): a 32-pixel square
        sk.fills.zero_()
        sk.fills[5] = torch.tensor([1.0, -1.0, 1.0])  # colour 5: magenta
    rgb, cover = sk.paint(sk.target_beliefs(_one_object(4, 2, 5, 1)))  # centre cell
    # the window (64 px) is centred on the cell centre (64, 64): the square spans 48..80
    inside = cover[0, 0, 48:80, 48:80]
    assert float(inside.min()) > 0.999
    outside = cover[0, 0].clone()
    outside[48:80, 48:80] = 0
    assert float(outside.max()) < 1e-6
    torch.testing.assert_close(rgb[0, :, 64, 64], torch.tensor([1.0, 0.0, 1.0]), atol=1e-6, rtol=0)
    # another size of the same shape has no template here: nothing is painted
    _, none = sk.paint(sk.target_beliefs(_one_object(4, 2, 5, 0)))
    assert float(none.max()) < 1e-6


def test_composite_and_guide_image_follow_what_arrived(sketch: SceneSketch) -> None:
    background = torch.rand(3, 3, 64, 64)
    spw = torch.randn(3, 9, P)
    cap = torch.randn(3, 9, P)
    spw_in = torch.tensor([True, False, False])
    cap_in = torch.tensor([True, True, False])
    image, cover = sketch.guide_image(spw, spw_in, cap, cap_in, background)
    assert image.shape == (3, 3, 64, 64) and cover.shape == (3, 1, 64, 64)
    # neither stream: the background untouched
    assert torch.equal(image[2], background[2]) and float(cover[2].max()) == 0.0
    # both: the mean of the logits; caption only: the caption's
    for i, logits in ((0, (spw[0] + cap[0]) / 2), (1, cap[1])):
        rgb, c = sketch.paint(sketch.beliefs(logits[None]), (64, 64))
        torch.testing.assert_close(cover[i], c[0])
        torch.testing.assert_close(image[i], sketch.composite(rgb, c, background[i : i + 1])[0])


def test_a_decisive_sketch_paints_each_cells_most_likely_reading() -> None:
    torch.manual_seed(1)
    sk = SceneSketch(context_dim=16, vocab_size=20, max_tokens=12, width=16, heads=2)
    with torch.no_grad():
        sk.templates.normal_()
        sk.fills.normal_()
    decisive = SceneSketch(**{**sk.config, "decisive": True})
    decisive.load_state_dict(sk.state_dict())
    logits = torch.randn(2, 9, P)
    logits[0, 3, 0] = -4.0  # cell 3 of image 0: probably empty
    logits[0, 5, 0] = 4.0
    logits[0, 5, 1:7] = torch.tensor([0.0, 0.0, 0.9, 1.0, 0.0, 0.0])  # shape 3 by a hair
    decided = sk.decide(sk.beliefs(logits))
    assert decided[0, 3, 0] == 0 and decided[0, 5, 0] == 1
    assert decided[0, 5, 1:7].tolist() == [0, 0, 0, 1, 0, 0]
    assert torch.equal(decided.sum(-1), decided[..., 0] + 3)  # one class in each of 3 groups
    background = torch.rand(2, 3, 64, 64)
    yes, no = torch.ones(2, dtype=torch.bool), torch.zeros(2, dtype=torch.bool)
    image, cover = decisive.guide_image(logits, yes, None, no, background)
    rgb, c = sk.paint(decided, (64, 64))
    torch.testing.assert_close(cover, c)
    torch.testing.assert_close(image, sk.composite(rgb, c, background))
    blend, _ = sk.guide_image(logits, yes, None, no, background)
    assert not torch.allclose(blend, image)  # the default paints the blend


def test_readers_shapes_and_padding_is_ignored(sketch: SceneSketch) -> None:
    ids = torch.tensor([[1, 5, 6, 7, 2, 0, 0, 0, 0, 0, 0, 0]])
    full = sketch.read_caption(ids)
    assert full.shape == (1, 9, P)
    torch.testing.assert_close(sketch.read_caption(ids[:, :6]), full)
    assert torch.isfinite(sketch.read_caption(torch.tensor([[1, 2] + [0] * 10]))).all()
    assert sketch.read_spw(torch.randn(2, 9, 16)).shape == (2, 9, P)


def test_save_and_load_keep_the_sketch(sketch: SceneSketch, tmp_path: Path) -> None:
    sketch.save_pretrained(tmp_path / "sk")
    again = SceneSketch.from_pretrained(tmp_path / "sk", low_cpu_mem_usage=False)
    ids = torch.tensor([[1, 5, 6, 2] + [0] * 8])
    torch.testing.assert_close(again.read_caption(ids), sketch.read_caption(ids))
    b = sketch.beliefs(torch.randn(1, 9, P))
    torch.testing.assert_close(again.paint(b)[1], sketch.paint(b)[1])


def test_the_decoder_requires_its_guide_planes() -> None:
    mg = small_codec(sketch=True).mgdd
    g = mg.config.guide_channels
    assert g == mg.latent_channels + 1
    x = torch.zeros(1, mg.latent_channels, 4, 4)
    with pytest.raises(SemcomError, match="guide planes"):
        mg.model_input(x, None)
    planes = mg.guide_planes(torch.rand(1, 3, 64, 64), torch.rand(1, 1, 64, 64))
    assert planes.shape == (1, g, 8, 8)
    assert mg.model_input(torch.zeros(1, mg.latent_channels, 8, 8), None, planes).shape[1] == (
        mg.unet.config.in_channels
    )


def test_the_semantic_streams_steer_the_decode_through_the_sketch() -> None:
    """The sketch path changes a caption-only decode (and the decode stays deterministic);
    a model directory keeps it."""
    codec = small_codec(sketch=True)
    bs = codec.encode(scene_image(1))[0]
    only = bs.keeping("caption")
    a = codec.decode([only], steps=2)
    assert torch.equal(a, codec.decode([only], steps=2))
    sketch = codec.sketch
    assert sketch is not None
    saved = sketch.fills.detach().clone()
    try:
        with torch.no_grad():
            sketch.fills.add_(1.0)  # other colours in the sketch → another decode
        assert not torch.equal(a, codec.decode([only], steps=2))
    finally:
        with torch.no_grad():
            sketch.fills.copy_(saved)


def test_a_start_from_the_sketch_runs_the_last_steps_of_the_schedule() -> None:
    """init_strength s < 1: the UNet runs on the last round(s·steps) timesteps of the
    steps-step schedule; the decode is deterministic and differs from a start from noise."""
    codec = small_codec(sketch=True)
    mg = codec.mgdd
    bs = codec.encode(scene_image(1))[0]
    seen: list[int] = []
    hook = mg.unet.register_forward_pre_hook(lambda m, args: seen.append(int(args[1])))
    try:
        full = codec.decode([bs], steps=10)
        schedule, seen[:] = list(seen), []
        mg.config.init_strength = 0.3
        short = codec.decode([bs], steps=10)
        assert torch.equal(short, codec.decode([bs], steps=10))
    finally:
        mg.config.init_strength = 1.0
        hook.remove()
    assert len(schedule) == 10 and seen[:3] == schedule[-3:] and len(seen) == 6
    assert not torch.equal(full, short)


def test_halos_around_sketched_objects_take_the_surrounding_background() -> None:
    """The HCI's blurred blob of an object (radius 14 around a sketched disk of radius
    10) is replaced by the background around it; pixels farther away keep theirs."""
    sk = SceneSketch(context_dim=16, vocab_size=20, max_tokens=12, width=16, heads=2, halo=6)
    yy, xx = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    r = ((yy - 64) ** 2 + (xx - 64) ** 2).sqrt()
    cover = (r <= 10).float().view(1, 1, 128, 128)
    background = torch.full((1, 3, 128, 128), 0.3)
    background[..., 60:68, 0:8] = 0.6  # a far detail that must survive
    background = torch.where(r <= 14, torch.tensor(0.9), background)
    cleared = sk.clear_halos(background, cover)
    assert torch.allclose(cleared[..., r <= 16], torch.tensor(0.3), atol=1e-5)
    far = r > 10 + 6 * 2**0.5 + 1  # the halo is a square dilation of the coverage
    assert torch.equal(cleared[..., far], background[..., far])
    assert torch.equal(sk.clear_halos(background, torch.zeros_like(cover)), background)
    # without a halo the sketch is composited over the background as it is
    plain = SceneSketch(context_dim=16, vocab_size=20, max_tokens=12, width=16, heads=2)
    with pytest.raises(ValueError, match="halo"):
        SceneSketch(halo=-1)
    beliefs = torch.zeros(1, 9, P)
    image, _ = plain.guide_image(
        beliefs, torch.tensor([True]), None, torch.tensor([False]), background
    )
    expected = plain.composite(*plain.paint(plain.beliefs(beliefs)), background)
    torch.testing.assert_close(image, expected)


def test_a_model_with_guide_planes_needs_its_sketch(tmp_path: Path) -> None:
    small_codec(sketch=True).save_pretrained(tmp_path / "m")
    assert MTGC.from_pretrained(tmp_path / "m").sketch is not None
    import shutil

    shutil.rmtree(tmp_path / "m" / "sketch")
    with pytest.raises(SemcomError, match="sketch"):
        MTGC.from_pretrained(tmp_path / "m")


def test_the_sketch_overlay_lays_what_arrived_over_the_decode(tmp_path: Path) -> None:
    """With ``sketch_overlay`` the decode is the plain decode with the sketch of the
    caption and SPWs laid over it (overlay_sketch); a decode with neither stream is
    untouched; the bitstreams and the fingerprint do not change, and the setting is saved."""
    from semcom.mtgc.receiver import overlay_sketch

    codec = small_codec(sketch=True)
    bs = codec.encode(scene_image(1))[0]
    print_before = codec.fingerprint
    plain = codec.decode([bs], steps=2)
    hci_only = codec.decode([bs.keeping("hci")], steps=2)
    codec.config.sketch_overlay = True
    try:
        laid = codec.decode([bs], steps=2)
        assert torch.equal(laid, overlay_sketch(codec, [codec.decode_streams(bs)], plain))
        assert not torch.equal(laid, plain)
        assert torch.equal(codec.decode([bs.keeping("hci")], steps=2), hci_only)
        codec._fingerprint = None
        assert codec.fingerprint == print_before  # a receiver-side setting
        assert codec.encode(scene_image(1))[0].to_bytes() == bs.to_bytes()
        codec.save_pretrained(tmp_path / "m")
    finally:
        codec.config.sketch_overlay = False
    assert MTGC.from_pretrained(tmp_path / "m").config.sketch_overlay is True
    # where the sketch covers fully, its colours replace the decode's; far from it, the
    # decode stays
    sk = codec.sketch
    cover = torch.zeros(1, 1, 64, 64)
    cover[..., 20:30, 20:30] = 1.0
    rgb = torch.rand(1, 3, 64, 64)
    out = sk.overlay(rgb, cover, plain)
    assert torch.equal(out[..., 20:30, 20:30], rgb[..., 20:30, 20:30])
    assert torch.equal(out[..., 50:, 50:], plain[..., 50:, 50:])
