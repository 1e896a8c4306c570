"""``semcom evaluate --dataset folder:PATH``: natural images, no ground truth."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from experiments.evaluation import EvalConfig, evaluate, format_table
from semcom.cli import main
from semcom.data.folder import read_folder
from semcom.errors import SemcomError
from tests._mtgc import single_thread, small_codec  # noqa: F401

SEMANTIC = ("f1", "precision", "recall", "semantic_accuracy", "hallucinations_per_image")


def _smooth(seed: int, h: int = 80, w: int = 96) -> np.ndarray:
    """A smooth RGB picture [h,w,3] uint8 (sinusoids and a gradient)."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    a = np.stack([np.sin(3 * x + seed), np.cos(2 * y + seed * x), x * y + 0.1 * seed], -1)
    return (np.clip(0.5 * a + 0.5, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small_codec(0).save_pretrained(path)
    return path


@pytest.fixture
def no_weights(tmp_path, monkeypatch) -> Path:
    """An empty perceptual weights folder: LPIPS, DISTS, FID and KID have nothing to run."""
    empty = tmp_path / "perceptual"
    empty.mkdir()
    monkeypatch.setenv("SEMCOM_PERCEPTUAL_WEIGHTS", str(empty))
    return empty


def _folder(root: Path, n: int = 3, captions: dict[str, str] | None = None) -> Path:
    folder = root / "images"
    folder.mkdir()
    for i in range(n):
        Image.fromarray(_smooth(i)).save(folder / f"im{i}.png")
    if captions is not None:
        lines = [json.dumps({"file": k, "caption": v}) for k, v in captions.items()]
        (folder / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_folder_images_are_sorted_centre_cropped_and_resized(tmp_path: Path):
    """PNG, JPEG and WebP are read in name order (other files ignored), --n keeps the
    first ones, and a wide picture keeps its centre square."""
    wide = np.zeros((40, 60, 3), dtype=np.uint8)
    wide[:, :10] = (0, 0, 255)
    wide[:, 50:] = (0, 0, 255)
    wide[:, 10:50] = (255, 0, 0)
    Image.fromarray(wide).save(tmp_path / "a.png")
    Image.fromarray(_smooth(1)).save(tmp_path / "c.jpg", quality=95)
    Image.fromarray(_smooth(2)).save(tmp_path / "b.webp", lossless=True)
    (tmp_path / "notes.txt").write_text("not an image")
    every = read_folder(tmp_path, 32)
    assert every.names == ["a.png", "b.webp", "c.jpg"]
    assert every.images.shape == (3, 3, 32, 32) and every.images.dtype == torch.float32
    red = every.images[0]
    assert red[0].min() > 0.95 and red[2].max() < 0.05  # the blue sides were cropped off
    assert every.captions == [None, None, None] and every.captions_file is None
    assert read_folder(tmp_path, 32, n=2).names == ["a.png", "b.webp"]


def test_captions_are_what_the_transmitter_sends(tmp_path: Path, weights: Path, no_weights):
    """A captioned image's caption stream is the user's text; the others the captioner's."""
    from semcom.mtgc.pipeline import MTGC

    caption = "a smooth orange and green gradient"
    folder = _folder(tmp_path, 2, {"im1.png": caption})
    cfg = EvalConfig(
        codecs=("mtgc-caption",),
        dataset=f"folder:{folder}",
        image_size=64,
        n=2,
        batch=2,
        bootstrap=10,
        weights=str(weights),
    )
    _, results, reference = evaluate(cfg)
    model = MTGC.from_pretrained(weights)
    own = model.captions_for(reference[:1])[0]
    sent = [model.caption_coder.encode(c) for c in (own, caption)]
    assert own != caption
    assert results["mtgc-caption"].bits == [8 * len(b) for b in sent]


@pytest.mark.slow
def test_cli_on_a_folder_reports_pixel_figures_at_equal_rate(
    tmp_path: Path, weights: Path, no_weights, capsys
):
    folder = _folder(tmp_path, 3)
    out = tmp_path / "eval"
    args = ["evaluate", "--dataset", f"folder:{folder}", "--image-size", "64", "--quiet"]
    args += ["--target-bpp", "0.4"]
    args += ["--codec", "mtgc", "--codec", "webp", "--codec", "jpeg", "--weights", str(weights)]
    assert main([*args, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by = {r["codec"]: r for r in report["results"]}
    assert report["data"]["images"] == 3 and report["data"]["image_size"] == [64, 64]
    assert report["claim_holds"] is None
    for row in by.values():
        assert not set(SEMANTIC) & set(row) and not set(SEMANTIC) & set(row["ci95"])
        lo, hi = row["ci95"]["psnr"]
        assert lo <= row["psnr"] <= hi and 0 < row["ms_ssim"] <= 1
    # smooth pictures at MTGC's rate (0.13 bpp here): the conventional codecs draw them well
    assert by["webp"]["psnr"] > 30 and by["jpeg"]["psnr"] > 30
    assert by["webp"]["ms_ssim"] > 0.9 and by["jpeg"]["ms_ssim"] > 0.9
    # equal rate: each conventional codec's bits interpolated to MTGC's, image by image
    for name in ("webp", "jpeg"):
        assert "out of the codec's range" not in by[name]["note"]
        assert by[name]["bpp"] == pytest.approx(by["mtgc"]["bpp"], rel=1e-9)
    assert set(by["webp"]["vs_reference"]) == {"psnr", "ms_ssim"}
    notes = report["data"]["notes"]
    skipped = [n.split(" skipped")[0] for n in notes]
    assert skipped == ["LPIPS", "DISTS", "CLIP score", "FID and KID"]
    table = (out / "table.md").read_text()
    assert "object F1" not in table and "MS-SSIM" in table
    assert all(note in table for note in notes)
    assert (out / "rate.png").stat().st_size > 0 and (out / "reconstructions.png").is_file()


def _tiny_clip(path: Path) -> Path:
    """A CLIPVisionModelWithProjection a few thousand parameters large, saved at ``path``."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    vision = CLIPVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        projection_dim=8,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        CLIPVisionModelWithProjection(vision).save_pretrained(path)
    return path


@pytest.mark.slow
def test_clip_score_and_patch_kid_from_local_weights(tmp_path: Path, weights: Path, no_weights):
    """With a local CLIP model and Inception-v3 weights (random here) the CLIP score is a
    per-image column and KID a set figure; 8 patches are too few for FID, which says so."""
    from torchvision.models import inception_v3

    from semcom.metrics.perceptual import convert_weights

    clip = _tiny_clip(tmp_path / "clip")
    # torchvision's file converted in the perceptual weights folder, found there by default
    net = inception_v3(weights=None, aux_logits=False, init_weights=False)
    (no_weights / "inception").mkdir()
    torch.save(net.state_dict(), no_weights / "inception" / "inception_v3.pth")
    written = convert_weights(no_weights)
    assert written == [no_weights / "inception" / "inception_v3.safetensors"]
    folder = _folder(tmp_path, 2)
    cfg = EvalConfig(
        codecs=("mtgc", "webp"),
        dataset=f"folder:{folder}",
        image_size=64,
        fid_patch=32,
        clip=str(clip),
        batch=2,
        bootstrap=10,
        weights=str(weights),
    )
    about: dict = {}
    summaries, _, _ = evaluate(cfg, about=about)
    assert [n.split(" skipped")[0] for n in about["notes"]] == ["LPIPS", "DISTS", "FID"]
    assert "8 patches of 32×32 per set, fewer than the 2048" in about["notes"][-1]
    for s in summaries:
        assert -1 <= s["clip_score"] <= 1 and "clip_score" in s["ci95"]
        assert np.isfinite(s["kid"]) and s["set_fields"] == ["kid"] and "fid" not in s
    assert "clip_score" in summaries[1]["vs_reference"]
    head = format_table(summaries).splitlines()[0]
    assert "CLIP score" in head and "KID (patches)" in head and "FID" not in head


def test_clip_score_is_one_for_an_image_and_itself(tmp_path: Path):
    from semcom.metrics.clip_score import clip_scores

    _tiny_clip(tmp_path / "clip")
    x = torch.rand(3, 3, 48, 40)
    assert clip_scores(x, x, tmp_path / "clip") == pytest.approx([1.0] * 3)
    other = clip_scores(x, 1 - x, tmp_path / "clip")
    assert (other < 1 - 1e-6).all() and (other >= -1).all()


def test_patches_tile_each_image_row_by_row():
    from semcom.metrics.patch_fid import patch_count, patches

    img = torch.arange(4.0).view(1, 1, 2, 2).repeat_interleave(3, 2).repeat_interleave(3, 3)
    img = torch.cat([img, img + 10]).expand(2, 3, 6, 6)  # two images, 3×3 blocks
    cut = patches(img, 3)
    assert cut.shape == (8, 3, 3, 3) and patch_count(2, 7, 3) == 8
    assert cut[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 10, 11, 12, 13]
    assert (cut == cut[:, :, :1, :1]).all()  # each patch is one block


def test_fid_and_kid_follow_their_definitions_on_gaussians():
    """Between N(0, I) and N(μ, I) FID is ‖μ‖² (equal covariances); KID is about 0 for
    one distribution and grows with the shift."""
    from semcom.metrics.patch_fid import frechet_distance, kernel_inception_distance

    rng = np.random.default_rng(0)
    d = 8
    a, b = rng.normal(size=(20000, d)), rng.normal(size=(20000, d))
    mu = np.full(d, 0.5)
    assert frechet_distance(a, b + mu) == pytest.approx(float(mu @ mu), rel=0.05)
    assert abs(frechet_distance(a, b)) < 0.01
    same = kernel_inception_distance(a[:2000], b[:2000], subset_size=500, subsets=20)
    near = kernel_inception_distance(a[:2000], b[:2000] + 0.5, subset_size=500, subsets=20)
    far = kernel_inception_distance(a[:2000], b[:2000] + 1.0, subset_size=500, subsets=20)
    assert abs(same) < 0.2 * near and 0 < near < far
    with pytest.raises(SemcomError, match="at least 2 patches"):
        kernel_inception_distance(a[:1], b[:1])


def _bad(tmp_path: Path, capsys, args: list[str]) -> str:
    out = tmp_path / "out"
    code = main(["evaluate", "--quiet", *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.startswith("error: ") and err.count("\n") == 1
    return err


@pytest.mark.slow
def test_bad_inputs_exit_2_with_one_sentence(tmp_path: Path, weights: Path, capsys):
    w = ["--weights", str(weights), "--codec", "mtgc"]
    missing = tmp_path / "nowhere"
    assert "does not exist; name a folder" in _bad(
        tmp_path, capsys, ["--dataset", f"folder:{missing}"]
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no pictures here")
    assert "holds no PNG, JPEG or WebP images" in _bad(
        tmp_path, capsys, ["--dataset", f"folder:{empty}"]
    )
    folder = _folder(tmp_path, 2)
    (folder / "broken.png").write_bytes(b"not a png at all")
    err = _bad(tmp_path, capsys, ["--dataset", f"folder:{folder}", *w])
    assert "broken.png is not an image semcom can read" in err and "remove or replace" in err
    (folder / "broken.png").unlink()
    (folder / "captions.jsonl").write_text('{"file": "im0.png", "caption": "fine"}\nnot json\n')
    err = _bad(tmp_path, capsys, ["--dataset", f"folder:{folder}", *w])
    assert "captions.jsonl line 2 is not JSON" in err
    (folder / "captions.jsonl").write_text('{"file": "im0.png"}\n')
    assert "line 1 lacks a string 'file' or 'caption'" in _bad(
        tmp_path, capsys, ["--dataset", f"folder:{folder}", *w]
    )
    (folder / "captions.jsonl").write_text('{"file": "im7.png", "caption": "x"}\n')
    assert "names 'im7.png', which is not an image of the folder" in _bad(
        tmp_path, capsys, ["--dataset", f"folder:{folder}", *w]
    )
    (folder / "captions.jsonl").unlink()
    assert "--captions" in _bad(
        tmp_path,
        capsys,
        ["--dataset", f"folder:{folder}", *w, "--captions", str(tmp_path / "none.jsonl")],
    )
    err = _bad(tmp_path, capsys, ["--dataset", f"folder:{folder}", *w, "--image-size", "16"])
    assert "--image-size 16 is below the 32-pixel side" in err
    assert "--image-size 32 or more" in err
    err = _bad(tmp_path, capsys, ["--dataset", f"folder:{folder}", "--codec", "mtgc-oracle"])
    assert "a folder has none" in err
    err = _bad(tmp_path, capsys, ["--codec", "webp", "--captions", "c.jsonl"])
    assert "apply to --dataset folder:PATH" in err
    (folder / "c.jsonl").write_text('{"file": "im0.png", "caption": "x"}\n')
    webp = ["--dataset", f"folder:{folder}", "--reference", "webp", "--codec", "webp"]
    err = _bad(tmp_path, capsys, [*webp, "--captions", str(folder / "c.jsonl")])
    assert "--image-size is needed" in err
    err = _bad(
        tmp_path, capsys, [*webp, "--image-size", "64", "--captions", str(folder / "c.jsonl")]
    )
    assert "webp sends none; leave --captions out" in err
