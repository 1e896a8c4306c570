"""The ``tiny`` preset's latent autoencoder: diffusers' AutoencoderKL, optionally without
the GroupNorm in front of its encoder's and decoder's output convolutions.

Every other normalisation in AutoencoderKL sits inside a residual branch, so the level of
a feature map (an image's colour, where the image is flat) passes around it through the
skip. The two output norms have no skip: over a uniform area their input is constant in
space, the norm maps it to (nearly) zero, and the colour is lost — solid red, blue and
black all decode to the same grey, and no amount of training brings the level back.
``output_norm=False`` replaces those two layers with the identity (the SiLU and the output
convolution stay), so the level reaches the latents and the pixels.

``colour_skip=True`` goes further and makes the colour exact by construction: the first
three latent channels are not learned but are the image's mean colour over each f×f cell
(an average pool), and the decoder's output has its own cell means replaced by them
(``x̂ = r + up(c − pool(r))``, nearest upsampling), so every cell of a decoded image has
the mean colour its latent says — a solid colour comes back as that colour, whatever the
training saw. The other channels and the decoder learn the detail inside the cells.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from diffusers.configuration_utils import register_to_config
from diffusers.models.autoencoders.vae import DecoderOutput
from torch import nn

#: Channels of the colour skip: the cell means of R, G and B.
COLOUR_CHANNELS = 3
#: Log-variance given to the colour channels (DiagonalGaussianDistribution's floor): they
#: are a deterministic function of the image, not a sample.
_FIXED_LOGVAR = -30.0


class SceneAutoencoder(AutoencoderKL):
    """AutoencoderKL with ``output_norm`` in its config (True: diffusers' layers as they
    are; False: no norm before the encoder's and decoder's output convolutions) and
    ``colour_skip`` (True: latent channels 0–2 are the cell-mean colour in [-1, 1], and
    decoded cells keep those means exactly; needs ``latent_channels`` > 3).

    Loads and saves like any diffusers model (``from_pretrained`` / ``save_pretrained``;
    config.json names the class). Inputs and outputs as AutoencoderKL: images
    [B, 3, H, W] in [-1, 1], latents [B, latent_channels, H/f, W/f].
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        down_block_types: tuple[str, ...] = ("DownEncoderBlock2D",),
        up_block_types: tuple[str, ...] = ("UpDecoderBlock2D",),
        block_out_channels: tuple[int, ...] = (64,),
        layers_per_block: int = 1,
        act_fn: str = "silu",
        latent_channels: int = 4,
        norm_num_groups: int = 32,
        sample_size: int = 32,
        scaling_factor: float = 0.18215,
        shift_factor: float | None = None,
        latents_mean: tuple[float, ...] | None = None,
        latents_std: tuple[float, ...] | None = None,
        force_upcast: bool = True,
        use_quant_conv: bool = True,
        use_post_quant_conv: bool = True,
        mid_block_add_attention: bool = True,
        output_norm: bool = True,
        colour_skip: bool = False,
    ) -> None:
        if colour_skip and (latent_channels <= COLOUR_CHANNELS or in_channels != 3):
            raise ValueError(
                "colour_skip needs an RGB input and more than 3 latent channels "
                f"(got in_channels={in_channels}, latent_channels={latent_channels})."
            )
        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            down_block_types=down_block_types,
            up_block_types=up_block_types,
            block_out_channels=block_out_channels,
            layers_per_block=layers_per_block,
            act_fn=act_fn,
            latent_channels=latent_channels,
            norm_num_groups=norm_num_groups,
            sample_size=sample_size,
            scaling_factor=scaling_factor,
            shift_factor=shift_factor,
            latents_mean=latents_mean,
            latents_std=latents_std,
            force_upcast=force_upcast,
            use_quant_conv=use_quant_conv,
            use_post_quant_conv=use_post_quant_conv,
            mid_block_add_attention=mid_block_add_attention,
        )
        if not output_norm:
            self.encoder.conv_norm_out = nn.Identity()
            self.decoder.conv_norm_out = nn.Identity()
        self._factor = 2 ** (len(block_out_channels) - 1)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] → moments [B, 2·latent_channels, H/f, W/f] (means, then log-variances)."""
        moments = super()._encode(x)
        if not self.config.colour_skip:
            return moments
        c = self.config.latent_channels
        k = COLOUR_CHANNELS
        colour = F.avg_pool2d(x, self._factor).to(moments.dtype)
        fixed = torch.full_like(colour, _FIXED_LOGVAR)
        return torch.cat([colour, moments[:, k:c], fixed, moments[:, c + k :]], dim=1)

    def _decode(self, z: torch.Tensor, return_dict: bool = True) -> DecoderOutput | tuple:
        """Latents [B,C,h,w] → pixels [B,3,h·f,w·f]; with the colour skip, each f×f cell's
        mean is set to the colour in z[:, :3]."""
        out = super()._decode(z, return_dict=True).sample
        if self.config.colour_skip:
            f = self._factor
            shift = z[:, :COLOUR_CHANNELS].to(out.dtype) - F.avg_pool2d(out, f)
            out = out + F.interpolate(shift, scale_factor=f, mode="nearest")
        return DecoderOutput(sample=out) if return_dict else (out,)


def autoencoder_class(config: dict) -> type[AutoencoderKL]:
    """The class that saved a config.json (``_class_name``): ours or diffusers'."""
    return SceneAutoencoder if config.get("_class_name") == "SceneAutoencoder" else AutoencoderKL
