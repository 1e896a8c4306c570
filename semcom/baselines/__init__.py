"""Baselines that MTGC is compared against.

``conventional``: JPEG, WebP, JPEG 2000, AVIF and JPEG XL as real byte streams, with a
downsampling factor for ultra-low rates, and rate control on real sizes (``rate``).
``learned``: the ``compressai`` baseline (MTGC-tiny's trained HCI codec alone), through
the same interface.
``deepjscc``: the analog Deep JSCC baseline (``deepjscc.py``, ADJSCC style), sent as
channel symbols without coding (``experiments/analog.py``); imported on use (diffusers).
"""

from pathlib import Path

from semcom.baselines.rate import (
    Variant,
    closest_to_bpp,
    fit_bits,
    operating_points,
    pareto_front,
    psnr,
)
from semcom.baselines.standard import (
    BASELINE_NAMES,
    CODEC_NAMES,
    FACTORS,
    HEADER_BITS,
    QUALITY_DOCS,
    ConventionalCodec,
    fallback_image,
    get_codec,
)

#: The baselines' value tables (:mod:`semcom.values`), one ``NAME.json`` per codec.
VALUES_DIR = Path(__file__).parent / "weights" / "values"

#: Analog baselines: images mapped straight to channel symbols, no bytes, no MCS.
ANALOG_NAMES: tuple[str, ...] = ("deepjscc",)

__all__ = [
    "ANALOG_NAMES",
    "VALUES_DIR",
    "BASELINE_NAMES",
    "CODEC_NAMES",
    "FACTORS",
    "HEADER_BITS",
    "QUALITY_DOCS",
    "ConventionalCodec",
    "Variant",
    "closest_to_bpp",
    "fit_bits",
    "fallback_image",
    "get_codec",
    "operating_points",
    "pareto_front",
    "psnr",
]
