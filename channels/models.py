"""Channel models: AWGN, flat Rayleigh block fading, 3GPP TDL over OFDM.

Every model is a Sionna ``Block`` with one interface::

    y_eq, no_eff = channel(x, no, generator=g, block_symbols=S)

    x        [B, n] complex64   unit-average-energy symbols, one row per transmission
    no       float              noise variance per complex symbol (Es/N0 = 1 / no)
    y_eq     [B, n] complex64   equalised symbols, ready for soft demapping
    no_eff   [B, n] float32     post-equalisation noise variance per symbol

Fading is normalised to unit average power, so SNR is Es/N0 averaged over fading.
Randomness comes only from the explicit ``torch.Generator`` (noise, fading, TDL paths),
so a seed fixes every realisation. ``channel_uses(n)`` counts what a transmission of n
data symbols occupies, pilots and unused resource elements included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from sionna.phy import Block
from sionna.phy.channel import AWGN, GenerateOFDMChannel
from sionna.phy.channel.tr38901 import TDL
from sionna.phy.mimo import StreamManagement
from sionna.phy.ofdm import (
    LMMSEEqualizer,
    LSChannelEstimator,
    ResourceGrid,
    ResourceGridMapper,
    tdl_freq_cov_mat,
    tdl_time_cov_mat,
)

from channels.errors import LinkError
from channels.estimation import ESTIMATORS, WienerChannelEstimator


class _GeneratorSlot:
    """Mixin: a Sionna block that draws from an explicit generator instead of the global one."""

    _generator: torch.Generator | None = None

    @property
    def torch_rng(self) -> torch.Generator:  # overrides sionna.phy.Object.torch_rng
        if self._generator is None:
            raise RuntimeError("no generator set; pass generator= to the channel call")
        return self._generator


class _SeededAWGN(_GeneratorSlot, AWGN):
    pass


class _SeededTDL(_GeneratorSlot, TDL):
    pass


class ChannelModel(Block):
    """Base class of the channel models (see the module docstring for the interface)."""

    #: The name used in MCS threshold tables, configs and the command line.
    name: str = "channel"
    #: A calibrated channel whose MCS thresholds adaptive selection uses for this one
    #: (None: this channel's own ``name``; see channels/calibrate.py).
    thresholds_from: str | None = None

    def __init__(self, precision: str | None = None, device: str | None = None) -> None:
        super().__init__(precision=precision, device=device)
        self._awgn = _SeededAWGN(precision=precision, device=device)

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


class AWGNChannel(ChannelModel):
    """Additive white Gaussian noise: ``y = x + n``."""

    name = "awgn"

    def call(self, x, no, *, generator, block_symbols=None):
        y = self.add_noise(x, no, generator)
        return y, torch.full(y.shape, no, dtype=self.dtype, device=y.device)


class RayleighBlockFading(ChannelModel):
    """Flat Rayleigh block fading ``y = h x + n``, ``h ~ CN(0, 1)`` constant per block.

    Args:
        coherence: ``"block"`` keeps ``h`` for one code block (``block_symbols`` symbols,
            or the whole transmission when the caller gives none); an integer N keeps it
            for N symbols (1 = fast fading).

    The receiver knows ``h`` (perfect CSI) and equalises by zero forcing:
    ``y / h`` with noise variance ``no / |h|^2``.
    """

    name = "rayleigh"

    def __init__(self, coherence: int | str = "block", **kwargs) -> None:
        super().__init__(**kwargs)
        if coherence != "block" and not (isinstance(coherence, int) and coherence >= 1):
            raise LinkError(
                f"coherence must be 'block' or a positive number of symbols, got {coherence!r}."
            )
        self.coherence = coherence

    def call(self, x, no, *, generator, block_symbols=None):
        batch, n = x.shape
        span = n if self.coherence == "block" and block_symbols is None else block_symbols
        if self.coherence != "block":
            span = int(self.coherence)
        num_blocks = math.ceil(n / span)
        shape = (batch, num_blocks)
        h = torch.complex(
            torch.randn(shape, generator=generator, dtype=self.dtype, device=x.device),
            torch.randn(shape, generator=generator, dtype=self.dtype, device=x.device),
        ) * math.sqrt(0.5)
        h = h.repeat_interleave(span, dim=1)[:, :n]
        y = self.add_noise(h * x, no, generator)
        gain = h.abs().square().clamp_min(1e-12)
        return y / h, no / gain


@dataclass(frozen=True)
class OFDMLayout:
    """Time-frequency layout of one transmission: ``num_ofdm_symbols`` x ``fft_size`` REs."""

    num_ofdm_symbols: int
    fft_size: int
    pilot_symbols: tuple[int, ...]

    @property
    def data_capacity(self) -> int:
        """Resource elements available for data."""
        return (self.num_ofdm_symbols - len(self.pilot_symbols)) * self.fft_size

    @property
    def resource_elements(self) -> int:
        """All resource elements, pilots and unused data REs included."""
        return self.num_ofdm_symbols * self.fft_size


def ofdm_layout(num_symbols: int, fft_size: int, pilot_period: int) -> OFDMLayout:
    """The shortest frame carrying ``num_symbols`` data symbols.

    Whole OFDM symbols of pilots (every subcarrier) sit in the middle of each group of
    ``pilot_period`` OFDM symbols, at indices ``p//2, p//2 + p, ...``; a frame shorter
    than ``p//2 + 1`` symbols has one pilot symbol in its middle.
    """
    t = 1
    while True:
        pilots = tuple(range(pilot_period // 2, t, pilot_period)) or (t // 2,)
        if (t - len(pilots)) * fft_size >= num_symbols:
            return OFDMLayout(t, fft_size, pilots)
        t += 1


class TDLChannel(ChannelModel):
    """3GPP TR 38.901 TDL-A/B/C over OFDM, with pilots, LMMSE estimation and equalisation.

    Each transmission is its own frame of ``fft_size`` subcarriers and as many OFDM
    symbols as the data needs (see :func:`ofdm_layout`); pilot OFDM symbols count against
    the budget. The cyclic prefix is assumed long enough and is not counted.

    Args:
        model: ``"A"``, ``"B"`` or ``"C"`` (NLOS profiles).
        delay_spread_ns: RMS delay spread in ns.
        speed_mps: terminal speed in m/s (sets the Doppler spread).
        carrier_frequency_hz: carrier frequency in Hz.
        subcarrier_spacing_hz: subcarrier spacing in Hz.
        fft_size: subcarriers per OFDM symbol.
        pilot_period: one pilot OFDM symbol per this many OFDM symbols.
        perfect_csi: equalise with the true channel instead of the estimate (the pilots
            are still sent, so the budget is the same).
        estimator: ``"ls"`` (least squares on the pilots, linear interpolation) or
            ``"lmmse"`` (separable Wiener filter with the TDL model's covariances,
            :mod:`channels.estimation`).
    """

    def __init__(
        self,
        model: str = "A",
        *,
        delay_spread_ns: float = 300.0,
        speed_mps: float = 3.0,
        carrier_frequency_hz: float = 3.5e9,
        subcarrier_spacing_hz: float = 30e3,
        fft_size: int = 72,
        pilot_period: int = 7,
        perfect_csi: bool = False,
        estimator: str = "lmmse",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        model = model.upper()
        if model not in ("A", "B", "C"):
            raise LinkError(f"unknown TDL profile {model!r}; choose A, B or C.")
        for label, value in (
            ("delay spread", delay_spread_ns),
            ("carrier frequency", carrier_frequency_hz),
            ("subcarrier spacing", subcarrier_spacing_hz),
        ):
            if not (math.isfinite(value) and value > 0):
                raise LinkError(f"the TDL {label} must be a positive number, got {value}.")
        if not (math.isfinite(speed_mps) and speed_mps >= 0):
            raise LinkError(f"the speed must be a non-negative number of m/s, got {speed_mps}.")
        if fft_size < 1 or pilot_period < 2:
            raise LinkError("fft_size must be >= 1 and pilot_period >= 2.")
        if estimator not in ESTIMATORS:
            raise LinkError(
                f"unknown channel estimator {estimator!r}; choose {' or '.join(ESTIMATORS)}."
            )
        self.estimator = estimator
        self.delay_spread_s = delay_spread_ns * 1e-9
        self.speed_mps = float(speed_mps)
        self.carrier_frequency_hz = float(carrier_frequency_hz)
        self.name = f"tdl-{model.lower()}"
        self.model = model
        self.fft_size = int(fft_size)
        self.pilot_period = int(pilot_period)
        self.subcarrier_spacing_hz = float(subcarrier_spacing_hz)
        self.perfect_csi = bool(perfect_csi)
        self._tdl = _SeededTDL(
            model,
            delay_spread=delay_spread_ns * 1e-9,
            carrier_frequency=carrier_frequency_hz,
            min_speed=speed_mps,
            max_speed=speed_mps,
            precision=kwargs.get("precision"),
            device=kwargs.get("device"),
        )
        self._stream_management = StreamManagement(np.array([[1]]), 1)
        self._frames: dict[int, tuple] = {}

    def layout(self, num_symbols: int) -> OFDMLayout:
        """The frame used for ``num_symbols`` data symbols."""
        return ofdm_layout(num_symbols, self.fft_size, self.pilot_period)

    def channel_uses(self, num_symbols: int) -> int:
        return self.layout(num_symbols).resource_elements

    def _frame(self, num_symbols: int) -> tuple:
        lay = self.layout(num_symbols)
        key = lay.num_ofdm_symbols
        if key not in self._frames:
            opts = {"precision": self.precision, "device": self.device}
            rg = ResourceGrid(
                num_ofdm_symbols=lay.num_ofdm_symbols,
                fft_size=self.fft_size,
                subcarrier_spacing=self.subcarrier_spacing_hz,
                pilot_pattern="kronecker",
                pilot_ofdm_symbol_indices=list(lay.pilot_symbols),
                **opts,
            )
            # Sionna draws the Kronecker pattern's QPSK pilots from its global generator;
            # replace them by a sequence fixed by the frame size, so that results never
            # depend on what the process drew before (set before the mapper copies them).
            rg.pilot_pattern.pilots = qpsk_pilots(rg.pilot_pattern.pilots.shape, key)
            if self.estimator == "lmmse":
                estimator = WienerChannelEstimator(
                    rg.pilot_pattern.pilots.reshape(len(lay.pilot_symbols), self.fft_size),
                    lay.pilot_symbols,
                    tdl_freq_cov_mat(
                        self.model, self.subcarrier_spacing_hz, self.fft_size, self.delay_spread_s
                    ),
                    tdl_time_cov_mat(
                        self.model,
                        self.speed_mps,
                        self.carrier_frequency_hz,
                        rg.ofdm_symbol_duration,
                        lay.num_ofdm_symbols,
                    ),
                )
            else:
                estimator = LSChannelEstimator(rg, interpolation_type="lin", **opts)
            self._frames[key] = (
                rg,
                ResourceGridMapper(rg, **opts),
                GenerateOFDMChannel(self._tdl, rg, normalize_channel=False, **opts),
                estimator,
                LMMSEEqualizer(rg, self._stream_management, **opts),
            )
        return self._frames[key]

    def through(self, x, no, generator: torch.Generator):
        """Data symbols ``x`` [B, n] mapped onto their frame (pilots added) and sent:
        returns the true channel ``h`` [B, 1, 1, 1, 1, T, F] and the received grid ``y``
        [B, 1, 1, T, F] at noise variance ``no``."""
        batch, n = x.shape
        rg, mapper, generate, _, _ = self._frame(n)
        data = torch.nn.functional.pad(x, (0, rg.num_data_symbols - n))
        grid = mapper(data.reshape(batch, 1, 1, -1))
        self._tdl._generator = generator
        h = generate(batch)
        y = self.add_noise(
            (h[:, 0, 0, 0, 0] * grid[:, 0, 0]).unsqueeze(1).unsqueeze(1), no, generator
        )
        return h, y

    def estimation_nmse(
        self, snr_db: float, num_symbols: int, frames: int, generator: torch.Generator
    ) -> float:
        """NMSE (dB) of this channel's estimate over every resource element of ``frames``
        frames carrying ``num_symbols`` data symbols at Es/N0 ``snr_db`` (validation)."""
        no = 10 ** (-snr_db / 10)
        x = torch.zeros(frames, num_symbols, dtype=torch.complex64)
        h, y = self.through(x, no, generator)
        estimator = self._frame(num_symbols)[3]
        h_hat, _ = estimator(y, torch.as_tensor(no, dtype=self.dtype))
        err = (h_hat - h).abs().square().sum() / h.abs().square().sum()
        return float(10 * torch.log10(err))

    def call(self, x, no, *, generator, block_symbols=None):
        batch, n = x.shape
        _, _, _, estimator, equalizer = self._frame(n)
        h, y = self.through(x, no, generator)  # [B, 1, 1, 1, 1, T, F], [B, 1, 1, T, F]
        no_t = torch.as_tensor(no, dtype=self.dtype, device=x.device)
        if self.perfect_csi:
            h_hat, err_var = h, torch.zeros((), dtype=self.dtype, device=x.device)
        else:
            h_hat, err_var = estimator(y, no_t)
        x_hat, no_eff = equalizer(y, h_hat, err_var, no_t)
        return x_hat.reshape(batch, -1)[:, :n], no_eff.reshape(batch, -1)[:, :n]


def qpsk_pilots(shape: torch.Size | tuple[int, ...], frame_key: int) -> torch.Tensor:
    """Unit-energy QPSK pilot symbols of ``shape``, a fixed function of ``frame_key``."""
    gen = torch.Generator().manual_seed(0x5EC0 + int(frame_key))
    bits = torch.randint(0, 2, (*shape, 2), generator=gen).float()
    return torch.complex(1 - 2 * bits[..., 0], 1 - 2 * bits[..., 1]) / math.sqrt(2)


def tdl_a(device: str | None = None, **options) -> TDLChannel:
    """3GPP TR 38.901 TDL-A (NLOS) over OFDM: LMMSE estimation and equalisation."""
    return TDLChannel("A", device=device, **options)


def tdl_b(device: str | None = None, **options) -> TDLChannel:
    """3GPP TR 38.901 TDL-B (NLOS) over OFDM: LMMSE estimation and equalisation."""
    return TDLChannel("B", device=device, **options)


def tdl_c(device: str | None = None, **options) -> TDLChannel:
    """3GPP TR 38.901 TDL-C (NLOS) over OFDM: LMMSE estimation and equalisation."""
    return TDLChannel("C", device=device, **options)


for _factory in (tdl_a, tdl_b, tdl_c):
    _factory.options_of = TDLChannel  # type: ignore[attr-defined]  # its options, for listing


def make_channel(name: str, *, device: str | None = None, **options) -> ChannelModel:
    """Build a registered channel model by name (``awgn``, ``rayleigh``, ``tdl-a|b|c`` or a
    plug-in's, see :mod:`channels.registry`) with its options."""
    from channels.registry import make_channel as build

    return build(name, device=device, **options)
