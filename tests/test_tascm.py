"""TASCM and the SPW stream: K indices, packed to K·10 bits, embedded at the receiver."""

from __future__ import annotations

import pytest
import torch
from fuzz import mutations

from semcom.mtgc.streams import StreamError
from semcom.mtgc.streams.spw import SPWCoder
from semcom.mtgc.tascm import TASCM
from tests._mtgc import single_thread  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def tascm() -> TASCM:
    torch.manual_seed(0)
    return TASCM(cnn_channels=(8, 16), feature_dim=32, model_dim=32, code_dim=8, context_dim=24)


def test_indices_have_one_codebook_entry_per_query(tascm: TASCM) -> None:
    idx = tascm.indices(torch.rand(3, 3, 64, 64))
    assert idx.shape == (3, 8) and idx.dtype == torch.int64
    assert int(idx.min()) >= 0 and int(idx.max()) < 1024


def test_embeddings_live_in_the_text_space(tascm: TASCM) -> None:
    idx = torch.randint(0, 1024, (2, 8))
    assert tascm.embed(idx).shape == (2, 8, 24)
    assert tascm.null(2).shape == (2, 8, 24)


def test_external_features_are_accepted() -> None:
    t = TASCM(image_encoder="external", feature_dim=48, model_dim=32, context_dim=16)
    assert t.indices(torch.randn(2, 50, 48)).shape == (2, 8)


def test_training_pass_gives_gradients_through_the_quantiser(tascm: TASCM) -> None:
    out = tascm(torch.rand(2, 3, 64, 64))
    (out["context"].pow(2).mean() + out["vq_loss"]).backward()
    assert tascm.queries.grad is not None and tascm.queries.grad.abs().sum() > 0
    assert tascm.codebook.grad is not None
    tascm.zero_grad()


def test_save_and_load_keep_the_indices(tascm: TASCM, tmp_path) -> None:
    tascm.save_pretrained(tmp_path / "tascm")
    again = TASCM.from_pretrained(tmp_path / "tascm", low_cpu_mem_usage=False)
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(again.indices(x), tascm.indices(x))


def test_spw_packing_uses_ten_bits_per_index() -> None:
    coder = SPWCoder(8, 1024)
    assert coder.payload_bytes == 10
    idx = torch.tensor([0, 1, 1023, 512, 77, 300, 999, 5])
    assert torch.equal(coder.decode(coder.encode(idx)), idx)


def test_spw_packing_with_a_codebook_that_is_not_a_power_of_two() -> None:
    coder = SPWCoder(3, 600)
    idx = torch.tensor([599, 0, 321])
    assert coder.payload_bytes == 4
    assert torch.equal(coder.decode(coder.encode(idx)), idx)
    with pytest.raises(StreamError, match="beyond the codebook"):
        coder.decode((1023 << 22).to_bytes(4, "big"))


def test_spw_rejects_wrong_lengths_and_set_padding() -> None:
    coder = SPWCoder(3, 1024)
    with pytest.raises(StreamError, match="expects"):
        coder.decode(bytes(5))
    with pytest.raises(StreamError, match="padding"):
        coder.decode(b"\x00\x00\x00\x01")
    with pytest.raises(StreamError):
        coder.encode(torch.tensor([1, 2]))


def test_spw_fuzz_raises_only_stream_errors() -> None:
    coder = SPWCoder(8, 1000)
    seeds = [coder.encode(torch.randint(0, 1000, (8,))) for _ in range(5)]
    for data in mutations(seeds, 1000, seed=4):
        try:
            idx = coder.decode(data)
        except StreamError:
            continue
        assert idx.shape == (8,) and int(idx.max()) < 1000


@pytest.fixture(scope="module")
def fsq() -> TASCM:
    torch.manual_seed(1)
    return TASCM(
        cnn_channels=(8, 16),
        feature_dim=32,
        model_dim=32,
        context_dim=24,
        quantizer="fsq",
        fsq_levels=(4, 4, 4, 4, 4),
    )


def test_fsq_codes_cover_the_codebook_and_round_trip(fsq: TASCM) -> None:
    vectors = fsq.codebook_vectors  # every code's grid point, in index order
    assert vectors.shape == (1024, 5) and float(vectors.abs().max()) == 1.0
    assert len({tuple(v.tolist()) for v in vectors}) == 1024
    # atanh of a grid point is a pre-quantisation vector that quantises back to its index
    digits = (vectors + 1) * 1.5
    z = torch.atanh(((digits / 1.5) - 1).clamp(-0.999, 0.999) / 1.0001)
    assert torch.equal(fsq.quantize(z.unsqueeze(0)), torch.arange(1024).unsqueeze(0))


def test_fsq_forward_matches_what_the_receiver_rebuilds(fsq: TASCM) -> None:
    x = torch.rand(3, 3, 64, 64)
    out = fsq(x)
    idx = fsq.indices(x)
    assert torch.equal(out["indices"], idx) and int(idx.max()) < 1024
    # the straight-through context equals the receiver's embedding of the sent indices
    torch.testing.assert_close(out["context"], fsq.embed(idx), rtol=1e-5, atol=1e-5)
    out["context"].pow(2).mean().backward()
    assert fsq.queries.grad is not None and fsq.queries.grad.abs().sum() > 0
    fsq.zero_grad()


def test_fsq_levels_must_multiply_to_the_codebook_size() -> None:
    with pytest.raises(ValueError, match="multiply to codebook_size"):
        TASCM(quantizer="fsq", fsq_levels=(4, 4, 4), codebook_size=1024)
    with pytest.raises(ValueError, match="quantizer must be"):
        TASCM(quantizer="lfq")


def test_fsq_tascm_saves_and_loads(fsq: TASCM, tmp_path) -> None:
    fsq.save_pretrained(tmp_path / "fsq")
    again = TASCM.from_pretrained(tmp_path / "fsq", low_cpu_mem_usage=False)
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(again.indices(x), fsq.indices(x))
    idx = fsq.indices(x)
    assert torch.equal(again.embed(idx), fsq.embed(idx))


@pytest.fixture(scope="module")
def cell_tascm() -> TASCM:
    torch.manual_seed(0)
    return TASCM(
        cnn_channels=(8, 16),
        feature_dim=32,
        model_dim=32,
        num_queries=4,
        context_dim=24,
        quantizer="fsq",
        fsq_levels=(4, 4, 4, 4, 4),
        query_grid=2,
        cell_patch=2,
    )


def test_cell_patch_reads_each_cell_into_its_own_query(cell_tascm: TASCM) -> None:
    x = torch.rand(2, 3, 64, 64)
    base = cell_tascm.latents(x)
    assert base.shape == (2, 4, 5)
    # a change inside the bottom-right cell (query 3) moves its reading before attention
    moved = x.clone()
    moved[:, :, 40:60, 40:60] = 1 - moved[:, :, 40:60, 40:60]
    _, _, cells = cell_tascm._read(moved)
    _, _, before = cell_tascm._read(x)
    assert cells is not None and cells.shape == (2, 4, 32)
    change = (cells - before).norm(dim=-1)  # [B,K]; the cells' GroupNorm couples them a little
    assert bool((change[:, 3] > 2 * change[:, :3].max(-1).values).all())
    out = cell_tascm(x)
    out["context"].pow(2).mean().backward()
    assert cell_tascm.cell_proj.weight.grad is not None
    assert cell_tascm.cell_read[1].weight.grad.abs().sum() > 0
    cell_tascm.zero_grad()


def test_cell_patch_saves_loads_and_needs_a_grid(cell_tascm: TASCM, tmp_path) -> None:
    cell_tascm.save_pretrained(tmp_path / "cell")
    again = TASCM.from_pretrained(tmp_path / "cell", low_cpu_mem_usage=False)
    assert again.config.cell_patch == 2
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(again.indices(x), cell_tascm.indices(x))
    with pytest.raises(ValueError, match="cell_patch needs"):
        TASCM(cnn_channels=(8,), cell_patch=2)


def test_fsq_indices_are_exact_beyond_float32_integers() -> None:
    # 2^28 codes: a float32 sum of digit × radix would round indices above 2^24
    t = TASCM(
        cnn_channels=(8,),
        feature_dim=16,
        model_dim=16,
        num_queries=4,
        context_dim=8,
        quantizer="fsq",
        fsq_levels=(8,) * 8 + (4, 4),
        codebook_size=2**28,
    )
    idx = torch.tensor([[2**28 - 1, 2**28 - 2, 2**24 + 1, 12_345_677]])
    values = t._fsq_values(t._fsq_digits(idx))  # each code's grid point in [-1, 1]
    z = torch.atanh((values / 1.0001).clamp(-0.9999, 0.9999))
    assert torch.equal(t.quantize(z), idx)
