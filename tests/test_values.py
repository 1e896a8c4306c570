"""Value tables (semcom.values, experiments.values): measured, saved, checked, found."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semcom.codecs.identity import folder_identity
from semcom.errors import SemcomError
from semcom.values import Curve, ValueTable, numeric_fields, per_image_f1, values_for


def test_per_image_f1_and_fields():
    fig = {"exact": 2, "objects_true": 3, "objects_read": 3, "psnr": 20.0, "figures": None}
    assert per_image_f1(fig) == pytest.approx(2 / 3)
    assert numeric_fields(fig)["f1"] == pytest.approx(2 / 3)
    assert per_image_f1({"exact": 0, "objects_true": 0, "objects_read": 0}) == 1.0
    assert per_image_f1({"psnr": 1.0}) is None


def test_a_curve_bins_and_interpolates_in_log_bits():
    bits = [100.0] * 12 + [400.0] * 12
    figs = [{"psnr": 10.0}] * 12 + [{"psnr": 20.0}] * 12
    c = Curve.from_samples(bits, figs)
    assert c.bits == [100.0, 400.0]
    assert float(c.at("psnr", 200.0)) == pytest.approx(15.0)  # halfway in log2
    assert float(c.at("psnr", 50.0)) == 10.0 and float(c.at("psnr", 9999.0)) == 20.0
    one = Curve.from_samples([0.0, 0.0], [{"f1": 1.0}, {"f1": 0.5}])
    assert one.bits == [0.0] and float(one.at("f1", 123)) == 0.75


def test_a_table_round_trips_and_refuses_other_weights(tmp_path):
    table = ValueTable(
        "jpeg", "abc", ("image",), ("image",), {"": Curve([0.0], {"f1": [0.1]}, [3])}
    )
    path = tmp_path / "t.json"
    table.save(path)
    again = ValueTable.load(path)
    assert again.to_dict() == table.to_dict()

    class Codec:
        name, identity, values_path = "jpeg", "xyz", path

    with pytest.raises(SemcomError, match="other weights"):
        values_for(Codec())
    Codec.identity = "abc"
    assert values_for(Codec()).codec == "jpeg"
    Codec.values_path = tmp_path / "missing.json"
    with pytest.raises(SemcomError, match="semcom evaluate --split val"):
        values_for(Codec())
    path.write_text("{not json")
    Codec.values_path = path
    with pytest.raises(SemcomError, match="cannot be read"):
        values_for(Codec())


def test_a_value_table_is_not_part_of_the_weights_identity(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    before = folder_identity(tmp_path)
    (tmp_path / "values.json").write_text(json.dumps({"x": 1}))
    assert folder_identity(tmp_path) == before


@pytest.mark.parametrize("preset", ["tiny", "tiny-complex"])
def test_each_presets_shipped_table_was_measured_with_its_shipped_weights(preset):
    from semcom.mtgc.presets import tiny, tiny_complex

    weights = {"tiny": tiny.WEIGHTS_DIR, "tiny-complex": tiny_complex.WEIGHTS_DIR}[preset]
    table = ValueTable.load(weights / "values.json")
    assert table.codec == "mtgc" and table.identity == folder_identity(weights)
    assert table.dataset == {"tiny": "shapes", "tiny-complex": "shapes-complex"}[preset]


def test_measured_on_scenes_every_subset_and_option(tmp_path):
    from experiments.values import measure_values, spread_options
    from semcom.data.shapes import ShapesWorld
    from semcom.registry import make_codec

    assert spread_options([10, 20, 20, 30, 40], 3) == [0, 3, 4]  # sizes 10, 30, 40
    assert spread_options([10, 20], 5) == [0, 1]
    data = ShapesWorld("val", 2, 128, 0)
    images = np.stack([data[i].image.numpy() for i in range(2)])
    import torch

    table = measure_values(
        make_codec("jpeg", {}),
        torch.from_numpy(images),
        [data[i].objects for i in range(2)],
        options=3,
    )
    assert set(table.curves) == {"", "image"}
    assert table.variable == ("image",)
    assert sum(table.curves["image"].samples) == 6  # 2 scenes x 3 options
    assert {"f1", "psnr", "ms_ssim"} <= set(table.fields)
    lost, got = table.value([], "psnr"), table.value(["image"], "psnr", 4000)
    assert float(got) > float(lost)


def test_a_table_states_its_world_and_plans_only_that_worlds_scenes(tmp_path):
    """A table records the data set of its validation scenes (one older than the field is
    ShapesWorld's); values_for refuses it for another data set's scenes, and a
    conventional codec keeps one table per world."""
    curves = {"": Curve([0.0], {"f1": [0.1]}, [3])}
    old = ValueTable("jpeg", None, ("image",), ("image",), curves)
    assert old.dataset == "shapes"
    complex_ = ValueTable(
        "jpeg", None, ("image",), ("image",), curves, {"dataset": "shapes-complex"}
    )
    path = tmp_path / "t.json"
    complex_.save(path)
    assert ValueTable.load(path).dataset == "shapes-complex"

    class Codec:
        name, identity, values_path = "jpeg", None, path

    assert values_for(Codec(), "shapes-complex").dataset == "shapes-complex"
    assert values_for(Codec()).dataset == "shapes-complex"  # no data set named: the codec's
    with pytest.raises(SemcomError, match="measured on shapes-complex scenes, not on shapes"):
        values_for(Codec(), "shapes")
    from semcom.registry import make_codec

    avif = make_codec("avif", {})
    assert avif.values_path_for("shapes") == avif.values_path
    assert avif.values_path_for("shapes-complex").parent.name == "shapes-complex"
    assert values_for(avif, "shapes").dataset == "shapes"  # the shipped ShapesWorld table


def test_semcom_evaluate_values_of_mtgc_takes_the_preset_trained_for_the_world(
    tmp_path, monkeypatch
):
    """Without --weights, MTGC's table on ShapesWorld-Complex is tiny-complex's (it once
    measured tiny, the ShapesWorld model, and stamped tiny's identity on the table)."""
    import experiments.values as values_module
    from semcom.cli import main
    from semcom.codecs.identity import folder_identity
    from semcom.mtgc.presets.tiny_complex import WEIGHTS_DIR

    seen = []

    def measure(codec, images, truths, **kwargs):
        seen.append((codec.preset, codec.identity))
        raise SystemExit(0)  # what was measured is all this test needs

    monkeypatch.setattr(values_module, "measure_values", measure)
    args = ["evaluate", "--split", "val", "--n", "1", "--codec", "mtgc", "--quiet"]
    with pytest.raises(SystemExit):
        main([*args, "--dataset", "shapes-complex", "--values", str(tmp_path / "m.json")])
    assert seen == [("tiny-complex", folder_identity(WEIGHTS_DIR))]


def test_semcom_evaluate_values_measures_a_named_worlds_validation_scenes(tmp_path, capsys):
    from semcom.cli import main

    out = tmp_path / "jpeg.json"
    args = ["evaluate", "--split", "val", "--n", "2", "--codec", "jpeg", "--quiet"]
    assert main([*args, "--dataset", "shapes-complex", "--values", str(out)]) == 0
    table = ValueTable.load(out)
    assert table.dataset == "shapes-complex" and table.meta["scenes"] == 2
    assert "--dataset shapes-complex" in table.meta["command"]
    assert {"f1", "psnr"} <= set(table.fields)
    bad = tmp_path / "bad.json"
    assert main([*args, "--dataset", f"folder:{tmp_path}", "--values", str(bad)]) == 2
    assert "validation scenes of a named world" in capsys.readouterr().err
    test_split = [a if a != "val" else "test" for a in args]
    assert main([*test_split, "--values", str(bad)]) == 2
    assert "validation scenes only" in capsys.readouterr().err
    assert not bad.exists()
