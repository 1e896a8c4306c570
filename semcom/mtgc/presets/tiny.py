"""The ``tiny`` preset: 128×128 ShapesWorld scenes on 2 CPU cores.

AutoencoderKL (32, 64, 128; f = 4, GroupNorm over groups of several channels so colour
survives) → 32×32×4 latents; UNet2DConditionModel (64, 128, 128) on the latents plus two
coordinate planes (optionally also planes on which each SPW's layout vector fills its grid
cell: ``layout_dim``), with cross-attention at 16² and 8²; v-prediction on a zero-terminal-SNR
schedule with trailing timesteps; a scene sketch (per-cell readers of the caption and the
SPWs, painted and composited over the HCI) as further UNet input planes; a ControlNet
made from the UNet whose conditioning embedding downsamples by 4; a 2-layer
CLIPTextModel (width 128) over the caption vocabulary with room for the longest caption;
TASCM on a small CNN with finite scalar quantisation (9 SPWs of 9 bits, one per region
of a 3×3 grid); a FactorizedPrior HCI codec.

Trained weights live in ``semcom/mtgc/presets/weights/tiny`` (a model directory). Until they
are shipped, :func:`load_tiny` builds the same architecture from a fixed seed (so both
ends agree bit for bit) and warns that it is untrained.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from diffusers import ControlNetModel, DDIMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from semcom.mtgc.autoencoder import SceneAutoencoder
from semcom.mtgc.captioner import ShapesCaptioner
from semcom.mtgc.cells import cell_layout
from semcom.mtgc.config import PRESET_CAPTION_LMS
from semcom.mtgc.mgdd import MGDD, MGDDConfig
from semcom.mtgc.pipeline import MTGC, CodecConfig
from semcom.mtgc.sketch import SceneSketch
from semcom.mtgc.streams.caption import caption_model
from semcom.mtgc.streams.hci import HCICodec, LearnedHCICodec
from semcom.mtgc.tascm import TASCM
from semcom.mtgc.textenc import TextEncoder, WordTokenizer

WEIGHTS_DIR = Path(__file__).with_name("weights") / "tiny"


@dataclass
class TinyConfig:
    """Sizes of every part of a ``tiny``-style codec (tests shrink them further)."""

    preset: str = "tiny"
    #: The world the codec is built for: its captioner's and sketch's cells
    #: (:func:`~semcom.mtgc.cells.cell_layout`) and its caption model.
    world: str = "shapes"
    min_size: int = 64
    vae_channels: tuple[int, ...] = (32, 64, 128)
    #: GroupNorm groups in the autoencoder: several channels per group (as SD does); one
    #: channel per group normalises each channel per image and erases colour.
    vae_norm_groups: int = 8
    #: GroupNorm before the autoencoder's output convolutions (both ends). With it a flat
    #: area's colour cannot pass (semcom/mtgc/autoencoder.py); without it, it can.
    vae_output_norm: bool = True
    #: Latent channels 0–2 carry each f×f cell's mean colour and the decoder keeps those
    #: means exactly (semcom/mtgc/autoencoder.py); needs latent_channels > 3.
    vae_colour_skip: bool = False
    latent_channels: int = 4
    unet_channels: tuple[int, ...] = (64, 128, 128)
    cross_attn_levels: tuple[bool, ...] = (False, True, True)
    attention_head_dim: int = 8
    control_embedding: tuple[int, ...] = (16, 32, 64)
    text_width: int = 128
    text_layers: int = 2
    text_heads: int = 4
    #: Token slots (with <bos>/<eos>): ShapesWorld's longest caption has 45 words.
    max_tokens: int = 64
    tascm_cnn: tuple[int, ...] = (32, 64, 128, 128)
    #: Stride of each of TASCM's convolutions (empty: every one 2, a stride-16 map).
    tascm_strides: tuple[int, ...] = ()
    #: GroupNorm after each of TASCM's convolutions (as in the captioner it starts from).
    tascm_norm: bool = True
    tascm_dim: int = 128
    #: Each SPW query starts from its cell's p×p patch read by a p×p convolution (as the
    #: captioner reads a cell; 0: from the learned query alone).
    tascm_cell_patch: int = 0
    #: One SPW per cell of a 3×3 grid (query_grid 3), 9 bits each (FSQ levels 8·8·8).
    num_queries: int = 9
    query_grid: int = 3
    codebook_size: int = 512
    code_dim: int = 32
    quantizer: str = "fsq"
    fsq_levels: tuple[int, ...] = (8, 8, 8)
    #: Channels of each SPW's layout vector, painted over its grid cell as UNet input
    #: planes (0: SPWs reach the decoder through cross-attention only; set it with
    #: ``mgdd.layout_grid = query_grid`` and ``mgdd.layout_channels`` equal to it). Off in
    #: the shipped model: with 16 channels the 60-minute decoder read the SPWs better but
    #: lost semantic accuracy overall (docs/training.md).
    layout_dim: int = 0
    #: A scene sketch (semcom/mtgc/sketch.py): the caption's and SPWs' per-cell readings,
    #: painted and composited over the HCI (or grey), enter the UNet and ControlNet as
    #: its latents plus a coverage plane.
    sketch: bool = True
    #: Cells per side of the sketch (ShapesWorld's 3×3 grid of object places).
    sketch_grid: int = 3
    #: Side (pixels) of a cell's sketch template on the 128-pixel canvas.
    sketch_window: int = 64
    #: Canvas pixels around each sketched object where the HCI's blurred blob of it is
    #: replaced by the surrounding background before compositing (SceneSketch.halo): on
    #: validation scenes the probe read the sketch's shapes at 0.72 over the raw HCI,
    #: 0.99 with the halo cleared (runs of 96 scenes, docs/training.md).
    sketch_halo: int = 6
    #: Paint each cell's most likely reading rather than the blend of its beliefs
    #: (SceneSketch.decisive).
    sketch_decisive: bool = False
    prediction_type: str = "v_prediction"
    zero_terminal_snr: bool = True
    timestep_spacing: str = "trailing"
    hci_n: int = 64
    hci_m: int = 64
    hci_kind: str = "learned"
    hci_factor: int = 8
    hci_quality: int = 8
    hci_lowpass: int = 8
    captioner_channels: tuple[int, ...] = (32, 64, 128, 128)
    #: Stride of each captioner convolution (empty: every one 2) and the features a cell
    #: is read from per side (1: their mean; see ShapesCaptioner).
    captioner_strides: tuple[int, ...] = ()
    captioner_cell_patch: int = 1
    mgdd: MGDDConfig = field(
        default_factory=lambda: MGDDConfig(
            num_inference_steps=10, coord_channels=True, min_snr_gamma=5.0
        )
    )
    seed: int = 0


def build_tiny(config: TinyConfig | None = None) -> MTGC:
    """A randomly initialised codec of ``config`` (deterministic from config.seed)."""
    c = config or TinyConfig()
    torch.manual_seed(c.seed)  # diffusers/transformers initialise from the global RNG
    gen_state = torch.random.get_rng_state()
    try:
        n_levels = len(c.unet_channels)
        down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in c.cross_attn_levels)
        up = tuple(
            "CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(c.cross_attn_levels)
        )
        vae = None
        in_ch = 3
        if c.vae_channels:
            vae = SceneAutoencoder(
                in_channels=3,
                out_channels=3,
                down_block_types=("DownEncoderBlock2D",) * len(c.vae_channels),
                up_block_types=("UpDecoderBlock2D",) * len(c.vae_channels),
                block_out_channels=c.vae_channels,
                latent_channels=c.latent_channels,
                layers_per_block=1,
                norm_num_groups=min(c.vae_norm_groups, c.vae_channels[0]),
                mid_block_add_attention=False,
                output_norm=c.vae_output_norm,
                colour_skip=c.vae_colour_skip,
            )
            in_ch = c.latent_channels
        coords = 2 if c.mgdd.coord_channels else 0
        guide = c.latent_channels + 1 if c.sketch and c.vae_channels else 0
        if c.sketch and not c.vae_channels:
            raise ValueError("the scene sketch enters through the autoencoder: keep vae_channels")
        mgdd_config = replace(c.mgdd, guide_channels=guide)
        if c.mgdd.layout_channels != c.layout_dim or (
            c.layout_dim and c.mgdd.layout_grid != c.query_grid
        ):
            raise ValueError("mgdd.layout_channels/layout_grid must match layout_dim/query_grid")
        unet = UNet2DConditionModel(
            sample_size=128 // 2 ** (len(c.vae_channels) - 1) if c.vae_channels else 128,
            in_channels=in_ch + coords + c.layout_dim + guide,
            out_channels=in_ch,
            down_block_types=down,
            up_block_types=up,
            block_out_channels=c.unet_channels,
            layers_per_block=1,
            cross_attention_dim=c.text_width,
            attention_head_dim=c.attention_head_dim,
            norm_num_groups=min(32, c.unet_channels[0]),
        )
        if c.layout_dim or guide:
            with torch.no_grad():  # extra planes start silent, as a ControlNet's convs do
                unet.conv_in.weight[:, in_ch + coords :].zero_()
        if c.mgdd.control_input == "latents":
            cond_channels, embed = in_ch, (c.control_embedding[-1],)
        else:
            cond_channels, embed = 3, c.control_embedding
        controlnet = ControlNetModel.from_unet(
            unet, conditioning_embedding_out_channels=embed, conditioning_channels=cond_channels
        )
        assert n_levels == len(controlnet.config.block_out_channels)
        scheduler = DDIMScheduler(
            num_train_timesteps=1000,
            beta_schedule="scaled_linear",
            beta_start=0.00085,
            beta_end=0.012,
            clip_sample=False,
            set_alpha_to_one=False,
            prediction_type=c.prediction_type,
            rescale_betas_zero_snr=c.zero_terminal_snr,
            timestep_spacing=c.timestep_spacing,
        )
        layout = cell_layout(c.world)
        if c.sketch and c.sketch_grid != layout.grid:
            raise ValueError(f"sketch_grid must be the {c.world} cells' grid, {layout.grid}")
        caption_lm = PRESET_CAPTION_LMS.get(c.preset, "shapes")
        tokenizer = WordTokenizer(caption_model(caption_lm).vocab, max_length=c.max_tokens)
        text_model = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer),
                hidden_size=c.text_width,
                intermediate_size=2 * c.text_width,
                num_hidden_layers=c.text_layers,
                num_attention_heads=c.text_heads,
                max_position_embeddings=c.max_tokens,
                pad_token_id=0,
                bos_token_id=1,
                eos_token_id=2,
            )
        ).eval()
        tascm = TASCM(
            image_encoder="cnn",
            cnn_channels=c.tascm_cnn,
            feature_dim=c.tascm_dim,
            model_dim=c.tascm_dim,
            num_queries=c.num_queries,
            codebook_size=c.codebook_size,
            code_dim=c.code_dim,
            context_dim=c.text_width,
            quantizer=c.quantizer,
            cnn_norm=c.tascm_norm,
            query_grid=c.query_grid,
            fsq_levels=c.fsq_levels if c.quantizer == "fsq" else (),
            layout_dim=c.layout_dim,
            cnn_strides=c.tascm_strides,
            cell_patch=c.tascm_cell_patch,
        )
        learned = LearnedHCICodec(n=c.hci_n, m=c.hci_m)
        captioner = ShapesCaptioner(
            channels=c.captioner_channels,
            world=c.world,
            strides=c.captioner_strides,
            cell_patch=c.captioner_cell_patch,
        ).eval()
        sketch = None
        if c.sketch:
            sketch = SceneSketch(
                grid=c.sketch_grid,
                groups=layout.groups,
                context_dim=c.text_width,
                vocab_size=len(tokenizer),
                max_tokens=c.max_tokens,
                width=c.text_width,
                heads=c.text_heads,
                window=c.sketch_window,
                halo=c.sketch_halo,
                rotation_periods=layout.periods,
                decisive=c.sketch_decisive,
            )
    finally:
        torch.random.set_rng_state(gen_state)
    codec_config = CodecConfig(
        preset=c.preset,
        min_size=c.min_size,
        hci_kind=c.hci_kind,
        hci_factor=c.hci_factor,
        hci_quality=c.hci_quality,
        hci_lowpass=c.hci_lowpass,
        seed=c.seed,
        world="untrained",  # random weights; `semcom train` records what it trained on
        caption_lm=caption_lm,
    )
    return MTGC(
        codec_config,
        HCICodec(learned, codec_config.hci_setting),
        tascm,
        TextEncoder(tokenizer, text_model),
        MGDD(unet, controlnet, scheduler, vae, mgdd_config),
        captioner=captioner,
        sketch=sketch,
    )


def load_preset_dir(
    preset: str,
    shipped: Path,
    build: Callable[[], MTGC],
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> MTGC:
    """The ``preset`` codec from ``weights`` (default: its ``shipped`` directory); a
    directory of another preset is one sentence. Without shipped weights: ``build()``'s
    untrained architecture, with a warning."""
    path = Path(weights) if weights is not None else shipped
    if weights is not None or (path / "mtgc.json").is_file():
        codec = MTGC.from_pretrained(path, device=device, dtype=dtype)
        if codec.preset != preset:
            from semcom.errors import SemcomError

            raise SemcomError(f"{path} holds preset {codec.preset!r}, not {preset}.")
        return codec
    warnings.warn(
        f"the {preset} preset's trained weights are not installed yet; using the untrained "
        "architecture (seed 0): bitstreams are valid, reconstructions are noise.",
        stacklevel=3,
    )
    return build().to(device, dtype)


def load_tiny(
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> MTGC:
    """The tiny codec from ``weights`` (default: the shipped directory).

    Without shipped weights it builds the untrained architecture from seed 0 and warns.
    """
    return load_preset_dir("tiny", WEIGHTS_DIR, build_tiny, weights, device, dtype)
