"""Presets say what they know: the world each was trained on, in its config and in
``semcom list codecs``, and one line when a command codes images from elsewhere."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.cli import main
from semcom.codecs.identity import folder_identity
from semcom.data.shapes import ShapesWorld
from semcom.imageio import to_uint8
from semcom.mtgc.config import MTGC_CONFIG, CodecConfig
from semcom.worlds import SHAPES_THRESHOLD, dataset_notice, image_notice, shapes_share
from tests._mtgc import single_thread, small_codec  # noqa: F401 (fixture)

SHAPES_LINE = "trained on ShapesWorld"


def _smooth(seed: int, size: int = 64) -> np.ndarray:
    """A smooth, saturated picture [size,size,3] uint8: sinusoids and a gradient."""
    y, x = np.mgrid[0:size, 0:size] / size
    a = np.stack([np.sin(3 * x + seed), np.cos(2 * y + seed * x), x * y + 0.1 * seed], -1)
    return (np.clip(0.5 * a + 0.5, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def shapes_weights(tmp_path_factory) -> Path:
    """A small random codec whose mtgc.json says it was trained on ShapesWorld (as the
    shipped preset's does), so the commands run in milliseconds."""
    path = tmp_path_factory.mktemp("model") / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small_codec(0).save_pretrained(path)
    config = path / MTGC_CONFIG
    config.write_text(json.dumps({**json.loads(config.read_text()), "world": "shapes"}))
    return path


def test_the_tiny_preset_was_trained_on_shapesworld():
    from semcom.codecs.mtgc import MTGCCodec
    from semcom.mtgc.presets.tiny import WEIGHTS_DIR

    assert json.loads((WEIGHTS_DIR / MTGC_CONFIG).read_text())["world"] == "shapes"
    assert MTGCCodec().world == "shapes"  # read from mtgc.json, the model not loaded
    assert MTGCCodec()._model is None
    assert CodecConfig(preset="tiny").world == "shapes"  # a directory that states none
    assert CodecConfig(preset="sd21").world == "natural"


def test_a_random_model_says_it_is_untrained():
    assert small_codec().config.world == "untrained"


def test_the_world_moves_neither_identity_nor_fingerprint(tmp_path: Path):
    """Stating the world changes no weights identity (so no value table or stored result
    moves) and no bitstream fingerprint."""
    codec = copy.deepcopy(small_codec())
    codec.save_pretrained(tmp_path / "m")
    config = tmp_path / "m" / MTGC_CONFIG
    raw = json.loads(config.read_text())
    assert raw["world"] == "untrained"
    with_world = folder_identity(tmp_path / "m")
    config.write_text(json.dumps({k: v for k, v in raw.items() if k != "world"}, indent=2))
    assert folder_identity(tmp_path / "m") == with_world
    config.write_text(json.dumps({**raw, "world": "shapes"}, indent=2))
    assert folder_identity(tmp_path / "m") == with_world
    before = codec.fingerprint
    codec.config.world = "shapes"
    codec._fingerprint = None
    assert codec.fingerprint == before


def test_list_codecs_names_each_world(capsys):
    assert main(["list", "codecs", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mtgc"]["world"] == "shapes"
    assert rows["mtgc"]["preset_worlds"] == {
        "tiny": "shapes",
        "tiny-complex": "shapes-complex",
        "sd21": "natural",
    }
    assert rows["compressai"]["world"] == "shapes"  # MTGC-tiny's HCI codec
    assert rows["avif"]["world"] == "-" and rows["jpeg"]["world"] == "-"
    # the value tables shipped, by the world of their validation scenes
    assert rows["mtgc"]["values"] == "shapes (48), shapes-complex (48)"
    assert rows["avif"]["values"] == "shapes (48), shapes-complex (48)"
    assert rows["deepjscc"]["values"] == "-"


def test_shapesworld_scenes_always_pass_the_image_test():
    data = ShapesWorld("val", n=200)
    shares = [shapes_share(data[i].image) for i in range(200)]
    assert min(shares) >= SHAPES_THRESHOLD
    assert image_notice([("mtgc", "shapes")], data[0].image, "scene.png") is None


def test_other_pictures_fail_the_image_test():
    smooth = [torch.from_numpy(_smooth(s)).permute(2, 0, 1) / 255 for s in range(8)]
    g = torch.Generator().manual_seed(0)
    noise = [torch.rand(3, 64, 64, generator=g) for _ in range(4)]
    assert max(shapes_share(im) for im in smooth + noise) < SHAPES_THRESHOLD
    line = image_notice([("mtgc (tiny preset)", "shapes")], smooth[0], "photo.jpg")
    assert line is not None and SHAPES_LINE in line and "photo.jpg" in line
    assert "\n" not in line and "avif" in line


def test_data_sets_are_compared_by_name():
    ours = [("mtgc (tiny preset)", "shapes"), ("avif", None)]
    assert dataset_notice(ours, "shapes") is None
    line = dataset_notice(ours, "shapes-complex")
    assert line is not None and "shapes-complex" in line and "avif (" not in line
    assert "the tiny-complex preset" in line  # the model trained for those images
    assert dataset_notice([("mtgc (sd21 preset)", "natural")], "folder:/photos") is None
    # random weights know no world for images to differ from: `semcom list` says so
    assert dataset_notice([("mtgc", "untrained")], "folder:/photos") is None


def test_a_sweep_of_another_world_says_so():
    from experiments.config import load_config, parse_config
    from experiments.sweep import world_notice

    assert world_notice(load_config("experiments/configs/digest-check.yaml")) is None
    cfg = parse_config(
        {
            "codecs": [{"name": "mtgc", "preset": "sd21"}, "webp"],
            "channels": ["awgn"],
            "snr_db": [0],
            "budget_cpp": [0.1],
        }
    )
    line = world_notice(cfg)
    assert line is not None and "natural photographs" in line and "webp" not in line


def test_evaluate_on_a_folder_prints_one_line(tmp_path: Path, shapes_weights: Path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(_smooth(i)).save(folder / f"p{i}.png")
    args = ["evaluate", "--dataset", f"folder:{folder}", "--image-size", "64", "--quiet"]
    args += ["--codec", "mtgc", "--codec", "mtgc-caption", "--codec", "jpeg", "--steps", "1"]
    args += ["--target-bpp", "0.4", "--weights", str(shapes_weights), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if SHAPES_LINE in ln]
    assert len(lines) == 1 and str(folder) in lines[0] and "0 of 2" in lines[0]
    assert json.loads(captured.out)["data"]["world"] == lines[0]


def test_evaluate_on_a_folder_of_scenes_says_nothing(tmp_path: Path, shapes_weights: Path, capsys):
    folder = tmp_path / "scenes"
    folder.mkdir()
    data = ShapesWorld("val", n=2, size=64)
    for i in range(2):
        Image.fromarray(to_uint8(data[i].image)).save(folder / f"s{i}.png")
    args = ["evaluate", "--dataset", f"folder:{folder}", "--image-size", "64", "--quiet"]
    args += ["--codec", "mtgc", "--steps", "1", "--target-bpp", "0.4"]
    args += ["--weights", str(shapes_weights), "--json"]
    assert main(args) == 0
    assert SHAPES_LINE not in capsys.readouterr().err


def test_encode_says_so_for_a_picture_not_for_a_scene(tmp_path: Path, shapes_weights: Path, capsys):
    photo, scene = tmp_path / "photo.png", tmp_path / "scene.png"
    Image.fromarray(_smooth(3)).save(photo)
    Image.fromarray(to_uint8(ShapesWorld("val", n=1, size=64)[0].image)).save(scene)
    for image, lines in ((photo, 1), (scene, 0)):
        out = tmp_path / f"{image.stem}.mtgc"
        assert main(["encode", str(image), "-o", str(out), "--weights", str(shapes_weights)]) == 0
        err = capsys.readouterr().err
        assert sum(SHAPES_LINE in ln for ln in err.splitlines()) == lines


def test_sd21_states_natural_and_a_random_snapshot_untrained(tmp_path: Path):
    from semcom.codecs.mtgc import MTGCCodec
    from semcom.mtgc.config import recorded_world
    from semcom.mtgc.presets.sd21 import RANDOM_MARKER, assemble_sd21
    from tests._mtgc import toy_sd21

    sd, clip, model = toy_sd21(tmp_path)
    assert recorded_world(model) == "untrained"
    assert MTGCCodec(preset="sd21", weights=model).world == "untrained"
    (sd / RANDOM_MARKER).unlink()  # as a real Stable Diffusion snapshot
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        real = assemble_sd21(sd, clip, tmp_path / "real", hci_channels=(16, 16), min_size=32)
    assert recorded_world(real) == "natural"
