"""Deep JSCC as an :class:`~semcom.protocol.AnalogCodec` (the shipped ADJSCC-style model)."""

from __future__ import annotations

from typing import ClassVar

from semcom.codecs.identity import folder_identity
from semcom.codecs.options import OptionlessCodec


class DeepJSCCCodec(OptionlessCodec):
    """Images ↔ complex channel symbols with the shipped Deep JSCC model."""

    kind: ClassVar[str] = "analog"
    name: ClassVar[str] = "deepjscc"
    streams: ClassVar[tuple[str, ...]] = ("analog",)
    option_names: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = "analog Deep JSCC (ADJSCC-style, SNR-adaptive)"
    #: Trained on ShapesWorld (semcom.baselines.train_deepjscc; :mod:`semcom.worlds`).
    world: ClassVar[str | None] = "shapes"

    def __init__(self, device: str = "cpu") -> None:
        self._model = None
        self.device = device

    @classmethod
    def from_options(cls, options, device: str = "cpu", **_) -> DeepJSCCCodec:
        cls.check_options(options)
        return cls(device=device)

    @property
    def model(self):
        if self._model is None:
            from semcom.baselines.deepjscc import load

            self._model = load().to(self.device)
        return self._model

    @property
    def identity(self) -> str | None:
        from semcom.baselines.deepjscc import WEIGHTS_DIR

        return folder_identity(WEIGHTS_DIR)

    def max_symbols(self, height: int, width: int) -> int:
        return self.model.max_symbols(height, width)

    def encode(self, images, snr_db: float, symbols: int):
        """Images (any device) → symbols on the codec's device (the link's)."""
        return self.model.encode(images.to(self.device), snr_db, symbols)

    def decode(self, received, effective_snr_db, height: int, width: int):
        """Received symbols → images on the CPU (where they are scored)."""
        return self.model.decode(received.to(self.device), effective_snr_db, height, width).cpu()
