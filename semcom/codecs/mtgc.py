"""MTGC as a :class:`~semcom.protocol.DigitalCodec`: caption, SPW and HCI streams.

The caption and the SPWs have one payload each; the HCI offers every distinct payload of
the codec's operating points, the best-decoding first (PSNR of the decoded, upsampled HCI
against the image; ties: more bytes, then the finer setting), so the planner's rule sends
the best HCI that fits, as ``semcom encode --target-bpp`` chooses it. The header
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
from semcom.errors import SemcomError
from semcom.protocol import Encoded, Option, Stream

#: Presets a config may name.
PRESETS = ("tiny", "tiny-complex", "sd21")


def _shipped_dir(preset: str) -> Path | None:
    """The folder of a preset's shipped weights (None: sd21 ships none)."""
    from semcom.mtgc.presets.tiny import WEIGHTS_DIR

    return WEIGHTS_DIR.with_name(preset) if preset in ("tiny", "tiny-complex") else None


#: The scene streams must arrive: "robust" protection (the table MCS with 3 dB more margin;
#: below the table QPSK 1/5, repeated as the SNR asks and the budget allows); the HCI takes
#: the link's best MCS ("adaptive").
DEFAULT_PROTECTION: dict[str, str] = {"caption": "robust", "spw": "robust", "hci": "adaptive"}


class MTGCCodec:
    """MTGC through the link. ``steps``: DDIM steps at the receiver (None: the preset's);
    ``preset``: tiny or sd21; ``hci_lowpass``, ``init_strength`` and ``sketch_overlay``:
    override the model's (None keeps them); ``half``: the networks in half precision
    (float16 on a GPU, bfloat16 on a CPU; the bitstreams are the same and the decodes
    within rounding of float32's); ``weights``: a model folder (default: the preset's shipped one);
    ``model``: an already loaded :class:`~semcom.mtgc.pipeline.MTGC` (tests; the overrides are set
    on it)."""

    kind: ClassVar[str] = "digital"
    name: ClassVar[str] = "mtgc"
    title: ClassVar[str] = "MTGC"
    streams: ClassVar[tuple[str, ...]] = ("caption", "spw", "hci")
    option_names: ClassVar[tuple[str, ...]] = (
        "steps",
        "preset",
        "hci_lowpass",
        "init_strength",
        "sketch_overlay",
        "half",
    )
    summary: ClassVar[str] = "MTGC: caption, semantic pseudo-words and a compressed image"
    #: ``--weights DIR`` is a model folder for this codec.
    takes_weights: ClassVar[bool] = True

    @classmethod
    def check_weights(cls, options: Mapping[str, Any], weights: str | Path | None) -> None:
        """Whether ``options`` can run with ``weights`` (None: the preset's shipped ones):
        sd21 ships none, so it needs a folder. SemcomError (one sentence) when not."""
        if weights is None and options.get("preset") == "sd21":
            raise SemcomError("the sd21 preset loads local weights: pass --weights DIR.")

    def __init__(
        self,
        steps: int | None = None,
        preset: str = "tiny",
        hci_lowpass: int | None = None,
        init_strength: float | None = None,
        half: bool = False,
        weights: str | Path | None = None,
        sketch_overlay: bool | None = None,
        model: Any = None,
        device: str = "cpu",
    ) -> None:
        self.steps, self.preset, self.weights = steps, preset, weights
        self.device, self.half = device, half
        self.hci_lowpass, self.init_strength = hci_lowpass, init_strength
        self.sketch_overlay = sketch_overlay
        self._model = None
        self._handed_in = model is not None
        if model is not None:
            self._model = self._overridden(model)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """{steps, preset, hci_lowpass, init_strength, sketch_overlay, half} with their
        defaults; ValueError naming a bad one."""
        d = check_keys(options, cls.option_names, cls.name)
        steps = d.get("steps")
        if steps is not None:
            positive_int(steps, "steps")
        preset = d.get("preset", "tiny")
        if preset not in PRESETS:
            raise ValueError(f"{preset!r} is not a preset; choose {' or '.join(PRESETS)}")
        lowpass = d.get("hci_lowpass")
        if lowpass is not None and (
            isinstance(lowpass, bool) or not isinstance(lowpass, int) or lowpass < 0
        ):
            raise ValueError(
                f"hci_lowpass must be 0 (off) or a downsampling factor, not {lowpass!r}"
            )
        strength = d.get("init_strength")
        if strength is not None:
            if isinstance(strength, bool) or not isinstance(strength, int | float):
                raise ValueError(f"init_strength must be a number in (0, 1], not {strength!r}")
            from semcom.mtgc.mgdd import check_strength

            try:
                check_strength(float(strength))
            except SemcomError as err:
                raise ValueError(str(err).rstrip(".")) from err
            strength = float(strength)
        overlay = d.get("sketch_overlay")
        if overlay is not None and not isinstance(overlay, bool):
            raise ValueError(f"sketch_overlay must be true or false, not {overlay!r}")
        half = d.get("half", False)
        if not isinstance(half, bool):
            raise ValueError(f"half must be true or false, not {half!r}")
        return {
            "steps": steps,
            "preset": preset,
            "hci_lowpass": lowpass,
            "init_strength": strength,
            "sketch_overlay": overlay,
            "half": half,
        }

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, Any],
        weights: str | Path | None = None,
        model: Any = None,
        device: str = "cpu",
        dataset: str | None = None,
        **_: Any,
    ) -> MTGCCodec:
        """The codec of ``options``. Without a ``preset`` option: with ``weights``, the
        preset the weights' mtgc.json names (a tiny-complex model loads as tiny-complex);
        else the preset trained for ``dataset`` (``shapes-complex``: tiny-complex), else tiny."""
        checked = cls.check_options(options)
        if "preset" not in options:
            from semcom.mtgc.config import DATASET_PRESETS, recorded_preset

            recorded = recorded_preset(weights) if weights is not None else None
            if recorded in PRESETS:
                checked["preset"] = recorded
            elif weights is None and dataset in DATASET_PRESETS and model is None:
                checked["preset"] = DATASET_PRESETS[dataset]
        return cls(**checked, weights=weights, model=model, device=device)

    @property
    def model(self):
        """The MTGC codec (loaded on first use)."""
        if self._model is None:
            from semcom.mtgc.presets import load_codec

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from semcom.devices import model_dtype

                dtype = model_dtype(self.device, self.half)
                self._model = self._overridden(
                    load_codec(self.preset, self.weights, device=self.device, dtype=dtype)
                )
        return self._model

    def _overridden(self, model):
        """``model`` with this codec's ``hci_lowpass`` / ``init_strength`` /
        ``sketch_overlay`` set on it."""
        if self.hci_lowpass is not None:
            model.config.hci_lowpass = self.hci_lowpass
        if self.sketch_overlay is not None:
            if self.sketch_overlay and model.sketch is None:
                raise SemcomError(
                    "sketch_overlay lays the scene sketch over the decode, and this model "
                    "has none: leave the option out or set it to false."
                )
            model.config.sketch_overlay = self.sketch_overlay
        if self.init_strength is not None:
            if self.init_strength < 1.0 and not model.mgdd.config.guide_channels:
                raise SemcomError(
                    "init_strength below 1 starts from the scene sketch, which this model "
                    "lacks (--init-strength 1 samples from noise)."
                )
            model.mgdd.config.init_strength = self.init_strength
        return model

    @property
    def identity(self) -> str | None:
        """The weights folder's hash (None for a model handed in, or no folder)."""
        if self._handed_in and self.weights is None:
            return None
        if self.weights is not None:
            return folder_identity(self.weights)
        shipped = _shipped_dir(self.preset)
        return folder_identity(shipped) if shipped is not None else None

    @property
    def world(self) -> str | None:
        """The images the weights were trained on (:mod:`semcom.worlds`; ``world`` in the
        model's mtgc.json, else the preset's), read without loading the model."""
        from semcom.mtgc.config import PRESET_WORLDS, recorded_world

        if self._model is not None:
            return self._model.config.world
        if self.weights is not None:
            return recorded_world(self.weights)
        shipped = _shipped_dir(self.preset)
        if shipped is not None:
            # no shipped weights: the loader builds the untrained architecture
            return recorded_world(shipped) or "untrained"
        return PRESET_WORLDS.get(self.preset)

    @property
    def preset_worlds(self) -> dict[str, str | None]:
        """{preset: the world of its default weights} (sd21 has none shipped: its
        backbone's; a ``--weights`` folder states its own)."""
        return {p: MTGCCodec(preset=p).world for p in PRESETS}

    @property
    def values_path(self) -> Path | None:
        """The value table beside the weights (:mod:`semcom.values`; None: no folder)."""
        from semcom.values import VALUES_FILE

        if self.weights is not None:
            return Path(self.weights) / VALUES_FILE
        shipped = _shipped_dir(self.preset)
        if shipped is not None and not self._handed_in:
            return shipped / VALUES_FILE
        return None

    def shipped_values(self) -> list[Path]:
        """Where the value tables are: beside ``weights`` when given, else beside every
        preset's shipped weights (tiny: ShapesWorld's, tiny-complex: ShapesWorld-Complex's)."""
        from semcom.values import VALUES_FILE

        if self.weights is not None or self._handed_in:
            path = self.values_path
            return [path] if path is not None else []
        return [d / VALUES_FILE for p in PRESETS if (d := _shipped_dir(p)) is not None]

    def encode(self, image) -> Encoded:
        """``image`` [3,H,W] in [0,1] → header and the three streams (HCI: every distinct
        payload, the best-decoding first)."""
        img = image.unsqueeze(0) if image.dim() == 3 else image
        return self._encoded(img, self.model.encode(img)[0])

    def encode_with_caption(self, image, caption: str) -> Encoded:
        """As :meth:`encode`, sending ``caption`` (text the user supplies, as
        ``semcom encode --caption`` does) instead of the captioner's."""
        img = image.unsqueeze(0) if image.dim() == 3 else image
        return self._encoded(img, self.model.encode(img, captions=[caption])[0])

    def encode_oracle(self, image, objects) -> Encoded:
        """As :meth:`encode`, sending the ground-truth caption of ``objects`` (ShapesWorld's
        scene) instead of the captioner's: an upper bound, never a transmitter."""
        from semcom.data.captions import canonical_caption

        return self.encode_with_caption(image, canonical_caption(objects))

    def _encoded(self, img, bs) -> Encoded:
        from semcom.mtgc.container import Bitstream

        hci = self.model.hci_options(img)
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
        from semcom.mtgc.container import Bitstream

        return Bitstream.from_bytes(header).with_received(received)

    def decode(self, header: bytes, received: Mapping[str, bytes], seed: int):
        """[3,H,W] in [0,1] from whatever streams arrived; when none did, the
        training-set mean image, as every codec shows for a lost image."""
        bs = self._bitstream(header, received)
        if not bs.streams:
            from semcom.data.mean_image import mean_image

            return mean_image(bs.height, bs.width)
        return self.model.decode(bs, steps=self.steps, seed=seed)[0].clamp(0, 1)

    def received_key(self, header: bytes, received: Mapping[str, bytes]) -> bytes:
        """The receiver's ``.mtgc`` bytes (header and delivered streams)."""
        return self._bitstream(header, received).to_bytes()
