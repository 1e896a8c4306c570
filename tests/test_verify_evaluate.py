"""semcom verify on semcom evaluate result sets: per-image rows written beside results.json,
a seeded sample of them re-run through the evaluation's code and compared field by field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from semcom.cli import main
from tests.conftest import run_cli

#: A cheap evaluation: WebP as the reference, two other conventional codecs matched to it.
CHEAP = ["--reference", "webp", "--codec", "webp", "--codec", "jpeg", "--codec", "jpeg2000"]


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory) -> Path:
    """3 ShapesWorld test scenes evaluated with cheap codecs into a folder."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("evaluate") / "eval"
    assert main(["evaluate", *CHEAP, "--n", "3", "--quiet", "--out", str(out)]) == 0
    return out


def _copy(folder: Path, to: Path) -> Path:
    shutil.copytree(folder, to)
    return to


def test_evaluate_writes_a_row_per_codec_and_image_that_pools_to_its_figures(evaluation):
    report = json.loads((evaluation / "results.json").read_text())
    rows = pd.read_parquet(evaluation / report["image_rows"])
    assert list(zip(rows["codec"], rows["image"], strict=True)) == [
        (c, i) for c in ("webp", "jpeg", "jpeg2000") for i in range(3)
    ]
    for summary in report["results"]:
        mine = rows[rows["codec"] == summary["codec"]]
        assert mine["bpp"].mean() == pytest.approx(summary["bpp"])
        assert mine["psnr"].mean() == pytest.approx(summary["psnr"])
        assert mine["ms_ssim"].mean() == pytest.approx(summary["ms_ssim"])
        exact, true = mine["exact"].sum(), mine["objects_true"].sum()
        assert exact / true == pytest.approx(summary["recall"])


def test_verify_reruns_a_sample_of_an_evaluation_and_finds_it_equal(evaluation, capsys):
    code, out, err = run_cli(["verify", str(evaluation), "--points", "4"], capsys)
    assert code == 0, out + err
    assert out.startswith("4 points re-run") and "psnr" in out and "objects_read" in out
    assert "verified: every sampled point gives the stored results" in out
    assert "codec 1/" in err  # progress lines name the codecs re-run


def test_verify_fails_naming_the_field_of_an_edited_row(evaluation, tmp_path, capsys):
    copy = _copy(evaluation, tmp_path / "eval")
    rows = pd.read_parquet(copy / "images.parquet")
    at = rows.index[(rows["codec"] == "jpeg") & (rows["image"] == 1)][0]
    rows.loc[at, "objects_read"] += 1  # one semantic count edited
    rows.to_parquet(copy / "images.parquet", index=False)
    code, out, _ = run_cli(["verify", str(copy), "--points", "9", "--quiet"], capsys)
    assert code == 1 and "NOT verified" in out
    assert "objects_read at codec=jpeg, image=1: stored" in out


def test_interpolated_codecs_keep_both_sides_and_verify(tmp_path, capsys):
    out = tmp_path / "eval"
    args = ["evaluate", *CHEAP[:6], "--n", "2", "--match", "interpolate", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    rows = pd.read_parquet(out / "images.parquet")
    jpeg = rows[rows["codec"] == "jpeg"]
    assert sorted(jpeg["side"]) == ["above", "above", "below", "below"]
    assert (rows.loc[rows["codec"] == "webp", "side"] == "").all()
    code, text, err = run_cli(["verify", str(out), "--points", "6", "--quiet"], capsys)
    assert code == 0, text + err


def test_an_older_results_json_without_rows_is_one_sentence(evaluation, tmp_path, capsys):
    copy = _copy(evaluation, tmp_path / "eval")
    report = json.loads((copy / "results.json").read_text())
    del report["image_rows"]
    (copy / "results.json").write_text(json.dumps(report))
    (copy / "images.parquet").unlink()
    code, _, err = run_cli(["verify", str(copy)], capsys)
    assert code == 2 and "made by an older semcom" in err
    command = "semcom evaluate --n 3 --reference webp --codec webp --codec jpeg --codec jpeg2000"
    assert f"re-run `{command} --out {copy}` to get them" in err
    assert err.count("\n") == 1


def test_a_malformed_evaluation_is_one_sentence(evaluation, tmp_path, capsys):
    copy = _copy(evaluation, tmp_path / "eval")
    (copy / "images.parquet").unlink()
    code, _, err = run_cli(["verify", str(copy)], capsys)
    assert code == 2 and "images.parquet, which are not in" in err
    (copy / "images.parquet").write_text("not parquet")
    code, _, err = run_cli(["verify", str(copy)], capsys)
    assert code == 2 and "cannot be read as per-image rows" in err
    (copy / "results.json").write_text("{")
    code, _, err = run_cli(["verify", str(copy)], capsys)
    assert code == 2 and "cannot be read as semcom evaluate's results" in err
    (copy / "results.json").write_text(json.dumps({"config": {"n": 3}}))
    code, _, err = run_cli(["verify", str(copy)], capsys)
    assert code == 2 and "holds no 'config' and 'results'" in err
    code, _, err = run_cli(["verify", str(evaluation), "--config", "x.yaml"], capsys)
    assert code == 2 and "leave --config out" in err


@pytest.mark.slow
def test_verify_reruns_mtgc_and_an_ablation_on_the_shipped_weights(tmp_path, capsys):
    """MTGC-tiny (the shipped weights) at the README's settings (--steps 10), one of its
    ablations and JPEG matched to it, on 2 test scenes: every row, stream bits included,
    re-runs to what was stored (each image alone, the reference built once)."""
    out = tmp_path / "eval"
    codecs = ["--codec", "mtgc", "--codec", "mtgc-caption-hci", "--codec", "jpeg"]
    assert (
        main(["evaluate", "--n", "2", "--steps", "10", *codecs, "--quiet", "--out", str(out)]) == 0
    )
    code, text, err = run_cli(["verify", str(out), "--points", "6", "--quiet"], capsys)
    assert code == 0, text + err
    assert "caption_bits" in text and "hci_bits" in text and "spw_bits" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["evaluate-tiny", "evaluate-tiny-complex"])
def test_the_shipped_evaluation_of_the_readme_still_comes_out_of_the_code(name, capsys):
    """docs/results/evaluate-tiny and evaluate-tiny-complex (the README's evaluate
    tables): a seeded sample of their rows re-runs to what is shipped, so CI on a fresh
    machine checks those numbers."""
    folder = Path(__file__).parents[1] / "docs" / "results" / name
    code, text, err = run_cli(["verify", str(folder), "--points", "2", "--quiet"], capsys)
    assert code == 0, text + err
    assert "psnr" in text
