"""MTGC end to end: encode → file → decode, erasures, determinism, rate control."""

from __future__ import annotations

import warnings

import pytest
import torch

from semcom.errors import SemcomError
from semcom.mtgc.container import Bitstream, BitstreamError
from semcom.mtgc.pipeline import ARRIVAL_PATTERNS, MAX_PIXELS, MTGC
from semcom.mtgc.presets.tiny import build_tiny
from semcom.mtgc.streams.hci import HCISetting
from tests._mtgc import scene_image, single_thread, small_codec, small_config  # noqa: F401 (fixture)

CAPTION = "a small red star at the top left and a large blue circle in the middle"


@pytest.fixture(scope="module")
def codec() -> MTGC:
    return small_codec()


@pytest.fixture(scope="module")
def sent(codec: MTGC) -> Bitstream:
    return codec.encode(scene_image(0), captions=[CAPTION])[0]


def test_encode_writes_three_streams_with_real_rates(codec: MTGC, sent: Bitstream) -> None:
    assert set(sent.streams) == {"caption", "hci", "spw"}
    assert sent.stream_bits()["spw"] == 80
    assert sent.stream_bits()["caption"] < 8 * len(CAPTION) // 4
    assert sent.preset == "tiny" and (sent.height, sent.width) == (64, 64)
    assert sent.fingerprint == codec.fingerprint


def test_file_round_trip_recovers_the_sent_streams_bit_for_bit(
    codec: MTGC, sent: Bitstream, tmp_path
) -> None:
    sent.save(tmp_path / "x.mtgc")
    got = Bitstream.load(tmp_path / "x.mtgc")
    assert got.streams == sent.streams
    streams = codec.decode_streams(got, strict=True)
    assert streams.caption == CAPTION
    assert torch.equal(streams.spw, codec.tascm.indices(scene_image(0))[0])
    assert torch.equal(streams.hci, codec.hci.decode(sent.streams["hci"], 64, 64))
    assert codec.spw.encode(streams.spw) == sent.streams["spw"]
    assert codec.caption_coder.encode(streams.caption) == sent.streams["caption"]


def test_encoding_is_deterministic(codec: MTGC, sent: Bitstream) -> None:
    again = codec.encode(scene_image(0), captions=[CAPTION])[0]
    assert again.to_bytes() == sent.to_bytes()


def test_decoding_is_deterministic_for_a_fixed_seed(codec: MTGC, sent: Bitstream) -> None:
    a = codec.decode(sent, seed=7)
    b = codec.decode(sent, seed=7)
    assert a.shape == (1, 3, 64, 64) and torch.equal(a, b)
    assert not torch.equal(a, codec.decode(sent, seed=8))


@pytest.mark.parametrize("arrived", [*ARRIVAL_PATTERNS, ()], ids=lambda p: "+".join(p) or "none")
def test_every_erasure_pattern_decodes_to_an_image(
    codec: MTGC, sent: Bitstream, arrived: tuple[str, ...]
) -> None:
    received = sent.without(*(s for s in ("caption", "hci", "spw") if s not in arrived))
    assert set(received.streams) == set(arrived)
    img = codec.decode(received)
    assert img.shape == (1, 3, 64, 64) and torch.isfinite(img).all()


def test_seven_arrival_patterns_are_listed() -> None:
    assert len(ARRIVAL_PATTERNS) == 7 and len(set(ARRIVAL_PATTERNS)) == 7


def test_each_stream_influences_the_reconstruction(codec: MTGC, sent: Bitstream) -> None:
    full = codec.decode(sent)
    for name in ("caption", "hci", "spw"):
        assert not torch.equal(full, codec.decode(sent.without(name))), name


def test_a_corrupted_stream_is_treated_as_erased(codec: MTGC, sent: Bitstream) -> None:
    bad = Bitstream(sent.preset, sent.fingerprint, 64, 64, dict(sent.streams))
    bad.streams["spw"] = b"\x00"
    streams = codec.decode_streams(bad)
    assert streams.spw is None and streams.failed == ("spw",)
    assert torch.equal(codec.decode(bad), codec.decode(sent.without("spw")))
    with pytest.raises(SemcomError):
        codec.decode(bad, strict=True)


def test_batched_encode_and_decode_match_single_ones(codec: MTGC) -> None:
    imgs = torch.cat([scene_image(1), scene_image(2)])
    batch = codec.encode(imgs, captions=["a big star", "a tiny square"])
    single = codec.encode(imgs[1:], captions=["a tiny square"])
    assert batch[1].to_bytes() == single[0].to_bytes()
    out = codec.decode(batch, seed=[1, 2])
    assert torch.allclose(out[1:], codec.decode(single[0], seed=2), atol=1e-4)


def test_sizes_that_are_not_multiples_are_padded_and_cropped(codec: MTGC) -> None:
    bs = codec.encode(scene_image(3, (72, 90)), captions=["x"])[0]
    assert codec.decode(bs).shape == (1, 3, 72, 90)


def test_mixed_sizes_decode_to_a_list(codec: MTGC) -> None:
    a = codec.encode(scene_image(3, (64, 64)), captions=["x"])[0]
    b = codec.encode(scene_image(3, (64, 80)), captions=["x"])[0]
    out = codec.decode([a, b])
    assert isinstance(out, list) and [o.shape[-1] for o in out] == [64, 80]


def test_the_captioner_writes_the_caption_when_none_is_given(codec: MTGC) -> None:
    bs = codec.encode(scene_image(4))[0]
    text = codec.decode_streams(bs).caption
    assert text == codec.captioner.caption(scene_image(4))[0]


def test_too_small_images_are_refused(codec: MTGC) -> None:
    with pytest.raises(SemcomError, match="at least 32x32"):
        codec.encode(torch.rand(1, 3, 16, 64), captions=["x"])


def test_images_above_the_pixel_limit_are_refused(codec: MTGC) -> None:
    with pytest.raises(SemcomError, match="at most 4194304 pixels"):
        codec.encode(torch.zeros(1, 3, 2049, MAX_PIXELS // 2048), captions=["x"])


def test_a_header_declaring_a_huge_image_is_refused_before_decoding(
    codec: MTGC, sent: Bitstream
) -> None:
    # Found by benchmarks/fuzz.py: a forged 4097x49044 header made the HCI decoder run
    # for over 5 s and allocate gigabytes.
    huge = Bitstream(sent.preset, sent.fingerprint, 4097, 49044, sent.streams)
    for decode in (codec.decode_streams, codec.decode):
        with pytest.raises(BitstreamError, match="declares a 4097x49044 image"):
            decode(huge)
    at_limit = Bitstream(sent.preset, sent.fingerprint, 1024, MAX_PIXELS // 1024, sent.streams)
    assert codec.decode_streams(at_limit).caption == CAPTION


def test_preset_and_weight_mismatches_are_refused(codec: MTGC, sent: Bitstream) -> None:
    foreign = Bitstream("sd21", sent.fingerprint, 64, 64, sent.streams)
    with pytest.raises(BitstreamError, match="preset 'sd21'"):
        codec.decode(foreign)
    with pytest.raises(BitstreamError, match="fingerprint"):
        small_codec(seed=1).decode(sent)


def test_save_and_load_keep_bits_and_pixels(codec: MTGC, sent: Bitstream, tmp_path) -> None:
    codec.save_pretrained(tmp_path / "m")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = MTGC.from_pretrained(tmp_path / "m")
    assert again.fingerprint == codec.fingerprint
    assert again.encode(scene_image(0), captions=[CAPTION])[0].to_bytes() == sent.to_bytes()
    assert torch.equal(again.decode(sent), codec.decode(sent))
    assert (
        again.decode_streams(again.encode(scene_image(5))[0]).caption
        == (codec.captioner.caption(scene_image(5))[0])
    )


def test_weights_directory_with_missing_parts_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "m").mkdir()
    with pytest.raises(SemcomError, match="lacks mtgc.json"):
        MTGC.from_pretrained(tmp_path / "m")


def test_target_bpp_is_met_with_real_bits(codec: MTGC) -> None:
    img = scene_image(6, (128, 128))
    for target in (0.02, 0.05, 0.2):
        bs = codec.encode(img, captions=[CAPTION], target_bpp=target)[0]
        assert bs.bpp <= target
    low = codec.encode(img, captions=[CAPTION], target_bpp=0.02)[0]
    high = codec.encode(img, captions=[CAPTION], target_bpp=0.2)[0]

    def hci_error(bs) -> float:  # the sender keeps the best-decoding HCI that fits
        return float(((codec.hci.decode(bs.streams["hci"], 128, 128) - img) ** 2).mean())

    assert hci_error(high) <= hci_error(low)


def test_unreachable_target_bpp_says_what_is_reachable(codec: MTGC) -> None:
    with pytest.raises(SemcomError, match="below the smallest"):
        codec.encode(scene_image(6), captions=[CAPTION], target_bpp=0.001)


def test_explicit_hci_setting_is_used(codec: MTGC) -> None:
    bs = codec.encode(scene_image(7), captions=["x"], hci_setting=HCISetting("webp", 8, 2))[0]
    assert bs.streams["hci"][0] == HCISetting("webp", 8, 2).header()
    assert codec.decode_streams(bs, strict=True).hci.shape == (1, 3, 64, 64)


def test_building_is_deterministic_from_the_seed() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = build_tiny(small_config(0))
    assert again.fingerprint == small_codec().fingerprint


def test_half_precision_decoder_keeps_the_bitstream(codec: MTGC, sent: Bitstream, tmp_path) -> None:
    codec.save_pretrained(tmp_path / "m")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        half = MTGC.from_pretrained(tmp_path / "m", dtype=torch.bfloat16)
    assert half.encode(scene_image(0), captions=[CAPTION])[0].to_bytes() == sent.to_bytes()
    out = half.decode(sent)
    assert out.dtype == torch.float32 and out.shape == (1, 3, 64, 64)
    assert float((out - codec.decode(sent)).abs().mean()) < 0.1


def test_max_batch_bounds_the_sampling_batch(codec: MTGC) -> None:
    imgs = torch.cat([scene_image(i) for i in range(3)])
    sent = codec.encode(imgs, captions=["a", "b", "c"])
    whole = codec.decode(sent, seed=[1, 2, 3])
    chunked = codec.decode(sent, seed=[1, 2, 3], max_batch=2)
    assert chunked.shape == (3, 3, 64, 64)
    assert torch.allclose(whole, chunked, atol=1e-4)
    with pytest.raises(SemcomError):
        codec.decode(sent, max_batch=0)


def test_rate_control_prefers_the_finer_setting_among_equal_sizes(codec: MTGC) -> None:
    img = scene_image(6, (128, 128))
    bs = codec.encode(img, captions=[CAPTION], target_bpp=0.2)[0]
    chosen = HCISetting.from_header(bs.streams["hci"][0])
    size = len(bs.streams["hci"])
    for s in codec.hci_candidates():
        if len(codec.hci.encode(img, s)[0]) == size:
            assert (-chosen.factor, chosen.quality) >= (-s.factor, s.quality)


def test_lowpass_from_takes_low_frequencies_from_the_guide() -> None:
    from semcom.mtgc.pipeline import lowpass_from
    from semcom.mtgc.streams.hci import downsample

    g = torch.Generator().manual_seed(0)
    image = 0.25 + 0.5 * torch.rand(2, 3, 64, 64, generator=g)
    guide = torch.full((2, 3, 64, 64), 0.6)
    out = lowpass_from(image, guide, 8)
    assert torch.allclose(lowpass_from(guide, guide, 8), guide, atol=1e-5)
    # The coarse picture now follows the guide; the detail is the image's.
    assert (downsample(out, 8) - 0.6).abs().max() < 0.03
    detail = out - downsample(out, 8).repeat_interleave(8, -1).repeat_interleave(8, -2)
    ref = image - downsample(image, 8).repeat_interleave(8, -1).repeat_interleave(8, -2)
    assert torch.corrcoef(torch.stack([detail.flatten(), ref.flatten()]))[0, 1] > 0.9
