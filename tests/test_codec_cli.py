"""``semcom encode / decode / info`` on files, and every bad input a user can give."""

from __future__ import annotations

import json
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from PIL import Image

from semcom.cli import main
from semcom.imageio import load_image, to_uint8
from semcom.mtgc.container import Bitstream
from tests._mtgc import scene_image, single_thread, small_codec  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "tiny-small"
    small_codec().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def other_weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "tiny-other"
    small_codec(seed=1).save_pretrained(path)
    return path


@pytest.fixture()
def png(tmp_path) -> Path:
    path = tmp_path / "scene.png"
    Image.fromarray(to_uint8(scene_image(0)[0])).save(path)
    return path


def _encode(image: Path, out: Path, weights: Path, *extra: str) -> int:
    return main(["encode", str(image), "-o", str(out), "--weights", str(weights), *extra])


@pytest.mark.slow
def test_encode_info_decode_round_trip(png, weights, tmp_path, capsys) -> None:
    out = tmp_path / "x.mtgc"
    assert _encode(png, out, weights, "--caption", "a big red star at the top") == 0
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    bs = Bitstream.load(out)
    assert info["payload_bits"] == bs.payload_bits == sum(info["stream_bits"].values())
    assert info["stream_bits"] == {k: 8 * len(v) for k, v in bs.streams.items()}
    assert info["bpp"] == pytest.approx(bs.payload_bits / (64 * 64))
    assert info["file_bits"] == 8 * out.stat().st_size
    assert info["caption"] == "a big red star at the top"
    assert info["hci_setting"] == {"kind": "learned", "factor": 4, "quality": 8}
    png_out = tmp_path / "y.png"
    args = ["decode", str(out), "-o", str(png_out), "--weights", str(weights), "--seed", "3"]
    assert main(args) == 0
    first = np.asarray(Image.open(png_out))
    assert first.shape == (64, 64, 3)
    assert main(args) == 0
    assert np.array_equal(first, np.asarray(Image.open(png_out)))


@pytest.mark.slow
def test_info_prints_a_table(png, weights, tmp_path, capsys) -> None:
    out = tmp_path / "x.mtgc"
    _encode(png, out, weights, "--caption", "two shapes")
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "caption" in text and "hci" in text and "spw" in text and "two shapes" in text


def test_target_bpp_from_the_command_line(png, weights, tmp_path) -> None:
    out = tmp_path / "x.mtgc"
    assert _encode(png, out, weights, "--caption", "x", "--target-bpp", "0.1") == 0
    assert Bitstream.load(out).bpp <= 0.1


def test_classical_hci_from_the_command_line(png, weights, tmp_path) -> None:
    out = tmp_path / "x.mtgc"
    assert _encode(png, out, weights, "--caption", "x", "--hci-codec", "jpeg") == 0
    assert Bitstream.load(out).streams["hci"][0] >> 6 == 2


def _write(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["grey", "rgba", "grey16", "rgb16", "palette"])
def test_unusual_image_formats_are_converted(kind, weights, tmp_path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / f"{kind}.png"
    if kind == "grey":
        _write(path, rng.integers(0, 256, (64, 64), dtype=np.uint8))
    elif kind == "rgba":
        _write(path, rng.integers(0, 256, (64, 64, 4), dtype=np.uint8))
    elif kind == "grey16":
        path.write_bytes(imagecodecs.png_encode(rng.integers(0, 65536, (64, 64), dtype=np.uint16)))
    elif kind == "rgb16":
        arr = rng.integers(0, 65536, (64, 64, 3), dtype=np.uint16)
        path.write_bytes(imagecodecs.png_encode(arr))
    else:
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).convert("P").save(path)
    img = load_image(path)
    assert img.shape == (3, 64, 64) and float(img.min()) >= 0 and float(img.max()) <= 1
    assert _encode(path, tmp_path / "x.mtgc", weights, "--caption", "x") == 0


def test_transparent_pixels_are_composited_on_white(tmp_path) -> None:
    arr = np.zeros((8, 8, 4), dtype=np.uint8)
    img = load_image(_write(tmp_path / "clear.png", arr))
    assert float(img.min()) == 1.0


def _fails(args: list[str], capsys, *phrases: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for phrase in phrases:
        assert phrase in err, err


def test_missing_image(weights, tmp_path, capsys) -> None:
    _fails(
        [
            "encode",
            str(tmp_path / "none.png"),
            "-o",
            str(tmp_path / "x.mtgc"),
            "--weights",
            str(weights),
        ],
        capsys,
        "does not exist",
    )


def test_not_an_image(weights, tmp_path, capsys) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello")
    _fails(
        ["encode", str(path), "-o", str(tmp_path / "x.mtgc"), "--weights", str(weights)],
        capsys,
        "not an image",
    )


def test_too_small_image(weights, tmp_path, capsys) -> None:
    path = _write(tmp_path / "small.png", np.zeros((16, 16, 3), dtype=np.uint8))
    _fails(
        ["encode", str(path), "-o", str(tmp_path / "x.mtgc"), "--weights", str(weights)],
        capsys,
        "at least 32x32",
    )


def test_unreachable_target(png, weights, tmp_path, capsys) -> None:
    _fails(
        [
            "encode",
            str(png),
            "-o",
            str(tmp_path / "x.mtgc"),
            "--weights",
            str(weights),
            "--caption",
            "x",
            "--target-bpp",
            "0.0001",
        ],
        capsys,
        "raise --target-bpp",
    )


def test_unknown_preset(png, tmp_path, capsys) -> None:
    _fails(
        ["encode", str(png), "-o", str(tmp_path / "x.mtgc"), "--preset", "sd15"],
        capsys,
        "unknown preset",
    )


def test_sd21_without_weights(png, tmp_path, capsys) -> None:
    _fails(
        ["encode", str(png), "-o", str(tmp_path / "x.mtgc"), "--preset", "sd21"],
        capsys,
        "--weights",
    )


@pytest.mark.slow
def test_truncated_bitstream(png, weights, tmp_path, capsys) -> None:
    out = tmp_path / "x.mtgc"
    _encode(png, out, weights, "--caption", "x")
    out.write_bytes(out.read_bytes()[:-7])
    _fails(["info", str(out)], capsys, "truncated")
    _fails(
        ["decode", str(out), "-o", str(tmp_path / "y.png"), "--weights", str(weights)],
        capsys,
        "truncated",
    )


def test_foreign_bitstream(png, tmp_path, capsys) -> None:
    _fails(["info", str(png)], capsys, "not an .mtgc")


def test_missing_bitstream(tmp_path, capsys) -> None:
    _fails(["info", str(tmp_path / "x.mtgc")], capsys, "does not exist")


@pytest.mark.slow
def test_weights_mismatch(png, weights, other_weights, tmp_path, capsys) -> None:
    out = tmp_path / "x.mtgc"
    _encode(png, out, weights, "--caption", "x")
    _fails(
        ["decode", str(out), "-o", str(tmp_path / "y.png"), "--weights", str(other_weights)],
        capsys,
        "fingerprint",
    )


def test_preset_mismatch(weights, tmp_path, capsys) -> None:
    bs = Bitstream("sd21", 1, 64, 64, {"spw": bytes(10)})
    bs.save(tmp_path / "sd.mtgc")
    _fails(
        [
            "decode",
            str(tmp_path / "sd.mtgc"),
            "-o",
            str(tmp_path / "y.png"),
            "--weights",
            str(weights),
        ],
        capsys,
        "preset 'sd21'",
    )


@pytest.mark.slow
def test_bad_output_suffix(png, weights, tmp_path, capsys) -> None:
    out = tmp_path / "x.mtgc"
    _encode(png, out, weights, "--caption", "x")
    _fails(
        ["decode", str(out), "-o", str(tmp_path / "y.txt"), "--weights", str(weights)],
        capsys,
        "suffix",
    )


@pytest.mark.slow
def test_init_strength_needs_a_sketch_and_a_fraction(png, weights, tmp_path, capsys) -> None:
    out = tmp_path / "x.mtgc"
    _encode(png, out, weights, "--caption", "x")
    args = ["decode", str(out), "-o", str(tmp_path / "y.png"), "--weights", str(weights)]
    _fails([*args, "--init-strength", "1.5"], capsys, "--init-strength")
    _fails([*args, "--init-strength", "0.5"], capsys, "guide planes")
    assert not (tmp_path / "y.png").exists()


def test_exif_orientation_is_applied(tmp_path) -> None:
    arr = np.zeros((40, 60, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").shape == (3, 60, 40)


@pytest.mark.slow
def test_streams_can_be_left_out_for_ablations(png, weights, tmp_path, capsys) -> None:
    out = tmp_path / "x.mtgc"
    assert _encode(png, out, weights, "--caption", "x", "--without", "hci", "--without", "spw") == 0
    assert set(Bitstream.load(out).streams) == {"caption"}
    assert main(["decode", str(out), "-o", str(tmp_path / "y.png"), "--weights", str(weights)]) == 0
    _fails(
        ["encode", str(png), "-o", str(out), "--weights", str(weights), "--without", "audio"],
        capsys,
        "--without takes",
    )
