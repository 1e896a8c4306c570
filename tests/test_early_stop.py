"""Early-terminating decoding and batched transmission (same results, fewer iterations)."""

from __future__ import annotations

import math

import torch

from channels.coding import TransportBlockDecoder
from channels.link import Link, stream_generator
from channels.mcs import MCS, threshold_db


def test_early_stop_matches_fixed_iterations_at_the_threshold():
    link, mcs, blocks = Link("awgn"), MCS("qpsk", 0.5), 80
    snr = threshold_db(mcs, "awgn")
    bits = torch.randint(0, 2, (blocks, 512), generator=torch.Generator().manual_seed(0)).float()
    enc, _ = link.fec(512, mcs)
    _, llr = link.send(bits, mcs, snr, stream_generator(0, "es"))
    fixed = TransportBlockDecoder(enc, early_stop=False)(llr)
    early = TransportBlockDecoder(enc, early_stop=True)(llr)
    p_fixed = 1 - fixed.tb_ok.float().mean().item()
    p_early = 1 - early.tb_ok.float().mean().item()
    assert 0.0 < p_fixed < 0.6  # the comparison is made where errors happen
    p = (p_fixed + p_early) / 2
    assert abs(p_fixed - p_early) <= 3 * math.sqrt(2 * p * (1 - p) / blocks)
    both = fixed.tb_ok & early.tb_ok
    assert torch.equal(fixed.bits[both], early.bits[both])
    assert torch.equal(early.bits[both, :512], bits[both])  # the TB pads 512 bits to 528
    undetected = lambda out: int((out.tb_ok & (out.bits[:, :512] != bits).any(-1)).sum())  # noqa: E731
    assert undetected(early) <= undetected(fixed)
    assert early.iterations.float().mean() < fixed.iterations.float().mean()


def test_a_batch_mixing_mcs_and_streams_returns_each_stream_to_its_owner():
    items = [
        {
            "caption": f"image {i}: a red square".encode(),
            "hci": bytes([i]) * (40 + 30 * i),
            "spw": bytes([i, i + 1, i + 2]),
        }
        for i in range(4)
    ]
    protection = {"caption": "qpsk:1/3", "spw": "qpsk:1/3", "hci": "qam16:1/2"}
    link = Link("rayleigh")
    batch = link.transmit_many(items, 30.0, protection=protection, seeds=[5, 6, 7, 8])
    for item, result in zip(items, batch, strict=True):
        assert list(result.streams) == list(item)
        assert result.received() == item
    # Batching changes nothing: each item equals its own transmit() with the same seed.
    for seed, item, result in zip([5, 6, 7, 8], items, batch, strict=True):
        alone = link.transmit(item, 30.0, protection=protection, seed=seed)
        assert alone.to_dict() == result.to_dict()


def test_batched_low_snr_results_equal_single_transmissions():
    items = [{"hci": bytes(range(i, i + 60))} for i in range(3)]
    link = Link("awgn")
    batch = link.transmit_many(items, 3.0, protection="qam16:1/2", seeds=[1, 2, 3])
    for seed, item, result in zip([1, 2, 3], items, batch, strict=True):
        alone = link.transmit(item, 3.0, protection="qam16:1/2", seed=seed)
        assert alone.to_dict() == result.to_dict()
