"""``semcom evaluate``: rate matching, pooled figures with bootstrap intervals, the claim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from experiments.evaluation import (
    CodecResult,
    EvalConfig,
    ablation_streams,
    check_claim,
    default_codecs,
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


def _summary(name: str, bpp: float, f1: float, lead: tuple[float, float] | None = None) -> dict:
    s = {"codec": name, "bpp": bpp, "f1": f1}
    if lead is not None:
        s["vs_reference"] = {"f1": {"diff": sum(lead) / 2, "ci95": list(lead)}}
    return s


def test_claim_checks_rivals_at_equal_or_higher_rate_and_ablations():
    """A rival is beaten when the paired interval of MTGC's F1 lead lies above 0."""
    full = _summary("mtgc", 0.04, 0.9)
    cheaper_webp = _summary("webp", 0.03, 0.95, (-0.1, -0.02))  # below MTGC's rate
    jpeg = _summary("jpeg", 0.05, 0.5, (0.3, 0.5))
    assert check_claim([full, cheaper_webp, jpeg]) == []
    ablation = _summary("mtgc-caption", 0.002, 0.88, (-0.01, 0.05))
    failures = check_claim([full, jpeg, ablation])
    assert len(failures) == 1 and failures[0].startswith("mtgc-caption")
    assert "does not exclude 0" in failures[0]
    # without paired intervals: point estimates
    assert check_claim([full, _summary("avif", 0.2, 0.95)]) != []


def test_paired_differences_are_zero_for_a_codec_against_itself_and_see_a_lead():
    """The same images scored twice differ by exactly 0; a codec that reads one more
    object right on every image leads with an interval above 0."""
    from experiments.evaluation.stats import paired_differences, stats_of

    wrong = ShapeObject(shape=1, colour=2, size=1, cell=4)
    n = 20
    good = CodecResult("a", torch.zeros(n, 3, 8, 8), [64] * n)
    good.counts = [count_scene([A, B], [A, B if i % 2 else wrong]) for i in range(n)]
    good.psnr, good.ms_ssim = [25.0] * n, [0.7] * n
    bad = CodecResult("b", torch.zeros(n, 3, 8, 8), [64] * n)
    bad.counts = [count_scene([A, B], [A, wrong]) for _ in range(n)]
    bad.psnr, bad.ms_ssim = [24.0] * n, [0.6] * n
    same = paired_differences(stats_of(good, 64), stats_of(good, 64), n, 100, 0)
    assert all(d["diff"] == 0 and d["ci95"] == [0, 0] for d in same.values())
    lead = paired_differences(stats_of(good, 64), stats_of(bad, 64), n, 200, 0)
    assert lead["f1"]["diff"] == pytest.approx(0.25) and lead["f1"]["ci95"][0] > 0
    assert lead["psnr"]["diff"] == pytest.approx(1.0)


def test_unknown_codec_and_bad_options_are_clear():
    with pytest.raises(SemcomError, match="unknown codec 'bpg'"):
        EvalConfig(codecs=("bpg",))
    with pytest.raises(SemcomError, match="--match"):
        EvalConfig(match="closest")
    with pytest.raises(SemcomError, match="--seed must be in"):
        EvalConfig(codecs=("webp",), seed=90210)
    with pytest.raises(SemcomError, match="--split must be test or val"):
        EvalConfig(codecs=("webp",), split="train")
    with pytest.raises(SemcomError, match="analog codec"):
        EvalConfig(codecs=("mtgc", "deepjscc"))
    with pytest.raises(SemcomError, match="keeps some of mtgc's streams"):
        EvalConfig(codecs=("mtgc-audio",))
    with pytest.raises(SemcomError, match="keeps every stream"):
        EvalConfig(codecs=("mtgc-caption-spw-hci",))
    with pytest.raises(SemcomError, match="has no oracle"):
        EvalConfig(codecs=("webp-oracle",), reference="webp")


def test_codecs_come_from_the_registry_and_ablations_from_the_reference_streams():
    """Nothing in evaluate names a codec: the default list is the reference, its streams
    alone and left out one at a time, then every other installed digital codec."""
    from semcom.registry import codec_class, codec_names

    assert ablation_streams("mtgc-caption-hci", "mtgc") == ("caption", "hci")
    assert ablation_streams("mtgc", "mtgc") is None
    assert ablation_streams("mtgc-oracle", "mtgc") is None
    assert ablation_streams("webp", "mtgc") is None
    names = default_codecs("mtgc")
    assert names[:7] == (
        "mtgc",
        "mtgc-caption",
        "mtgc-spw",
        "mtgc-hci",
        "mtgc-spw-hci",
        "mtgc-caption-hci",
        "mtgc-caption-spw",
    )
    others = {n for n in codec_names() if n != "mtgc" and codec_class(n).kind == "digital"}
    assert set(names[7:]) == others and {"webp", "compressai"} <= others
    assert "deepjscc" not in names
    # another reference: a one-stream codec has no ablations
    assert default_codecs("webp")[0] == "webp" and "mtgc" in default_codecs("webp")


@pytest.mark.slow
def test_split_val_scores_validation_scenes_not_test_scenes(tmp_path: Path):
    """--split val (for choosing settings) draws its scenes from the validation split."""
    from semcom.data.shapes import ShapesWorld

    weights = tmp_path / "model"
    small_codec(0).save_pretrained(weights)
    for split in ("val", "test"):
        cfg = EvalConfig(
            codecs=("webp",), n=2, batch=2, bootstrap=10, weights=str(weights), split=split
        )
        _, _, reference = evaluate(cfg)
        data = ShapesWorld(split, n=2, seed=0)
        assert torch.equal(reference, torch.stack([data[i].image for i in range(2)]))


@pytest.mark.slow
def test_evaluate_end_to_end_on_a_small_model(tmp_path: Path):
    weights = tmp_path / "model"
    small_codec(0).save_pretrained(weights)
    cfg = EvalConfig(
        codecs=("mtgc", "mtgc-hci", "mtgc-caption", "webp", "compressai"),
        n=2,
        batch=2,
        bootstrap=20,
        weights=str(weights),
        match="above",
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


@pytest.mark.slow
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
    assert (out / "rate.png").stat().st_size > 0 and (out / "rate.pdf").is_file()
    assert main(["evaluate", "--dataset", "kodak"]) == 2
    err = capsys.readouterr().err
    assert "--dataset kodak is not available" in err and "shapes-complex" in err
    assert main(["evaluate", "--split", "train", "--codec", "jpeg"]) == 2
    assert "--split must be test or val" in capsys.readouterr().err


def test_rate_figure_puts_each_codec_at_its_bpp_with_its_intervals(tmp_path: Path):
    """One point per codec on both panels (object F1, PSNR against bpp), its error bars
    the summary's 95 % intervals; the reference filled, a rival open."""
    from experiments.evaluation.report import draw_rate, rate_figure

    def summary(name, bpp, f1, psnr):
        ci = {"bpp": [bpp * 0.9, bpp * 1.1], "f1": [f1 - 0.05, f1 + 0.02], "psnr": [psnr - 1, psnr]}
        return {"codec": name, "bpp": bpp, "f1": f1, "psnr": psnr, "ci95": ci}

    rows = [summary("mtgc", 0.03, 0.9, 23.0), summary("webp", 0.031, 0.4, 24.0)]
    fig = draw_rate(rows)
    for ax, key in zip(fig.axes[:2], ("f1", "psnr"), strict=True):
        bars = ax.containers
        assert [c.get_label() for c in bars] == ["mtgc", "webp"]
        for bar, row in zip(bars, rows, strict=True):
            line, _, (xerr, yerr) = bar
            assert tuple(line.get_xydata()[0]) == pytest.approx((row["bpp"], row[key]))
            lo, hi = row["ci95"][key]
            assert yerr.get_segments()[0][:, 1] == pytest.approx([lo, hi])
            blo, bhi = row["ci95"]["bpp"]
            assert xerr.get_segments()[0][:, 0] == pytest.approx([blo, bhi])
        assert bars[0][0].get_markerfacecolor() == "black"
        assert bars[1][0].get_markerfacecolor() == "white"
    paths = rate_figure(rows, tmp_path / "rate.png")
    assert [p.name for p in paths] == ["rate.png", "rate.pdf"]
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.slow
def test_decoding_workers_give_the_same_images(tmp_path: Path):
    weights = tmp_path / "model"
    small_codec(0).save_pretrained(weights)
    base = dict(codecs=("mtgc", "mtgc-spw"), n=3, batch=2, bootstrap=10, weights=str(weights))
    _, one, _ = evaluate(EvalConfig(**base))
    _, two, _ = evaluate(EvalConfig(**base, workers=2))
    for name in ("mtgc", "mtgc-spw"):
        assert torch.equal(one[name].images, two[name].images)
        assert one[name].bits == two[name].bits


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_the_reference_plan_is_what_encode_target_bpp_sends(tmp_path: Path):
    """The planner's rule on MTGC's streams (caption, SPWs, then the best-decoding HCI
    that fits) gives the bitstream `MTGC.encode(target_bpp=...)` gives; the oracle sends
    the ground-truth caption and says so."""
    from experiments.rate_match import plan_bits
    from semcom.codecs.mtgc import MTGCCodec
    from semcom.data.captions import canonical_caption
    from semcom.data.shapes import ShapesWorld

    weights = tmp_path / "model"
    model = small_codec(0)
    model.save_pretrained(weights)
    codec = MTGCCodec(weights=weights)
    data = ShapesWorld("test", n=3, seed=0)
    for i, bpp in ((0, 0.05), (1, 0.03), (2, 0.08)):
        img = data[i].image
        sent = codec.model.encode(img.unsqueeze(0), target_bpp=bpp)[0]
        plan = plan_bits(codec.encode(img), int(bpp * 128 * 128))
        assert plan.payloads == dict(sent.streams)
    oracle = codec.encode_oracle(data[0].image, data[0].objects)
    caption = next(s for s in oracle.streams if s.name == "caption").options[0].payload
    assert codec.model.caption_coder.decode(caption) == canonical_caption(data[0].objects)
    cfg = EvalConfig(
        codecs=("mtgc", "mtgc-oracle"), n=2, batch=2, bootstrap=10, weights=str(weights)
    )
    summaries, _, _ = evaluate(cfg)
    assert "ground truth" in summaries[1]["note"] and summaries[0]["note"] == ""


def test_equal_rate_interpolates_each_image_between_its_two_points():
    """Image 0: below 64 bits (object wrong, 20 dB), above 192 (right, 30 dB), target 96:
    a quarter of the way. Image 1: the codec's lowest point (128 bits) is above the target
    64: no extrapolation, its lowest point, and the note counts it."""
    from experiments.evaluation.stats import per_image_interpolated

    wrong = ShapeObject(shape=1, colour=1, size=1, cell=0)
    below = CodecResult("webp", torch.zeros(2, 3, 8, 8), [64, 128])
    below.counts = [count_scene([A], [wrong]), count_scene([A], [wrong])]
    below.psnr, below.ms_ssim = [20.0, 21.0], [0.4, 0.4]
    above = CodecResult("webp", torch.ones(2, 3, 8, 8), [192, 256])
    above.counts = [count_scene([A], [A]), count_scene([A], [A])]
    above.psnr, above.ms_ssim = [30.0, 31.0], [0.8, 0.8]
    r = per_image_interpolated(below, above, [96, 64])
    assert r.bits == [pytest.approx(96.0), pytest.approx(128.0)]
    assert r.psnr == [pytest.approx(22.5), pytest.approx(21.0)]
    assert r.counts[0].exact == pytest.approx(0.25) and r.counts[1].exact == 0
    assert torch.equal(r.images[0], below.images[0])  # the nearer side's picture
    assert "1 of 2 images out of the codec's range" in r.note
    s = summarize(r, pixels=64, bootstrap=20, seed=0)
    assert s["recall"] == pytest.approx(0.25 / 2)
    assert s["bpp"] == pytest.approx((96 + 128) / 2 / 64)
