"""The HCI stream: real compressai / imagecodecs bytes that decode back."""

from __future__ import annotations

import pytest
import torch
from fuzz import mutations

from semcom.formats import encode_varint as varint
from semcom.mtgc.streams import StreamError
from semcom.mtgc.streams.hci import (
    MAX_BYTES_PER_SYMBOL,
    HCICodec,
    HCISetting,
    LearnedHCICodec,
    downsample,
)
from tests._mtgc import scene_image, single_thread  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def codec() -> HCICodec:
    torch.manual_seed(0)
    return HCICodec(LearnedHCICodec(n=16, m=16), HCISetting("learned", 4, 8))


def test_header_byte_round_trips() -> None:
    for kind in ("learned", "webp", "jpeg"):
        for factor in (2, 4, 8, 16):
            for q in (0, 7, 15):
                s = HCISetting(kind, factor, q)
                assert HCISetting.from_header(s.header()) == s


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(StreamError):
        HCISetting("png", 4, 1)
    with pytest.raises(StreamError):
        HCISetting("webp", 3, 1)
    with pytest.raises(StreamError):
        HCISetting("webp", 4, 16)


def test_downsample_uses_ceiling_sizes() -> None:
    assert downsample(torch.rand(1, 3, 70, 65), 8).shape == (1, 3, 9, 9)


@pytest.mark.parametrize("kind", ["learned", "webp", "jpeg"])
def test_payload_decodes_to_full_size_image(codec: HCICodec, kind: str) -> None:
    x = scene_image(0, (64, 80))
    payload = codec.encode(x, HCISetting(kind, 4, 4))[0]
    y = codec.decode(payload, 64, 80)
    assert y.shape == (1, 3, 64, 80)
    assert float(y.min()) >= 0 and float(y.max()) <= 1


@pytest.mark.parametrize("kind", ["webp", "jpeg"])
def test_classical_codecs_reconstruct_a_smooth_image(codec: HCICodec, kind: str) -> None:
    x = scene_image(1, (64, 64))
    y = codec.decode(codec.encode(x, HCISetting(kind, 2, 15))[0], 64, 64)
    assert float((x - y).abs().mean()) < 0.08


def test_encoding_is_deterministic_and_batched(codec: HCICodec) -> None:
    x = torch.cat([scene_image(2), scene_image(3)])
    a, b = codec.encode(x), codec.encode(x)
    assert a == b
    assert codec.encode(x[1:])[0] == a[1]


def test_smaller_factor_costs_more_bytes(codec: HCICodec) -> None:
    x = scene_image(4, (128, 128))
    sizes = [len(codec.encode(x, HCISetting("jpeg", f, 8))[0]) for f in (2, 8)]
    assert sizes[0] > sizes[1]


def test_save_and_load_give_the_same_bytes_and_pixels(codec: HCICodec, tmp_path) -> None:
    assert codec.learned is not None
    codec.learned.save_pretrained(tmp_path / "hci")
    assert (tmp_path / "hci" / "config.json").is_file()
    again = HCICodec(LearnedHCICodec.from_pretrained(tmp_path / "hci"), codec.default)
    x = scene_image(5)
    p = codec.encode(x)[0]
    assert again.encode(x)[0] == p
    assert torch.equal(again.decode(p, 64, 64), codec.decode(p, 64, 64))


def test_learned_kind_without_weights_is_a_clear_error() -> None:
    with pytest.raises(StreamError, match="no weights"):
        HCICodec(None, HCISetting("learned", 4, 1))
    webp_only = HCICodec(None, HCISetting("webp", 4, 1))
    with pytest.raises(StreamError, match="learned codec"):
        webp_only.decode(bytes([HCISetting("learned", 4, 1).header()]) + b"abc", 64, 64)


def test_malformed_payloads_raise_only_stream_errors(codec: HCICodec) -> None:
    x = scene_image(6)
    seeds = [codec.encode(x, HCISetting(k, 4, 3))[0] for k in ("learned", "webp", "jpeg")]
    for data in mutations(seeds, 1000, seed=3):
        try:
            y = codec.decode(data, 64, 64)
        except StreamError:
            continue
        assert y.shape == (1, 3, 64, 64) and torch.isfinite(y).all()


def test_classical_payload_declaring_a_huge_image_is_refused_before_decoding(
    codec: HCICodec,
) -> None:
    # Found by benchmarks/fuzz.py: a JPEG frame header corrupted to declare 16383x16383
    # made libjpeg allocate 0.8 GB and decode for 2.5 s (65535x65535: a 12 GB request).
    x = scene_image(6)
    jpeg = bytearray(codec.encode(x, HCISetting("jpeg", 4, 3))[0])
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = (16383).to_bytes(2, "big") * 2
    webp = bytearray(codec.encode(x, HCISetting("webp", 4, 3))[0])
    assert webp[13:17] == b"VP8 "
    webp[27:31] = (16383).to_bytes(2, "little") * 2
    for kind, payload in (("jpeg", jpeg), ("webp", webp)):
        with pytest.raises(StreamError, match=f"{kind} declares 16383x16383, expected 16x16"):
            codec.decode(bytes(payload), 64, 64)


def test_learned_payload_longer_than_any_encoding_is_refused(codec: HCICodec) -> None:
    # Found by benchmarks/fuzz.py: a 16 MB garbage HCI section was zero-padded 32-fold
    # for the rANS decoder (a 1 GB allocation). No encoding takes 8 bytes per symbol.
    noise = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    payload = codec.encode(noise, HCISetting("learned", 2, 15))[0]
    symbols = 2 * 2 * 16  # 32x32 HCI → 2x2 latent of m=16 channels
    assert len(payload) - 1 < MAX_BYTES_PER_SYMBOL * symbols
    assert codec.decode(payload, 64, 64).shape == (1, 3, 64, 64)
    too_long = payload + bytes(MAX_BYTES_PER_SYMBOL * symbols + 64)
    with pytest.raises(StreamError, match="more than any 64-symbol payload"):
        codec.decode(too_long, 64, 64)


@pytest.fixture(scope="module")
def hyper() -> HCICodec:
    torch.manual_seed(0)
    return HCICodec(LearnedHCICodec(n=16, m=24, arch="hyperprior"), HCISetting("learned", 2, 8))


def test_hyperprior_round_trip_and_reload(hyper: HCICodec, tmp_path) -> None:
    x = scene_image(7, (128, 96))
    payload = hyper.encode(x)[0]
    y = hyper.decode(payload, 128, 96)
    assert y.shape == (1, 3, 128, 96)
    assert hyper.learned is not None
    hyper.learned.save_pretrained(tmp_path / "hp")
    again = HCICodec(LearnedHCICodec.from_pretrained(tmp_path / "hp"), hyper.default)
    assert again.encode(x)[0] == payload
    assert torch.equal(again.decode(payload, 128, 96), y)


def test_hyperprior_parts_longer_than_any_encoding_are_refused(hyper: HCICodec) -> None:
    payload = hyper.encode(scene_image(7, (128, 128)), HCISetting("learned", 2, 15))[0]
    n_z = payload[1]
    assert n_z < 0x80  # a one-byte varint: the hyperprior of a 64x64 HCI is short
    z_symbols, y_symbols = 16, 16 * 24
    head, z, y = payload[:2], payload[2 : 2 + n_z], payload[2 + n_z :]
    long_z = bytes(MAX_BYTES_PER_SYMBOL * z_symbols + 65)
    with pytest.raises(StreamError, match="hyperprior is 193 bytes"):
        hyper.decode(payload[:1] + varint(len(long_z)) + long_z + y, 128, 128)
    long_y = y + bytes(MAX_BYTES_PER_SYMBOL * y_symbols + 65)
    with pytest.raises(StreamError, match=f"latent is {len(long_y)} bytes"):
        hyper.decode(head + z + long_y, 128, 128)


def test_hyperprior_training_pass_reports_both_likelihoods(hyper: HCICodec) -> None:
    assert hyper.learned is not None
    out = hyper.learned(torch.rand(1, 3, 64, 64))
    assert set(out["likelihoods"]) == {"y", "z"}
    assert out["x_hat"].shape == (1, 3, 64, 64)


@pytest.mark.slow
def test_hyperprior_fuzz_raises_only_stream_errors(hyper: HCICodec) -> None:
    seeds = [
        hyper.encode(scene_image(8, (128, 128)), HCISetting("learned", 2, q))[0] for q in (0, 15)
    ]
    for data in mutations(seeds, 600, seed=5):
        try:
            y = hyper.decode(data, 128, 128)
        except StreamError:
            continue
        assert torch.isfinite(y).all()


def test_webp_hci_quality_changes_the_rate():
    """The WebP fallback is lossy: a higher quality index gives more bytes."""
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    codec = HCICodec(None, HCISetting("webp", 2, 0))
    sizes = [len(codec.encode(image, HCISetting("webp", 2, q))[0]) for q in (0, 8, 15)]
    assert sizes[0] < sizes[1] < sizes[2]
