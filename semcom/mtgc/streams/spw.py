"""SPW stream: TASCM's K codebook indices packed MSB-first into bytes.

K indices of ``bits`` bits each take ceil(K·bits / 8) bytes; unused tail bits are zero.
The receiver knows K and ``bits`` from the preset, so the payload carries nothing else.
"""

from __future__ import annotations

import torch

from semcom.mtgc.streams import StreamError


class SPWCoder:
    """Pack [K] indices < codebook_size into bytes and back."""

    def __init__(self, num_queries: int, codebook_size: int) -> None:
        self.k = num_queries
        self.codebook_size = codebook_size
        self.bits = max(1, (codebook_size - 1).bit_length())

    @property
    def payload_bytes(self) -> int:
        """Bytes per image: ceil(K·bits/8)."""
        return (self.k * self.bits + 7) // 8

    def encode(self, indices: torch.Tensor) -> bytes:
        """[K] int indices → payload bytes."""
        idx = [int(i) for i in indices.reshape(-1).tolist()]
        if len(idx) != self.k or any(not 0 <= i < self.codebook_size for i in idx):
            raise StreamError(f"SPWs must be {self.k} indices in 0..{self.codebook_size - 1}.")
        acc = 0
        for i in idx:
            acc = (acc << self.bits) | i
        pad = 8 * self.payload_bytes - self.k * self.bits
        return (acc << pad).to_bytes(self.payload_bytes, "big")

    def decode(self, payload: bytes) -> torch.Tensor:
        """Payload → [K] int64 indices; raises StreamError if malformed."""
        if len(payload) != self.payload_bytes:
            raise StreamError(
                f"the SPW stream has {len(payload)} bytes; this preset expects "
                f"{self.payload_bytes}."
            )
        acc = int.from_bytes(payload, "big")
        pad = 8 * self.payload_bytes - self.k * self.bits
        if acc & ((1 << pad) - 1):
            raise StreamError("the SPW stream is corrupted (padding bits are set).")
        acc >>= pad
        mask = (1 << self.bits) - 1
        idx = [(acc >> (self.bits * (self.k - 1 - j))) & mask for j in range(self.k)]
        if any(i >= self.codebook_size for i in idx):
            raise StreamError("the SPW stream is corrupted (index beyond the codebook).")
        return torch.tensor(idx, dtype=torch.int64)
