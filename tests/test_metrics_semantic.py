"""Semantic and perceptual metrics: exact on hand-made cases; the shipped probe reads
clean ShapesWorld test scenes; LPIPS/DISTS are skipped, with a reason, without weights."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from semcom.data.captions import ShapeObject
from semcom.data.shapes import ShapesWorld
from semcom.errors import SemcomError
from semcom.metrics import perceptual_metrics, semantic_scores
from semcom.metrics.perceptual import dists, lpips, main, missing_files
from semcom.metrics.semantic import (
    DEFAULT_PROBE_DIR,
    SemanticProbe,
    decode_logits,
    load_probe,
    match_objects,
    probe_targets,
    semantic_metrics,
)
from tests._mtgc import single_thread  # noqa: F401 (fixture)

SCENE = [ShapeObject(0, 0, 0, 0), ShapeObject(2, 3, 1, 4), ShapeObject(5, 7, 1, 8)]
HAVE_PROBE = (DEFAULT_PROBE_DIR / "config.json").is_file() and any(
    DEFAULT_PROBE_DIR.glob("*.safetensors")
)
NO_PROBE = "no shipped probe weights in semcom/metrics/weights/probe (train_probe not run yet)"


def _rates(truth: list[ShapeObject], read: list[ShapeObject]) -> dict[str, float]:
    return semantic_scores([truth], [read]).as_dict()


def test_a_perfect_read_back_scores_one_everywhere_and_no_hallucination() -> None:
    r = _rates(SCENE, list(SCENE))
    assert all(r[k] == 1.0 for k in r if k.endswith("accuracy"))
    assert r["precision"] == r["recall"] == r["f1"] == 1.0
    assert r["hallucination_rate"] == 0.0 and r["hallucinations_per_image"] == 0.0


def test_an_added_object_counts_as_a_hallucination() -> None:
    r = _rates(SCENE, [*SCENE, ShapeObject(1, 1, 0, 2)])
    assert r["hallucination_rate"] == 1 / 4 and r["hallucinations_per_image"] == 1.0
    assert r["precision"] == 3 / 4 and r["recall"] == 1.0
    assert r["count_accuracy"] == 0.0 and r["shape_accuracy"] == 1.0


def test_a_wrong_colour_lowers_colour_accuracy_only() -> None:
    read = [SCENE[0], ShapeObject(2, 0, 1, 4), SCENE[2]]
    r = _rates(SCENE, read)
    assert r["colour_accuracy"] == 2 / 3
    assert r["shape_accuracy"] == r["size_accuracy"] == r["position_accuracy"] == 1.0
    assert r["hallucination_rate"] == 0.0 and r["f1"] == pytest.approx(2 / 3)


def test_a_moved_object_is_matched_with_a_wrong_position() -> None:
    read = [SCENE[0], ShapeObject(2, 3, 1, 5), SCENE[2]]
    assert match_objects(SCENE, read) == [(0, 0), (1, 1), (2, 2)]
    r = _rates(SCENE, read)
    assert r["position_accuracy"] == 2 / 3 and r["shape_accuracy"] == 1.0
    assert r["hallucination_rate"] == 0.0


def test_a_different_object_in_the_same_cell_is_a_miss_and_a_hallucination() -> None:
    read = [SCENE[0], ShapeObject(3, 5, 0, 4), SCENE[2]]  # agrees on the cell only
    r = _rates(SCENE, read)
    assert r["hallucination_rate"] == 1 / 3 and r["recall"] == 2 / 3
    assert r["position_accuracy"] == 2 / 3 and r["count_accuracy"] == 1.0


def test_nothing_read_back_misses_everything_without_hallucinating() -> None:
    r = _rates(SCENE, [])
    assert r["shape_accuracy"] == r["position_accuracy"] == r["recall"] == r["f1"] == 0.0
    assert r["hallucination_rate"] == 0.0 and r["precision"] == 1.0


def test_scores_pool_objects_over_images() -> None:
    s = semantic_scores([SCENE, SCENE[:1]], [SCENE, []])
    assert s.shape_accuracy == 3 / 4 and s.count_accuracy == 1 / 2
    assert s.counts.objects_true == 4 and s.counts.images == 2


def test_matching_prefers_more_pairs_then_fewer_disagreements() -> None:
    truth = [ShapeObject(0, 0, 0, 0), ShapeObject(0, 0, 0, 1)]
    read = [ShapeObject(0, 0, 0, 1), ShapeObject(0, 0, 0, 0)]
    assert sorted(match_objects(truth, read)) == [(0, 1), (1, 0)]


def test_probe_targets_decode_back_to_the_scenes() -> None:
    scenes = [SCENE, [], [ShapeObject(4, 6, 0, 7)]]
    t = probe_targets(scenes)
    logits = torch.full((3, 9, 17), -5.0)
    logits[..., 0] = torch.where(t[..., 0] == 1, 5.0, -5.0)
    for b, scene in enumerate(scenes):
        for o in scene:
            logits[b, o.cell, [1 + o.shape, 7 + o.colour, 15 + o.size]] = 5.0
    assert decode_logits(logits) == scenes


def test_a_missing_probe_says_how_to_train_one(tmp_path: Path) -> None:
    with pytest.raises(SemcomError, match="train_probe"):
        load_probe(tmp_path)


def test_a_saved_probe_loads_back_identically(tmp_path: Path) -> None:
    torch.manual_seed(0)
    probe = SemanticProbe().eval()
    probe.save_pretrained(str(tmp_path), safe_serialization=True)
    x = torch.rand(2, 3, 128, 128)
    assert torch.equal(load_probe(tmp_path)(x), probe(x))
    assert not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("*.pt*"))


def test_transmitter_and_receiver_never_import_the_probe() -> None:
    """MTGC (less its training) and every codec adapter: the sender's and receiver's code."""
    root = Path(__file__).parents[1] / "semcom"
    sides = [p for p in (root / "mtgc").rglob("*.py") if "train" not in p.parts]
    sides += [*(root / "codecs").glob("*.py")]
    assert len(sides) > 20
    for path in sides:
        assert not re.search(r"metrics[./]semantic|SemanticProbe", path.read_text()), path


@pytest.mark.skipif(not HAVE_PROBE, reason=NO_PROBE)
def test_the_shipped_probe_reads_clean_test_scenes_at_98_percent_per_attribute() -> None:
    data = ShapesWorld("test", n=100, seed=0)
    items = [data[i] for i in range(100)]
    images = torch.stack([it.image for it in items])
    scores, per_image = semantic_metrics(images, [it.objects for it in items], load_probe())
    rates = scores.as_dict()
    for name in ("shape", "colour", "size", "position", "count"):
        assert rates[f"{name}_accuracy"] >= 0.98, (name, rates)
    assert rates["hallucination_rate"] <= 0.02 and len(per_image) == 100


@pytest.mark.skipif(not HAVE_PROBE, reason=NO_PROBE)
def test_the_shipped_probe_reads_nothing_on_a_plain_background() -> None:
    scores, _ = semantic_metrics(torch.full((1, 3, 128, 128), 0.7), [SCENE], load_probe())
    assert scores.counts.objects_read == 0 and scores.recall == 0.0


def test_perceptual_metrics_are_skipped_with_a_reason_without_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    x = torch.rand(1, 3, 64, 64)
    result = perceptual_metrics(x, x, weights_dir=tmp_path)
    assert result.values == {} and set(result.skipped) == {"lpips", "dists"}
    assert str(tmp_path / "lpips" / "alex.pth") in result.skipped["lpips"]
    assert "convert" in result.skipped["lpips"]
    assert "never downloaded" in result.note() and "dists skipped" in result.note()
    with pytest.raises(SemcomError, match="never downloaded"):
        lpips(x, x, weights_dir=tmp_path)
    with pytest.raises(SemcomError, match="never downloaded"):
        dists(x, x, weights_dir=tmp_path)


@pytest.mark.slow
def test_perceptual_metrics_run_from_weights_in_the_documented_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Randomly initialised networks saved in the documented files: this checks the file
    layout and the code path (zero for identical images), not LPIPS/DISTS values."""
    from torchvision.models import alexnet, vgg16

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    torch.manual_seed(0)
    (tmp_path / "lpips").mkdir()
    (tmp_path / "dists").mkdir()
    feats = {f"features.{k}": v for k, v in alexnet(weights=None).features.state_dict().items()}
    torch.save(feats, tmp_path / "lpips" / "alexnet.pth")
    lins = {
        f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1)
        for k, c in enumerate((64, 192, 384, 256, 256))
    }
    torch.save(lins, tmp_path / "lpips" / "alex.pth")
    feats = {f"features.{k}": v for k, v in vgg16(weights=None).features.state_dict().items()}
    torch.save(feats, tmp_path / "dists" / "vgg16.pth")
    ab = {"alpha": torch.rand(1, 1475, 1, 1), "beta": torch.rand(1, 1475, 1, 1)}
    torch.save(ab, tmp_path / "dists" / "weights.pt")
    # Pickled upstream files are never read at run time: they are converted once.
    assert missing_files("lpips", tmp_path) == [tmp_path / "lpips" / "alexnet.safetensors"] + [
        tmp_path / "lpips" / "alex.safetensors"
    ]
    x = torch.rand(1, 3, 64, 64)
    with pytest.raises(SemcomError, match="not converted yet"):
        lpips(x, x, weights_dir=tmp_path)
    assert main(["convert", str(tmp_path)]) == 0
    assert len(list(tmp_path.rglob("*.safetensors"))) == 4
    assert missing_files("lpips", tmp_path) == [] and missing_files("dists", tmp_path) == []

    x, y = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    result = perceptual_metrics(x, torch.cat([x[:1], y[1:]]), weights_dir=tmp_path)
    assert result.skipped == {} and set(result.values) == {"lpips", "dists"}
    for values in result.values.values():
        assert values.shape == (2,) and values.dtype == torch.float64
        assert abs(float(values[0])) < 1e-6 and float(values[1]) > 1e-4


def test_perceptual_convert_refuses_a_file_that_is_not_tensors(tmp_path: Path, capsys) -> None:
    (tmp_path / "lpips").mkdir()
    torch.save({"a": torch.zeros(1)}, tmp_path / "lpips" / "alexnet.pth")
    torch.save({"a": "not a tensor"}, tmp_path / "lpips" / "alex.pth")
    assert main(["convert", str(tmp_path)]) == 2
    assert "dictionary of tensors" in capsys.readouterr().err
    assert not (tmp_path / "lpips" / "alex.safetensors").exists()


def test_degradations_keep_shape_and_range_and_p0_is_clean() -> None:
    import numpy as np

    from semcom.metrics.train_probe import degrade

    images = (torch.rand(8, 3, 64, 64) * 255).round().to(torch.uint8)
    assert torch.equal(degrade(images, np.random.default_rng(0), 0.0), images.float() / 255)
    out = degrade(images, np.random.default_rng(0), 1.0)
    assert out.shape == images.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    assert not torch.equal(out, images.float() / 255)


def test_training_runs_end_to_end_and_saves_a_loadable_probe(tmp_path: Path) -> None:
    from semcom.metrics.train_probe import ProbeTrainConfig, train

    cfg = ProbeTrainConfig(
        train_scenes=64,
        val_scenes=8,
        test_scenes=8,
        steps=3,
        batch=8,
        warmup=1,
        checkpoint_every=2,
        eval_every=3,
        augment=0.5,
    )
    scores = train(cfg, tmp_path / "probe", tmp_path / "work", resume=False)
    assert 0 <= scores["shape_accuracy"] <= 1
    assert (tmp_path / "work" / "model.ckpt").is_file()
    assert (tmp_path / "probe" / "probe_eval.json").is_file()
    load_probe(tmp_path / "probe")
