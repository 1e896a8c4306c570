"""The SPW stream's entropy model: fitting, exact round trips, shorter payloads where the
indices are skewed, corruption detection and the model directory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semcom.errors import SemcomError
from semcom.mtgc.streams import StreamError
from semcom.mtgc.streams.spw import SPWCoder
from semcom.mtgc.streams.spw_model import SPWEntropyModel
from tests.fuzz import mutations

LEVELS = [8, 8, 8, 8]  # 4096 codes: 12 raw bits an index
K = 6


def _skewed(n: int, seed: int) -> np.ndarray:
    """[n,K] indices whose digits favour low values and repeat the previous digit."""
    rng = np.random.default_rng(seed)
    digits = np.zeros((n, K, len(LEVELS)), dtype=np.int64)
    digits[..., 0] = rng.geometric(0.6, (n, K)).clip(1, 8) - 1
    for j in range(1, len(LEVELS)):
        same = rng.random((n, K)) < 0.7
        digits[..., j] = np.where(same, digits[..., j - 1], rng.integers(0, 8, (n, K)))
    radix = np.cumprod([1, *LEVELS[:-1]])
    return (digits * radix).sum(-1)


@pytest.fixture(scope="module")
def model() -> SPWEntropyModel:
    return SPWEntropyModel.fit(_skewed(2000, 0), LEVELS)


def test_fit_counts_every_digit_plus_one(model: SPWEntropyModel):
    idx = _skewed(2000, 0)
    first = idx % 8
    counts = np.asarray(model.counts[2][0][0])
    assert counts.tolist() == (np.bincount(first[:, 2], minlength=8) + 1).tolist()
    # the second digit's tables are conditioned on the first: one table per first digit
    assert len(model.counts[2][1]) == 8
    assert model.codebook_size == 4096 and model.digits(model.index([1, 2, 3, 4])) == [1, 2, 3, 4]


def test_the_model_codes_skewed_indices_shorter_and_exactly(model: SPWEntropyModel):
    coder = SPWCoder(K, 4096, model)
    held_out = _skewed(200, 1)
    sizes = []
    for row in held_out:
        payload = coder.encode(torch.from_numpy(row))
        assert torch.equal(coder.decode(payload), torch.from_numpy(row))
        sizes.append(8 * len(payload))
    ideal = model.bits(held_out)
    raw = K * 12
    # arithmetic coding costs at most a few bits over the ideal length, rounded up to bytes
    assert np.all(np.asarray(sizes) <= ideal + 2 + 8)
    assert np.mean(sizes) < 0.75 * raw
    # and the ideal length is the cross-entropy of the fitted tables
    assert np.mean(ideal) < raw and math.isfinite(float(np.mean(ideal)))


def test_every_index_stays_codable_even_if_never_seen(model: SPWEntropyModel):
    coder = SPWCoder(K, 4096, model)
    rare = torch.tensor([4095, 4094, 3000, 7 * 8 * 8 * 8, 1, 0])
    assert torch.equal(coder.decode(coder.encode(rare)), rare)


def test_corrupted_model_payloads_raise_stream_errors_only(model: SPWEntropyModel):
    coder = SPWCoder(K, 4096, model)
    seeds = [coder.encode(torch.from_numpy(row)) for row in _skewed(5, 2)]
    caught = 0
    for data in mutations(seeds, 600, seed=5):
        try:
            idx = coder.decode(data)
        except StreamError:
            caught += 1
            continue
        # a payload that decodes is the canonical coding of what it decodes to
        assert coder.encode(idx) == bytes(data)
    assert caught > 0
    with pytest.raises(StreamError, match="empty"):
        coder.decode(b"")
    with pytest.raises(StreamError, match="not what its indices code to"):
        coder.decode(seeds[0] + b"\x01")


def test_a_model_for_another_codebook_is_refused(model: SPWEntropyModel):
    with pytest.raises(StreamError, match="codes 6 indices of 4096"):
        SPWCoder(K, 512, model)
    with pytest.raises(StreamError, match="codes 6 indices"):
        SPWCoder(K + 1, 4096, model)


def test_bad_tables_and_indices_are_refused():
    with pytest.raises(SemcomError, match="must lie in"):
        SPWEntropyModel.fit(np.array([[4096]]), LEVELS)
    with pytest.raises(SemcomError, match="one positive count per level"):
        SPWEntropyModel(levels=[2], num_queries=1, counts=[[[[0, 1]]]])
    with pytest.raises(SemcomError, match="holds 3 counts; 1 queries of these digits need 2"):
        SPWEntropyModel([2], 1, np.array([1, 1, 1], dtype=np.int32))
    with pytest.raises(SemcomError, match="tables for 2 queries"):
        SPWEntropyModel(levels=[2], num_queries=1, counts=[[[[1, 1]]], [[[1, 1]]]])


def test_vq_sized_digits_are_coded_without_context():
    """A digit after one of more than MAX_CONTEXT levels has a single table."""
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 100, (300, 2)) * 4 + rng.integers(0, 2, (300, 2))
    model = SPWEntropyModel.fit(idx, [4, 1000])
    assert model.contexts(1) == 4 and len(model.counts[0][1]) == 4
    wide = SPWEntropyModel.fit(idx % 1000, [1000, 4])
    assert wide.contexts(1) == 1 and len(wide.counts[0][1]) == 1
    coder = SPWCoder(2, 4000, wide)
    row = torch.tensor([999, 3999])
    assert torch.equal(coder.decode(coder.encode(row)), row)


def test_save_and_load_keep_the_code(model: SPWEntropyModel, tmp_path):
    model.save_pretrained(tmp_path / "spw_model")
    again = SPWEntropyModel.from_pretrained(tmp_path / "spw_model")
    row = torch.from_numpy(_skewed(1, 9)[0])
    assert SPWCoder(K, 4096, again).encode(row) == SPWCoder(K, 4096, model).encode(row)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(SemcomError, match="cannot read the SPW entropy model"):
        SPWEntropyModel.from_pretrained(tmp_path / "bad")
