"""The ShapesWorld-Complex detector's targets, decoding, matching and scores."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from semcom.data.complex import ComplexObject, ShapesWorldComplex
from semcom.metrics.detector import (
    OUT_CHANNELS,
    SLICES,
    ReadObject,
    box_iou,
    count_detections,
    decode_maps,
    detection_scores,
    detector_loss,
    detector_targets,
    match_boxes,
)
from semcom.metrics.train_detector import symmetry


def _true(shape, colour, size, texture, box) -> ComplexObject:
    x0, y0, x1, y1 = box
    return ComplexObject(shape, colour, size, texture, (x0 + x1) / 2, (y0 + y1) / 2, 10, 0, box)


def _perfect_maps(boxes, attrs) -> torch.Tensor:
    """Output maps that say exactly the targets (what a perfect detector would emit)."""
    heat, index, reg, labels = detector_targets(boxes, attrs)
    maps = torch.zeros(len(boxes), OUT_CHANNELS, 32, 32)
    maps[:, SLICES["heat"]] = -20.0
    for (b, y, x), r, lab in zip(index.tolist(), reg, labels, strict=True):
        maps[b, SLICES["heat"], y, x] = 20.0
        maps[b, SLICES["offset"], y, x] = torch.logit(r[:2].clamp(1e-4, 1 - 1e-4))
        maps[b, SLICES["size_wh"], y, x] = r[2:]
        for name, value in zip(("shape", "colour", "size", "texture"), lab.tolist(), strict=True):
            maps[b, SLICES[name].start + value, y, x] = 10.0
    return maps


def test_perfect_maps_decode_to_the_truth_and_score_one() -> None:
    items = [ShapesWorldComplex("val", n=20)[i] for i in range(20)]
    # scenes whose object centres fall in distinct stride-4 cells
    items = [
        it
        for it in items
        if len(
            {(int((o.box[0] + o.box[2]) / 8), int((o.box[1] + o.box[3]) / 8)) for o in it.objects}
        )
        == len(it.objects)
    ]
    assert len(items) >= 10
    boxes = [np.array([o.box for o in it.objects], np.float32) for it in items]
    attrs = [np.array([(o.shape, o.colour, o.size, o.texture) for o in it.objects]) for it in items]
    read = decode_maps(_perfect_maps(boxes, attrs))
    scores, counts = detection_scores([it.objects for it in items], read)
    assert scores["f1"] == 1.0 and scores["count_accuracy"] == 1.0
    assert scores["hallucination_rate"] == 0.0 and scores["relation_accuracy"] == 1.0
    assert counts.relations > 100
    for it, r in zip(items, read, strict=True):
        iou = box_iou(np.array([o.box for o in it.objects], float), np.array([o.box for o in r]))
        assert np.all(iou.max(1) > 0.97)


def test_the_loss_is_lowest_for_the_perfect_maps() -> None:
    items = [ShapesWorldComplex("val", n=4)[i] for i in range(4)]
    boxes = [np.array([o.box for o in it.objects], np.float32) for it in items]
    attrs = [np.array([(o.shape, o.colour, o.size, o.texture) for o in it.objects]) for it in items]
    targets = detector_targets(boxes, attrs)
    perfect = _perfect_maps(boxes, attrs)
    noisy = perfect + torch.randn(perfect.shape, generator=torch.Generator().manual_seed(0))
    assert detector_loss(perfect, targets) < 0.1 < detector_loss(noisy, targets)


def _key(truth, read, pairs, iou) -> tuple[int, int, float]:
    """What the matching maximises, in order: pairs, agreeing attributes, total IoU."""
    agree = sum(
        sum(
            getattr(truth[t], a) == getattr(read[r], a)
            for a in ("shape", "colour", "size", "texture")
        )
        for t, r in pairs
    )
    return len(pairs), agree, round(sum(iou[t, r] for t, r in pairs), 9)


def _brute_force(truth, read, min_iou=0.5):
    """The best pairing by enumeration: most pairs, then most agreeing attributes, then IoU."""
    iou = box_iou(np.array([o.box for o in truth], float), np.array([o.box for o in read], float))
    best = (0, 0, 0.0)
    m = max(len(truth), len(read))  # read indices ≥ len(read) stand for "unpaired"
    for perm in itertools.permutations(range(m)):
        pairs = [
            (t, perm[t])
            for t in range(len(truth))
            if perm[t] < len(read) and iou[t, perm[t]] >= min_iou
        ]
        best = max(best, _key(truth, read, pairs, iou))
    return best


def test_matching_equals_brute_force_on_random_cases() -> None:
    rng = np.random.default_rng(0)
    for _ in range(150):
        n_true, n_read = int(rng.integers(0, 5)), int(rng.integers(0, 5))
        truth, read = [], []
        for _ in range(n_true):
            x, y, s = *rng.uniform(0, 40, 2), rng.uniform(8, 20)
            truth.append(_true(*rng.integers(0, 2, 4).tolist(), (x, y, x + s, y + s)))
        for _ in range(n_read):
            x, y, s = *rng.uniform(0, 40, 2), rng.uniform(8, 20)
            read.append(ReadObject(*rng.integers(0, 2, 4).tolist(), box=(x, y, x + s, y + s)))
        pairs = match_boxes(truth, read)
        assert len({t for t, _ in pairs}) == len(pairs) == len({r for _, r in pairs})
        iou = box_iou(
            np.array([o.box for o in truth], float).reshape(-1, 4),
            np.array([o.box for o in read], float).reshape(-1, 4),
        )
        got = _key(truth, read, pairs, iou)
        if truth and read:
            want = _brute_force(truth, read)
            assert got[:2] == want[:2] and got[2] == pytest.approx(want[2], abs=1e-6)
        else:
            assert pairs == []


def test_counts_on_a_constructed_image() -> None:
    truth = [
        _true(0, 1, 2, 0, (10, 10, 30, 30)),  # read exactly
        _true(1, 2, 0, 0, (60, 10, 76, 26)),  # read with the wrong colour
        _true(2, 3, 1, 1, (10, 80, 40, 110)),  # missed
    ]
    read = [
        ReadObject(0, 1, 2, 0, box=(11, 10, 30, 31)),
        ReadObject(1, 5, 0, 0, box=(60, 11, 76, 26)),
        ReadObject(4, 4, 1, 0, box=(90, 90, 100, 100)),  # hallucination
    ]
    c = count_detections(truth, read)
    assert (c.objects_true, c.objects_read, c.paired, c.exact) == (3, 3, 2, 1)
    assert (c.shape_ok, c.colour_ok, c.size_ok, c.texture_ok, c.count_ok) == (2, 1, 2, 2, 1)
    # one pair of paired objects: left/right differ by 48 px, up/down by 0 (no relation)
    assert (c.relations, c.relations_ok) == (1, 1)
    scores, _ = detection_scores([truth], [read])
    assert scores["f1"] == pytest.approx(1 / 3) and scores["hallucination_rate"] == pytest.approx(
        1 / 3
    )
    # the read boxes swapped left and right: the relation is wrong
    swapped = [
        ReadObject(0, 1, 2, 0, box=(60, 10, 80, 30)),
        ReadObject(1, 2, 0, 0, box=(10, 10, 26, 26)),
    ]
    truth2 = [_true(0, 1, 2, 0, (56, 10, 80, 30)), _true(1, 2, 0, 0, (14, 10, 30, 26))]
    assert count_detections(truth2, swapped).relations_ok == 1
    assert count_detections(truth2[::-1], swapped).exact == 2


def test_symmetries_move_boxes_with_the_pixels() -> None:
    item = ShapesWorldComplex("val", n=3)[2]
    boxes = [np.array([o.box for o in item.objects], np.float32)]
    labels = item.labels[None, None].float()
    for code in range(8):
        img, moved = symmetry(labels, boxes, code)
        for k in range(len(item.objects)):
            ys, xs = np.nonzero(img[0, 0].numpy() == k)
            x0, y0, x1, y1 = moved[0][k]
            assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


@pytest.mark.slow
def test_training_runs_a_toy_configuration_end_to_end(tmp_path) -> None:
    import json

    from semcom.metrics.detector import load_detector
    from semcom.metrics.train_detector import main

    out, work = tmp_path / "model", tmp_path / "work"
    args = ["--out", str(out), "--work", str(work), "--train-scenes", "32", "--val-scenes", "8"]
    args += ["--test-scenes", "8", "--steps", "4", "--checkpoint-every", "2", "--threads", "1"]
    main(args)
    report = json.loads((out / "detector_eval.json").read_text())
    assert report["test_scenes"] == 8 and report["train_steps"] == 4
    assert "--steps 4" in report["command"] and "residual_errors" in report
    detector = load_detector(out)
    assert detector.config.threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
    assert (work / "train.log").read_text().count("step") >= 1
