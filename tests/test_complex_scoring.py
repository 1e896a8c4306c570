"""ShapesWorld-Complex in the tools: the shipped detector reads clean held-out scenes, and
evaluate and sweep configs take ``shapes-complex`` and score it with the detector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from experiments.config_parse import parse
from experiments.groups import sweep_images
from semcom.data.complex import ComplexObject, ShapesWorldComplex
from semcom.errors import SemcomError
from semcom.metrics.detector import DEFAULT_DETECTOR_DIR, detection_scores, load_detector
from semcom.metrics.scoring import score


@pytest.fixture(scope="module")
def detector():
    torch.set_num_threads(1)
    return load_detector()


def test_shipped_detector_reads_held_out_clean_scenes(detector) -> None:
    """Dataset seed 1 of the test split: scenes neither training (train split) nor the
    detector's own test report (dataset seed 0) used. (Issue 33's target is F1 ≥ 0.97;
    the shipped detector's measured F1 is in its report and docs/metrics.md.)"""
    data = ShapesWorldComplex("test", n=150, seed=1)
    items = [data[i] for i in range(150)]
    read = detector.read(torch.stack([it.image for it in items]))
    scores, counts = detection_scores([it.objects for it in items], read)
    assert counts.objects_true > 800
    report = json.loads((DEFAULT_DETECTOR_DIR / "detector_eval.json").read_text())
    assert report["test_scenes"] >= 2000 and report["test_seed"] == 0
    # the same F1 as the report's 2000 scenes, within 3 binomial standard errors of
    # these ~1000 objects (the report's own error is ~4 times smaller)
    f1 = report["scores"]["f1"]
    se = (f1 * (1 - f1) / counts.objects_true) ** 0.5
    assert abs(scores["f1"] - f1) <= 3 * se
    assert scores["hallucination_rate"] <= 0.03 and scores["count_accuracy"] >= 0.75
    assert scores["relation_accuracy"] >= 0.99


def test_semantic_metric_scores_complex_scenes_with_the_detector() -> None:
    data = ShapesWorldComplex("val", n=3)
    items = [data[i] for i in range(3)]
    images = torch.stack([it.image for it in items])
    rows = score(images, images, [it.objects for it in items], ("pixel", "semantic"))
    for row, it in zip(rows, items, strict=True):
        assert row["objects_true"] == len(it.objects)
        assert 0 <= row["exact"] <= row["objects_true"]
        assert 0.0 <= row["attribute_accuracy"] <= 1.0
    # a blank image: nothing read, nothing right
    blank = torch.full_like(images, 0.7)
    rows = score(images, blank, [it.objects for it in items], ("semantic",))
    assert all(r["exact"] == 0 for r in rows)


def test_sweep_configs_name_the_world() -> None:
    base = {
        "codecs": ["webp"],
        "channels": ["awgn"],
        "snr_db": [0],
        "budget_cpp": [0.1],
    }
    cfg = parse({**base, "dataset": {"name": "shapes-complex", "n": 2, "split": "val"}})
    assert cfg.dataset.name == "shapes-complex"
    images, truths = sweep_images(cfg)
    assert images.shape == (2, 3, 128, 128)
    assert all(isinstance(o, ComplexObject) for t in truths for o in t)
    # the default stays ShapesWorld, and its identity does not name the data set
    plain = parse(base)
    assert plain.dataset.name == "shapes" and plain.identity()["dataset"] == {}
    assert cfg.identity()["dataset"]["name"] == "shapes-complex"
    with pytest.raises(SemcomError, match="shapes-complex"):
        parse({**base, "dataset": {"name": "kodak"}})


@pytest.mark.slow
def test_evaluate_on_shapes_complex_reports_the_worlds_figures(tmp_path: Path) -> None:
    from experiments.evaluation import EvalConfig, evaluate

    cfg = EvalConfig(
        reference="webp", codecs=("webp", "jpeg"), dataset="shapes-complex", n=3, bootstrap=10
    )
    summaries, results, reference = evaluate(cfg)
    data = ShapesWorldComplex("test", n=3)
    assert torch.equal(reference, torch.stack([data[i].image for i in range(3)]))
    for s in summaries:
        for key in ("f1", "count_accuracy", "relation_accuracy", "hallucination_rate"):
            assert 0.0 <= s[key] <= 1.0
        assert "texture_accuracy" in s
    from experiments.evaluation.report import format_table

    head = format_table(summaries).splitlines()[0]
    assert "relations" in head and "count acc." in head and "halluc./image" not in head


def test_the_oracle_is_shapesworlds_only() -> None:
    from experiments.evaluation import EvalConfig

    with pytest.raises(SemcomError, match="no oracle encoding"):
        EvalConfig(codecs=("mtgc-oracle",), dataset="shapes-complex")


def test_list_datasets_names_both_worlds_and_folders(capsys) -> None:
    from semcom.cli import main

    assert main(["list", "datasets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["shapes", "shapes-complex", "folder:PATH"]
    assert rows[1]["reader"] == "object detector"
