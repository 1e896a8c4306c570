"""Counting the caption coder's frozen trigram model (:mod:`semcom.mtgc.streams.caption_lm`).

``python -m semcom.mtgc.streams.caption_build`` recounts it on the ShapesWorld caption corpus
plus :data:`COMMON_WORDS` and rewrites caption_lm.py; ``--model caption_lm_complex`` counts
ShapesWorld-Complex's concise captions into caption_lm_complex.py (the model of codecs
trained on that world). Either changes its caption bitstream: bump ``MODEL_VERSION`` when
you recount.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from semcom.mtgc.streams.caption import BOS, EOS, SPECIALS, tokenize

#: Words common in image captions, so natural-image captions also code compactly.
COMMON_WORDS = [
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "with",
    "and",
    "or",
    "to",
    "from",
    "by",
    "for",
    "is",
    "are",
    "there",
    "this",
    "that",
    "it",
    "its",
    "photo",
    "picture",
    "image",
    "view",
    "close",
    "up",
    "two",
    "three",
    "four",
    "several",
    "many",
    "some",
    "one",
    "man",
    "woman",
    "person",
    "people",
    "child",
    "boy",
    "girl",
    "dog",
    "cat",
    "bird",
    "horse",
    "car",
    "bus",
    "train",
    "truck",
    "bike",
    "bicycle",
    "table",
    "chair",
    "bed",
    "room",
    "kitchen",
    "street",
    "road",
    "building",
    "house",
    "tree",
    "trees",
    "grass",
    "field",
    "water",
    "sky",
    "sea",
    "beach",
    "mountain",
    "snow",
    "white",
    "black",
    "brown",
    "grey",
    "gray",
    "dark",
    "light",
    "sitting",
    "standing",
    "walking",
    "holding",
    "looking",
    "playing",
    "riding",
    "next",
    "near",
    "front",
    "behind",
    "top",
    "bottom",
    "left",
    "right",
    "side",
    "middle",
    "centre",
    "center",
    "background",
    "foreground",
    "small",
    "large",
    "big",
    "little",
    "old",
    "young",
    "red",
    "green",
    "blue",
    "yellow",
    "orange",
    "purple",
    "pink",
    "cyan",
    "circle",
    "square",
    "triangle",
    "star",
    "hexagon",
    "diamond",
    "shape",
    "shapes",
    "object",
    "objects",
]


def shapes_corpus(n_captions: int = 20000, seed: int = 1234) -> list[str]:
    """ShapesWorld's captions and what the tiny captioner writes (canonical phrasing, up to
    9 objects, or none)."""
    import numpy as np

    from semcom.data.captions import canonical_caption, caption_corpus, random_scene

    corpus = caption_corpus(n_captions, seed=seed)
    rng = np.random.default_rng(seed + 1)
    corpus += [canonical_caption(random_scene(rng, 9)) for _ in range(n_captions // 4)]
    corpus += [canonical_caption([])] * (n_captions // 100)
    return corpus


def complex_corpus(n_captions: int = 8000, seed: int = 1234) -> list[str]:
    """ShapesWorld-Complex's concise captions of ``n_captions`` training scenes (set
    ``seed``, not the training sets' seeds 0 and 1) and one of a scene with no shapes."""
    from semcom.data.complex import ShapesWorldComplex, concise_caption

    data = ShapesWorldComplex("train", n=n_captions, seed=seed)
    return [data[i].caption for i in range(n_captions)] + [concise_caption([])]


def count_model(
    corpus: list[str], repeat_common: bool = False
) -> tuple[list[str], list[tuple[int, int, int, int, int]]]:
    """The vocabulary (specials, the corpus's tokens, then :data:`COMMON_WORDS` and
    punctuation not among them) and the trigram counts (u, v, space-after-v, w, count) of
    ``corpus``. ``repeat_common``: list every common word again even where the corpus has
    it (caption_lm.py version 1 was counted so; a repeated word's first entry is never
    coded, it only holds a unigram count of 1)."""
    vocab: list[str] = list(SPECIALS)
    seen = set(vocab)
    counts: Counter[tuple[str, str, int, str]] = Counter()
    for text in corpus:
        u, v, sp = BOS, BOS, 0
        for tok in [*tokenize(text), EOS]:
            counts[(u, v, sp, tok)] += 1
            u, v, sp = (u, v, 1) if tok == " " else (v, tok, 0)
    tokens = sorted({t for (a, b, _, c) in counts for t in (a, b, c)} - seen)
    punctuation = set(" ,.:;-'?!0123456789")
    if repeat_common:
        extra = sorted(set(COMMON_WORDS) | punctuation - seen - set(tokens))
    else:
        extra = sorted((set(COMMON_WORDS) | punctuation) - seen - set(tokens))
    vocab += tokens + extra
    index = {t: i for i, t in enumerate(vocab)}
    trigrams = sorted((index[a], index[b], sp, index[c], n) for (a, b, sp, c), n in counts.items())
    return vocab, trigrams


def build_model(
    n_captions: int = 20000, seed: int = 1234
) -> tuple[list[str], list[tuple[int, int, int, int, int]]]:
    """Count the vocabulary and trigrams on the ShapesWorld corpus + common words."""
    return count_model(shapes_corpus(n_captions, seed), repeat_common=True)


#: The frozen models: module (beside this one) → (corpus, its docstring's source).
MODELS: dict[str, tuple[str, object]] = {
    "caption_lm": ("the ShapesWorld caption corpus", shapes_corpus),
    "caption_lm_complex": ("ShapesWorld-Complex's concise captions", complex_corpus),
}


def write_model_module(path: Path, module: str = "caption_lm", version: int = 1) -> None:
    """Count the model of ``module`` (a key of :data:`MODELS`) and write it to ``path``."""
    what, corpus = MODELS[module]
    vocab, trigrams = count_model(corpus(), repeat_common=module == "caption_lm")  # type: ignore[operator]
    flag = "" if module == "caption_lm" else f" --model {module}"
    lines = [
        "# ruff: noqa: E501",
        '"""Frozen caption language model (generated by '
        f"`python -m semcom.mtgc.streams.caption_build{flag}`).",
        "",
        "Do not edit by hand: the caption bitstream depends on every number here.",
        '"""',
        "",
        "# fmt: off",
        f"MODEL_VERSION = {version}",
        f"VOCAB = {tuple(vocab)!r}",
        "TRIGRAMS = (",
    ]
    if module != "caption_lm":
        lines[2:2] = ["", f"Counted on {what}."]
    row: list[str] = []
    for t in trigrams:
        row.append("(" + ",".join(str(x) for x in t) + "),")
        if len(row) == 8:
            lines.append("    " + " ".join(row))
            row = []
    if row:
        lines.append("    " + " ".join(row))
    lines += [")", "# fmt: on", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Recount a frozen caption model.")
    parser.add_argument("--model", choices=sorted(MODELS), default="caption_lm")
    args = parser.parse_args()
    write_model_module(Path(__file__).with_name(f"{args.model}.py"), args.model)
