"""Backbone presets: ``tiny`` (CPU, ships with the package), ``tiny-complex`` (the same
architecture for ShapesWorld-Complex) and ``sd21`` (local weights).

Both build the same classes; a preset is a set of configs plus where its weights live.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.errors import SemcomError
from semcom.mtgc.pipeline import MTGC

PRESETS: tuple[str, ...] = ("tiny", "tiny-complex", "sd21")


def load_codec(
    preset: str,
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> MTGC:
    """The codec of a preset, from ``weights`` (a model directory) or its default."""
    if preset == "tiny":
        from semcom.mtgc.presets.tiny import load_tiny

        return load_tiny(weights, device=device, dtype=dtype)
    if preset == "tiny-complex":
        from semcom.mtgc.presets.tiny_complex import load_tiny_complex

        return load_tiny_complex(weights, device=device, dtype=dtype)
    if preset == "sd21":
        from semcom.mtgc.presets.sd21 import load_sd21

        if weights is None:
            raise SemcomError(
                "the sd21 preset loads local weights: pass --weights DIR (layout in docs/codec.md)."
            )
        return load_sd21(weights, device=device, dtype=dtype)
    raise SemcomError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
