"""MTGC's settings and constants: :class:`CodecConfig` (``mtgc.json``), the receiver's
:class:`DecodedStreams`, the largest image it codes and the stream arrival patterns."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from semcom.mtgc.container import STREAMS
from semcom.mtgc.streams.hci import HCISetting

MTGC_CONFIG = "mtgc.json"
#: Largest image (height × width pixels) MTGC encodes or decodes, 2048 × 2048: the
#: receiver's work and memory grow with the size a header declares, so a corrupted or
#: forged header must not make it decode a gigapixel image.
MAX_PIXELS = 1 << 22
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

    @property
    def hci_setting(self) -> HCISetting:
        return HCISetting(self.hci_kind, self.hci_factor, self.hci_quality)


@dataclass
class DecodedStreams:
    """What the receiver recovered from one bitstream (None = absent or undecodable).

    caption: text; hci: [1,3,H,W] in [0,1]; spw: [K] int64 indices.
    """

    caption: str | None = None
    hci: torch.Tensor | None = None
    spw: torch.Tensor | None = None
    failed: tuple[str, ...] = ()
