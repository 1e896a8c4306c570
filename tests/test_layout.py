"""SPW layout planes: each SPW's layout vector fills its grid cell of the UNet input."""

from __future__ import annotations

import warnings

import pytest
import torch

from semcom.errors import SemcomError
from semcom.mtgc.mgdd import MGDDConfig
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.presets.tiny import build_tiny
from semcom.mtgc.tascm import TASCM
from tests._mtgc import single_thread, small_codec, small_config  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def codec() -> MTGC:
    return small_codec(layout=True)


def test_each_vector_fills_exactly_its_cell(codec: MTGC) -> None:
    mg = codec.mgdd
    g, d = mg.config.layout_grid, mg.config.layout_channels
    layout = torch.arange(g * g, dtype=torch.float32).view(1, g * g, 1).expand(1, -1, d)
    planes = mg.layout_planes(layout, 6, 4)
    assert planes.shape == (1, d, 6, 4)
    # 6 rows split into 2 cells of 3, 4 columns into 2 of 2: cell k = g·row + col
    expected = torch.tensor([[0, 0, 1, 1]] * 3 + [[2, 2, 3, 3]] * 3, dtype=torch.float32)
    for c in range(d):
        assert torch.equal(planes[0, c], expected)


def test_uneven_sides_split_at_the_cell_borders() -> None:
    cfg = small_config(layout=True)
    cfg.mgdd = MGDDConfig(layout_grid=3, layout_channels=1)
    cfg.num_queries, cfg.query_grid, cfg.layout_dim = 9, 3, 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mg = build_tiny(cfg).mgdd
    planes = mg.layout_planes(torch.arange(9.0).view(1, 9, 1), 32, 32)[0, 0]
    # pixel centres against the borders 10.67 and 21.33: rows 0-10, 11-20 and 21-31
    assert planes[:, 0].tolist() == [0.0] * 11 + [3.0] * 10 + [6.0] * 11
    assert planes[0].tolist() == [0.0] * 11 + [1.0] * 10 + [2.0] * 11


def test_the_unet_input_gains_the_layout_planes(codec: MTGC) -> None:
    mg = codec.mgdd
    d = mg.config.layout_channels
    assert mg.unet.config.in_channels == mg.latent_channels + d
    x = torch.zeros(2, mg.latent_channels, 4, 4)
    layout = torch.randn(2, mg.config.layout_grid**2, d)
    assert mg.model_input(x, layout).shape == (2, mg.latent_channels + d, 4, 4)
    with pytest.raises(SemcomError, match="layout"):
        mg.model_input(x, None)
    with pytest.raises(SemcomError, match="does not fit"):
        mg.model_input(x, layout[:, :3])


def test_tascm_layout_vectors_and_their_null() -> None:
    tascm = TASCM(
        cnn_channels=(8, 16),
        feature_dim=16,
        model_dim=16,
        num_queries=4,
        codebook_size=64,
        code_dim=4,
        context_dim=16,
        query_grid=2,
        layout_dim=5,
    )
    x = torch.rand(3, 3, 32, 32)
    idx = tascm.indices(x)
    assert tascm.layout(idx).shape == (3, 4, 5)
    assert torch.equal(tascm.null_layout(3), torch.zeros(3, 4, 5))
    out = tascm(x)
    # the training pass's straight-through layout equals the receiver's from the indices
    torch.testing.assert_close(out["layout"], tascm.layout(out["indices"]))
    with pytest.raises(ValueError, match="query_grid"):
        TASCM(num_queries=4, layout_dim=5)
    plain = TASCM(cnn_channels=(8,), feature_dim=16, model_dim=16, num_queries=4, context_dim=16)
    assert "layout" not in plain(x)
    with pytest.raises(ValueError, match="no layout head"):
        plain.layout(idx)


def test_the_spw_stream_steers_the_decoder_through_the_layout_planes(codec: MTGC) -> None:
    """With cross-attention blind to SPWs (their tokens equal to the null tokens), the SPW
    stream still changes the image, and only where it arrived."""
    from _mtgc import scene_image

    sent = codec.encode(scene_image(3))[0]
    tascm = codec.tascm
    saved = {k: v.clone() for k, v in tascm.state_dict().items()}
    try:
        with torch.no_grad():  # SPW tokens → constant = null tokens: cross-attention can't tell
            tascm.to_context.weight.zero_()
            tascm.to_context.bias.zero_()
            tascm.query_pos.zero_()
            tascm.null_tokens.zero_()
            tascm.layout_head.null_vectors.copy_(torch.randn(tascm.layout_head.null_vectors.shape))
        with_spw = codec.decode(sent)
        without = codec.decode(sent.keeping("caption", "hci"))
        assert (with_spw - without).abs().max() > 1e-3
        assert torch.equal(codec.decode(sent.keeping("caption", "hci")), without)
    finally:
        tascm.load_state_dict(saved)


def test_layout_settings_must_agree_between_tascm_and_decoder() -> None:
    cfg = small_config(layout=True)
    cfg.layout_dim = 3
    with pytest.raises(ValueError, match="layout"):
        build_tiny(cfg)
    with pytest.raises(SemcomError, match="layout_grid"):
        MGDDConfig(layout_grid=2)


def test_a_layout_codec_saves_and_loads_bit_for_bit(codec: MTGC, tmp_path) -> None:
    from _mtgc import scene_image

    sent = codec.encode(scene_image(4))[0]
    codec.save_pretrained(tmp_path / "m")
    back = MTGC.from_pretrained(tmp_path / "m")
    assert back.mgdd.config.layout_grid == codec.mgdd.config.layout_grid
    assert back.encode(scene_image(4))[0].streams == sent.streams
    assert torch.equal(back.decode(sent), codec.decode(sent))
