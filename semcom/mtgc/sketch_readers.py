"""The scene sketch's readers: learned cell queries that turn received tokens (SPW
embeddings, caption ids) into per-cell logits [B,cells,out] (:mod:`semcom.mtgc.sketch`)."""

from __future__ import annotations

import torch
from torch import nn


class CellReader(nn.Module):
    """Tokens [B,L,D] → per-cell logits [B,cells,out]: learned cell queries attend to them.

    ``key_padding_mask`` [B,L] bool marks tokens to ignore (True = padding).
    """

    def __init__(self, d: int, out: int, cells: int = 9, heads: int = 4) -> None:
        super().__init__()
        self.cells = nn.Parameter(0.02 * torch.randn(cells, d))
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, out))

    def forward(
        self, tokens: torch.Tensor, key_padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        q = self.cells.unsqueeze(0).expand(tokens.shape[0], -1, -1).to(tokens.dtype)
        att = self.attn(q, tokens, tokens, key_padding_mask=key_padding_mask, need_weights=False)
        return self.mlp(self.norm(q + att[0]))


class CaptionReader(nn.Module):
    """Caption ids [B,L] (0 = padding) → per-cell logits [B,cells,out]."""

    def __init__(
        self, vocab_size: int, max_tokens: int, width: int, layers: int, heads: int, out: int,
        cells: int,
    ) -> None:  # fmt: skip
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width, padding_idx=0)
        self.position = nn.Parameter(0.02 * torch.randn(max_tokens, width))
        layer = nn.TransformerEncoderLayer(
            width, heads, 2 * width, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.readout = CellReader(width, out, cells, heads)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pad = ids == 0
        pad[:, 0] = False  # an empty caption still has its <bos> to attend to
        x = self.embed(ids) + self.position[: ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=pad)
        return self.readout(x, key_padding_mask=pad)
