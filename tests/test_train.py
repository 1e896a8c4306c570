"""The training stages: one step of every part on a tiny batch, checkpoints and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from semcom.cli import main
from semcom.codec import MTGC
from semcom.errors import SemcomError
from semcom.train import STAGE_PARTS, TrainConfig, train_part
from tests._mtgc import single_thread, small_codec  # noqa: F401

PARTS = [p for parts in STAGE_PARTS.values() for p in parts]


def _config(steps: int = 1) -> TrainConfig:
    values = {f"{p}_steps": steps for p in PARTS}
    values.update({f"{p}_batch": 2 for p in PARTS})
    values.update(train_scenes=6, report_scenes=4, log_every=1, checkpoint_every=1, warmup=1)
    return TrainConfig().updated(values)


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    out = tmp_path / "model"
    small_codec(0).save_pretrained(out)
    return out


def _state(codec: MTGC, part: str) -> dict[str, torch.Tensor]:
    module = {
        "captioner": codec.captioner,
        "hci": codec.hci.learned,
        "vae": codec.mgdd.vae,
        "decoder": codec.mgdd.unet,
        "tascm": codec.tascm,
        "joint": codec.mgdd.controlnet,
    }[part]
    return {k: v.clone() for k, v in module.state_dict().items()}


def _changed(before: dict, after: dict) -> bool:
    return any(
        before[k].shape != after[k].shape or not torch.equal(before[k], after[k]) for k in before
    )


@pytest.mark.parametrize("part", PARTS)
def test_one_step_of_each_part_updates_its_weights(model_dir: Path, tmp_path: Path, part: str):
    before = _state(MTGC.from_pretrained(model_dir), part)
    report = train_part(part, _config(), model_dir, tmp_path / "work", log=lambda m: None)
    after = _state(MTGC.from_pretrained(model_dir), part)
    assert _changed(before, after), f"{part} did not change its weights"
    assert report["steps"] == 1 and torch.isfinite(torch.tensor(report["loss"]))
    record = json.loads((model_dir / "training.json").read_text())["parts"][part]
    assert record["stage"] == next(s for s, ps in STAGE_PARTS.items() if part in ps)
    assert (tmp_path / "work" / f"{part}.state.ckpt").is_file()


def test_resume_continues_where_it_stopped(tmp_path: Path):
    """Two steps in one go equal one step, a stop, and a resumed second step."""
    straight, resumed = tmp_path / "a", tmp_path / "b"
    for out in (straight, resumed):
        small_codec(0).save_pretrained(out)
    train_part("captioner", _config(2), straight, tmp_path / "wa", log=lambda m: None)
    train_part("captioner", _config(1), resumed, tmp_path / "wb", log=lambda m: None)
    logs: list[str] = []
    train_part("captioner", _config(2), resumed, tmp_path / "wb", log=logs.append)
    assert any("resumed at step 1" in m for m in logs)
    a = MTGC.from_pretrained(straight).captioner.state_dict()
    b = MTGC.from_pretrained(resumed).captioner.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_config_errors_name_the_setting(tmp_path: Path):
    with pytest.raises(SemcomError, match="unknown training setting 'stepz'"):
        TrainConfig().updated({"stepz": 3})
    with pytest.raises(SemcomError, match="vae_steps must be at least 1"):
        TrainConfig().updated({"vae_steps": 0})
    bad = tmp_path / "bad.yaml"
    bad.write_text("decoder_lr: [1, 2\n")
    with pytest.raises(SemcomError, match="not valid YAML"):
        TrainConfig.from_yaml(bad)
    bad.write_text("decoder_lr: fast\n")
    with pytest.raises(SemcomError, match="decoder_lr must be like"):
        TrainConfig.from_yaml(bad)


def test_cli_rejects_a_bad_stage_and_part(tmp_path: Path, capsys):
    assert main(["train", "--stage", "4", "--out", str(tmp_path / "m")]) == 2
    assert "--stage must be 1, 2 or 3" in capsys.readouterr().err
    args = ["train", "--stage", "2", "--part", "vae", "--out", str(tmp_path / "m")]
    assert main([*args, "--work", str(tmp_path / "w")]) == 2
    assert "stage 2 has the parts tascm; not vae" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
