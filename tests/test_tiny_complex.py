"""The tiny-complex preset: ShapesWorld-Complex read cell by cell (semcom.mtgc.cells), its
caption model, the sketch that places each cell's object by its offset, the codec's
round trip, warm starts and the training parts on the new world."""

from __future__ import annotations

import copy
import json
import math
import re
import warnings
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import pytest
import torch

from semcom.data import complex as cx
from semcom.data.complex import ComplexObject, ShapesWorldComplex, concise_caption
from semcom.errors import SemcomError
from semcom.metrics.semantic import probe_loss, probe_targets
from semcom.mtgc.cells import cell_layout
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.presets.tiny import build_tiny
from semcom.mtgc.sketch import SceneSketch
from semcom.mtgc.streams import StreamError
from semcom.mtgc.streams.caption import CaptionCoder, caption_model
from tests._mtgc import single_thread, small_codec, small_config  # noqa: F401 (fixture)

LAYOUT = cell_layout("shapes-complex")


def _object(
    shape=0, colour=0, size=1, texture=0, cx_=40.0, cy_=40.0, radius=12.0, visible=1.0, angle=0.0
):
    return ComplexObject(shape, colour, size, texture, cx_, cy_, radius, angle, visible=visible)


def _logits(targets: torch.Tensor, layout=LAYOUT) -> torch.Tensor:
    """Per-cell logits that read exactly ``targets`` [B,G²,1+groups]."""
    parts = [torch.where(targets[..., :1] == 1, 10.0, -10.0)]
    for k, size in enumerate(layout.groups, start=1):
        parts.append(10 * torch.nn.functional.one_hot(targets[..., k].clamp(min=0), size).float())
    return torch.cat(parts, dim=-1)


def test_a_cell_keeps_its_most_visible_object_and_its_offset_bins():
    # cells are 32 px: (40, 40) and (60, 50) share cell 5 (row 1, col 1); (100, 10) is cell 3
    hidden = _object(shape=1, cx_=40.0, cy_=40.0, radius=10.0, visible=0.7)
    # a triangle (with its stripes) repeats every 360°: 250° → rotation bin 11 of 16;
    # a diamond every 180°: 100° → bin 8
    shown = _object(shape=2, colour=3, size=2, texture=1, cx_=60.0, cy_=50.0, radius=20.0,
                    angle=math.radians(250))  # fmt: skip
    alone = _object(shape=4, colour=9, size=0, cx_=100.0, cy_=10.0, radius=9.0,
                    angle=math.radians(100))  # fmt: skip
    t = LAYOUT.targets([[hidden, shown, alone]])
    assert t.shape == (1, 16, 8)
    # (60, 50): 28 px right of the cell's left edge → column bin 3, 18 px down → row bin 2
    assert t[0, 5].tolist() == [1, 2, 3, 2, 1, 2, 3, 11]
    assert t[0, 3].tolist() == [1, 4, 9, 0, 0, 1, 0, 8]
    assert int(t[0, :, 0].sum()) == 2 and (t[0, 0, 1:] == -100).all()


def test_the_shapes_layout_is_the_probes_loss_and_targets():
    from semcom.data.shapes import ShapesWorld

    data = ShapesWorld("val", n=4)
    scenes = [data[i].objects for i in range(4)]
    layout = cell_layout("shapes")
    targets = layout.targets(scenes)
    assert torch.equal(targets, probe_targets(scenes))
    logits = torch.randn(4, 9, layout.per_cell, generator=torch.Generator().manual_seed(0))
    assert torch.equal(layout.loss(logits, targets), probe_loss(logits, targets))
    with pytest.raises(SemcomError, match="no cell layout"):
        cell_layout("natural")


def test_cell_scores_count_a_cell_right_only_with_every_attribute():
    data = ShapesWorldComplex("val", n=8)
    targets = LAYOUT.targets([data[i].objects for i in range(8)])
    exact = LAYOUT.scores(_logits(targets), targets)
    assert exact["f1"] == 1.0 and exact["count_accuracy"] == 1.0
    wrong = targets.clone()
    cell = int(torch.nonzero(targets[0, :, 0])[0])
    wrong[0, cell, 2] = (targets[0, cell, 2] + 1) % 10  # another colour
    wrong[0, cell, 6] = (targets[0, cell, 6] + 1) % 4  # and another column bin
    read = LAYOUT.scores(_logits(wrong), targets)
    occupied = int(targets[..., 0].sum())
    assert read["f1"] == pytest.approx((occupied - 1) / occupied)
    assert read["colour_accuracy"] == pytest.approx((occupied - 1) / occupied)
    assert read["shape_accuracy"] == 1.0
    assert read["column_offset_accuracy"] == pytest.approx((occupied - 1) / occupied)


def test_captions_of_read_cells_are_concise_captions():
    data = ShapesWorldComplex("val", n=20)
    scenes = [data[i].objects for i in range(20)]
    captions = LAYOUT.captions(_logits(LAYOUT.targets(scenes)))
    for scene, text in zip(scenes, captions, strict=True):
        held = int(LAYOUT.targets([scene])[0, :, 0].sum())
        assert text.startswith(concise_caption(scene[:held]).split(",")[0])  # the count
        assert len(text.replace(",", " ").split()) <= 12
        for phrase in text.split(", ")[1:]:
            words = phrase.split()
            assert words[-1] in ("left", "right", "top", "bottom", "centre")
            assert any(w in cx.SHAPES for w in words) and any(w in cx.COLOURS for w in words)
    empty = torch.full((1, 16, LAYOUT.per_cell), -10.0)
    assert LAYOUT.captions(empty) == ["no shapes"]


def test_the_complex_caption_model_codes_the_worlds_captions_in_a_few_bytes():
    data = ShapesWorldComplex("val", n=40)
    captions = [data[i].caption for i in range(40)]
    ours, theirs = CaptionCoder(caption_model("shapes-complex")), CaptionCoder()
    assert ours.fingerprint != theirs.fingerprint
    bits = [8 * len(ours.encode(c)) for c in captions]
    assert all(ours.decode(ours.encode(c)) == c for c in captions)
    assert max(bits) <= 40 and sum(bits) < sum(8 * len(theirs.encode(c)) for c in captions) / 3
    # any text still round-trips (escaped), and the vocabulary holds each word once
    assert ours.decode(ours.encode("A zebra, 42!")) == "A zebra, 42!"
    vocab = caption_model("shapes-complex").vocab
    assert len(vocab) == len(set(vocab))
    with pytest.raises(StreamError, match="unknown caption model"):
        caption_model("klingon")


def test_the_sketch_places_a_cell_by_its_offset_bins():
    sk = SceneSketch(
        grid=4, groups=LAYOUT.groups, window=80, canvas=128, rotation_periods=LAYOUT.periods
    )
    with torch.no_grad():
        yy, xx = torch.meshgrid(torch.arange(80.0), torch.arange(80.0), indexing="ij")
        disc = ((yy - 39.5) ** 2 + (xx - 39.5) ** 2 < 8**2).float()
        sk.templates.copy_((disc * 2 - 1).expand_as(sk.templates) / 3)  # σ(±10) after the gain

    def centre(row_bin: int, col_bin: int) -> tuple[float, float]:
        t = torch.full((1, 16, 8), -100, dtype=torch.int64)
        t[..., 0] = 0
        t[0, 5] = torch.tensor([1, 0, 0, 1, 0, row_bin, col_bin, 0])  # cell (1, 1)
        _, cover = sk.paint(sk.target_beliefs(t))
        w = cover[0, 0]
        total = w.sum()
        ys, xs = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
        return float((w * ys).sum() / total), float((w * xs).sum() / total)

    # bin centres lie at (b + 0.5) · 8 px into the cell, which starts at 32 px
    for row_bin, col_bin in ((0, 0), (3, 1), (2, 3)):
        y, x = centre(row_bin, col_bin)
        assert y == pytest.approx(32 + 8 * row_bin + 4, abs=0.6)
        assert x == pytest.approx(32 + 8 * col_bin + 4, abs=0.6)


def test_a_cells_exact_placement_is_its_kept_objects_centre_angle_and_radius():
    hidden = _object(shape=1, cx_=40.0, cy_=40.0, radius=10.0, visible=0.7)
    shown = _object(shape=2, colour=3, size=2, texture=1, cx_=60.0, cy_=50.0, radius=20.0,
                    angle=math.radians(250))  # fmt: skip
    square = _object(shape=1, size=0, cx_=100.0, cy_=10.0, radius=9.0, angle=math.radians(200))
    p = LAYOUT.placements([[hidden, shown, square]])
    assert p.shape == (1, 16, 4) and p.dtype == torch.float32
    # cell 5 keeps the triangle: its bins' centre is (32 + 2·8 + 4, 32 + 3·8 + 4) = (52, 60)
    lo, hi = cx.SIZE_RADIUS["large"]
    assert p[0, 5].tolist() == pytest.approx([-2.0, 0.0, math.radians(250), 20 / ((lo + hi) / 2)])
    # a square repeats every half turn: 200° is 20° within its period; bins' centre (12, 100)
    lo, hi = cx.SIZE_RADIUS["small"]
    assert p[0, 3].tolist() == pytest.approx([-2.0, 0.0, math.radians(20), 9 / ((lo + hi) / 2)])
    empty = [k for k in range(16) if k not in (3, 5)]
    assert p[0, empty].tolist() == [[0.0, 0.0, 0.0, 1.0]] * len(empty)
    with pytest.raises(SemcomError, match="no placement"):
        cell_layout("shapes").placements([[]])


def _disc_sketch(**kw) -> SceneSketch:
    sk = SceneSketch(
        grid=4, groups=LAYOUT.groups, window=80, canvas=128, rotation_periods=LAYOUT.periods, **kw
    )
    with torch.no_grad():
        yy, xx = torch.meshgrid(torch.arange(80.0), torch.arange(80.0), indexing="ij")
        disc = ((yy - 39.5) ** 2 + (xx - 39.5) ** 2 < 8**2).float()
        sk.templates.copy_((disc * 2 - 1).expand_as(sk.templates) / 3)
    return sk


def test_an_exact_placement_moves_turns_and_scales_a_cells_window():
    sk = _disc_sketch()
    t = torch.full((1, 16, 8), -100, dtype=torch.int64)
    t[..., 0] = 0
    t[0, 5] = torch.tensor([1, 1, 0, 1, 0, 1, 2, 3])  # a square in cell (1, 1), rotation bin 3
    beliefs = sk.target_beliefs(t)
    _, plain = sk.paint(beliefs)
    # the bins' own placement (no shift, the rotation bin's centre angle, the middle radius)
    # paints what the beliefs alone paint
    same = torch.zeros(1, 16, 4)
    same[..., 3] = 1.0
    same[0, 5, 2] = (3 + 0.5) / 16 * math.pi
    torch.testing.assert_close(sk.paint(beliefs, placement=same)[1], plain, atol=1e-5, rtol=0)
    moved = same.clone()
    moved[0, 5, :2] = torch.tensor([3.0, -2.5])
    moved[0, 5, 3] = 1.25
    _, cover = sk.paint(beliefs, placement=moved)
    ys, xs = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")

    def centroid(c):
        w = c[0, 0]
        return float((w * ys).sum() / w.sum()), float((w * xs).sum() / w.sum()), float(w.sum())

    (y0, x0, a0), (y1, x1, a1) = centroid(plain), centroid(cover)
    assert (y1 - y0, x1 - x0) == (pytest.approx(3.0, abs=0.3), pytest.approx(-2.5, abs=0.3))
    assert a1 / a0 == pytest.approx(1.25**2, rel=0.08)
    with pytest.raises(ValueError, match="seven placing groups"):
        SceneSketch().paint(SceneSketch().target_beliefs(torch.zeros(1, 9, 4).long()), None,
                            "guide", torch.zeros(1, 9, 4))  # fmt: skip


def test_the_overlay_painter_starts_as_the_guide_painters_copy_and_is_what_the_receiver_lays(
    tmp_path: Path,
):
    from semcom.mtgc.config import DecodedStreams
    from semcom.mtgc.receiver import overlay_sketch

    sk = _disc_sketch()
    assert sk.receiver_painter == "guide"
    with pytest.raises(ValueError, match="no 'overlay' painter"):
        sk.painter_parameters("overlay")
    sk.add_overlay_painter()
    assert sk.config.overlay_painter and sk.receiver_painter == "overlay"
    for guide, overlay in zip(
        sk.painter_parameters(), sk.painter_parameters("overlay"), strict=True
    ):
        assert torch.equal(guide, overlay) and guide is not overlay
    with torch.no_grad():
        sk.overlay_fills.fill_(0.2)  # σ(6): near-white objects, the guide's stay dark
    sk.save_pretrained(tmp_path / "sketch")
    again = SceneSketch.from_pretrained(tmp_path / "sketch")
    assert torch.equal(again.overlay_fills, sk.overlay_fills)
    with pytest.raises(ValueError, match="seven groups"):
        SceneSketch().add_overlay_painter()
    # the receiver lays the overlay painter's sketch over its images
    codec = small_complex()
    spw = torch.zeros(codec.tascm.config.num_queries, dtype=torch.int64)
    images = torch.full((1, 3, 128, 128), 0.5)
    plain = overlay_sketch(codec, [DecodedStreams(spw=spw)], images)
    original = codec.sketch
    again = copy.deepcopy(original)
    again.add_overlay_painter()
    with torch.no_grad():
        again.spw_reader.mlp[-1].bias[0] = 20.0  # every cell present
        again.overlay_fills.fill_(0.2)
    try:
        codec.sketch = again
        laid = overlay_sketch(codec, [DecodedStreams(spw=spw)], images)
        with torch.no_grad():
            read = again.read_spw(codec.tascm.embed(spw[None]))
            yes, no = torch.tensor([True]), torch.tensor([False])
            drawn = again.draw(read, yes, None, no, images, "overlay")
            guide = again.draw(read, yes, None, no, images)
        torch.testing.assert_close(laid, again.overlay(*drawn, images))
        assert not torch.allclose(laid, again.overlay(*guide, images))
    finally:
        codec.sketch = original
    assert plain.shape == laid.shape and not torch.equal(laid, images)


def test_the_sketch_turns_and_patterns_a_cell_as_the_world_draws_it():
    from semcom.data.complex_shapes import PATTERN_PERIOD, pattern_mask, shape_mask

    sk = SceneSketch(
        grid=4, groups=LAYOUT.groups, window=80, canvas=128, rotation_periods=LAYOUT.periods
    )
    square, large, stripes, radius = 1, 2, 1, 20.0
    with torch.no_grad():
        # the square's large template and the stripes pattern drawn as the world draws them,
        # upright at the window's centre (σ(±10) after the gain)
        mask = torch.from_numpy(shape_mask("square", 40.0, 40.0, radius, 0.0, 80)).float()
        sk.templates[square * 3 + large] = (mask * 2 - 1) / 3
        lines = torch.from_numpy(pattern_mask("stripes", 40.0, 40.0, 0.0, 80)).float()
        sk.patterns[stripes] = (lines * 2 - 1) / 3
        sk.fills.fill_(10 / 30)  # white
        sk.pattern_fills.fill_(-10 / 30)  # black
    for rot_bin in (0, 5, 11):
        t = torch.full((1, 16, 8), -100, dtype=torch.int64)
        t[..., 0] = 0
        t[0, 5] = torch.tensor([1, square, 0, large, stripes, 2, 1, rot_bin])  # cell (1, 1)
        rgb, cover = sk.paint(sk.target_beliefs(t))
        # the world's own square there: centre (32 + 12, 32 + 20), turned by the bin's centre
        angle = (rot_bin + 0.5) / 16 * math.pi  # a square with stripes repeats every 180°
        want = torch.from_numpy(shape_mask("square", 44.0, 52.0, radius, angle, 128))
        drawn = cover[0, 0] > 0.5
        iou = float((drawn & want).sum() / (drawn | want).sum())
        assert iou > 0.85, (rot_bin, iou)  # resampled corners cost a little
        # inside it, the dark stripes fall where the world's stripes fall
        dark = torch.from_numpy(pattern_mask("stripes", 44.0, 52.0, angle, 128))
        inner = want & torch.from_numpy(
            shape_mask("square", 44.0, 52.0, radius - PATTERN_PERIOD, angle, 128)
        )
        shade = rgb[0].mean(0)[inner]
        agree = float(((shade < 0.5) == dark[inner]).float().mean())
        assert agree > 0.85, (rot_bin, agree)


def _complex_config(seed: int = 0):
    return replace(
        small_config(seed, sketch=True),
        preset="tiny-complex",
        world="shapes-complex",
        sketch_grid=4,
        sketch_window=80,
        num_queries=16,
        max_tokens=32,
    )


@lru_cache(maxsize=1)
def small_complex() -> MTGC:
    """A small random tiny-complex codec (treat as read-only)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_tiny(_complex_config())


def test_a_tiny_complex_codec_sends_its_world_and_reads_back_its_caption(tmp_path: Path):
    codec = small_complex()
    data = ShapesWorldComplex("val", n=2)
    images = torch.stack([data[0].image, data[1].image])
    caption = codec.captioner.caption(images[:1])[0]
    assert re.match(r"^(no|one|two|three|four|five|six|seven|eight|nine|ten|\d+) shape", caption)
    (bs,) = codec.encode(images[:1], target_bpp=0.05)
    assert bs.preset == "tiny-complex"
    assert CaptionCoder(caption_model("shapes-complex")).decode(bs.streams["caption"]) == caption
    assert len(bs.streams["spw"]) == codec.spw.payload_bytes
    rec = codec.decode([bs], steps=1)
    assert rec.shape == (1, 3, 128, 128)
    codec.save_pretrained(tmp_path / "m")
    again = MTGC.from_pretrained(tmp_path / "m")
    assert (again.config.caption_lm, again.captioner.layout.world) == ("shapes-complex",) * 2
    assert torch.equal(again.decode([bs], steps=1), rec)
    # the registered codec takes the preset its weights name
    from semcom.codecs.mtgc import MTGCCodec

    assert MTGCCodec.from_options({}, weights=tmp_path / "m").preset == "tiny-complex"
    assert MTGCCodec.from_options({"preset": "tiny"}, weights=tmp_path / "m").preset == "tiny"
    # a config naming no known caption model is one sentence
    cfg = json.loads((tmp_path / "m" / "mtgc.json").read_text())
    (tmp_path / "m" / "mtgc.json").write_text(json.dumps({**cfg, "caption_lm": "klingon"}))
    with pytest.raises(SemcomError, match="unknown caption_lm 'klingon'"):
        MTGC.from_pretrained(tmp_path / "m")


def test_a_sketch_grid_other_than_the_worlds_is_refused():
    with pytest.raises(ValueError, match="sketch_grid"):
        build_tiny(replace(_complex_config(), sketch_grid=3))


def test_a_warm_start_copies_what_fits_and_the_shared_words():
    from semcom.mtgc.train.warm import warm_start

    source = small_codec(1, sketch=True)
    target = build_tiny(_complex_config())
    report = warm_start(target, source)
    assert report["unet_share"] == 1.0 and report["controlnet_share"] == 1.0
    assert report["vae_share"] == 1.0 and 0 < report["captioner_share"] < 1
    assert all(
        torch.equal(a, b)
        for a, b in zip(target.mgdd.unet.parameters(), source.mgdd.unet.parameters(), strict=True)
    )
    words_t, words_s = target.text_encoder.tokenizer.vocab, source.text_encoder.tokenizer.vocab
    shared = [w for w in words_t if w in words_s]
    assert report["words"] == len(shared) > 10
    emb_t = target.text_encoder.model.get_input_embeddings().weight
    emb_s = source.text_encoder.model.get_input_embeddings().weight
    # the last index of a word in the source (its vocabulary may list a word twice)
    index = {w: i for i, w in enumerate(words_s)}
    assert torch.equal(emb_t[words_t.index("blue")], emb_s[index["blue"]])


def test_the_training_pool_of_the_complex_world_holds_its_cells_and_captions():
    from semcom.mtgc.train.data import render_pool, training_world

    pool = render_pool(4, 0, "shapes-complex")
    data = ShapesWorldComplex("train", n=4, seed=0)
    assert pool.targets.shape == (4, 16, 8) and pool.world == "shapes-complex"
    assert pool.captions == pool.canonical == [data[i].caption for i in range(4)]
    assert torch.equal(pool.masks[:, 0], torch.stack([data[i].labels >= 0 for i in range(4)]))
    assert training_world(small_complex()) == "shapes-complex"
    assert training_world(small_codec(0, sketch=True)) == "shapes"
    with pytest.raises(SemcomError, match="no training scenes"):
        render_pool(2, 0, "natural")


@pytest.mark.slow
def test_the_parts_that_read_cells_train_a_step_on_the_complex_world(tmp_path: Path):
    from semcom.mtgc.train import TrainConfig, train_part

    out = tmp_path / "model"
    build_tiny(_complex_config()).save_pretrained(out)
    parts = ("captioner", "spw", "sketch", "overlay")
    values = {f"{p}_steps": 1 for p in parts} | {f"{p}_batch": 2 for p in parts}
    cfg = TrainConfig().updated(
        values | {"train_scenes": 6, "report_scenes": 4, "log_every": 1, "warmup": 1}
    )
    reports = {p: train_part(p, cfg, out, tmp_path / "work", log=lambda m: None) for p in parts}
    assert 0 <= reports["captioner"]["val_caption_exact"] <= 1
    assert {"val_task_f1", "val_task_texture_accuracy"} <= set(reports["spw"])
    assert {"val_caption_reader_f1", "val_sketch_truth_f1"} <= set(reports["sketch"])
    assert {"val_sketch_overlay_truth_f1", "val_sketch_overlay_spw_f1"} <= set(reports["overlay"])
    record = json.loads((out / "training.json").read_text())["parts"]
    assert set(parts) <= set(record)
    # the overlay painter started as the guide painter's copy and trained apart from it
    sketch = MTGC.from_pretrained(out).sketch
    assert sketch.config.overlay_painter and sketch.receiver_painter == "overlay"
    assert not torch.equal(sketch.overlay_templates, sketch.templates)
    # the SPW entropy model of the 16 cells' indices (this small TASCM's: VQ, one digit)
    report = train_part("spw_code", cfg, out, tmp_path / "work", log=lambda m: None)
    codec = MTGC.from_pretrained(out)
    assert report["spw_decodes_exactly"] == 1.0 and codec.spw.k == 16
    assert report["spw_bits_raw"] == codec.spw.k * codec.spw.bits
    model = codec.spw.model
    assert model is not None and model.codebook_size == codec.tascm.config.codebook_size
    image = ShapesWorldComplex("val", n=1)[0].image[None]
    (bs,) = codec.encode(image, captions=["three shapes"])
    assert torch.equal(codec.spw.decode(bs.streams["spw"]), codec.spw_indices(image)[0])


@pytest.mark.slow
def test_semcom_train_starts_tiny_complex_from_the_shipped_tiny_weights(tmp_path: Path):
    from semcom.cli import main

    config = tmp_path / "c.yaml"
    config.write_text("train_scenes: 4\nreport_scenes: 4\ncaptioner_batch: 2\nwarmup: 1\n")
    out = tmp_path / "model"
    args = ["train", "--dataset", "shapes-complex", "--stage", "1", "--part", "captioner"]
    args += ["--steps", "1", "--config", str(config), "--out", str(out)]
    assert main([*args, "--work", str(tmp_path / "work")]) == 0
    record = json.loads((out / "training.json").read_text())
    assert record["init"]["from"] == "tiny" and record["init"]["unet_share"] == 1.0
    assert record["config"]["init_from"] == "tiny" and record["config"]["train_scenes"] == 4
    assert record["config"]["decoder_minutes"] == 35.0  # the tiny-complex recipe's
    assert json.loads((out / "mtgc.json").read_text())["preset"] == "tiny-complex"


def test_evaluate_on_the_complex_world_takes_the_preset_trained_for_it():
    from experiments.evaluation.config import EvalConfig

    assert EvalConfig(dataset="shapes-complex").reference_options()["preset"] == "tiny-complex"
    assert "preset" not in EvalConfig().reference_options()
    own = EvalConfig(dataset="shapes-complex", options={"preset": "tiny"})
    assert own.reference_options()["preset"] == "tiny"
    assert "preset" not in EvalConfig(dataset="shapes-complex", weights="w").reference_options()
    assert (
        "preset" not in EvalConfig(dataset="shapes-complex", reference="avif").reference_options()
    )


def test_train_names_the_world_or_the_preset(tmp_path: Path, capsys):
    from semcom.cli import main

    out = ["--out", str(tmp_path / "m"), "--work", str(tmp_path / "w")]
    assert main(["train", "--dataset", "natural", *out]) == 2
    assert "--dataset must be shapes or shapes-complex" in capsys.readouterr().err
    assert main(["train", "--dataset", "shapes-complex", "--preset", "sd21", *out]) == 2
    assert "trains the tiny-complex preset, not sd21" in capsys.readouterr().err
    assert main(["train", "--dataset", "shapes-complex", "--stage", "4", *out]) == 2
    assert not (tmp_path / "m").exists()


def test_semcom_train_measures_the_value_table_on_its_worlds_scenes(tmp_path: Path):
    from semcom.mtgc.train_command import value_args

    (tmp_path / "mtgc.json").write_text(
        json.dumps({"preset": "tiny-complex", "world": "shapes-complex"})
    )
    args = value_args(tmp_path, 2)
    assert args[args.index("--dataset") + 1] == "shapes-complex"
    assert args[args.index("--values") + 1] == str(tmp_path / "values.json")
    (tmp_path / "mtgc.json").write_text(json.dumps({"preset": "tiny"}))
    assert value_args(tmp_path, 2)[value_args(tmp_path, 2).index("--dataset") + 1] == "shapes"
