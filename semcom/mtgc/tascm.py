"""TASCM: the Task-Aware Semantic Compression Module.

Image features (a small CNN for ``tiny``; frozen CLIP-ViT tokens, passed in, for
``sd21``) → K learnable queries attend to them with multi-head attention, then to each
other with multi-head self-attention → K vectors → a quantiser → K indices: either a
learned vector quantiser (codebook of ``codebook_size`` entries, straight-through,
commitment loss; ``quantizer="vq"``) or finite scalar quantisation (``"fsq"``, Mentzer et
al. 2023: each vector is a few bounded scalars rounded to fixed levels, whose product is
the codebook size; no codebook to collapse, every code reachable). At the
receiver the indices are looked up in the codebook and mapped linearly into the text
embedding space: the Semantic Pseudo-Words (SPWs), appended to the caption tokens.
With ``query_grid`` and ``layout_dim``, each SPW also has a *layout vector* (a small MLP
of its code): the decoder paints it over the SPW's grid cell as extra input planes, so
what an SPW says lands where it was seen (see :class:`SPWLayout`).

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


class SPWLayout(nn.Module):
    """Receiver: SPW codes → layout vectors, one per grid cell (the decoder's input planes).

    ``forward(codes [B,K,code_dim]) -> [B,K,layout_dim]``; ``null(B)`` gives the learned
    vectors of an erased SPW stream (they start at zero).
    """

    def __init__(self, code_dim: int, layout_dim: int, num_queries: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(code_dim, 4 * layout_dim), nn.GELU(), nn.Linear(4 * layout_dim, layout_dim)
        )
        self.null_vectors = nn.Parameter(torch.zeros(num_queries, layout_dim))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.mlp(codes)

    def null(self, batch: int) -> torch.Tensor:
        return self.null_vectors.unsqueeze(0).expand(batch, -1, -1)


class TASCM(ModelMixin, ConfigMixin):
    """Queries + multi-head attention + VQ.

    Transmitter: ``indices(x) -> [B,K] int64`` where x is images [B,3,H,W] in [0,1]
    (``image_encoder="cnn"``) or features [B,N,feature_dim] (``"external"``).
    Receiver: ``embed(indices) -> [B,K,context_dim]``; ``null(B)`` gives the learned
    null tokens used when the SPW stream is erased; with ``layout_dim`` > 0 (needs
    ``query_grid``), ``layout(indices) -> [B,K,layout_dim]`` and ``null_layout(B)``.
    ``cell_patch`` p > 0 (needs the CNN and ``query_grid``): query k starts from its cell's
    p×p patch of the CNN map read by one p×p convolution, the captioner's cell reading,
    before it attends to the cell's tokens (0: the learned query alone).
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
        quantizer: str = "vq",
        fsq_levels: tuple[int, ...] = (),
        cnn_norm: bool = False,
        query_grid: int = 0,
        layout_dim: int = 0,
        cnn_strides: tuple[int, ...] = (),
        cell_patch: int = 0,
    ) -> None:
        super().__init__()
        if image_encoder not in ("cnn", "external"):
            raise ValueError(f"image_encoder must be 'cnn' or 'external', not {image_encoder!r}")
        if quantizer not in ("vq", "fsq"):
            raise ValueError(f"quantizer must be 'vq' or 'fsq', not {quantizer!r}")
        if quantizer == "fsq":
            if not fsq_levels or min(fsq_levels) < 2 or math.prod(fsq_levels) != codebook_size:
                raise ValueError(
                    f"fsq_levels {tuple(fsq_levels)} must be ≥ 2 each and multiply to "
                    f"codebook_size {codebook_size}"
                )
            code_dim = len(fsq_levels)
        if query_grid and (image_encoder != "cnn" or query_grid**2 != num_queries):
            raise ValueError(
                f"query_grid {query_grid} needs the cnn image encoder and "
                f"{query_grid}² queries, not {num_queries}"
            )
        if cell_patch and (image_encoder != "cnn" or not query_grid):
            raise ValueError("cell_patch needs the cnn image encoder and a query_grid")
        if layout_dim and not query_grid:
            raise ValueError("layout_dim needs query_grid: a layout vector is painted on its cell")
        if image_encoder == "cnn":
            strides = tuple(cnn_strides) or (2,) * len(cnn_channels)
            if len(strides) != len(cnn_channels):
                raise ValueError("cnn_strides needs one stride per cnn_channels entry")
            layers: list[nn.Module] = []
            c_in = 3
            for c, stride in zip(cnn_channels, strides, strict=True):
                layers.append(nn.Conv2d(c_in, c, 3, stride=stride, padding=1))
                if cnn_norm:
                    layers.append(nn.GroupNorm(min(8, c), c))
                layers.append(nn.SiLU())
                c_in = c
            layers.append(nn.Conv2d(c_in, feature_dim, 3, padding=1))
            self.cnn = nn.Sequential(*layers)
        else:
            self.cnn = None
        self.cell_read = self.cell_proj = None
        if cell_patch:
            # Each cell's p×p patch of the CNN's map read by one p×p convolution (as the
            # captioner reads it), so a query starts from where in its cell things lie.
            self.cell_read = nn.Sequential(
                nn.AdaptiveAvgPool2d(query_grid * cell_patch),
                nn.Conv2d(c_in, c_in, cell_patch, stride=cell_patch),
                nn.GroupNorm(min(8, c_in), c_in),
                nn.SiLU(),
            )
            self.cell_proj = nn.Linear(c_in, model_dim)
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
        if quantizer == "vq":
            self.codebook = nn.Parameter(torch.randn(codebook_size, code_dim))
        else:
            levels = torch.tensor(fsq_levels, dtype=torch.float32)
            self.register_buffer("fsq_levels_t", levels, persistent=False)
            # int64 mixed radix: a float32 one rounds indices above 2^24
            radix = [math.prod(fsq_levels[:i]) for i in range(len(fsq_levels))]
            self.register_buffer("fsq_radix", torch.tensor(radix), persistent=False)
        self.to_context = nn.Linear(code_dim, context_dim)
        self.null_tokens = nn.Parameter(torch.zeros(num_queries, context_dim))
        if query_grid:
            # Which SPW a token is (its region) travels as its position, not in its bits.
            self.query_pos = nn.Parameter(0.02 * torch.randn(num_queries, context_dim))
        self.layout_head = SPWLayout(code_dim, layout_dim, num_queries) if layout_dim else None

    @property
    def bits_per_index(self) -> int:
        """Bits per SPW index: ceil(log2(codebook_size))."""
        return max(1, math.ceil(math.log2(self.config.codebook_size)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images [B,3,H,W] in [0,1] (cnn) or features [B,N,F] → tokens [B,N,model_dim]."""
        return self._tokens(x)[0]

    def _tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int] | None]:
        """:meth:`features` and the (h, w) of the CNN's feature map (None if external)."""
        tokens, hw, _ = self._read(x)
        return tokens, hw

    def _read(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[int, int] | None, torch.Tensor | None]:
        """Tokens [B,N,model_dim], the CNN map's (h, w) and, with ``cell_patch``, each
        cell's patch reading [B,K,model_dim] (query k = g·row + col); else None."""
        hw, cells = None, None
        if self.cnn is not None:
            if x.ndim != 4:
                raise ValueError("TASCM with a CNN encoder takes images [B,3,H,W].")
            body = self.cnn[:-1](x * 2 - 1)
            f = self.cnn[-1](body)
            b, c, h, w = f.shape
            tokens = f.flatten(2).transpose(1, 2) + sincos_2d(h, w, c, f.device).to(f.dtype)
            hw = (h, w)
            if self.cell_read is not None:
                cells = self.cell_proj(self.cell_read(body).flatten(2).transpose(1, 2))
        else:
            if x.ndim != 3:
                raise ValueError("TASCM with external features takes tokens [B,N,F].")
            tokens = x
        return self.in_norm(self.in_proj(tokens)), hw, cells

    def region_mask(self, h: int, w: int, device: torch.device) -> torch.Tensor | None:
        """With ``query_grid`` g: bool [K, h·w], True where query k may *not* look.

        Query k = g·row + col sees the feature tokens whose centres lie in its cell of a
        g×g grid over the image, widened by half a token on each side (objects reach a
        little over their cell's border). None without a grid.
        """
        g = self.config.query_grid
        if not g:
            return None
        ys = (torch.arange(h, device=device) + 0.5) / h
        xs = (torch.arange(w, device=device) + 0.5) / w
        lo = torch.arange(g, device=device) / g
        hi = lo + 1 / g
        in_y = (ys[None, :] >= lo[:, None] - 0.5 / h) & (ys[None, :] <= hi[:, None] + 0.5 / h)
        in_x = (xs[None, :] >= lo[:, None] - 0.5 / w) & (xs[None, :] <= hi[:, None] + 0.5 / w)
        allowed = in_y[:, None, :, None] & in_x[None, :, None, :]  # [g, g, h, w]
        return ~allowed.reshape(g * g, h * w)

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous pre-quantisation vectors [B,K,code_dim]."""
        kv, hw, cells = self._read(x)
        mask = self.region_mask(*hw, kv.device) if hw is not None else None
        q = self.queries.unsqueeze(0).expand(kv.shape[0], -1, -1)
        if cells is not None:
            q = q + cells
        q = self.norm1(q + self.cross_attn(q, kv, kv, need_weights=False, attn_mask=mask)[0])
        q = self.norm2(q + self.self_attn(q, q, q, need_weights=False)[0])
        q = self.norm3(q + self.mlp(q))
        return self.to_code(q)

    # -- finite scalar quantisation -------------------------------------------------------
    def _fsq_bound(self, z: torch.Tensor) -> torch.Tensor:
        """Squash each scalar into [0, L-1] (its level range), float."""
        half = (self.fsq_levels_t - 1) / 2
        return (torch.tanh(z) * 1.0001 + 1) * half.to(z)

    def _fsq_values(self, digits: torch.Tensor) -> torch.Tensor:
        """Level digits [...,code_dim] in [0, L-1] → grid values in [-1, 1]."""
        half = (self.fsq_levels_t - 1) / 2
        return digits / half.to(digits) - 1

    @property
    def codebook_vectors(self) -> torch.Tensor:
        """Every code's vector, [codebook_size, code_dim] (the FSQ grid or the VQ codebook)."""
        return self.code_vectors(
            torch.arange(self.config.codebook_size, device=self.to_context.weight.device)
        )

    def _fsq_digits(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices [...] → level digits [...,code_dim] (mixed radix, first level fastest)."""
        levels = self.fsq_levels_t.to(torch.int64)
        return ((indices.unsqueeze(-1) // self.fsq_radix) % levels).float()

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest code of each vector: [B,K,code_dim] → [B,K] int64."""
        if self.config.quantizer == "fsq":
            digits = self._fsq_bound(z.float()).round().to(torch.int64)
            return (digits * self.fsq_radix).sum(-1)
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
        return self._context(self.code_vectors(indices))

    def _context(self, codes: torch.Tensor) -> torch.Tensor:
        """Quantised vectors [B,K,code_dim] → SPW tokens [B,K,context_dim]."""
        out = self.to_context(codes)
        if self.config.query_grid:
            out = out + self.query_pos.to(out)
        return out

    def code_vectors(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices [B,K] → quantised vectors [B,K,code_dim] (before the context map)."""
        if self.config.quantizer == "fsq":
            w = self.to_context.weight
            return self._fsq_values(self._fsq_digits(indices.to(w.device))).to(w.dtype)
        return self.codebook[indices]

    def null(self, batch: int) -> torch.Tensor:
        """Null SPW tokens for an erased stream: [batch,K,context_dim]."""
        return self.null_tokens.unsqueeze(0).expand(batch, -1, -1)

    def layout(self, indices: torch.Tensor) -> torch.Tensor:
        """Receiver: indices [B,K] → layout vectors [B,K,layout_dim] (query k = cell k)."""
        if self.layout_head is None:
            raise ValueError("this TASCM has no layout head (layout_dim 0)")
        return self.layout_head(self.code_vectors(indices))

    def null_layout(self, batch: int) -> torch.Tensor:
        """Layout vectors of an erased SPW stream: [batch,K,layout_dim]."""
        if self.layout_head is None:
            raise ValueError("this TASCM has no layout head (layout_dim 0)")
        return self.layout_head.null(batch)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training pass: straight-through SPW embeddings, indices and the VQ loss.

        Returns {'context': [B,K,context_dim], 'indices': [B,K], 'vq_loss': scalar,
        'latents': [B,K,code_dim] (before quantisation)}, and 'layout' [B,K,layout_dim]
        with a layout head.
        """
        z = self.latents(x)
        if self.config.quantizer == "fsq":
            bounded = self._fsq_bound(z)
            digits = bounded + (bounded.round() - bounded).detach()
            codes = self._fsq_values(digits)
            return {
                "context": self._context(codes),
                "indices": self.quantize(z.detach()),  # the transmitter's rule
                "vq_loss": z.new_zeros(()),
                "latents": z,
                **self._layout_of(codes),
            }
        idx = self.quantize(z)
        zq = self.codebook[idx]
        vq_loss = F.mse_loss(zq, z.detach()) + self.config.commitment * F.mse_loss(z, zq.detach())
        zq_st = z + (zq - z).detach()
        return {
            "context": self._context(zq_st),
            "indices": idx,
            "vq_loss": vq_loss,
            "latents": z,
            **self._layout_of(zq_st),
        }

    def _layout_of(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        return {} if self.layout_head is None else {"layout": self.layout_head(codes)}
