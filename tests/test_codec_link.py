"""MTGC over the link: streams cross one by one; what fails its CRC is an erasure."""

from __future__ import annotations

import pytest
import torch

from channels.link import Link
from semcom.mtgc.container import Bitstream
from tests._mtgc import scene_image, single_thread, small_codec  # noqa: F401 (fixture)

CAPTION = "a small red star at the top left"


@pytest.fixture(scope="module")
def sent() -> Bitstream:
    return small_codec().encode(scene_image(0), captions=[CAPTION])[0]


def test_at_high_snr_every_stream_arrives_bit_for_bit(sent: Bitstream) -> None:
    codec = small_codec()
    # a fixed MCS well inside its region (adaptive sits at the 10 % BLER threshold of
    # 1024-bit blocks, where ~100-bit blocks still fail often: issue 18's size-aware MCS)
    tx = Link("awgn").transmit(sent.streams, snr_db=20.0, protection="qam16:1/2", seed=0)
    got = sent.with_received(tx.received())
    assert got.streams == sent.streams
    assert torch.equal(codec.decode(got), codec.decode(sent))


def test_far_below_the_threshold_everything_is_erased_and_still_decodes(sent: Bitstream) -> None:
    tx = Link("awgn").transmit(sent.streams, snr_db=-8.0, protection="qam16:1/2", seed=0)
    got = sent.with_received(tx.received())
    assert got.streams == {}
    assert small_codec().decode(got).shape == (1, 3, 64, 64)


def test_unequal_protection_keeps_the_semantic_streams(sent: Bitstream) -> None:
    protection = {"caption": "qpsk:1/3", "spw": "qpsk:1/3", "hci": "qam64:2/3"}
    tx = Link("awgn").transmit(sent.streams, snr_db=2.0, protection=protection, seed=0)
    got = sent.with_received(tx.received())
    assert set(got.streams) == {"caption", "spw"}
    assert small_codec().decode_streams(got).caption == CAPTION
