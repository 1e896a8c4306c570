"""The sd21 code path, built from the same classes with small random configs.

A "snapshot" with the Stable Diffusion 2.1 layout (vae, unet, scheduler, text_encoder,
tokenizer) and a CLIPVisionModel, random and toy-sized (semcom.mtgc.presets.sd21_random), is
made here; assemble_sd21 adds the MTGC parts, load_sd21 loads the result. Nothing is
downloaded.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
import torch

from semcom.errors import SemcomError
from semcom.mtgc.presets import load_codec
from semcom.mtgc.presets.sd21 import load_sd21
from tests._mtgc import scene_image, single_thread, toy_sd21  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return toy_sd21(tmp_path_factory.mktemp("sd21"))[2]


def test_assembled_directory_has_the_documented_layout(weights: Path) -> None:
    for part in (
        "vae",
        "unet",
        "scheduler",
        "text_encoder",
        "tokenizer",
        "image_encoder",
        "controlnet",
        "tascm",
        "hci",
        "mtgc.json",
        "mgdd.json",
    ):
        assert (weights / part).exists(), part
    assert not list(weights.rglob("*.bin")) and not list(weights.rglob("*.pt"))


def test_sd21_encodes_and_decodes(weights: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = load_codec("sd21", weights)
    assert codec.preset == "sd21" and codec.tascm.config.image_encoder == "external"
    assert codec.tascm.config.context_dim == codec.text_encoder.dim == 32
    bs = codec.encode(scene_image(0), captions=["a photo of a red star"])[0]
    assert set(bs.streams) == {"caption", "hci", "spw"}
    streams = codec.decode_streams(bs, strict=True)
    assert streams.caption == "a photo of a red star"
    a = codec.decode(bs, seed=1)
    assert a.shape == (1, 3, 64, 64) and torch.equal(a, codec.decode(bs, seed=1))
    for name in ("caption", "hci", "spw"):
        assert codec.decode(bs.without(name)).shape == (1, 3, 64, 64)


def test_sd21_without_a_captioner_needs_an_explicit_caption(weights: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec = load_sd21(weights)
    with pytest.raises(SemcomError, match="--caption"):
        codec.encode(scene_image(0))


def test_incomplete_directory_names_what_is_missing(weights: Path, tmp_path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(weights, broken)
    shutil.rmtree(broken / "image_encoder")
    shutil.rmtree(broken / "controlnet")
    with pytest.raises(SemcomError, match="lacks image_encoder, controlnet"):
        load_sd21(broken)


def test_tiny_weights_are_not_accepted_as_sd21(tmp_path) -> None:
    from _mtgc import small_codec

    small_codec().save_pretrained(tmp_path / "tiny")
    (tmp_path / "tiny" / "image_encoder").mkdir()
    with pytest.raises(SemcomError, match="not sd21"):
        load_sd21(tmp_path / "tiny")


def test_a_part_without_weights_is_a_clear_error(weights: Path, tmp_path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(weights, broken)
    for f in (broken / "image_encoder").iterdir():
        if f.suffix == ".safetensors":
            f.unlink()
    with pytest.raises(SemcomError, match="cannot load the MTGC weights"):
        load_sd21(broken)
