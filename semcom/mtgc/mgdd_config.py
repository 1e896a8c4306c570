"""MGDD's sampling settings (:class:`MGDDConfig`, stored as mgdd.json beside the models)
and the range check of ``init_strength`` that the config, the decoder and the command
line share."""

from __future__ import annotations

from dataclasses import dataclass

from semcom.errors import SemcomError


def check_strength(value: float, name: str = "init_strength") -> float:
    """``value`` if it is a valid ``init_strength`` (in (0, 1]; 1 samples from noise),
    else SemcomError naming it as ``name`` (a config key or a command-line flag)."""
    if not 0.0 < value <= 1.0:
        raise SemcomError(f"{name} must lie in (0, 1] (1 samples from noise), not {value}.")
    return value


@dataclass
class MGDDConfig:
    """Sampling settings.

    ``control_input``: "pixels" (HCI image in [-1,1] into a ControlNet whose
    conditioning embedding downsamples to the latent size) or "latents" (the HCI through
    the VAE encoder). ``guidance_scale`` 1 disables classifier-free guidance.
    ``vae_tiling`` encodes and decodes large images in overlapping tiles (diffusers'
    AutoencoderKL tiling) so that 2K images fit in memory. ``coord_channels`` appends
    two coordinate planes (y and x in [-1, 1]) to the UNet's and ControlNet's input, a
    positional signal that lets cross-attention bind "top left" to a place (the UNet then
    has ``latent channels + 2`` input channels). ``min_snr_gamma`` > 0 weights the
    training loss per timestep by Min-SNR-γ (Hang et al. 2023); 0 leaves it unweighted.
    ``layout_grid`` g > 0 with ``layout_channels`` D appends D planes on which the layout
    vector of SPW k = g·row + col fills its grid cell (the UNet then has ``latent channels
    + 2·coord + D`` input channels); every call then takes a layout [B, g², D].
    ``guide_channels`` > 0 (latent channels + 1) appends the planes of a guide image
    (:meth:`MGDD.guide_planes`); every call then takes them. ``init_strength`` s < 1
    starts sampling from the guide image's latents noised to the timestep a fraction s
    of the way into the schedule (SDEdit, Meng et al. 2022; diffusers' img2img
    "strength") instead of from pure noise, and runs the remaining ≈ s × steps steps:
    the sketch's shapes then survive sampling; 1 samples from noise as in the paper.
    """

    num_inference_steps: int = 20
    guidance_scale: float = 3.0
    control_input: str = "pixels"
    conditioning_scale: float = 1.0
    vae_tiling: bool = False
    coord_channels: bool = False
    min_snr_gamma: float = 0.0
    layout_grid: int = 0
    layout_channels: int = 0
    guide_channels: int = 0
    init_strength: float = 1.0

    def __post_init__(self) -> None:
        if (self.layout_grid > 0) != (self.layout_channels > 0):
            raise SemcomError("layout_grid and layout_channels are set together or not at all.")
        if self.control_input not in ("pixels", "latents"):
            raise SemcomError(f"control_input must be pixels or latents, not {self.control_input}.")
        if self.num_inference_steps < 1:
            raise SemcomError("the number of diffusion steps must be at least 1.")
        check_strength(self.init_strength)
