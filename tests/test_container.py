"""The .mtgc container: exact round trip, strict parser, one error type."""

from __future__ import annotations

import zlib

import pytest
from fuzz import mutations

from semcom.errors import SemcomError
from semcom.mtgc.container import MAGIC, Bitstream, BitstreamError


def _sample(**streams: bytes) -> Bitstream:
    s = streams or {"caption": b"\x12\x34", "hci": bytes(range(40)), "spw": b"\xff" * 10}
    return Bitstream("tiny", 0xDEADBEEF, 128, 96, dict(s))


def test_round_trip_preserves_every_field() -> None:
    bs = _sample()
    back = Bitstream.from_bytes(bs.to_bytes())
    assert back == bs


def test_rates_count_payload_bits_only() -> None:
    bs = _sample()
    assert bs.stream_bits() == {"caption": 16, "hci": 320, "spw": 80}
    assert bs.payload_bits == 416
    assert bs.bpp == pytest.approx(416 / (128 * 96))


def test_absent_streams_have_no_section() -> None:
    bs = _sample().without("hci", "caption")
    back = Bitstream.from_bytes(bs.to_bytes())
    assert set(back.streams) == {"spw"}
    empty = Bitstream.from_bytes(_sample().without("caption", "hci", "spw").to_bytes())
    assert empty.streams == {}


def test_save_and_load_file(tmp_path) -> None:
    bs = _sample()
    bs.save(tmp_path / "x.mtgc")
    assert Bitstream.load(tmp_path / "x.mtgc") == bs


def test_missing_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(BitstreamError, match="does not exist"):
        Bitstream.load(tmp_path / "nope.mtgc")


def test_every_truncation_is_detected() -> None:
    data = _sample().to_bytes()
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            Bitstream.from_bytes(data[:n])


def test_a_flipped_bit_anywhere_is_detected() -> None:
    data = _sample().to_bytes()
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x10
        with pytest.raises(BitstreamError):
            Bitstream.from_bytes(bytes(bad))


def test_foreign_file_is_named_as_such() -> None:
    with pytest.raises(BitstreamError, match="not an .mtgc"):
        Bitstream.from_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))


def test_future_version_is_refused() -> None:
    data = bytearray(_sample().to_bytes())
    data[4] = 9
    body = bytes(data[:-4])
    data[-4:] = zlib.crc32(body).to_bytes(4, "big")
    with pytest.raises(BitstreamError, match="version 9"):
        Bitstream.from_bytes(bytes(data))


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(BitstreamError, match="after its CRC32"):
        Bitstream.from_bytes(_sample().to_bytes() + b"\x00")


def test_bitstream_error_is_a_semcom_error() -> None:
    assert issubclass(BitstreamError, SemcomError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"preset": "Bad Name"},
        {"height": 0},
        {"width": 70000},
        {"fingerprint": -1},
    ],
)
def test_invalid_header_fields_are_refused(kwargs) -> None:
    fields = {"preset": "tiny", "fingerprint": 1, "height": 8, "width": 8} | kwargs
    with pytest.raises(BitstreamError):
        Bitstream(**fields)


def test_fuzzed_files_raise_only_bitstream_errors() -> None:
    seeds = [
        _sample().to_bytes(),
        _sample().without("hci").to_bytes(),
        _sample(caption=b"").to_bytes(),
        MAGIC + b"\x01\x00",
    ]
    parsed = 0
    for data in mutations(seeds, 3000, seed=2):
        try:
            bs = Bitstream.from_bytes(data)
        except BitstreamError:
            continue
        parsed += 1
        assert Bitstream.from_bytes(bs.to_bytes()) == bs
    assert parsed < 3000


def test_with_received_keeps_delivered_streams_only() -> None:
    bs = _sample()
    got = bs.with_received({"caption": bs.streams["caption"], "hci": None, "spw": b"\x01" * 10})
    assert got.streams == {"caption": bs.streams["caption"], "spw": b"\x01" * 10}
    assert (got.preset, got.fingerprint, got.height, got.width) == ("tiny", 0xDEADBEEF, 128, 96)
    with pytest.raises(BitstreamError, match="unknown streams"):
        bs.with_received({"audio": b""})
