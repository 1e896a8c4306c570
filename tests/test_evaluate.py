"""``semcom evaluate``: rate matching, pooled figures with bootstrap intervals, the claim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from experiments.evaluate import (
    CodecResult,
    EvalConfig,
    _match,
    check_claim,
    evaluate,
    format_markdown,
    summarize,
    summarize_interpolated,
)
from semcom.cli import main
from semcom.data.captions import ShapeObject
from semcom.errors import SemcomError
from semcom.metrics.semantic import count_scene
from tests._mtgc import single_thread, small_codec  # noqa: F401

A = ShapeObject(shape=0, colour=0, size=0, cell=0)
B = ShapeObject(shape=1, colour=1, size=1, cell=4)


def test_match_rules_pick_the_promised_side():
    points = [(100, "a"), (200, "b"), (400, "c")]
    assert _match(points, 210, "above") == (400, "c")
    assert _match(points, 210, "nearest") == (200, "b")
    assert _match(points, 210, "below") == (200, "b")
    assert _match(points, 500, "above") == (400, "c")  # cannot go that high: the largest
    assert _match(points, 50, "below") == (100, "a")  # cannot go that low: the smallest


def test_summary_pools_counts_and_brackets_the_estimate():
    # Image 1 read perfectly; image 2: B read with the wrong colour plus a hallucination.
    wrong = ShapeObject(shape=1, colour=2, size=1, cell=4)
    extra = ShapeObject(shape=3, colour=3, size=0, cell=8)
    counts = [count_scene([A], [A]), count_scene([A, B], [A, wrong, extra])]
    result = CodecResult("x", torch.zeros(2, 3, 8, 8), [64, 128], counts, [20.0, 30.0], [0.5, 0.7])
    s = summarize(result, pixels=64, bootstrap=200, seed=0)
    assert s["bpp"] == pytest.approx(1.5)
    assert s["psnr"] == pytest.approx(25.0)
    # 3 true objects × 4 attributes, one colour wrong → 11/12.
    assert s["semantic_accuracy"] == pytest.approx(11 / 12)
    assert s["hallucination_rate"] == pytest.approx(1 / 4)
    assert s["f1"] == pytest.approx(2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3))
    for key in ("bpp", "semantic_accuracy", "psnr", "hallucination_rate"):
        lo, hi = s["ci95"][key]
        assert lo <= s[key] <= hi
    assert s["ci95"]["psnr"] == [pytest.approx(20.0), pytest.approx(30.0)]


def test_interpolation_mixes_the_two_sides_at_mtgcs_rate():
    """Below: 64 bits/image, every object wrong; above: 192 bits, every object right;
    MTGC at 96 bits: a quarter of the way, so accuracy 0.25 and PSNR 22.5; a target below
    the codec's lowest rate is not extrapolated and says so."""
    wrong = ShapeObject(shape=1, colour=1, size=1, cell=0)
    below = CodecResult("webp", torch.zeros(2, 3, 8, 8), [64, 64])
    below.counts = [count_scene([A], [wrong])] * 2
    below.psnr, below.ms_ssim = [20.0, 20.0], [0.4, 0.4]
    above = CodecResult("webp", torch.zeros(2, 3, 8, 8), [192, 192])
    above.counts = [count_scene([A], [A])] * 2
    above.psnr, above.ms_ssim = [30.0, 30.0], [0.8, 0.8]
    s = summarize_interpolated(below, above, [96, 96], pixels=64, bootstrap=50, seed=0)
    assert s["bpp"] == pytest.approx(1.5)
    assert s["psnr"] == pytest.approx(22.5) and s["ms_ssim"] == pytest.approx(0.5)
    # below's object agrees on the cell alone: no admissible pair, A is missed (accuracy 0)
    assert s["semantic_accuracy"] == pytest.approx(0.25)
    assert s["f1"] == pytest.approx(0.25)
    assert "interpolated" in s["note"] and s["interpolated_from"]["above"]["bpp"] == 3.0
    low = summarize_interpolated(below, above, [32, 32], pixels=64, bootstrap=10, seed=0)
    assert low["bpp"] == pytest.approx(1.0) and "cannot reach" in low["note"]
    assert low["psnr"] == pytest.approx(20.0)
    # a codec whose lowest point is its only one (below = above) above the goal says so
    same = summarize_interpolated(above, above, [96, 96], pixels=64, bootstrap=10, seed=0)
    assert same["bpp"] == pytest.approx(3.0) and "cannot reach" in same["note"]


def _summary(name: str, bpp: float, acc: float, hall: float) -> dict:
    return {"codec": name, "bpp": bpp, "semantic_accuracy": acc, "hallucination_rate": hall}


def test_claim_checks_rivals_at_equal_or_higher_rate_and_ablations():
    full = _summary("mtgc", 0.04, 0.9, 0.05)
    cheaper_webp = _summary("webp", 0.03, 0.95, 0.0)  # below MTGC's rate: not a rival
    jpeg = _summary("jpeg", 0.05, 0.5, 0.2)
    assert check_claim([full, cheaper_webp, jpeg]) == []
    ablation = _summary("mtgc-caption", 0.002, 0.92, 0.01)
    failures = check_claim([full, jpeg, ablation])
    assert len(failures) == 2 and all(f.startswith("mtgc-caption") for f in failures)


def test_unknown_codec_and_bad_options_are_clear():
    with pytest.raises(SemcomError, match="unknown codec 'bpg'"):
        EvalConfig(codecs=("bpg",))
    with pytest.raises(SemcomError, match="--match"):
        EvalConfig(match="closest")


def test_evaluate_end_to_end_on_a_small_model(tmp_path: Path):
    weights = tmp_path / "model"
    small_codec(0).save_pretrained(weights)
    cfg = EvalConfig(
        codecs=("mtgc", "mtgc-hci", "mtgc-caption", "webp", "compressai"),
        n=2,
        batch=2,
        bootstrap=20,
        weights=str(weights),
    )
    summaries, results, reference = evaluate(cfg)
    by = {s["codec"]: s for s in summaries}
    full, hci, cap = results["mtgc"], results["mtgc-hci"], results["mtgc-caption"]
    assert all(b <= 0.05 * 128 * 128 for b in full.bits)
    assert all(h < f for h, f in zip(hci.bits, full.bits, strict=True))
    assert all(c < h for c, h in zip(cap.bits, hci.bits, strict=True))
    # "above": every baseline image gets at least MTGC's bits, or its largest point.
    assert all(
        w >= f or by["webp"]["bpp_max"] * 128 * 128 == w
        for w, f in zip(results["webp"].bits, full.bits, strict=True)
    )
    assert results["webp"].images.shape == reference.shape == (2, 3, 128, 128)
    assert "ground-truth" not in by["mtgc"]["note"]
    table = format_markdown(summaries)
    assert table.count("\n") == len(summaries) + 1


def test_cli_writes_results_table_and_figure(tmp_path: Path, capsys):
    weights = tmp_path / "model"
    small_codec(0).save_pretrained(weights)
    out = tmp_path / "eval"
    args = ["evaluate", "--n", "2", "--codec", "mtgc", "--codec", "jpeg", "--quiet"]
    code = main([*args, "--weights", str(weights), "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["codec"] for r in report["results"]] == ["mtgc", "jpeg"]
    assert json.loads((out / "results.json").read_text()) == report
    assert (out / "reconstructions.png").stat().st_size > 0
    assert (out / "reconstructions.pdf").is_file()
    assert main(["evaluate", "--dataset", "kodak"]) == 2
    assert "only ShapesWorld" in capsys.readouterr().err


def test_decoding_workers_give_the_same_images(tmp_path: Path):
    weights = tmp_path / "model"
    small_codec(0).save_pretrained(weights)
    base = dict(codecs=("mtgc", "mtgc-spw"), n=3, batch=2, bootstrap=10, weights=str(weights))
    _, one, _ = evaluate(EvalConfig(**base))
    _, two, _ = evaluate(EvalConfig(**base, workers=2))
    for name in ("mtgc", "mtgc-spw"):
        assert torch.equal(one[name].images, two[name].images)
        assert one[name].bits == two[name].bits


def test_hci_lowpass_override_reaches_every_decoder(tmp_path: Path):
    """--hci-lowpass 0 and 4 give different MTGC images, the same in a worker process."""
    weights = tmp_path / "model"
    small_codec(0).save_pretrained(weights)
    base = dict(codecs=("mtgc",), n=2, batch=2, bootstrap=10, weights=str(weights))
    _, off, _ = evaluate(EvalConfig(**base, hci_lowpass=0))
    _, on, _ = evaluate(EvalConfig(**base, hci_lowpass=4))
    _, on_worker, _ = evaluate(EvalConfig(**base, hci_lowpass=4, workers=2))
    assert not torch.equal(off["mtgc"].images, on["mtgc"].images)
    assert torch.equal(on["mtgc"].images, on_worker["mtgc"].images)
    with pytest.raises(SemcomError, match="--hci-lowpass"):
        EvalConfig(hci_lowpass=-1)


def test_init_strength_override_reaches_every_decoder(tmp_path: Path):
    """--init-strength 0.5 starts from the sketch (other images than from noise), the
    same in a worker process; a model without a sketch refuses it clearly."""
    weights = tmp_path / "model"
    small_codec(0, sketch=True).save_pretrained(weights)
    base = dict(codecs=("mtgc",), n=2, batch=2, bootstrap=10, weights=str(weights))
    _, noise, _ = evaluate(EvalConfig(**base, init_strength=1.0))
    _, half, _ = evaluate(EvalConfig(**base, init_strength=0.5))
    _, half_worker, _ = evaluate(EvalConfig(**base, init_strength=0.5, workers=2))
    assert not torch.equal(noise["mtgc"].images, half["mtgc"].images)
    assert torch.equal(half["mtgc"].images, half_worker["mtgc"].images)
    for bad in (0.0, 1.5):
        with pytest.raises(SemcomError, match="--init-strength"):
            EvalConfig(init_strength=bad)
    plain = tmp_path / "plain"
    small_codec(0).save_pretrained(plain)
    with pytest.raises(SemcomError, match="scene sketch"):
        evaluate(EvalConfig(**{**base, "weights": str(plain)}, init_strength=0.5))
