"""The conventional codecs and the compressai codec as one-stream
:class:`~semcom.protocol.DigitalCodec`\\ s.

The ``image`` stream offers every Pareto-optimal operating point (factor × quality, real
bytes of the stream that crosses the link, :mod:`semcom.baselines.wire`; PSNR measured at
the sender), best PSNR first, so the planner sends the best image that fits; each option
records its standard file's size (``file_bits``) beside it. The receiver decodes what
arrived, or shows the training-set mean image (:mod:`semcom.data.mean_image`).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from semcom.codecs.identity import folder_identity
from semcom.codecs.options import OptionlessCodec
from semcom.protocol import Encoded, Option, Stream

#: The stream name of a one-stream codec.
IMAGE_STREAM = "image"


class ConventionalCodec(OptionlessCodec):
    """One ``image`` stream of ``name`` (a :mod:`semcom.baselines` codec)."""

    kind: ClassVar[str] = "digital"
    name: ClassVar[str] = ""
    streams: ClassVar[tuple[str, ...]] = (IMAGE_STREAM,)
    option_names: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    #: The images its weights learned from (:mod:`semcom.worlds`); None: any image.
    world: ClassVar[str | None] = None

    @property
    def identity(self) -> str | None:
        return None

    @property
    def values_path(self) -> Path:
        """Its shipped value table of ShapesWorld scenes (:mod:`semcom.values`)."""
        return self.values_path_for(None)

    def shipped_values(self) -> list[Path]:
        """Where its value table of each named world would be (:meth:`values_path_for`)."""
        from semcom.data.datasets import dataset_names

        return [self.values_path_for(name) for name in dataset_names()]

    def values_path_for(self, dataset: str | None) -> Path:
        """Its shipped value table for the scenes of ``dataset`` (None or ``shapes``:
        ShapesWorld's, ``values/<name>.json``; another world's in ``values/<dataset>/``)."""
        from semcom.baselines import VALUES_DIR

        if dataset in (None, "shapes"):
            return VALUES_DIR / f"{self.name}.json"
        return VALUES_DIR / dataset / f"{self.name}.json"

    def encode(self, image) -> Encoded:
        """``image`` [3,H,W] in [0,1] → the ``image`` stream's operating points."""
        from semcom.baselines import get_codec, operating_points, pareto_front

        _, h, w = image.shape
        points = sorted(pareto_front(operating_points(image, self.name)), key=lambda v: v._rank())
        codec = get_codec(self.name)
        options = tuple(
            Option(
                v.data,
                {
                    "factor": v.factor,
                    "quality": v.quality,
                    "sender_psnr": v.psnr,
                    "file_bits": 8 * len(codec.file_of(v.data, h, w)),
                },
            )
            for v in points
        )
        return Encoded(struct.pack(">HH", h, w), (Stream(IMAGE_STREAM, options),), h, w)

    def decode(self, header: bytes, received: Mapping[str, bytes], seed: int):
        """[3,H,W] in [0,1]: the delivered image, or the training-set mean image when it
        was lost."""
        from semcom.baselines import get_codec

        h, w = struct.unpack(">HH", header)
        return get_codec(self.name).decode(received.get(IMAGE_STREAM), h, w, fallback="mean")

    def received_key(self, header: bytes, received: Mapping[str, bytes]) -> bytes:
        data = received.get(IMAGE_STREAM)
        return b"\x00" if data is None else b"\x01" + data


def _codec(name: str, summary: str) -> type[ConventionalCodec]:
    return type(name.upper(), (ConventionalCodec,), {"name": name, "summary": summary})


JPEG = _codec("jpeg", "JPEG (libjpeg-turbo), with downsampling for low rates")
WEBP = _codec("webp", "WebP (libwebp), with downsampling for low rates")
JPEG2000 = _codec("jpeg2000", "JPEG 2000 (OpenJPEG), with downsampling for low rates")
AVIF = _codec("avif", "AVIF (libavif/aom), with downsampling for low rates")
JPEGXL = _codec("jpegxl", "JPEG XL (libjxl), with downsampling for low rates")


class CompressAI(ConventionalCodec):
    """MTGC-tiny's learned HCI codec (compressai FactorizedPrior) on its own."""

    name: ClassVar[str] = "compressai"
    summary: ClassVar[str] = "compressai FactorizedPrior (MTGC-tiny's HCI codec alone)"
    world: ClassVar[str | None] = "shapes"  # trained with MTGC-tiny on ShapesWorld

    @property
    def identity(self) -> str | None:
        from semcom.baselines.learned import weights_dir

        return folder_identity(Path(weights_dir()))
