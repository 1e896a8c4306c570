"""A third-party codec, channel and metric for semcom, written as a plug-in would be: it
imports only semcom.protocol, semcom.metrics.protocol and channels.models, and is found
through the ``semcom.codecs``, ``semcom.channels`` and ``semcom.metrics`` entry-point
groups.

``toy``: two streams. ``coarse`` (the 4×4 block means of the image, 48 bytes, robust by
default) and ``fine`` (8×8 block means, 192 bytes, with a 6-bit option of 144 bytes when
the budget is short; adaptive by default). The receiver upsamples the finest grid that
arrived, or shows mid-grey when neither did. Option ``levels``: quantisation levels of
the fine stream's 8-bit option (default 256).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from channels.errors import LinkError
from channels.models import ChannelModel
from semcom.metrics.protocol import Field
from semcom.protocol import Encoded, Option, Stream, received_key


def _grid(image: torch.Tensor, n: int) -> torch.Tensor:
    return F.adaptive_avg_pool2d(image.unsqueeze(0), n)[0]


def _to_bytes(grid: torch.Tensor, bits: int) -> bytes:
    levels = (1 << bits) - 1
    q = (grid.clamp(0, 1) * levels).round().to(torch.uint8).flatten().tolist()
    if bits == 8:
        return bytes(q)
    # pack 6-bit values: four values in three bytes
    out = bytearray()
    for i in range(0, len(q), 4):
        a, b, c, d = (q[i : i + 4] + [0, 0, 0])[:4]
        v = (a << 18) | (b << 12) | (c << 6) | d
        out += v.to_bytes(3, "big")
    return bytes(out)


def _from_bytes(data: bytes, n: int, bits: int) -> torch.Tensor:
    if bits == 8:
        vals = list(data)
    else:
        vals = []
        for i in range(0, len(data), 3):
            v = int.from_bytes(data[i : i + 3], "big")
            vals += [(v >> 18) & 63, (v >> 12) & 63, (v >> 6) & 63, v & 63]
    t = torch.tensor(vals[: 3 * n * n], dtype=torch.float32) / ((1 << bits) - 1)
    return t.view(3, n, n)


class ToyCodec:
    kind: ClassVar[str] = "digital"
    name: ClassVar[str] = "toy"
    streams: ClassVar[tuple[str, ...]] = ("coarse", "fine")
    option_names: ClassVar[tuple[str, ...]] = ("levels",)
    summary: ClassVar[str] = "a test plug-in: block means at two resolutions"

    def __init__(self, levels: int = 256) -> None:
        self.levels = levels

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = [k for k in options if k not in cls.option_names]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not an option of toy; it takes levels")
        levels = options.get("levels", 256)
        if not isinstance(levels, int) or not 2 <= levels <= 256:
            raise ValueError(f"levels must be an integer in 2..256, not {levels!r}")
        return {"levels": levels}

    @classmethod
    def from_options(cls, options: Mapping[str, Any], **_: Any) -> ToyCodec:
        return cls(**cls.check_options(options))

    @property
    def identity(self) -> str | None:
        return None

    def encode(self, image: torch.Tensor) -> Encoded:
        _, h, w = image.shape
        fine = _grid(image, 8)
        if self.levels < 256:
            fine = (fine * (self.levels - 1)).round() / (self.levels - 1)
        return Encoded(
            h.to_bytes(2, "big") + w.to_bytes(2, "big"),
            (
                Stream("coarse", (Option(_to_bytes(_grid(image, 4), 8)),), "qpsk:1/3"),
                Stream(
                    "fine",
                    (
                        Option(_to_bytes(fine, 8), {"fine_bits": 8}),
                        Option(_to_bytes(fine, 6), {"fine_bits": 6}),
                    ),
                    "adaptive",
                ),
            ),
            h,
            w,
        )

    def decode(self, header: bytes, received: Mapping[str, bytes], seed: int) -> torch.Tensor:
        h, w = int.from_bytes(header[:2], "big"), int.from_bytes(header[2:4], "big")
        fine = received.get("fine")
        if fine is not None:
            grid = _from_bytes(fine, 8, 8 if len(fine) == 192 else 6)
        elif "coarse" in received:
            grid = _from_bytes(received["coarse"], 4, 8)
        else:
            return torch.full((3, h, w), 0.5)
        return F.interpolate(grid.unsqueeze(0), size=(h, w), mode="nearest")[0]

    def received_key(self, header: bytes, received: Mapping[str, bytes]) -> bytes:
        return received_key(header, received)


class ToyChannel(ChannelModel):
    """A fixed phase rotation with AWGN, equalised by a receiver that knows the phase.

    Option ``phase_deg``: the rotation in degrees (default 30). It behaves as AWGN after
    equalisation, so adaptive MCS selection borrows AWGN's calibrated thresholds.
    """

    name = "toy-phase"
    thresholds_from = "awgn"

    def __init__(self, phase_deg: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(phase_deg, (int, float)) or not -180 <= phase_deg <= 180:
            raise LinkError(f"phase_deg must be a number in [-180, 180], got {phase_deg!r}.")
        self.phase_deg = float(phase_deg)

    def call(self, x, no, *, generator, block_symbols=None):
        rot = torch.polar(torch.tensor(1.0), torch.tensor(math.radians(self.phase_deg)))
        y = self.add_noise(x * rot.to(x.dtype), no, generator)
        return y / rot.to(y.dtype), torch.full(y.shape, no, dtype=self.dtype, device=y.device)


class ToyMetric:
    """``mae``: the mean absolute pixel error (lower is better), and ``dark``: the share
    of the reconstruction's pixels below 0.1 (a descriptive figure, not plotted)."""

    name = "toy-mae"
    summary = "mean absolute error and dark-pixel share"
    fields = (
        Field("mae", "mean abs. error", 0.0, 1.0, better="lower"),
        Field("dark", "dark share", 0.0, 1.0, better="none", panel=False),
    )
    needs_truth = False

    def status(self) -> str:
        return "ok"

    def score(self, reference, images, truths=None) -> list[dict]:
        mae = (reference - images).abs().mean((1, 2, 3)).tolist()
        dark = (images < 0.1).float().mean((1, 2, 3)).tolist()
        return [{"mae": a, "dark": b} for a, b in zip(mae, dark, strict=True)]
