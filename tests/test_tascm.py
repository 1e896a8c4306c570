"""TASCM and the SPW stream: K indices, packed to K·10 bits, embedded at the receiver."""

from __future__ import annotations

import pytest
import torch
from _mtgc import single_thread  # noqa: F401 (fixture)
from fuzz import mutations

from semcom.streams import StreamError
from semcom.streams.spw import SPWCoder
from semcom.tascm import TASCM


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
