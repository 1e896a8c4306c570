"""Caption → token embeddings for the diffusion decoder's cross-attention.

Both presets use a transformers ``CLIPTextModel``; ``tiny`` pairs it with a word-level
tokenizer over the caption coder's vocabulary (a small config trained here), ``sd21``
with the ``CLIPTokenizer`` and text encoder of Stable Diffusion 2.1 (OpenCLIP ViT-H).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import torch
from transformers import CLIPTextModel

from semcom.mtgc.streams.caption import tokenize


class Tokenizer(Protocol):
    """Texts → input ids [B, max_length] int64."""

    max_length: int

    def __call__(self, texts: list[str]) -> torch.Tensor: ...


class WordTokenizer:
    """Lower-cased words (spaces dropped) → ids; <bos> first, <eos> after, <pad> fill.

    Ids: 0 <pad>, 1 <bos>, 2 <eos>, 3 <unk>, then the vocabulary.
    """

    SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")

    def __init__(self, vocab: list[str], max_length: int = 32) -> None:
        words = [w for w in vocab if w not in self.SPECIALS and w.strip()]
        self.vocab = list(self.SPECIALS) + words
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.max_length = max_length

    def __len__(self) -> int:
        return len(self.vocab)

    def __call__(self, texts: list[str]) -> torch.Tensor:
        ids = torch.zeros(len(texts), self.max_length, dtype=torch.int64)
        for row, text in enumerate(texts):
            toks = [self.index.get(t, 3) for t in tokenize(text.lower()) if t.strip()]
            seq = [1, *toks[: self.max_length - 2], 2]
            ids[row, : len(seq)] = torch.tensor(seq)
        return ids

    def save_pretrained(self, path: str | Path) -> None:
        """Write tokenizer.json (vocabulary and max_length)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        data = {"vocab": self.vocab, "max_length": self.max_length}
        (path / "tokenizer.json").write_text(json.dumps(data))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> WordTokenizer:
        data = json.loads((Path(path) / "tokenizer.json").read_text())
        return cls(data["vocab"], data["max_length"])


class HFTokenizer:
    """A transformers tokenizer (e.g. CLIPTokenizer) padded to its model_max_length."""

    def __init__(self, tokenizer: object) -> None:
        self.tokenizer = tokenizer
        self.max_length = int(tokenizer.model_max_length)  # type: ignore[attr-defined]

    def __call__(self, texts: list[str]) -> torch.Tensor:
        out = self.tokenizer(  # type: ignore[operator]
            texts,
            padding="max_length",
            max_length=self.max_length,
            truncation=True,
            return_tensors="pt",
        )
        return out.input_ids

    def save_pretrained(self, path: str | Path) -> None:
        self.tokenizer.save_pretrained(str(path))  # type: ignore[attr-defined]


class TextEncoder:
    """Captions → [B, max_length, hidden] float embeddings (the last hidden state)."""

    def __init__(self, tokenizer: Tokenizer, model: CLIPTextModel) -> None:
        self.tokenizer = tokenizer
        self.model = model.eval()

    @property
    def dim(self) -> int:
        """Embedding width (the cross-attention dimension)."""
        return int(self.model.config.hidden_size)

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        ids = self.tokenizer(texts).to(device)
        return self.model(input_ids=ids).last_hidden_state
