"""The caption stream: lossless, compact, strict about malformed payloads."""

from __future__ import annotations

import zlib

import pytest
from fuzz import mutations

from semcom.data.captions import (
    CELLS,
    COLOURS,
    SHAPES,
    caption_corpus,
    caption_for,
    random_scene,
)
from semcom.mtgc.streams import StreamError
from semcom.mtgc.streams.caption import MAX_CAPTION_BYTES, CaptionCoder, tokenize

CODER = CaptionCoder()


def test_grammar_covers_the_required_attributes() -> None:
    assert len(SHAPES) >= 5 and len(COLOURS) >= 8 and len(CELLS) == 9


def test_corpus_is_deterministic_from_its_seed() -> None:
    assert caption_corpus(20, seed=3) == caption_corpus(20, seed=3)
    assert caption_corpus(20, seed=3) != caption_corpus(20, seed=4)


def test_caption_names_every_object() -> None:
    import numpy as np

    scene = random_scene(np.random.default_rng(1), max_objects=3)
    text = caption_for(scene, seed=0)
    for obj in scene:
        shape, colour, _, _ = obj.words()
        assert shape in text and colour in text


def test_tokenize_is_inverted_by_join() -> None:
    text = "A big, RED star:  at the top-left 😀\n"
    assert "".join(tokenize(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a small red triangle at the top left and a large blue circle in the middle",
        "There is a Big blue star.",
        "A photo of a dog sitting on a couch, next to a cat!",
        "Zebras grazing; ÄÖÜ ünïcödé 😀 and CAPS and mIxEd",
        "   leading and trailing spaces   ",
        "tabs\tand\nnewlines",
    ],
)
def test_round_trip_is_exact(text: str) -> None:
    assert CODER.decode(CODER.encode(text)) == text


def test_corpus_round_trips_and_encoding_is_deterministic() -> None:
    for text in caption_corpus(200, seed=7):
        data = CODER.encode(text)
        assert data == CODER.encode(text)
        assert CODER.decode(data) == text


def test_beats_zlib_by_a_wide_margin_on_shapesworld_captions() -> None:
    corpus = caption_corpus(200, seed=11)
    ours = sum(8 * len(CODER.encode(t)) for t in corpus)
    deflate = sum(8 * len(zlib.compress(t.encode(), 9)) for t in corpus)
    chars = sum(len(t) for t in corpus)
    assert ours / chars < 1.0  # bits per character
    assert ours * 5 < deflate


def test_too_long_caption_is_refused() -> None:
    with pytest.raises(StreamError, match="longer than"):
        CODER.encode("a" * (MAX_CAPTION_BYTES + 1))


def test_malformed_payloads_raise_only_stream_errors() -> None:
    seeds = [CODER.encode(t) for t in caption_corpus(20, seed=5)]
    for data in mutations(seeds, 1200, seed=1):
        try:
            text = CODER.decode(data)
        except StreamError:
            continue
        assert isinstance(text, str) and len(text.encode()) <= MAX_CAPTION_BYTES
