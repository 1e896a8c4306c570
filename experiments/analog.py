"""Analog codecs (Deep JSCC) through one link: the analog path of ``semcom sweep`` and
``semcom transmit`` for any :class:`semcom.protocol.AnalogCodec`.

No coding and no mapping: the encoder's complex symbols go straight through the link's
channel model (:func:`channels.analog.send_rows`) with the same ``no = 10^(-snr/10)``,
equalisation and CSI as the digital path, and with the generator a digital codec's
transmission gets from the same seed (the link's shared frame, or with
``frame="per-stream"`` the stream ``image``'s), so both see the same Rayleigh fade. The
one analog stream uses all the budget's channel uses the channel has room for (TDL: less
its pilots; at most the model's latent, 0.3125 cpp), is never erased, and the point
always succeeds. The receiver has perfect CSI: its decoder is
told the effective SNR after equalisation, ``-10 log10(mean no_eff)`` per image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from channels.analog import data_symbols, send_rows
from channels.link import Link, check_snr
from semcom.errors import SemcomError

#: Name of Deep JSCC's one stream in reports and the results store.
ANALOG_STREAM = "analog"
#: The digital stream whose generator the analog stream shares (same seed, same fade).
SEED_STREAM = "image"


@dataclass
class AnalogBatch:
    """B images through the analog link at one SNR and budget."""

    images: torch.Tensor  # [B,3,H,W] float in [0,1]: the receiver's reconstructions
    received: torch.Tensor  # [B,n] complex64: the equalised symbols
    symbols: int  # n, data symbols per image
    uses: int  # channel uses per image (pilots included)
    effective_snr_db: list[float]  # per image, after equalisation

    def plan(self, b: int):
        """Image b's :class:`~experiments.transmission.Plan`: no payload bytes, the analog
        stream's channel uses, its symbols and effective SNR as detail."""
        from experiments.transmission import Plan

        detail = {"symbols": self.symbols, "effective_snr_db": self.effective_snr_db[b]}
        return Plan({}, {}, {ANALOG_STREAM: self.uses}, detail=detail, frame_uses=self.uses)

    def key(self, b: int) -> str:
        """16 hex digits identifying image b's received symbols."""
        return hashlib.sha256(self.received[b].numpy().tobytes()).hexdigest()[:16]

    def report(self, b: int) -> dict[str, dict]:
        """Image b's per-stream report, in the shape of the digital streams' reports."""
        return {
            ANALOG_STREAM: {
                "sent": True,
                "bits": 0,
                "mcs": "analog",
                "channel_uses": self.uses,
                "crc_ok": None,
                "symbols": self.symbols,
                "effective_snr_db": self.effective_snr_db[b],
            }
        }


def send_analog(
    codec,
    link: Link,
    images: torch.Tensor,
    snr_db: float,
    budget: int,
    seeds: Sequence[int],
) -> AnalogBatch:
    """Encode ``images`` [B,3,H,W] in [0,1], send them over ``link``'s channel with one
    generator per image (``seeds``), decode; ``budget`` in complex channel uses."""
    snr = check_snr(snr_db)
    _, _, height, width = images.shape
    n = min(data_symbols(link.channel, budget), codec.max_symbols(height, width))
    if n < 1:
        raise SemcomError(
            f"a budget of {budget} channel uses leaves no data symbol on {link.channel.name}; "
            "raise the budget."
        )
    with torch.no_grad():
        x = codec.encode(images, snr, n)
        y, no_eff = send_rows(link.channel, x, snr, list(seeds), SEED_STREAM, link.frame)
        eff = -10 * torch.log10(no_eff.float().mean(dim=1).clamp_min(1e-12))
        recon = codec.decode(y, eff, height, width).clamp(0, 1)
    return AnalogBatch(
        images=recon,
        received=y,
        symbols=n,
        uses=link.channel.channel_uses(n),
        effective_snr_db=[round(float(v), 4) for v in eff],
    )
