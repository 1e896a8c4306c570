"""TASCM: the Task-Aware Semantic Compression Module.

Image features (a small CNN for ``tiny``; frozen CLIP-ViT tokens, passed in, for
``sd21``) → K learnable queries attend to them with multi-head attention, then to each
other with multi-head self-attention → K vectors → a vector quantiser (codebook of
``codebook_size`` entries, straight-through, commitment loss) → K indices. At the
receiver the indices are looked up in the codebook and mapped linearly into the text
embedding space: the Semantic Pseudo-Words (SPWs), appended to the caption tokens.

"Task-aware" is how it is trained (through the diffusion decoder's denoising loss, plus
an optional task loss), not a loss of its own: see PAPER.md.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


def sincos_2d(h: int, w: int, dim: int, device: torch.device) -> torch.Tensor:
    """Fixed 2-D sine-cosine position codes, [h·w, dim] float32 (dim divisible by 4)."""
    quarter = dim // 4
    freq = torch.exp(-math.log(10000.0) * torch.arange(quarter, device=device) / quarter)
    ys = torch.arange(h, device=device, dtype=torch.float32)[:, None] * freq
    xs = torch.arange(w, device=device, dtype=torch.float32)[:, None] * freq
    ys = torch.cat([ys.sin(), ys.cos()], dim=1)[:, None, :].expand(h, w, 2 * quarter)
    xs = torch.cat([xs.sin(), xs.cos()], dim=1)[None, :, :].expand(h, w, 2 * quarter)
    return torch.cat([ys, xs], dim=2).reshape(h * w, 4 * quarter)


class TASCM(ModelMixin, ConfigMixin):
    """Queries + multi-head attention + VQ.

    Transmitter: ``indices(x) -> [B,K] int64`` where x is images [B,3,H,W] in [0,1]
    (``image_encoder="cnn"``) or features [B,N,feature_dim] (``"external"``).
    Receiver: ``embed(indices) -> [B,K,context_dim]``; ``null(B)`` gives the learned
    null tokens used when the SPW stream is erased.
    """

    @register_to_config
    def __init__(
        self,
        image_encoder: str = "cnn",
        cnn_channels: tuple[int, ...] = (32, 64, 128),
        feature_dim: int = 128,
        model_dim: int = 128,
        num_queries: int = 8,
        num_heads: int = 4,
        codebook_size: int = 1024,
        code_dim: int = 32,
        context_dim: int = 64,
        commitment: float = 0.25,
    ) -> None:
        super().__init__()
        if image_encoder not in ("cnn", "external"):
            raise ValueError(f"image_encoder must be 'cnn' or 'external', not {image_encoder!r}")
        if image_encoder == "cnn":
            layers: list[nn.Module] = []
            c_in = 3
            for c in cnn_channels:
                layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.SiLU()]
                c_in = c
            layers.append(nn.Conv2d(c_in, feature_dim, 3, padding=1))
            self.cnn = nn.Sequential(*layers)
        else:
            self.cnn = None
        self.in_proj = nn.Linear(feature_dim, model_dim)
        self.in_norm = nn.LayerNorm(model_dim)
        self.queries = nn.Parameter(torch.randn(num_queries, model_dim))
        self.cross_attn = nn.MultiheadAttention(model_dim, num_heads, batch_first=True)
        self.norm1 = nn.LayerNorm(model_dim)
        self.self_attn = nn.MultiheadAttention(model_dim, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(model_dim)
        self.mlp = nn.Sequential(
            nn.Linear(model_dim, 4 * model_dim), nn.GELU(), nn.Linear(4 * model_dim, model_dim)
        )
        self.norm3 = nn.LayerNorm(model_dim)
        self.to_code = nn.Linear(model_dim, code_dim)
        self.codebook = nn.Parameter(torch.randn(codebook_size, code_dim))
        self.to_context = nn.Linear(code_dim, context_dim)
        self.null_tokens = nn.Parameter(torch.zeros(num_queries, context_dim))

    @property
    def bits_per_index(self) -> int:
        """Bits per SPW index: ceil(log2(codebook_size))."""
        return max(1, math.ceil(math.log2(self.config.codebook_size)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images [B,3,H,W] in [0,1] (cnn) or features [B,N,F] → tokens [B,N,model_dim]."""
        if self.cnn is not None:
            if x.ndim != 4:
                raise ValueError("TASCM with a CNN encoder takes images [B,3,H,W].")
            f = self.cnn(x * 2 - 1)
            b, c, h, w = f.shape
            tokens = f.flatten(2).transpose(1, 2) + sincos_2d(h, w, c, f.device).to(f.dtype)
        else:
            if x.ndim != 3:
                raise ValueError("TASCM with external features takes tokens [B,N,F].")
            tokens = x
        return self.in_norm(self.in_proj(tokens))

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous pre-quantisation vectors [B,K,code_dim]."""
        kv = self.features(x)
        q = self.queries.unsqueeze(0).expand(kv.shape[0], -1, -1)
        q = self.norm1(q + self.cross_attn(q, kv, kv, need_weights=False)[0])
        q = self.norm2(q + self.self_attn(q, q, q, need_weights=False)[0])
        q = self.norm3(q + self.mlp(q))
        return self.to_code(q)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest codebook entry of each vector: [B,K,code_dim] → [B,K] int64."""
        d = (
            z.pow(2).sum(-1, keepdim=True)
            - 2 * z @ self.codebook.t()
            + self.codebook.pow(2).sum(-1)[None, None, :]
        )
        return d.argmin(-1)

    @torch.no_grad()
    def indices(self, x: torch.Tensor) -> torch.Tensor:
        """Transmitter: images or features → SPW indices [B,K] int64."""
        return self.quantize(self.latents(x))

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """Receiver: indices [B,K] → SPW embeddings [B,K,context_dim]."""
        return self.to_context(self.codebook[indices])

    def null(self, batch: int) -> torch.Tensor:
        """Null SPW tokens for an erased stream: [batch,K,context_dim]."""
        return self.null_tokens.unsqueeze(0).expand(batch, -1, -1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training pass: straight-through SPW embeddings, indices and the VQ loss.

        Returns {'context': [B,K,context_dim], 'indices': [B,K], 'vq_loss': scalar,
        'latents': [B,K,code_dim] (before quantisation)}.
        """
        z = self.latents(x)
        idx = self.quantize(z)
        zq = self.codebook[idx]
        vq_loss = F.mse_loss(zq, z.detach()) + self.config.commitment * F.mse_loss(z, zq.detach())
        zq_st = z + (zq - z).detach()
        return {
            "context": self.to_context(zq_st),
            "indices": idx,
            "vq_loss": vq_loss,
            "latents": z,
        }
