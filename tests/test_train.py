"""The training stages: one step of every part on a tiny batch, checkpoints and resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from semcom.cli import main
from semcom.errors import SemcomError
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.train import STAGE_PARTS, TrainConfig, object_weights, run_all, train_part
from tests._mtgc import single_thread, small_codec  # noqa: F401

PARTS = [p for parts in STAGE_PARTS.values() for p in parts]
#: Parts that train weights (``sampling`` chooses decoding settings, ``spw_code`` counts
#: an entropy model; ``overlay`` needs a sketch that places objects,
#: tests/test_tiny_complex.py).
TRAINED = [p for p in PARTS if p not in ("sampling", "overlay", "spw_code")]


def _config(steps: int = 1) -> TrainConfig:
    values = {f"{p}_steps": steps for p in TRAINED}
    values.update({f"{p}_batch": 2 for p in TRAINED})
    values.update(
        train_scenes=6, report_scenes=4, gate_scenes=2, log_every=1, checkpoint_every=1, warmup=1
    )
    return TrainConfig().updated(values)


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    out = tmp_path / "model"
    small_codec(0, sketch=True).save_pretrained(out)
    return out


def _state(codec: MTGC, part: str) -> dict[str, torch.Tensor]:
    module = {
        "captioner": codec.captioner,
        "hci": codec.hci.learned,
        "vae": codec.mgdd.vae,
        "spw": codec.tascm,
        "sketch": codec.sketch,
        "decoder": codec.mgdd.unet,
        "tascm": codec.tascm,
        "joint": codec.mgdd.controlnet,
    }[part]
    return {k: v.clone() for k, v in module.state_dict().items()}


def _changed(before: dict, after: dict) -> bool:
    return any(
        before[k].shape != after[k].shape or not torch.equal(before[k], after[k]) for k in before
    )


@pytest.mark.slow
@pytest.mark.parametrize("part", TRAINED)
def test_one_step_of_each_part_updates_its_weights(model_dir: Path, tmp_path: Path, part: str):
    before = _state(MTGC.from_pretrained(model_dir), part)
    report = train_part(part, _config(), model_dir, tmp_path / "work", log=lambda m: None)
    after = _state(MTGC.from_pretrained(model_dir), part)
    assert _changed(before, after), f"{part} did not change its weights"
    assert report["steps"] == 1 and torch.isfinite(torch.tensor(report["loss"]))
    record = json.loads((model_dir / "training.json").read_text())["parts"][part]
    assert record["stage"] == next(s for s, ps in STAGE_PARTS.items() if part in ps)
    assert (tmp_path / "work" / f"{part}.state.ckpt").is_file()


def test_the_overlay_part_is_optional_and_needs_a_placing_sketch(model_dir: Path, tmp_path: Path):
    from semcom.mtgc.train.run import preset_training

    assert not TrainConfig().trains("overlay") and TrainConfig().trains("joint")
    assert preset_training("tiny-complex").trains("overlay")
    assert not preset_training("tiny").trains("overlay")
    # likewise the SPW entropy model: tiny-complex codes its SPWs, tiny packs them raw
    assert preset_training("tiny-complex").trains("spw_code")
    assert not preset_training("tiny").trains("spw_code")
    with pytest.raises(SemcomError, match="needs a scene sketch that places objects"):
        train_part("overlay", _config(), model_dir, tmp_path / "work", log=lambda m: None)


def test_the_spw_code_part_arithmetic_codes_the_spw_stream(model_dir: Path, tmp_path: Path):
    from tests._mtgc import scene_image

    assert not TrainConfig().trains("spw_code")
    before = MTGC.from_pretrained(model_dir)
    assert before.spw.model is None
    report = train_part("spw_code", _config(), model_dir, tmp_path / "work", log=lambda m: None)
    after = MTGC.from_pretrained(model_dir)
    assert after.spw.model is not None and (model_dir / "spw_model" / "config.json").is_file()
    # the coded stream is a different bitstream format: the fingerprint says so
    assert after.fingerprint != before.fingerprint
    assert report["spw_decodes_exactly"] == 1.0 and report["spw_val_scenes"] == 4
    assert report["spw_bits_raw"] == after.spw.k * after.spw.bits
    x = torch.cat([scene_image(1), scene_image(2)])
    streams = after.encode(x, captions=["a", "b"])
    for bs, row in zip(streams, after.spw_indices(x), strict=True):
        assert torch.equal(after.spw.decode(bs.streams["spw"]), row)
    record = json.loads((model_dir / "training.json").read_text())["parts"]["spw_code"]
    assert record["stage"] == 3


def test_resume_continues_where_it_stopped(tmp_path: Path):
    """Two steps in one go equal one step, a stop, and a resumed second step."""
    straight, resumed = tmp_path / "a", tmp_path / "b"
    for out in (straight, resumed):
        small_codec(0, sketch=True).save_pretrained(out)
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
    with pytest.raises(SemcomError, match="vae_solid and vae_zoom are fractions"):
        TrainConfig().updated({"vae_solid": 0.6, "vae_zoom": 0.6})


def test_autoencoder_crops_mix_in_solid_colours_and_zoomed_crops():
    from semcom.mtgc.train.parts.vae import mix_crops

    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    a = mix_crops(x, 0.25, 0.25, torch.Generator().manual_seed(1))
    b = mix_crops(x, 0.25, 0.25, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)  # a step's batch is repeatable
    # two solid colours in [-1, 1], two zoomed crops (smoother than the noise they came
    # from), the rest untouched
    flat = a[:2].flatten(2)
    assert torch.equal(flat, flat[:, :, :1].expand_as(flat)) and a[:2].abs().max() <= 1
    tv = lambda t: (t[..., 1:, :] - t[..., :-1, :]).abs().mean()  # noqa: E731
    assert tv(a[2:4]) < 0.6 * tv(x[2:4])
    assert torch.equal(a[4:], x[4:])
    assert torch.equal(mix_crops(x, 0.0, 0.0, torch.Generator()), x)


@pytest.mark.slow
def test_cli_rejects_a_bad_stage_and_part(tmp_path: Path, capsys):
    assert main(["train", "--stage", "4", "--out", str(tmp_path / "m")]) == 2
    assert "--stage must be 1, 2 or 3" in capsys.readouterr().err
    args = ["train", "--stage", "2", "--part", "vae", "--out", str(tmp_path / "m")]
    assert main([*args, "--work", str(tmp_path / "w")]) == 2
    assert "stage 2 has the parts tascm; not vae" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_a_part_stops_on_its_time_budget(model_dir: Path, tmp_path: Path):
    cfg = _config(1000).updated({"captioner_minutes": 1e-4})
    report = train_part("captioner", cfg, model_dir, tmp_path / "w", log=lambda m: None)
    assert report["stopped_by"] == "time" and report["steps"] < 1000
    assert report["max_steps"] == 1000


def test_object_weights_keep_the_loss_scale():
    masks = torch.zeros(2, 1, 16, 16, dtype=torch.bool)
    masks[0, :, :8, :8] = True
    w = object_weights(masks, 4, 4.0)
    assert w.shape == (2, 1, 4, 4)
    torch.testing.assert_close(w.mean(dim=(1, 2, 3)), torch.ones(2))
    assert float(w[0, 0, 0, 0]) == pytest.approx(4 * float(w[0, 0, 3, 3]))
    assert torch.equal(w[1], torch.ones(1, 4, 4))


@pytest.mark.slow
def test_run_all_trains_every_part_from_scratch_then_replaces_out(tmp_path: Path, monkeypatch):
    """`semcom train` without --stage: every part once, in WORK/model, then out replaced;
    a second call resumes and skips the finished parts."""
    import semcom.mtgc.presets.tiny as tiny

    monkeypatch.setattr(tiny, "build_tiny", lambda config=None: small_codec(0, sketch=True))
    import semcom.mtgc.train.parts.sampling as sampling

    seen = []

    def spy(codec, *args, **kwargs):
        """Whether `sampling` chooses on the float16-rounded weights that ship."""
        weights = list(codec.mgdd.unet.parameters()) + list(codec.mgdd.vae.parameters())
        seen.append(all(torch.equal(p, p.half().float()) for p in weights))
        return choose(codec, *args, **kwargs)

    choose = sampling.choose_sampling
    monkeypatch.setattr(sampling, "choose_sampling", spy)
    out = tmp_path / "shipped"
    out.mkdir()
    (out / "stale.txt").write_text("old weights")
    logs = tmp_path / "work"
    reports = run_all(_config(), out, logs)
    assert seen == [True]
    # tiny's recipe trains no overlay painter and packs its SPWs raw
    recipe = [p for p in PARTS if _config().trains(p)]
    assert "overlay" not in recipe and "spw_code" not in recipe
    assert sorted(reports) == sorted(recipe)
    record = json.loads((out / "training.json").read_text())["parts"]
    assert sorted(record) == sorted(recipe)
    assert not (out / "stale.txt").exists() and (out / "mtgc.json").is_file()
    assert "val_full_f1" in record["decoder"] and "val_task_f1" in record["spw"]
    assert "gate_psnr_30db" in record["vae"]
    trained = MTGC.from_pretrained(out)
    assert trained.config.hci_factors == tuple(_config().hci_factors)  # recorded by decoder
    assert trained.config.world == "shapes"  # so is what it learned to draw (semcom.worlds)
    assert {s.factor for s in trained.hci_candidates()} == set(_config().hci_factors)
    assert run_all(_config(), out, logs) == {}


def test_tascm_cnn_starts_from_the_captioner_when_the_layers_match():
    import warnings

    from semcom.mtgc.presets.tiny import build_tiny
    from semcom.mtgc.train import init_from_captioner
    from tests._mtgc import small_config

    cfg = small_config(sketch=True)
    cfg.tascm_cnn = cfg.captioner_channels
    cfg.tascm_norm = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = build_tiny(cfg)
    assert init_from_captioner(codec)
    first = codec.tascm.cnn[0]
    assert torch.equal(first.weight, codec.captioner.body[0].weight)
    assert codec.tascm.cell_read is None
    cfg.captioner_cell_patch = cfg.tascm_cell_patch = 2  # the cell reading is copied too
    cfg.num_queries, cfg.query_grid = 9, 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = build_tiny(cfg)
    assert init_from_captioner(codec)
    assert torch.equal(codec.tascm.cell_read[1].weight, codec.captioner.body[-3].weight)
    assert torch.equal(codec.tascm.cell_read[2].weight, codec.captioner.body[-2].weight)
    cfg.tascm_cnn = (4, 4)  # other widths: nothing to copy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not init_from_captioner(build_tiny(cfg))


@pytest.mark.slow
def test_the_tiny_tokenizer_never_truncates_a_shapesworld_caption():
    from semcom.data.shapes import ShapesWorld
    from semcom.mtgc.presets.tiny import TinyConfig
    from semcom.mtgc.streams.caption import tokenize

    data = ShapesWorld("train", n=1500, seed=3)
    longest = max(
        len([t for t in tokenize(text.lower()) if t.strip()])
        for i in range(len(data))
        for text in (data[i].caption, data[i].canonical_caption)
    )
    assert longest + 2 <= TinyConfig().max_tokens  # <bos> and <eos>


@pytest.mark.slow
def test_sampling_picks_settings_on_validation_scenes_and_saves_them(model_dir: Path, tmp_path):
    from semcom.mtgc.train import SAMPLING_CANDIDATES
    from semcom.mtgc.train.run import preset_training

    # the tiny recipe keeps its shipped choice's candidates; tiny-complex's adds the overlay
    assert not preset_training("tiny").sampling_overlay
    assert preset_training("tiny-complex").sampling_overlay
    logs: list[str] = []
    cfg = _config().updated({"sampling_overlay": True})
    report = train_part("sampling", cfg, model_dir, tmp_path / "w", log=logs.append)
    chosen = (report["num_inference_steps"], report["guidance_scale"], report["init_strength"])
    assert chosen in SAMPLING_CANDIDATES and report["hci_lowpass"] in (0, 4)
    assert any(s < 1 for _, _, s in SAMPLING_CANDIDATES)  # starts from the sketch are tried
    scores = [report[k] for k in report if k.endswith("_f1") and k != "val_f1"]
    # each candidate at both low-pass settings, each sample as it is and with the sketch
    assert len(scores) == 4 * len(SAMPLING_CANDIDATES)
    assert sum(k.endswith("_ov_f1") for k in report) == 2 * len(SAMPLING_CANDIDATES)
    # the chosen one is within the tie margin of the best F1, and the most accurate there
    assert report["val_f1"] >= max(scores) - report["f1_tie_margin"]
    accuracies = [
        report[k.replace("_f1", "_semantic_accuracy")]
        for k in report
        if k.endswith("_f1")
        and k != "val_f1"
        and report[k] >= max(scores) - report["f1_tie_margin"]
    ]
    assert report["val_semantic_accuracy"] == max(accuracies)
    again = MTGC.from_pretrained(model_dir)
    assert again.mgdd.config.num_inference_steps == chosen[0]
    assert again.mgdd.config.guidance_scale == chosen[1]
    assert again.mgdd.config.init_strength == chosen[2]
    assert again.config.hci_lowpass == report["hci_lowpass"]
    assert again.config.sketch_overlay == report["sketch_overlay"]


def test_half_storage_loads_back_as_float32_with_the_same_decodes(tmp_path: Path):
    from semcom.checkpoint import store_half

    out = tmp_path / "model"
    small_codec(0, sketch=True).save_pretrained(out)
    before = MTGC.from_pretrained(out)
    size = sum(p.stat().st_size for p in (out / "unet").glob("*.safetensors"))
    assert store_half(out) >= 4
    after = MTGC.from_pretrained(out)
    assert sum(p.stat().st_size for p in (out / "unet").glob("*.safetensors")) < 0.6 * size
    assert next(after.mgdd.unet.parameters()).dtype == torch.float32
    assert after.text_encoder.model.dtype == torch.float32
    w0 = next(before.mgdd.unet.parameters())
    w1 = next(after.mgdd.unet.parameters())
    assert torch.equal(w1, w0.half().float())
    from tests._mtgc import scene_image

    bs = after.encode(scene_image(0))[0]
    assert torch.equal(after.decode(bs, steps=2), MTGC.from_pretrained(out).decode(bs, steps=2))


@pytest.mark.slow
def test_cli_steps_override_applies_to_every_training_part(model_dir: Path, tmp_path: Path):
    cfg = tmp_path / "small.yaml"
    cfg.write_text("train_scenes: 6\nreport_scenes: 4\ncaptioner_batch: 2\nwarmup: 1\n")
    args = ["train", "--stage", "1", "--part", "captioner", "--steps", "2", "--threads", "1"]
    paths = ["--config", str(cfg), "--out", str(model_dir), "--work", str(tmp_path / "w")]
    assert main([*args, *paths]) == 0
    record = json.loads((model_dir / "training.json").read_text())
    assert record["parts"]["captioner"]["steps"] == 2
    assert record["config"]["decoder_steps"] == 2 and "sampling_steps" not in record["config"]


def test_train_writes_the_shipped_folder_only_from_a_source_checkout(monkeypatch, tmp_path):
    """From a source checkout (pyproject.toml beside the package) the default --out is the
    shipped weights' folder; from an installed package it is runs/tiny-model."""
    import semcom
    from semcom.mtgc import train_command as command
    from semcom.mtgc.presets.tiny import WEIGHTS_DIR

    assert command.default_out() == WEIGHTS_DIR  # this test runs in the checkout
    installed = tmp_path / "site-packages" / "semcom"
    installed.mkdir(parents=True)
    monkeypatch.setattr(semcom, "__file__", str(installed / "__init__.py"))
    assert command.default_out() == command.INSTALLED_OUT


def test_spw_trains_the_sketch_reader_and_sketch_records_its_gates(model_dir: Path, tmp_path: Path):
    """With a scene sketch, TASCM's task head is the sketch's SPW reader (saved with the
    model); the sketch part trains the caption reader and painter and records its gates."""

    def reader() -> dict[str, torch.Tensor]:
        sk = MTGC.from_pretrained(model_dir).sketch
        assert sk is not None
        return {k: v.clone() for k, v in sk.spw_reader.state_dict().items()}

    before = reader()
    train_part("spw", _config(), model_dir, tmp_path / "work", log=lambda m: None)
    assert _changed(before, reader())
    report = train_part("sketch", _config(), model_dir, tmp_path / "work", log=lambda m: None)
    for key in ("val_caption_reader_f1", "val_spw_reader_f1", "val_sketch_truth_f1"):
        assert 0.0 <= report[key] <= 1.0
    assert isinstance(report["gate_caption_reader_f1_0.97"], bool)


def test_half_storage_keeps_the_hci_entropy_coder_in_float32(tmp_path: Path):
    from safetensors.torch import load_file

    from semcom.checkpoint import store_half

    out = tmp_path / "model"
    small_codec(0, sketch=True).save_pretrained(out)
    store_half(out)
    weights = load_file(str(next((out / "hci").glob("*.safetensors"))))
    coder = {k: v for k, v in weights.items() if ".entropy_bottleneck." in k}
    assert coder and all(v.dtype != torch.float16 for v in coder.values())
    assert any(v.dtype == torch.float16 for k, v in weights.items() if k not in coder)
    text = load_file(str(next((out / "text_encoder").glob("*.safetensors"))))
    assert all(v.dtype == torch.float16 for v in text.values() if v.is_floating_point())


def test_bf16_on_a_cpu_without_native_bf16_is_warned_about(tmp_path: Path):
    from semcom.mtgc.train.config import TrainConfig
    from semcom.mtgc.train.loop import bf16_warning

    avx2 = tmp_path / "avx2"
    avx2.write_text("processor : 0\nflags : fpu sse2 avx avx2 fma\n")
    amx = tmp_path / "amx"
    amx.write_text("processor : 0\nflags : fpu sse2 avx avx2 avx512f avx512_bf16 amx_bf16\n")
    on, off = TrainConfig(bf16=True), TrainConfig(bf16=False)
    assert "bf16: false" in bf16_warning(on, avx2)
    assert bf16_warning(on, amx) is None  # native bf16: nothing to say
    assert bf16_warning(off, avx2) is None  # float32 training
    assert bf16_warning(on, tmp_path / "missing") is None  # no /proc/cpuinfo: not Linux
    # tiny-complex's recipe trains in float32, so it reproduces on an AVX2-only CPU;
    # tiny's keeps the bf16 its shipped weights were trained under
    from semcom.mtgc.train.run import preset_training

    assert bf16_warning(preset_training("tiny-complex"), avx2) is None
    assert bf16_warning(preset_training("tiny"), avx2) is not None


def test_gate_scenes_that_cannot_reach_the_gate_rate_go_with_their_fewest_hci_bits():
    """Before ``spw_code`` the SPWs are packed raw and may leave no HCI option within the
    gates' 0.05 bpp: such a scene is sent with its smallest HCI and counted, not an error
    that ends the run after the decoder's training (tiny-complex's 32-bit SPWs did)."""
    from semcom.mtgc.train.gates import _encode_val
    from tests._mtgc import scene_image

    codec = small_codec()
    # 64×64: 0.05 bpp is 204 bits, the caption and SPWs take ~150, the smallest HCI 136
    small = torch.cat([scene_image(s) for s in range(3)])
    with pytest.raises(SemcomError, match="below the smallest"):
        codec.encode(small[:1], target_bpp=0.05)
    sent, over = _encode_val(codec, small)
    assert over == 3 and len(sent) == 3
    for image, bs in zip(small.split(1), sent, strict=True):
        fewest = min(len(codec.hci.encode(image, s)[0]) for s in codec.hci_candidates())
        assert len(bs.streams["hci"]) == fewest
        assert bs.streams["spw"] == codec.encode(image)[0].streams["spw"]
    # 96×96 (460 bits) fits: the same bitstreams as encoding at 0.05 bpp, none counted
    large = torch.cat([scene_image(s, (96, 96)) for s in range(3)])
    sent, over = _encode_val(codec, large)
    assert over == 0
    at_rate = codec.encode(large, target_bpp=0.05)
    assert [bs.streams for bs in sent] == [bs.streams for bs in at_rate]
