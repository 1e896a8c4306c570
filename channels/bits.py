"""Bytes and bit arrays, as the link carries them (most significant bit first)."""

from __future__ import annotations

import numpy as np
import torch


def bytes_to_bits(data: bytes) -> np.ndarray:
    """Bytes to a float32 array of bits, most significant bit first."""
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(np.float32)


def bits_to_bytes(bits: torch.Tensor | np.ndarray) -> bytes:
    """A bit array (length a multiple of 8, values {0, 1}) back to bytes."""
    arr = bits.detach().cpu().numpy() if isinstance(bits, torch.Tensor) else np.asarray(bits)
    return np.packbits(arr.astype(np.uint8)).tobytes()
