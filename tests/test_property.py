"""Property-based tests (hypothesis): random and mutated inputs to the .mtgc parser and
to every stream decoder raise nothing but the project's clear error types, and valid
inputs round-trip. Skipped when hypothesis is not installed."""

from __future__ import annotations

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

from semcom.mtgc.container import STREAMS, Bitstream, BitstreamError  # noqa: E402
from semcom.mtgc.streams import StreamError  # noqa: E402
from semcom.mtgc.streams.caption import CaptionCoder  # noqa: E402
from semcom.mtgc.streams.hci import HCICodec, HCISetting, LearnedHCICodec  # noqa: E402
from semcom.mtgc.streams.spw import SPWCoder  # noqa: E402
from tests._mtgc import scene_image, single_thread  # noqa: E402, F401 (fixture)

given, settings = hypothesis.given, hypothesis.settings
MANY = settings(max_examples=1000, deadline=None, derandomize=True, database=None)
CODER = CaptionCoder()
VALID = Bitstream(
    "tiny",
    0x1234ABCD,
    128,
    96,
    {"caption": b"\x12\x34", "hci": bytes(range(30)), "spw": b"\xff" * 10},
).to_bytes()


def _mutate(data: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, value) edits: 0 flip a bit, 1 set a byte, 2 delete, 3 insert."""
    out = bytearray(data)
    for kind, pos, value in ops:
        if kind == 3:
            out.insert(pos % (len(out) + 1), value)
        elif not out:
            continue
        elif kind == 0:
            out[pos % len(out)] ^= 1 << (value % 8)
        elif kind == 1:
            out[pos % len(out)] = value
        else:
            del out[pos % len(out)]
    return bytes(out)


_ops = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 255)), max_size=6
)
_truncated = st.builds(
    lambda n, b: VALID[: n % (len(VALID) + 1)] + b, st.integers(0, 10_000), st.binary(max_size=8)
)
_files = st.one_of(st.binary(max_size=200), st.builds(_mutate, st.just(VALID), _ops), _truncated)


@pytest.mark.slow
@MANY
@given(_files)
def test_parser_raises_only_bitstream_errors(data: bytes) -> None:
    try:
        bs = Bitstream.from_bytes(data)
    except BitstreamError:
        return
    assert Bitstream.from_bytes(bs.to_bytes()) == bs


@MANY
@given(
    st.sampled_from(["tiny", "sd21", "a.b-c_9"]),
    st.integers(0, 2**32 - 1),
    st.integers(1, 65535),
    st.integers(1, 65535),
    st.dictionaries(st.sampled_from(STREAMS), st.binary(max_size=300)),
)
def test_valid_bitstreams_round_trip(preset, fingerprint, height, width, streams) -> None:
    bs = Bitstream(preset, fingerprint, height, width, streams)
    assert Bitstream.from_bytes(bs.to_bytes()) == bs


@pytest.mark.slow
@MANY
@given(st.text(max_size=120))
def test_any_text_round_trips_through_the_caption_coder(text: str) -> None:
    if len(text.encode("utf-8")) <= 1024:
        assert CODER.decode(CODER.encode(text)) == text


_captions = st.sampled_from(
    [CODER.encode(t) for t in ("a small red star at the top", "", "Zebra 😀")]
)


@MANY
@given(st.one_of(st.binary(max_size=64), st.builds(_mutate, _captions, _ops)))
def test_caption_decoder_raises_only_stream_errors(data: bytes) -> None:
    try:
        text = CODER.decode(data)
    except StreamError:
        return
    assert len(text.encode("utf-8")) <= 1024


@MANY
@given(st.one_of(st.binary(max_size=16), st.builds(_mutate, st.just(bytes(10)), _ops)))
def test_spw_decoder_raises_only_stream_errors(data: bytes) -> None:
    coder = SPWCoder(8, 1000)
    try:
        idx = coder.decode(data)
    except StreamError:
        return
    assert idx.shape == (8,) and int(idx.max()) < 1000


@pytest.fixture(scope="module")
def hci() -> tuple[HCICodec, list[bytes]]:
    torch.manual_seed(0)
    codec = HCICodec(LearnedHCICodec(n=8, m=8), HCISetting("learned", 4, 8))
    x = scene_image(0)
    payloads = [codec.encode(x, HCISetting(k, 4, 4))[0] for k in ("learned", "webp", "jpeg")]
    return codec, payloads


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(st.data())
def test_hci_decoder_raises_only_stream_errors(hci, data) -> None:
    codec, payloads = hci
    payload = data.draw(
        st.one_of(st.binary(max_size=80), st.builds(_mutate, st.sampled_from(payloads), _ops))
    )
    try:
        y = codec.decode(payload, 64, 64)
    except StreamError:
        return
    assert y.shape == (1, 3, 64, 64) and torch.isfinite(y).all()
