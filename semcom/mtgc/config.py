"""MTGC's settings and constants: :class:`CodecConfig` (``mtgc.json``), the receiver's
:class:`DecodedStreams`, the largest image it codes and the stream arrival patterns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from semcom.mtgc.container import STREAMS
from semcom.mtgc.streams.hci import HCISetting

MTGC_CONFIG = "mtgc.json"
#: Largest image (height × width pixels) MTGC encodes or decodes, 2048 × 2048: the
#: receiver's work and memory grow with the size a header declares, so a corrupted or
#: forged header must not make it decode a gigapixel image.
MAX_PIXELS = 1 << 22
#: The world (:data:`semcom.worlds.WORLDS`) of a preset's weights when a model directory
#: does not record its own: the tiny recipe trains on ShapesWorld only, the sd21 preset is
#: a Stable Diffusion 2.1-base backbone (natural photographs).
PRESET_WORLDS: dict[str, str] = {
    "tiny": "shapes",
    "sd21": "natural",
    "tiny-complex": "shapes-complex",
}
#: The preset trained for each named data set (its world): :data:`PRESET_WORLDS` read
#: backwards (``shapes``: tiny, ``shapes-complex``: tiny-complex; sd21 trains on folders).
DATASET_PRESETS: dict[str, str] = {w: p for p, w in PRESET_WORLDS.items() if w != "natural"}
#: The caption model (``CodecConfig.caption_lm``) of a preset whose captions are not
#: ShapesWorld's: what a bitstream's caption is read with when only its header is known.
PRESET_CAPTION_LMS: dict[str, str] = {"tiny-complex": "shapes-complex"}
#: The seven non-empty subsets of streams, as tuples of names that arrive.
ARRIVAL_PATTERNS: tuple[tuple[str, ...], ...] = tuple(
    tuple(s for i, s in enumerate(STREAMS) if mask >> i & 1) for mask in range(1, 8)
)


@dataclass
class CodecConfig:
    """Codec settings stored in mtgc.json.

    preset: name written into every bitstream. min_size: smallest image side accepted.
    hci_kind/hci_factor/hci_quality: the default HCI operating point. seed: default
    decoding seed. clip_mean/clip_std: pixel normalisation of an external image encoder.
    hci_lowpass: when the HCI arrived, the receiver replaces the generated image's
    low frequencies (area-downsampled by this factor and upsampled back) with the decoded
    HCI's, so colours and layout follow what was sent while the diffusion model supplies
    the detail; 0 disables it (ours, not in the paper; see docs/codec.md).
    hci_factors: the HCI downsampling factors the decoder was trained on (``semcom train``
    records them); the transmitter chooses its HCI among these only. None: every factor.
    world: the images the weights were trained on, a name of :data:`semcom.worlds.WORLDS`
    (``shapes``: ShapesWorld, what ``semcom train`` trains the tiny preset on;
    ``natural``: natural photographs, the sd21 preset's Stable Diffusion backbone;
    ``untrained``: random weights) or of the data set a model was trained on. Not
    recorded (a model directory older than the field): the preset's
    (:data:`PRESET_WORLDS`). It describes the weights and changes nothing they compute,
    so it is left out of the fingerprint and of the weights' identity
    (:data:`semcom.codecs.identity.DESCRIPTIVE_KEYS`): stating it moves no result.
    sketch_overlay: the receiver lays the scene sketch of what arrived over the sampled
    image (the image near the sketch's objects cleared first), so objects the decoder's
    autoencoder blurs stay as the semantic streams placed them; a receiver-side setting,
    left out of the fingerprint (ours, not in the paper; see docs/codec.md). ``semcom
    train`` tries it off and on in its sampling gate.
    caption_lm: the frozen caption model that codes the caption stream (a key of
    :data:`semcom.mtgc.streams.caption.CAPTION_MODELS`): ``shapes`` (default) or
    ``shapes-complex`` (the tiny-complex preset). Part of the fingerprint.
    """

    preset: str = "tiny"
    min_size: int = 64
    hci_kind: str = "learned"
    hci_factor: int = 8
    hci_quality: int = 8
    seed: int = 0
    hci_lowpass: int = 0
    hci_factors: tuple[int, ...] | None = None
    clip_mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    clip_std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    world: str | None = None
    caption_lm: str = "shapes"
    sketch_overlay: bool = False

    def __post_init__(self) -> None:
        if self.world is None:
            self.world = PRESET_WORLDS.get(self.preset)

    @property
    def hci_setting(self) -> HCISetting:
        return HCISetting(self.hci_kind, self.hci_factor, self.hci_quality)


def _read_config(folder: str | Path) -> dict | None:
    """A model directory's ``mtgc.json`` as a mapping; None when missing or unreadable."""
    try:
        raw = json.loads((Path(folder) / MTGC_CONFIG).read_text())
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def recorded_world(folder: str | Path) -> str | None:
    """The world a model directory's ``mtgc.json`` states (else its preset's, from
    :data:`PRESET_WORLDS`), read without loading the model; None when the file is missing
    or unreadable (loading the model says why)."""
    raw = _read_config(folder)
    if raw is None:
        return None
    world = raw.get("world")
    if isinstance(world, str) and world:
        return world
    return PRESET_WORLDS.get(raw.get("preset", CodecConfig.preset))


def recorded_preset(folder: str | Path) -> str | None:
    """The preset a model directory's ``mtgc.json`` names (``tiny`` where it names none),
    read without loading the model; None when the file is missing or unreadable."""
    raw = _read_config(folder)
    if raw is None:
        return None
    preset = raw.get("preset", CodecConfig.preset)
    return preset if isinstance(preset, str) else None


@dataclass
class DecodedStreams:
    """What the receiver recovered from one bitstream (None = absent or undecodable).

    caption: text; hci: [1,3,H,W] in [0,1]; spw: [K] int64 indices.
    """

    caption: str | None = None
    hci: torch.Tensor | None = None
    spw: torch.Tensor | None = None
    failed: tuple[str, ...] = ()
