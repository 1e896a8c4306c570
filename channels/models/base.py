"""The channel models' common part: the :class:`ChannelModel` interface, the explicit
generator slot, antenna counts and the helper that splits searched MIMO LLRs by stream."""

from __future__ import annotations

import math

import torch
from sionna.phy import Block
from sionna.phy.channel import AWGN
from sionna.phy.utils import complex_normal, expand_to_rank

from channels.devices import canonical_device, sionna_device
from channels.errors import LinkError


class _GeneratorSlot:
    """Mixin: a Sionna block that draws from an explicit generator instead of the global one."""

    _generator: torch.Generator | None = None

    @property
    def torch_rng(self) -> torch.Generator:  # overrides sionna.phy.Object.torch_rng
        if self._generator is None:
            raise RuntimeError("no generator set; pass generator= to the channel call")
        return self._generator


class _SeededAWGN(_GeneratorSlot, AWGN):
    """Sionna's AWGN drawing from the slot's generator where it lives (the CPU) and moving
    the noise to the signal's device, so the noise does not depend on the device."""

    def call(self, x: torch.Tensor, no) -> torch.Tensor:
        rng = self.torch_rng
        noise = complex_normal(
            x.shape, precision=self.precision, device=rng.device, generator=rng
        ).to(x.device)
        if not isinstance(no, torch.Tensor):
            no = torch.tensor(no, dtype=self.dtype, device=x.device)
        no = expand_to_rank(no, x.dim(), axis=-1).to(dtype=self.dtype, device=x.device)
        return x + noise * no.sqrt().to(dtype=self.cdtype)


class ChannelModel(Block):
    """Base class of the channel models (see the module docstring for the interface)."""

    #: The name used in MCS threshold tables, configs and the command line.
    name: str = "channel"
    #: A calibrated channel whose MCS thresholds adaptive selection uses for this one
    #: (None: this channel's own ``name``; see channels/calibrate.py).
    thresholds_from: str | None = None
    #: Symbols per channel use (MIMO layers). In a shared frame each stream starts on a
    #: new channel use (:func:`channels.frame.send_frame` pads it to a multiple).
    layers: int = 1

    def __init__(self, precision: str | None = None, device: str | None = None) -> None:
        device = canonical_device(device) if device is not None else None
        super().__init__(precision=precision, device=device)
        self._awgn = _SeededAWGN(precision=precision, device=device)

    def __call__(self, *args, **kwargs):
        # parts Sionna builds or draws without a device follow this channel's
        with sionna_device(self.device):
            return super().__call__(*args, **kwargs)

    def _convert(self, v):  # let the generator through Sionna's input conversion
        return v if isinstance(v, torch.Generator) else super()._convert(v)

    def channel_uses(self, num_symbols: int) -> int:
        """Complex channel uses taken by ``num_symbols`` data symbols."""
        return num_symbols

    def add_noise(self, y: torch.Tensor, no: float, generator: torch.Generator) -> torch.Tensor:
        """``y + n`` with ``n ~ CN(0, no)`` drawn from ``generator``."""
        self._awgn._generator = generator
        return self._awgn(y, torch.as_tensor(no, dtype=self.dtype, device=y.device))

    def call(
        self,
        x: torch.Tensor,
        no: float,
        *,
        generator: torch.Generator,
        block_symbols: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def detect(
        self,
        x: torch.Tensor,
        no: float,
        *,
        generator: torch.Generator,
        segments: list[tuple[int, object]],
        block_symbols: int | None = None,
    ) -> list[torch.Tensor]:
        """Send ``x`` [B, n] and return each segment's bit LLRs [B, n_i · m_i] (float32).

        ``segments`` lists (symbols, demapper) in frame order, their symbols adding up to
        n; each demapper (Sionna ``Demapper``) names its segment's constellation. This
        default equalises (:meth:`call`) and demaps each segment; a channel whose MIMO
        detector searches the constellation (K-best, EP) gives LLRs itself.
        """
        y, no_eff = self(x, no, generator=generator, block_symbols=block_symbols)
        out, start = [], 0
        for n, demapper in segments:
            out.append(demapper(y[:, start : start + n], no_eff[:, start : start + n]))
            start += n
        return out


#: Antenna counts (N×N, N layers) the MIMO channels offer.
ANTENNAS: tuple[int, ...] = (1, 2, 4)


def check_antennas(antennas: int) -> int:
    """Validate an antenna count; returns it."""
    if isinstance(antennas, bool) or antennas not in ANTENNAS:
        raise LinkError(
            f"antennas must be one of {', '.join(map(str, ANTENNAS))} (N×N, N layers), "
            f"got {antennas!r}."
        )
    return int(antennas)


def mimo_name(base: str, antennas: int) -> str:
    """The name a configuration's MCS thresholds are calibrated under: ``base`` for one
    antenna, ``base-NxN`` for N."""
    return base if antennas == 1 else f"{base}-{antennas}x{antennas}"


def _search_segments(segments, layers: int, llrs) -> list[torch.Tensor]:
    """Each segment's LLRs [B, n_i · m_i] from ``llrs(m, u0, u1)`` (the LLRs of channel
    uses u0..u1 detected with m bits per symbol); segments start on a channel use."""
    out, start = [], 0
    for n, demapper in segments:
        if start % layers:
            raise LinkError(
                f"a stream starts inside a channel use (symbol {start}, {layers} layers): "
                "pad each stream to a multiple of the layers."
            )
        m = int(demapper.constellation.num_bits_per_symbol)
        out.append(llrs(m, start // layers, math.ceil((start + n) / layers))[:, : n * m])
        start += n
    return out
