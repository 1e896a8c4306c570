"""MGDD: the Multimodal-Guided Diffusion Decoder (a pipeline over diffusers models).

Dual-path guidance: the cross-attention context is the caption tokens followed by the
SPW embeddings (semantic path); the decoded HCI is the ControlNet condition, whose
residuals are added to the UNet's skip connections (visual path). Sampling is DDIM
(η = 0) with classifier-free guidance against the null context (empty caption, null
SPW tokens); the initial noise of each image comes from its own seed, so a decode is
deterministic and does not depend on the batch it is in.

With a layout grid (``MGDDConfig.layout_grid``), each SPW's layout vector is painted over
its cell of a g×g grid as extra input planes of the UNet and ControlNet, a spatial path
beside cross-attention (the SPW of cell k was computed from cell k of the image).

With guide channels (``MGDDConfig.guide_channels``), the scene sketch the semantic streams
paint (:mod:`semcom.mtgc.sketch`, composited over the HCI or mid-grey) enters as further input
planes: its autoencoder latents and its coverage, so the UNet sees where each described
object is and what it looks like.

Latent presets carry an ``AutoencoderKL``; without one the UNet works on pixels.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, ControlNetModel, DDIMScheduler, UNet2DConditionModel

from semcom.errors import SemcomError
from semcom.mtgc.autoencoder import autoencoder_class
from semcom.mtgc.mgdd_config import MGDDConfig, check_strength

__all__ = ["MGDD", "MGDDConfig", "check_strength"]


@dataclass(frozen=True)
class Guidance:
    """What the decoder is conditioned on, each with the null context's twin for
    classifier-free guidance.

    context, null_context: [B,L,D] cross-attention contexts (L = caption tokens + K).
    hci: [B,3,H,W] in [0,1] full-size condition (any values where absent), or None when no
    image has one; hci_present: [B] bool, False → no ControlNet residual.
    layout, null_layout: [B,g²,D] SPW layout vectors (required with a layout grid).
    guide, null_guide: [B,C+1,h,w] guide planes (required with guide channels).
    """

    context: torch.Tensor
    null_context: torch.Tensor
    hci: torch.Tensor | None = None
    hci_present: torch.Tensor | None = None
    layout: torch.Tensor | None = None
    null_layout: torch.Tensor | None = None
    guide: torch.Tensor | None = None
    null_guide: torch.Tensor | None = None


class MGDD:
    """UNet2DConditionModel + ControlNetModel + DDIMScheduler (+ AutoencoderKL)."""

    def __init__(
        self,
        unet: UNet2DConditionModel,
        controlnet: ControlNetModel,
        scheduler: DDIMScheduler,
        vae: AutoencoderKL | None = None,
        config: MGDDConfig | None = None,
    ) -> None:
        self.unet = unet.eval()
        self.controlnet = controlnet.eval()
        self.scheduler = scheduler
        self.vae = vae.eval() if vae is not None else None
        self.config = config or MGDDConfig()
        if self.vae is not None and self.config.vae_tiling:
            self.vae.enable_tiling()

    # -- geometry -----------------------------------------------------------------------
    @property
    def vae_scale(self) -> int:
        """Pixels per latent side (1 without a VAE)."""
        if self.vae is None:
            return 1
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def size_multiple(self) -> int:
        """Image sides must be a multiple of this (VAE and UNet downsampling)."""
        return self.vae_scale * 2 ** (len(self.unet.config.block_out_channels) - 1)

    @property
    def latent_channels(self) -> int:
        """Channels of the diffused latent (the UNet's output channels)."""
        return int(self.unet.config.out_channels)

    def with_coords(self, x: torch.Tensor) -> torch.Tensor:
        """[B,C,h,w] → [B,C+2,h,w] with y and x planes in [-1, 1] (if configured)."""
        if not self.config.coord_channels:
            return x
        b, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")).unsqueeze(0).expand(b, -1, -1, -1)
        return torch.cat([x, grid], dim=1)

    def layout_planes(self, layout: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Layout vectors [B,g²,D] → planes [B,D,h,w]: vector g·row + col fills its cell.

        A pixel belongs to the cell its centre lies in (rows and columns split at
        multiples of h/g and w/g).
        """
        g = self.config.layout_grid
        b, k, d = layout.shape
        if k != g * g or d != self.config.layout_channels:
            raise SemcomError(
                f"a layout of {k}×{d} does not fit grid {g} with {self.config.layout_channels} "
                "channels."
            )
        rows = ((torch.arange(h, device=layout.device) + 0.5) * g / h).long().clamp(max=g - 1)
        cols = ((torch.arange(w, device=layout.device) + 0.5) * g / w).long().clamp(max=g - 1)
        cell = (rows[:, None] * g + cols[None, :]).flatten()  # [h·w]
        return layout[:, cell, :].transpose(1, 2).reshape(b, d, h, w)

    def model_input(
        self, x: torch.Tensor, layout: torch.Tensor | None, guide: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Noisy latents [B,C,h,w] → the UNet's input: + coordinate, layout, guide planes."""
        x = self.with_coords(x)
        if self.config.layout_grid:
            if layout is None:
                raise SemcomError("this decoder has a layout grid: pass the SPW layout vectors.")
            x = torch.cat([x, self.layout_planes(layout.to(x), *x.shape[-2:])], dim=1)
        if self.config.guide_channels:
            if guide is None or guide.shape[1] != self.config.guide_channels:
                raise SemcomError(
                    f"this decoder reads {self.config.guide_channels} guide planes: pass "
                    "guide_planes() of the scene sketch."
                )
            x = torch.cat([x, guide.to(x)], dim=1)
        return x

    def guide_planes(self, image: torch.Tensor, cover: torch.Tensor) -> torch.Tensor:
        """Guide image [B,3,H,W] in [0,1] and its sketch coverage [B,1,H,W] → planes
        [B,C+1,h,w]: the image's latents and the coverage averaged over each latent pixel."""
        z = self.encode_latents(image)
        s = self.vae_scale
        c = F.avg_pool2d(cover.to(z), s) if s > 1 else cover.to(z)
        return torch.cat([z, c], dim=1)

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.unet.parameters()).dtype

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> MGDD:
        for m in (self.unet, self.controlnet, self.vae):
            if m is not None:
                m.to(device) if dtype is None else m.to(device=device, dtype=dtype)
        return self

    # -- latents ------------------------------------------------------------------------
    def encode_latents(self, images: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] in [0,1] → latents [B,C,H/s,W/s] (the pixels in [-1,1] without VAE)."""
        x = images.to(self.device, self.dtype) * 2 - 1
        if self.vae is None:
            return x
        z = self.vae.encode(x).latent_dist.mode()
        return z * self.vae.config.scaling_factor

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents → [B,3,H,W] float32 in [0,1]."""
        if self.vae is None:
            x = latents
        else:
            x = self.vae.decode(latents / self.vae.config.scaling_factor).sample
        return ((x.float().clamp(-1, 1) + 1) / 2).cpu()

    def control_condition(self, hci: torch.Tensor) -> torch.Tensor:
        """Decoded HCI [B,3,H,W] in [0,1] → the ControlNet's conditioning input."""
        if self.config.control_input == "latents":
            return self.encode_latents(hci)
        return hci.to(self.device, self.dtype) * 2 - 1

    # -- training -----------------------------------------------------------------------
    def training_loss(
        self,
        images: torch.Tensor,
        context: torch.Tensor,
        hci: torch.Tensor | None = None,
        hci_present: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        pixel_weights: torch.Tensor | None = None,
        layout: torch.Tensor | None = None,
        guide: torch.Tensor | None = None,
        return_x0: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The denoising loss every training stage minimises (a scalar).

        images: [B,3,H,W] in [0,1] (ignored when ``latents`` [B,C,h,w] are given);
        context: [B,L,D] (caption tokens + SPW tokens, with gradients if TASCM trains);
        hci: [B,3,H,W] in [0,1] or None; hci_present: [B] bool. A timestep is drawn
        uniformly per image, the latent is noised by the scheduler, and the UNet (with
        ControlNet residuals) is scored against ε, or against v for v-prediction
        schedulers, by mean squared error, weighted per latent pixel by ``pixel_weights``
        [B,1,h,w] (e.g. towards object pixels; mean 1 keeps the scale) and per image by
        Min-SNR-γ when the config asks for it. ``layout``: [B,g²,D] SPW layout vectors
        (with gradients if they train), required with a layout grid; ``guide``
        [B,C+1,h,w] the guide planes, required with guide channels. ``return_x0``: also
        return the one-step estimate of the clean latents [B,C,h,w] (with gradients) and
        ᾱ_t [B] of each image's timestep, for task losses on what the decoder would draw.
        """
        z = self.encode_latents(images) if latents is None else latents.to(self.device, self.dtype)
        b = z.shape[0]
        cfg = self.scheduler.config
        noise = torch.randn(z.shape, generator=generator, dtype=torch.float32).to(z)
        t = torch.randint(0, cfg.num_train_timesteps, (b,), generator=generator).to(self.device)
        z_t = self.scheduler.add_noise(z, noise, t)
        noisy = self.model_input(z_t, layout, guide)
        ctx = context.to(self.device, self.dtype)
        down = mid = None
        if hci is not None and hci_present is not None and bool(hci_present.any()):
            mask = hci_present.to(self.device, self.dtype).view(b, 1, 1, 1)
            down, mid = self.controlnet(
                noisy,
                t,
                encoder_hidden_states=ctx,
                controlnet_cond=self.control_condition(hci),
                conditioning_scale=self.config.conditioning_scale,
                return_dict=False,
            )
            down = [r * mask for r in down]
            mid = mid * mask
        pred = self.unet(
            noisy,
            t,
            encoder_hidden_states=ctx,
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
            return_dict=False,
        )[0]
        if cfg.prediction_type == "v_prediction":
            target = self.scheduler.get_velocity(z, noise, t)
        elif cfg.prediction_type == "epsilon":
            target = noise
        else:
            raise SemcomError(f"prediction type {cfg.prediction_type!r} is not supported.")
        err = (pred.float() - target.float()) ** 2
        if pixel_weights is not None:
            err = err * pixel_weights.to(err)
        per_image = err.mean(dim=(1, 2, 3))
        gamma = self.config.min_snr_gamma
        if gamma > 0:
            ac = self.scheduler.alphas_cumprod.to(self.device)[t].float()
            snr = (ac / (1 - ac).clamp_min(1e-8)).clamp_min(0.05)
            # the Min-SNR-γ weight of the ε loss; v's loss is (SNR + 1)× larger
            v_pred = cfg.prediction_type == "v_prediction"
            per_image = per_image * snr.clamp(max=gamma) / (snr + 1 if v_pred else snr)
        if not return_x0:
            return per_image.mean()
        ac = self.scheduler.alphas_cumprod.to(self.device)[t].float().view(b, 1, 1, 1)
        p, zt = pred.float(), z_t.float()
        if cfg.prediction_type == "v_prediction":  # x0 = √ᾱ z_t − √(1−ᾱ) v
            x0 = ac.sqrt() * zt - (1 - ac).sqrt() * p
        else:  # x0 = (z_t − √(1−ᾱ) ε) / √ᾱ
            x0 = (zt - (1 - ac).sqrt() * p) / ac.sqrt().clamp_min(1e-4)
        return per_image.mean(), x0, ac.flatten()

    # -- sampling -----------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        guidance: Guidance,
        seeds: list[int],
        size: tuple[int, int],
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        init_strength: float | None = None,
    ) -> torch.Tensor:
        """Sample images from what the receiver has (:class:`Guidance`).

        seeds: one int per image. size: (H, W), multiples of :attr:`size_multiple`.
        init_strength: see :class:`MGDDConfig` (None: the config's); below 1 the guide's
        latents are the starting point. Returns [B,3,H,W] float32 in [0,1] on the CPU.
        """
        g = guidance
        context, null_context, hci, hci_present = g.context, g.null_context, g.hci, g.hci_present
        layout, null_layout, guide, null_guide = g.layout, g.null_layout, g.guide, g.null_guide
        steps = num_inference_steps or self.config.num_inference_steps
        scale = self.config.guidance_scale if guidance_scale is None else guidance_scale
        strength = self.config.init_strength if init_strength is None else init_strength
        check_strength(strength)
        if strength < 1.0 and not self.config.guide_channels:
            raise SemcomError(
                "init_strength below 1 starts from the scene sketch, and this decoder reads "
                "no guide planes: use 1 (from noise) or a model with a sketch."
            )
        b = context.shape[0]
        if len(seeds) != b:
            raise ValueError("one seed per image is required")
        h, w = size
        m = self.size_multiple
        if h % m or w % m:
            raise SemcomError(f"MGDD samples sizes that are multiples of {m}, not {h}x{w}.")
        s = self.vae_scale
        channels = self.latent_channels
        noise = [
            torch.randn(
                (1, channels, h // s, w // s),
                generator=torch.Generator("cpu").manual_seed(int(seed)),
                dtype=torch.float32,
            )
            for seed in seeds
        ]
        latents = torch.cat(noise).to(self.device, self.dtype)
        scheduler = DDIMScheduler.from_config(self.scheduler.config)
        scheduler.set_timesteps(steps, device=self.device)
        timesteps = scheduler.timesteps
        if strength < 1.0:
            if guide is None:
                raise SemcomError("this decoder reads guide planes: pass guide and null_guide.")
            # SDEdit: the guide's latents noised to the first of the last ≈ s·steps steps
            timesteps = timesteps[steps - max(1, round(steps * strength)) :]
            start = guide[:, :channels].to(latents)
            latents = scheduler.add_noise(start, latents, timesteps[:1].repeat(b))
        else:
            latents = latents * scheduler.init_noise_sigma

        cfg = scale != 1.0
        ctx = context.to(self.device, self.dtype)
        if cfg:
            ctx = torch.cat([null_context.to(self.device, self.dtype), ctx])
        lay = None
        if self.config.layout_grid:
            if layout is None or null_layout is None:
                raise SemcomError("this decoder has a layout grid: pass the SPW layout vectors.")
            lay = layout.to(self.device, self.dtype)
            if cfg:
                lay = torch.cat([null_layout.to(self.device, self.dtype), lay])
        gd = None
        if self.config.guide_channels:
            if guide is None or null_guide is None:
                raise SemcomError("this decoder reads guide planes: pass guide and null_guide.")
            gd = guide.to(self.device, self.dtype)
            if cfg:
                gd = torch.cat([null_guide.to(self.device, self.dtype), gd])
        cond = mask = None
        if hci is not None and hci_present is not None and bool(hci_present.any()):
            cond = self.control_condition(hci)
            mask = hci_present.to(self.device, self.dtype).view(b, 1, 1, 1)
            if cfg:
                cond = torch.cat([cond, cond])
                mask = torch.cat([mask, mask])
        for t in timesteps:
            x = torch.cat([latents, latents]) if cfg else latents
            x = self.model_input(scheduler.scale_model_input(x, t), lay, gd)
            down = mid = None
            if cond is not None:
                down, mid = self.controlnet(
                    x,
                    t,
                    encoder_hidden_states=ctx,
                    controlnet_cond=cond,
                    conditioning_scale=self.config.conditioning_scale,
                    return_dict=False,
                )
                down = [r * mask for r in down]
                mid = mid * mask
            eps = self.unet(
                x,
                t,
                encoder_hidden_states=ctx,
                down_block_additional_residuals=down,
                mid_block_additional_residual=mid,
                return_dict=False,
            )[0]
            if cfg:
                eps_u, eps_c = eps.chunk(2)
                eps = eps_u + scale * (eps_c - eps_u)
            latents = scheduler.step(eps, t, latents, eta=0.0, return_dict=False)[0]
        return self.decode_latents(latents)

    # -- persistence --------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> None:
        """unet/, controlnet/, scheduler/, vae/ (if any) and mgdd.json."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.unet.save_pretrained(path / "unet")
        self.controlnet.save_pretrained(path / "controlnet")
        self.scheduler.save_pretrained(path / "scheduler")
        if self.vae is not None:
            self.vae.save_pretrained(path / "vae")
        (path / "mgdd.json").write_text(json.dumps(asdict(self.config), indent=2))

    @classmethod
    def from_pretrained(cls, path: str | Path, vae_path: str | Path | None = None) -> MGDD:
        """Load what :meth:`save_pretrained` wrote; ``vae_path`` overrides path/vae."""
        path = Path(path)
        kw = {"low_cpu_mem_usage": False, "use_safetensors": True}
        unet = UNet2DConditionModel.from_pretrained(path / "unet", **kw)
        controlnet = ControlNetModel.from_pretrained(path / "controlnet", **kw)
        scheduler = DDIMScheduler.from_pretrained(path / "scheduler")
        vp = Path(vae_path) if vae_path else path / "vae"
        vae = None
        if (vp / "config.json").is_file():
            vae_cls = autoencoder_class(json.loads((vp / "config.json").read_text()))
            vae = vae_cls.from_pretrained(vp, **kw)
        cfg_file = path / "mgdd.json"
        config = MGDDConfig(**json.loads(cfg_file.read_text())) if cfg_file.is_file() else None
        return cls(unet, controlnet, scheduler, vae, config)
