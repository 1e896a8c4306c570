"""MTGC as a :class:`~semcom.protocol.DigitalCodec`: caption, SPW and HCI streams.

The caption and the SPWs have one payload each; the HCI offers every distinct payload of
the codec's operating points, largest first (at equal size the finer setting). The header
is the ``.mtgc`` container without streams (preset, model fingerprint, image size); the
receiver decodes whatever streams arrived, the others erased.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from semcom.codecs.identity import folder_identity
from semcom.codecs.options import check_keys, positive_int
from semcom.protocol import Encoded, Option, Stream

#: Presets a config may name.
PRESETS = ("tiny", "sd21")
#: Default protection: the semantic streams robust, the HCI adaptive.
DEFAULT_PROTECTION: dict[str, str] = {"caption": "qpsk:1/3", "spw": "qpsk:1/3", "hci": "adaptive"}


class MTGCCodec:
    """MTGC through the link. ``steps``: DDIM steps at the receiver (None: the preset's);
    ``preset``: tiny or sd21; ``weights``: a model folder (default: the preset's shipped
    one); ``model``: an already loaded :class:`~semcom.codec.MTGC` (tests)."""

    kind: ClassVar[str] = "digital"
    name: ClassVar[str] = "mtgc"
    streams: ClassVar[tuple[str, ...]] = ("caption", "spw", "hci")
    option_names: ClassVar[tuple[str, ...]] = ("steps", "preset")
    summary: ClassVar[str] = "MTGC: caption, semantic pseudo-words and a compressed image"

    def __init__(
        self,
        steps: int | None = None,
        preset: str = "tiny",
        weights: str | Path | None = None,
        model: Any = None,
    ) -> None:
        self.steps, self.preset, self.weights = steps, preset, weights
        self._model = model
        self._handed_in = model is not None

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """{steps, preset} with their defaults; ValueError naming a bad one."""
        d = check_keys(options, cls.option_names, cls.name)
        steps = d.get("steps")
        if steps is not None:
            positive_int(steps, "steps")
        preset = d.get("preset", "tiny")
        if preset not in PRESETS:
            raise ValueError(f"{preset!r} is not a preset; choose {' or '.join(PRESETS)}")
        return {"steps": steps, "preset": preset}

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], weights: str | Path | None = None, model: Any = None
    ) -> MTGCCodec:
        return cls(**cls.check_options(options), weights=weights, model=model)

    @property
    def model(self):
        """The MTGC codec (loaded on first use)."""
        if self._model is None:
            from semcom.presets import load_codec

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._model = load_codec(self.preset, self.weights)
        return self._model

    @property
    def identity(self) -> str | None:
        """The weights folder's hash (None for a model handed in, or no folder)."""
        if self._handed_in and self.weights is None:
            return None
        if self.weights is not None:
            return folder_identity(self.weights)
        if self.preset == "tiny":
            from semcom.presets.tiny import WEIGHTS_DIR

            return folder_identity(WEIGHTS_DIR)
        return None

    def encode(self, image) -> Encoded:
        """``image`` [3,H,W] in [0,1] → header and the three streams (HCI: every distinct
        payload, largest first; at equal size the finer setting)."""
        from semcom.container import Bitstream

        codec = self.model
        img = image.unsqueeze(0) if image.dim() == 3 else image
        bs = codec.encode(img)[0]
        seen: dict[bytes, tuple[int, int, int]] = {}
        for s in codec.hci_candidates():
            payload = codec.hci.encode(img, s)[0]
            key = (len(payload), -s.factor, s.quality)
            if payload not in seen or key > seen[payload]:
                seen[payload] = key
        hci = sorted(seen, key=lambda p: seen[p], reverse=True)
        header = Bitstream(bs.preset, bs.fingerprint, bs.height, bs.width).to_bytes()
        prot = DEFAULT_PROTECTION
        return Encoded(
            header,
            (
                Stream("caption", (Option(bs.streams["caption"]),), prot["caption"]),
                Stream("spw", (Option(bs.streams["spw"]),), prot["spw"]),
                Stream("hci", tuple(Option(p) for p in hci), prot["hci"]),
            ),
            bs.height,
            bs.width,
        )

    def _bitstream(self, header: bytes, received: Mapping[str, bytes]):
        from semcom.container import Bitstream

        return Bitstream.from_bytes(header).with_received(received)

    def decode(self, header: bytes, received: Mapping[str, bytes], seed: int):
        """[3,H,W] in [0,1] from whatever streams arrived."""
        bs = self._bitstream(header, received)
        return self.model.decode(bs, steps=self.steps, seed=seed)[0].clamp(0, 1)

    def received_key(self, header: bytes, received: Mapping[str, bytes]) -> bytes:
        """The receiver's ``.mtgc`` bytes (header and delivered streams)."""
        return self._bitstream(header, received).to_bytes()
