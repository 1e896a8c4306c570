"""``semcom train --preset sd21``: the three stages on an image folder, at toy size.

The model is the sd21 layout built from the same classes, a few hundred times smaller
(:mod:`semcom.mtgc.presets.sd21_random`, ``toy``), assembled as a user would; the folder holds
ShapesWorld renders with a captions.jsonl. Nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from semcom.data.folder import load_folder, square
from semcom.errors import SemcomError
from semcom.imageio import save_image
from tests._mtgc import toy_sd21
from tests.conftest import run_cli

SETTINGS = {
    "image_size": 64,
    "val_every": 3,
    "gate_images": 2,
    "hci_batch": 2,
    "controlnet_batch": 2,
    "tascm_batch": 2,
    "joint_batch": 2,
    "checkpoint_every": 1,
    "log_every": 1,
    "warmup": 1,
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    from semcom.data.shapes import ShapesWorld

    root = tmp_path_factory.mktemp("sd21-train")
    sd, clip, model = toy_sd21(root, "model")
    images = root / "images"
    images.mkdir()
    scenes = ShapesWorld("train", n=6, size=80, seed=0)
    with (images / "captions.jsonl").open("w") as f:
        for i in range(6):
            save_image(scenes[i].image, images / f"img{i}.png")
            f.write(json.dumps({"file": f"img{i}.png", "caption": scenes[i].caption}) + "\n")
    config = root / "train.yaml"
    config.write_text("".join(f"{k}: {v}\n" for k, v in SETTINGS.items()))
    return {"root": root, "sd": sd, "clip": clip, "model": model, "images": images, "cfg": config}


def _train(setup: dict, out: Path, work: Path, capsys, *extra: str) -> tuple[int, str, str]:
    args = ["train", "--preset", "sd21", "--data", str(setup["images"]), "--out", str(out)]
    args += ["--work", str(work), "--config", str(setup["cfg"]), *extra]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_cli(args, capsys)


@pytest.mark.slow
def test_every_stage_trains_a_step_resumes_and_the_model_decodes(setup, tmp_path, capsys):
    out, work = tmp_path / "model", tmp_path / "work"
    shutil.copytree(setup["model"], out)
    code, _, err = _train(setup, out, work, capsys, "--steps", "1")
    assert code == 0, err
    record = json.loads((out / "training.json").read_text())
    parts = record["parts"]
    assert {p: parts[p]["stage"] for p in parts} == {
        "hci": 1,
        "controlnet": 1,
        "tascm": 2,
        "joint": 3,
    }
    assert all(parts[p]["steps"] == 1 for p in parts)
    # the gates, measured on the validation images (2 of the 6)
    assert parts["hci"]["val_f8_q15_bits"] > parts["hci"]["val_f8_q0_bits"] > 0
    for p in ("controlnet", "tascm", "joint"):
        assert {"val_loss", "val_loss_without_hci", "hci_gain"} <= set(parts[p])
    for p in ("tascm", "joint"):
        assert {"spw_gain", "val_clip_agreement", "codes_used"} <= set(parts[p])
        assert -1 <= parts[p]["val_clip_agreement"] <= 1 and parts[p]["codes_used"] >= 1
        assert parts[p]["task"] >= 0
    assert record["config"]["image_size"] == 64
    log = (work / "sd21-stage1.log").read_text()
    assert "4 training and 2 validation images" in log
    # a second run continues from the checkpoint
    code, _, err = _train(setup, out, work, capsys, "--steps", "2", "--stage", "2")
    assert code == 0, err
    assert "tascm: resumed at step 1" in (work / "sd21-stage2.log").read_text()
    assert json.loads((out / "training.json").read_text())["parts"]["tascm"]["steps"] == 2
    # the trained directory loads and decodes
    from semcom.data.shapes import ShapesWorld
    from semcom.mtgc.presets import load_codec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = load_codec("sd21", out)
    image = ShapesWorld("test", n=1, size=64, seed=0)[0].image.unsqueeze(0)
    bs = codec.encode(image, captions=["a red square"])[0]
    assert set(bs.streams) == {"caption", "hci", "spw"}
    decoded = codec.decode(bs, seed=0)
    assert decoded.shape == (1, 3, 64, 64) and torch.isfinite(decoded).all()


@pytest.mark.slow
def test_the_controlnet_learns_to_read_the_hci(setup, tmp_path, capsys):
    """Stage 1 at a high rate for 60 steps: the validation denoising loss is lower with
    the HCI than without it (the zero-initialised ControlNet starts at no gain)."""
    out, work = tmp_path / "model", tmp_path / "work"
    shutil.copytree(setup["model"], out)
    fast = tmp_path / "fast.yaml"
    fast.write_text(setup["cfg"].read_text() + "controlnet_lr: 0.001\ncheckpoint_every: 60\n")
    args = ["train", "--preset", "sd21", "--data", str(setup["images"]), "--out", str(out)]
    args += ["--work", str(work), "--config", str(fast), "--stage", "1", "--part", "controlnet"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, _, err = run_cli([*args, "--steps", "1"], capsys)
        first = json.loads((out / "training.json").read_text())["parts"]["controlnet"]
        code2, _, err2 = run_cli([*args, "--steps", "60"], capsys)
    assert code == 0 and code2 == 0, err + err2
    after = json.loads((out / "training.json").read_text())["parts"]["controlnet"]
    assert abs(first["hci_gain"]) < 0.01
    assert after["steps"] == 60 and after["hci_gain"] > 0.03
    assert after["val_loss"] < after["val_loss_without_hci"]


@pytest.mark.slow
def test_an_empty_directory_is_assembled_from_local_backbones(setup, tmp_path, capsys):
    out, work = tmp_path / "new", tmp_path / "work"
    code, _, err = _train(setup, out, work, capsys, "--stage", "1", "--part", "hci", "--steps", "1")
    assert code == 2 and "--sd SD21_BASE_DIR and --image-encoder" in err
    extra = ["--sd", str(setup["sd"]), "--image-encoder", str(setup["clip"])]
    code, _, err = _train(
        setup, out, work, capsys, *extra, "--stage", "1", "--part", "hci", "--steps", "1"
    )
    assert code == 0, err
    assert (out / "mtgc.json").is_file() and (out / "training.json").is_file()


@pytest.mark.slow
def test_bad_sd21_training_input_is_one_sentence(setup, tmp_path, capsys):
    model = setup["model"]
    code, _, err = run_cli(["train", "--preset", "sd21", "--out", str(model)], capsys)
    assert code == 2 and "--data FOLDER" in err
    missing = tmp_path / "nothing"
    code, _, err = run_cli(
        ["train", "--preset", "sd21", "--data", str(missing), "--out", str(model)], capsys
    )
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    odd = tmp_path / "odd.yaml"
    odd.write_text("image_size: 60\n")
    code, _, err = run_cli(
        ["train", "--preset", "sd21", "--data", str(setup["images"]), "--out", str(model)]
        + ["--config", str(odd), "--work", str(tmp_path / "w")],
        capsys,
    )
    assert code == 2 and "image_size 60 does not suit this model" in err
    code, _, err = run_cli(["train", "--data", str(setup["images"])], capsys)
    assert code == 2 and "--data applies to --preset sd21" in err
    code, _, err = run_cli(["train", "--preset", "sd3"], capsys)
    assert code == 2 and "--preset must be tiny, tiny-complex or sd21" in err


def test_image_folders_read_squares_captions_and_refuse_bad_files(setup, tmp_path):
    data = load_folder(setup["images"], 32)
    assert data.images.shape == (6, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.files[0] == "img0.png" and data.captions[0]
    train, val = data.split(3)
    assert val.files == ["img2.png", "img5.png"] and len(train) == 4
    wide = torch.zeros(3, 4, 8)
    wide[:, :, 2:6] = 1.0  # the centre square is white
    assert torch.equal(square(wide, 4), torch.ones(3, 4, 4))
    bad = tmp_path / "bad"
    shutil.copytree(setup["images"], bad)
    (bad / "captions.jsonl").write_text('{"file": "img0.png"}\n')
    with pytest.raises(SemcomError, match="line 1 lacks a string 'file' or 'caption'"):
        load_folder(bad, 32)
    (bad / "captions.jsonl").write_text('{"file": "zzz.png", "caption": "x"}\n')
    with pytest.raises(SemcomError, match="which is not an image of the folder"):
        load_folder(bad, 32)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SemcomError, match="holds no PNG, JPEG or WebP images"):
        load_folder(empty, 32)
    (empty / "broken.png").write_bytes(b"not a png")
    with pytest.raises(SemcomError, match="is not an image semcom can read"):
        load_folder(empty, 32)
