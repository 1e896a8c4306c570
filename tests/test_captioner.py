"""Captioners: the transmitter's own caption, made from the image alone."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import torch
from transformers import (
    BertTokenizer,
    BlipConfig,
    BlipForConditionalGeneration,
    BlipImageProcessor,
    BlipProcessor,
)

from semcom.data.captions import COLOURS, SHAPES, SIZES
from semcom.errors import SemcomError
from semcom.mtgc.captioner import HFCaptioner, ShapesCaptioner
from tests._mtgc import single_thread  # noqa: F401 (fixture)

_OBJECT = (
    rf"a ({'|'.join(SIZES)}) ({'|'.join(COLOURS)}) ({'|'.join(SHAPES)}) (at the|in the) [a-z ]+"
)


def test_shapes_captioner_writes_canonical_captions() -> None:
    torch.manual_seed(0)
    cap = ShapesCaptioner(channels=(8, 8)).eval()
    images = torch.rand(3, 3, 64, 64)
    assert cap(images).shape == (3, 9, 1 + len(SHAPES) + len(COLOURS) + len(SIZES))
    for text, scene in zip(cap.caption(images), cap.scenes(images), strict=True):
        if scene:
            parts = text.split(" and ")
            assert len(parts) == len(scene)
            assert all(re.fullmatch(_OBJECT, p) for p in parts), text
        else:
            assert text == "an empty scene"


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("captioner")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "star", "photo", "of"]
    (path / "vocab.txt").write_text("\n".join(words))
    processor = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
        tokenizer=BertTokenizer(vocab_file=str(path / "vocab.txt")),
    )
    text = dict(
        vocab_size=len(words),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        encoder_hidden_size=32,
        max_position_embeddings=32,
        bos_token_id=2,
        sep_token_id=3,
        pad_token_id=0,
    )
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision))
    out = path / "blip"
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def test_a_local_transformers_captioner_is_loaded_and_run(blip_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cap = HFCaptioner(blip_dir, max_new_tokens=6)
    images = torch.rand(2, 3, 64, 64)
    texts = cap.caption(images)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert texts == cap.caption(images)  # greedy decoding is deterministic


def test_a_missing_captioner_says_what_to_do(tmp_path) -> None:
    with pytest.raises(SemcomError, match="--caption"):
        HFCaptioner(tmp_path)
