"""SPW stream: TASCM's K codebook indices as bytes.

Raw (no entropy model): packed MSB-first, K indices of ``bits`` bits each in
ceil(K·bits / 8) bytes; unused tail bits are zero. With an
:class:`~semcom.mtgc.streams.spw_model.SPWEntropyModel` (a model directory's
``spw_model/``): every index's digits arithmetic-coded with the model's tables, at least one
byte. The receiver knows K, ``bits`` and the model from the preset, so the payload carries
nothing else.
"""

from __future__ import annotations

import torch

from semcom.mtgc.streams import StreamError
from semcom.mtgc.streams.arith import ArithmeticDecoder, ArithmeticEncoder
from semcom.mtgc.streams.spw_model import SPWEntropyModel


class SPWCoder:
    """[K] indices < codebook_size to bytes and back: packed raw, or arithmetic-coded with
    ``model``."""

    def __init__(
        self, num_queries: int, codebook_size: int, model: SPWEntropyModel | None = None
    ) -> None:
        self.k = num_queries
        self.codebook_size = codebook_size
        self.bits = max(1, (codebook_size - 1).bit_length())
        if model is not None and (model.k != num_queries or model.codebook_size != codebook_size):
            raise StreamError(
                f"the SPW entropy model codes {model.k} indices of {model.codebook_size} "
                f"codes; TASCM sends {num_queries} of {codebook_size}."
            )
        self.model = model

    @property
    def payload_bytes(self) -> int:
        """Bytes per image when packed raw: ceil(K·bits/8) (with a model, at most a few
        more, usually far fewer)."""
        return (self.k * self.bits + 7) // 8

    def _check(self, indices: torch.Tensor) -> list[int]:
        idx = [int(i) for i in indices.reshape(-1).tolist()]
        if len(idx) != self.k or any(not 0 <= i < self.codebook_size for i in idx):
            raise StreamError(f"SPWs must be {self.k} indices in 0..{self.codebook_size - 1}.")
        return idx

    def encode(self, indices: torch.Tensor) -> bytes:
        """[K] int indices → payload bytes."""
        idx = self._check(indices)
        if self.model is not None:
            return self._encode_model(idx)
        acc = 0
        for i in idx:
            acc = (acc << self.bits) | i
        pad = 8 * self.payload_bytes - self.k * self.bits
        return (acc << pad).to_bytes(self.payload_bytes, "big")

    def _encode_model(self, idx: list[int]) -> bytes:
        model = self.model
        assert model is not None
        enc = ArithmeticEncoder()
        for q, index in enumerate(idx):
            digits = model.digits(index)
            for j, d in enumerate(digits):
                enc.encode(model.tables(q, digits, j), d)
        return enc.finish() or b"\x00"

    def _decode_model(self, payload: bytes) -> torch.Tensor:
        model = self.model
        assert model is not None
        if not payload:
            raise StreamError("the SPW stream is empty.")
        dec = ArithmeticDecoder(bytes(payload))
        idx = []
        for q in range(self.k):
            digits: list[int] = []
            for j in range(len(model.levels)):
                digits.append(dec.decode(model.tables(q, digits, j)))
            idx.append(model.index(digits))
        # every index sequence has one payload: anything else was corrupted on the way
        if self._encode_model(idx) != bytes(payload):
            raise StreamError("the SPW stream is corrupted (it is not what its indices code to).")
        return torch.tensor(idx, dtype=torch.int64)

    def decode(self, payload: bytes) -> torch.Tensor:
        """Payload → [K] int64 indices; raises StreamError if malformed."""
        if self.model is not None:
            return self._decode_model(payload)
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
