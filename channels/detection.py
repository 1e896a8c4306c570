"""MIMO detection: linear equalisers and the soft-output K-best and EP detectors.

The linear detectors (``lmmse``, ``zf``) turn each channel use's received vector into one
estimate and one noise variance per layer, which the link's soft demapper takes like any
equalised symbol. The non-linear ones (``kbest``: K-best sphere decoding with K = 16
paths; ``ep``: expectation propagation, 10 iterations; Sionna's ``KBestDetector`` and
``EPDetector``) search the constellation itself and give bit LLRs directly, so they need
each symbol's modulation: a channel with one of them answers
:meth:`~channels.models.ChannelModel.detect` with the LLRs of each stream of the frame,
running the detector once per modulation present. Sionna compiles part of K-best with
torch inductor on first use (about 30 s on a CPU; a new batch shape recompiles).
"""

from __future__ import annotations

import torch

from channels.errors import LinkError

#: Linear detectors: per-layer estimates and noise variances.
LINEAR: tuple[str, ...] = ("lmmse", "zf")
#: Soft-output detectors that search the constellation: bit LLRs.
SEARCHING: tuple[str, ...] = ("kbest", "ep")
#: Every MIMO detector a channel offers (``detector=`` option).
DETECTORS: tuple[str, ...] = LINEAR + SEARCHING
#: K-best's list size and EP's iterations.
KBEST_PATHS = 16
EP_ITERATIONS = 10


def check_detector(detector: str) -> str:
    """Validate a MIMO detector name; returns it."""
    if detector not in DETECTORS:
        raise LinkError(f"unknown MIMO detector {detector!r}; choose {', '.join(DETECTORS)}.")
    return detector


def equalise(y: torch.Tensor, h: torch.Tensor, no: float, detector: str):
    """Linear MIMO detection of ``y`` [..., N] through ``h`` [..., N, N] (unit-energy
    layers) at noise variance ``no`` per receive antenna: returns the per-layer estimates
    [..., N] and their post-detection noise variances [..., N] (float32)."""
    from sionna.phy.mimo import lmmse_equalizer, zf_equalizer

    s = torch.eye(h.shape[-1], dtype=h.dtype, device=h.device) * no
    s = s.expand(*h.shape[:-2], -1, -1)
    if detector == "zf":
        return zf_equalizer(y, h, s)
    return lmmse_equalizer(y, h, s)


class FlatSearchDetector:
    """K-best or EP on flat MIMO channel uses, one Sionna detector per modulation order."""

    def __init__(self, detector: str, layers: int) -> None:
        if detector not in SEARCHING:
            raise ValueError(f"{detector!r} is not a searching detector")
        self.detector = detector
        self.layers = layers
        self._blocks: dict[int, object] = {}

    def block(self, bits_per_symbol: int):
        """The Sionna detector for ``bits_per_symbol`` (built once)."""
        if bits_per_symbol not in self._blocks:
            from sionna.phy.mimo import EPDetector, KBestDetector

            if self.detector == "kbest":
                self._blocks[bits_per_symbol] = KBestDetector(
                    "bit",
                    self.layers,
                    KBEST_PATHS,
                    constellation_type="qam",
                    num_bits_per_symbol=bits_per_symbol,
                )
            else:
                self._blocks[bits_per_symbol] = EPDetector("bit", bits_per_symbol, l=EP_ITERATIONS)
        return self._blocks[bits_per_symbol]

    def __call__(
        self, y: torch.Tensor, h: torch.Tensor, no: float, bits_per_symbol: int
    ) -> torch.Tensor:
        """``y`` [B, U, N], ``h`` [B, U, N, N] -> LLRs [B, U·N·m] in symbol order (channel
        use by channel use, layer by layer)."""
        s = torch.eye(h.shape[-1], dtype=h.dtype, device=h.device) * no
        s = s.expand(*h.shape[:-2], -1, -1)
        llr = self.block(bits_per_symbol)(y, h, s)  # [B, U, N, m]
        return llr.reshape(llr.shape[0], -1)
