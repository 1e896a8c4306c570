"""The compressai baseline: MTGC-tiny's learned HCI codec used alone as an image codec.

A compressai ``FactorizedPrior`` (trained with MTGC on ShapesWorld, ``semcom train
--stage 1 --part hci``) codes the image, downsampled by the same factors as the
conventional codecs, and the receiver upsamples it bicubically. It plugs into
:class:`~semcom.baselines.standard.ConventionalCodec` as the codec ``compressai``, so
rate control, sweeps, ``semcom transmit`` and ``semcom evaluate`` treat it like the
others. Stream layout (real bytes)::

    byte 0      quality index q (0..15: the latent gain of the codec's gain table)
    varint h, varint w   the coded (downsampled) image size
    rest        compressai's rANS bytes
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from semcom.errors import SemcomError
from semcom.formats import encode_varint as varint

NAME = "compressai"
QUALITIES: tuple[int, ...] = tuple(range(16))


def weights_dir() -> Path:
    """Where the learned codec's weights live: the shipped tiny preset's ``hci/``."""
    from semcom.mtgc.presets.tiny import WEIGHTS_DIR

    return WEIGHTS_DIR / "hci"


@lru_cache(maxsize=1)
def _model():
    from semcom.mtgc.streams.hci import LearnedHCICodec

    path = weights_dir()
    if not (path / "config.json").is_file():
        raise SemcomError(
            f"the compressai baseline needs the trained HCI codec in {path}; train it with "
            "`semcom train --stage 1 --part hci`."
        )
    return LearnedHCICodec.from_pretrained(path)


def _header(data: bytes) -> tuple[int, int, int, int]:
    """(quality, h, w, offset of the compressai bytes); SemcomError when unreadable."""
    if len(data) < 3:
        raise SemcomError("the compressai stream is corrupted (too short).")
    quality, pos, sizes = data[0], 1, []
    if quality >= len(QUALITIES):
        raise SemcomError("the compressai stream is corrupted (unknown quality).")
    for _ in range(2):
        value = shift = 0
        while True:
            if pos >= len(data) or shift > 14:
                raise SemcomError("the compressai stream is corrupted (bad size field).")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        sizes.append(value)
    return quality, sizes[0], sizes[1], pos


def size_of(data: bytes) -> tuple[int, int]:
    """The coded image's (height, width), from the stream's header."""
    _, h, w, _ = _header(bytes(data))
    return h, w


def encode(arr: np.ndarray, quality: int) -> bytes:
    """[h,w,3] uint8 → the stream (header + rANS bytes)."""
    x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float()[None] / 255
    body = _model().compress(x, quality)[0]
    return bytes([quality]) + varint(arr.shape[0]) + varint(arr.shape[1]) + body


def decode(data: bytes) -> np.ndarray:
    """The stream → [h,w,3] uint8; SemcomError (or a StreamError) when corrupted."""
    quality, h, w, pos = _header(bytes(data))
    if not (1 <= h <= 4096 and 1 <= w <= 4096):
        raise SemcomError("the compressai stream is corrupted (implausible size).")
    x = _model().decompress(bytes(data[pos:]), h, w, quality)[0]
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy().copy()
