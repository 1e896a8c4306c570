"""The Deep JSCC baseline: an image mapped straight to channel symbols (ADJSCC style).

After Xu et al., "Wireless image transmission using deep source channel coding with
attention modules" (IEEE TCSVT 2021): a convolutional encoder (three stride-2 stages,
conv + PReLU, no GDN) whose stages are each followed by an SNR-adaptive *attention
feature* (AF) module, a power normalisation, and the mirrored decoder. An AF module pools
its features over space, appends the SNR in dB and the budget, and rescales every channel
by a learned sigmoid gate.

One model serves every budget. The encoder's last conv outputs ``latent_channels`` maps
of ``H/8 × W/8``; they are read channel-major (channel 0 everywhere, then channel 1 …) and
cut after ``2 n`` real values, ``n = floor(cpp · H · W)`` complex channel uses, so the
first channels carry what every budget needs (the AF modules see the kept fraction and
learn to put it there). The receiver zero-fills what was not sent. With the defaults
(40 maps of 16 × 16 for 128 × 128 images) the largest budget is 5120 channel uses,
0.3125 cpp: :meth:`DeepJSCC.budget_symbols` refuses larger budgets with a
:class:`SemcomError` (the link, ``experiments/analog.py``, sends what the latent holds).

Shapes: ``encode`` [B,3,H,W] float in [0,1] → [B,n] complex64 with ``mean |x|² = 1`` per
image; ``decode`` [B,n] complex64 → [B,3,H,W] in [0,1]. SNR is Es/N0 in dB.
Weights: ``semcom/baselines/weights/deepjscc/`` (``save_pretrained`` / ``from_pretrained``,
safetensors), trained by ``python -m semcom.baselines.train_deepjscc``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from channels.analog import complex_to_real, normalize_power, real_to_complex
from semcom.errors import SemcomError

NAME = "deepjscc"
WEIGHTS_DIR = Path(__file__).parent / "weights" / NAME
#: Range of SNRs (dB) the AF modules are fed; values outside are clamped.
SNR_CLAMP_DB = (-10.0, 30.0)


class AttentionFeature(nn.Module):
    """ADJSCC's AF module: ``x · sigmoid(MLP([mean_hw x, snr_db / 10, keep]))``.

    ``x`` [B,C,h,w]; ``snr_db`` [B] (dB); ``keep`` [B] the fraction of latent values sent.
    """

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(channels + 2, hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        context = torch.cat(
            [x.mean(dim=(2, 3)), (snr_db / 10).unsqueeze(1), keep.unsqueeze(1)], dim=1
        )
        return x * self.mlp(context)[:, :, None, None]


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2), nn.PReLU(cout))


def _up(cin: int, cout: int, k: int) -> nn.Sequential:
    """×2 upsampling: conv to 4·cout maps, pixel shuffle, PReLU."""
    return nn.Sequential(nn.Conv2d(cin, 4 * cout, k, 1, k // 2), nn.PixelShuffle(2), nn.PReLU(cout))


class DeepJSCC(ModelMixin, ConfigMixin):
    """ADJSCC-style Deep JSCC encoder and decoder (see the module docstring)."""

    @register_to_config
    def __init__(
        self,
        widths: tuple[int, ...] = (32, 64, 64),
        latent_channels: int = 40,
        af_hidden: int = 32,
        budgets_cpp: tuple[float, ...] = (0.03, 0.1, 0.3),
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        self.enc = nn.ModuleList()
        cin = 3
        for w in widths:
            self.enc.append(_conv(cin, w, 5, 2))
            cin = w
        self.enc_af = nn.ModuleList(AttentionFeature(w, af_hidden) for w in widths)
        self.enc_out = nn.Conv2d(cin, latent_channels, 3, 1, 1)
        self.dec_in = _conv(latent_channels, widths[-1], 3)
        self.dec_af = nn.ModuleList(AttentionFeature(w, af_hidden) for w in reversed(widths))
        ups, cin = [], widths[-1]
        for w in list(reversed(widths))[1:] + [widths[0]]:
            ups.append(_up(cin, w, 3))
            cin = w
        self.dec = nn.ModuleList(ups)
        self.dec_out = nn.Conv2d(cin, 3, 3, 1, 1)
        self.factor = 2 ** len(widths)

    # -- shapes ----------------------------------------------------------------------------
    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """(channels, h, w) of the latent for an ``height × width`` image."""
        if height % self.factor or width % self.factor:
            raise SemcomError(
                f"Deep JSCC needs image sides divisible by {self.factor}, not {height}×{width}."
            )
        return self.config.latent_channels, height // self.factor, width // self.factor

    def max_symbols(self, height: int, width: int) -> int:
        """The most complex channel uses the latent holds for an ``height × width`` image."""
        c, h, w = self.latent_shape(height, width)
        return c * h * w // 2

    def budget_symbols(self, budget_cpp: float, height: int, width: int) -> int:
        """Complex channel uses ``n = floor(cpp · H · W)`` of a budget; SemcomError when the
        budget gives no symbol or more than :meth:`max_symbols`."""
        n, most = math.floor(budget_cpp * height * width), self.max_symbols(height, width)
        if not 1 <= n <= most:
            raise SemcomError(
                f"Deep JSCC sends 1 to {most} channel uses for a {height}×{width} image "
                f"({most / (height * width):.4g} cpp at most), not {n} ({budget_cpp:g} cpp)."
            )
        return n

    @staticmethod
    def _context(value: float | torch.Tensor, batch: int, device) -> torch.Tensor:
        t = torch.as_tensor(value, dtype=torch.float32, device=device).reshape(-1)
        return t.expand(batch) if t.numel() == 1 else t

    # -- the two halves --------------------------------------------------------------------
    def encode(
        self, images: torch.Tensor, snr_db: float | torch.Tensor, symbols: int
    ) -> torch.Tensor:
        """[B,3,H,W] in [0,1] → [B,symbols] complex64, ``mean |x|² = 1`` per image.

        ``symbols``: complex channel uses (:meth:`budget_symbols` of a budget in cpp);
        ``snr_db``: a float or [B] (dB).
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise SemcomError(f"Deep JSCC encodes [B,3,H,W] images, not {tuple(images.shape)}.")
        b, _, height, width = images.shape
        c, h, w = self.latent_shape(height, width)
        n = int(symbols)
        if not 1 <= n <= c * h * w // 2:
            raise SemcomError(
                f"Deep JSCC sends 1 to {c * h * w // 2} channel uses for a {height}×{width} "
                f"image, not {n}."
            )
        snr = self._context(snr_db, b, images.device).clamp(*SNR_CLAMP_DB)
        keep = self._context(2 * n / (c * h * w), b, images.device)
        x = images * 2 - 1
        for conv, af in zip(self.enc, self.enc_af, strict=True):
            x = af(conv(x), snr, keep)
        z = self.enc_out(x).reshape(b, -1)[:, : 2 * n]
        return normalize_power(real_to_complex(z))

    def decode(
        self, y: torch.Tensor, snr_db: float | torch.Tensor, height: int, width: int
    ) -> torch.Tensor:
        """[B,n] complex (equalised received symbols) → [B,3,H,W] in [0,1]."""
        b, n = y.shape
        c, h, w = self.latent_shape(height, width)
        if 2 * n > c * h * w:
            raise SemcomError(f"Deep JSCC received {n} symbols, more than its latent holds.")
        snr = self._context(snr_db, b, y.device).clamp(*SNR_CLAMP_DB)
        keep = self._context(2 * n / (c * h * w), b, y.device)
        z = torch.zeros(b, c * h * w, device=y.device)
        z[:, : 2 * n] = complex_to_real(y)
        x = self.dec_in(z.reshape(b, c, h, w))
        for i, af in enumerate(self.dec_af):
            x = af(x, snr, keep)
            x = self.dec[i](x)
        return torch.sigmoid(self.dec_out(x))

    def forward(
        self, images: torch.Tensor, snr_db: torch.Tensor, budget_cpp: float, channel
    ) -> torch.Tensor:
        """Training pass: encode, ``channel(x, snr_db) -> y``, decode; [B,3,H,W] → same."""
        x = self.encode(images, snr_db, self.budget_symbols(budget_cpp, *images.shape[2:]))
        return self.decode(channel(x, snr_db), snr_db, images.shape[2], images.shape[3])


@lru_cache(maxsize=1)
def load(path: str | None = None) -> DeepJSCC:
    """The shipped (or ``path``'s) Deep JSCC model, in eval mode; SemcomError when absent."""
    folder = Path(path) if path else WEIGHTS_DIR
    if not (folder / "config.json").is_file():
        raise SemcomError(
            f"the Deep JSCC baseline needs its weights in {folder}; train them with "
            "`python -m semcom.baselines.train_deepjscc`."
        )
    try:  # low_cpu_mem_usage=False: no accelerate; safetensors only: no pickles
        model = DeepJSCC.from_pretrained(folder, low_cpu_mem_usage=False, use_safetensors=True)
    except (OSError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0]
        raise SemcomError(
            f"cannot load the Deep JSCC weights in {folder}: {first} (weights are read from "
            ".safetensors files only)."
        ) from None
    return model.eval()
