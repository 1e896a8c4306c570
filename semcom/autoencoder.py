"""The ``tiny`` preset's latent autoencoder: diffusers' AutoencoderKL, optionally without
the GroupNorm in front of its encoder's and decoder's output convolutions.

Every other normalisation in AutoencoderKL sits inside a residual branch, so the level of
a feature map (an image's colour, where the image is flat) passes around it through the
skip. The two output norms have no skip: over a uniform area their input is constant in
space, the norm maps it to (nearly) zero, and the colour is lost — solid red, blue and
black all decode to the same grey, and no amount of training brings the level back.
``output_norm=False`` replaces those two layers with the identity (the SiLU and the output
convolution stay), so the level reaches the latents and the pixels.
"""

from __future__ import annotations

from diffusers import AutoencoderKL
from diffusers.configuration_utils import register_to_config
from torch import nn


class SceneAutoencoder(AutoencoderKL):
    """AutoencoderKL with ``output_norm`` in its config (True: diffusers' layers as they
    are; False: no norm before the encoder's and decoder's output convolutions).

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
    ) -> None:
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


def autoencoder_class(config: dict) -> type[AutoencoderKL]:
    """The class that saved a config.json (``_class_name``): ours or diffusers'."""
    return SceneAutoencoder if config.get("_class_name") == "SceneAutoencoder" else AutoencoderKL
