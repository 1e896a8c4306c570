"""3GPP TR 38.901 TDL over OFDM: the frame layout, pilots, LMMSE estimation and
equalisation, MIMO TDL."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from sionna.phy.channel import GenerateOFDMChannel
from sionna.phy.channel.tr38901 import TDL
from sionna.phy.mimo import StreamManagement
from sionna.phy.ofdm import (
    LMMSEEqualizer,
    LSChannelEstimator,
    ResourceGrid,
    ResourceGridMapper,
    ZFEqualizer,
    tdl_freq_cov_mat,
    tdl_time_cov_mat,
)

from channels.detection import (
    SEARCHING,
    check_detector,
)
from channels.devices import sionna_device
from channels.errors import LinkError
from channels.estimation import ESTIMATORS, WienerChannelEstimator
from channels.models.base import (
    ChannelModel,
    _GeneratorSlot,
    _search_segments,
    check_antennas,
    mimo_name,
)


class _SeededTDL(_GeneratorSlot, TDL):
    pass


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
    """3GPP TR 38.901 TDL-A/B/C over OFDM, with pilots, LMMSE estimation and equalisation;
    with ``antennas`` N > 1, N×N spatial multiplexing over MIMO TDL (uncorrelated antennas).

    Each transmission is its own frame of ``fft_size`` subcarriers and as many OFDM
    symbols as the data needs (see :func:`ofdm_layout`); pilot OFDM symbols count against
    the budget. The cyclic prefix is assumed long enough and is not counted. With N
    antennas every resource element carries N symbols (one per layer; consecutive symbols
    on consecutive layers), the transmit power is split over the layers, and each layer's
    pilots sit on every N-th subcarrier of the pilot symbols (Sionna's Kronecker pattern).

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
        antennas: transmit and receive antennas, 1, 2 or 4 (N layers).
        detector: ``"lmmse"`` or ``"zf"`` equalisation, or ``"kbest"`` / ``"ep"``, which
            give bit LLRs (:mod:`channels.detection`; :meth:`call` then equalises by LMMSE).
    """

    #: The TR 38.901 profiles this class offers.
    profiles: tuple[str, ...] = ("A", "B", "C")
    #: Name prefix (``tdl-a``, ``tdl-a-2x2``, ...).
    family: str = "tdl"

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
        antennas: int = 1,
        detector: str = "lmmse",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        model = model.upper()
        if model not in self.profiles:
            raise LinkError(
                f"unknown {self.family.upper()} profile {model!r}; choose "
                f"{', '.join(self.profiles)}."
            )
        for label, value in (
            ("delay spread", delay_spread_ns),
            ("carrier frequency", carrier_frequency_hz),
            ("subcarrier spacing", subcarrier_spacing_hz),
        ):
            if not (math.isfinite(value) and value > 0):
                raise LinkError(
                    f"the {self.family.upper()} {label} must be a positive number, got {value}."
                )
        if not (math.isfinite(speed_mps) and speed_mps >= 0):
            raise LinkError(f"the speed must be a non-negative number of m/s, got {speed_mps}.")
        if fft_size < 1 or pilot_period < 2:
            raise LinkError("fft_size must be >= 1 and pilot_period >= 2.")
        if estimator not in ESTIMATORS:
            raise LinkError(
                f"unknown channel estimator {estimator!r}; choose {' or '.join(ESTIMATORS)}."
            )
        self.antennas = check_antennas(antennas)
        self.layers = self.antennas
        if fft_size % self.antennas:
            raise LinkError(
                f"fft_size ({fft_size}) must be a multiple of the antennas ({self.antennas}): "
                "each layer's pilots take every N-th subcarrier."
            )
        self.detector = check_detector(detector)
        self.estimator = estimator
        self.delay_spread_s = delay_spread_ns * 1e-9
        self.speed_mps = float(speed_mps)
        self.carrier_frequency_hz = float(carrier_frequency_hz)
        self.name = mimo_name(f"{self.family}-{model.lower()}", self.antennas)
        self.model = model
        self.fft_size = int(fft_size)
        self.pilot_period = int(pilot_period)
        self.subcarrier_spacing_hz = float(subcarrier_spacing_hz)
        self.perfect_csi = bool(perfect_csi)
        # the Sionna model draws the channel on the CPU (from the CPU generator of the
        # transmission); the responses move to this channel's device (see _frame). Held
        # outside module registration: Sionna refuses a child on another device, and
        # moving this channel must leave the model (and its draws) on the CPU.
        object.__setattr__(self, "_channel_model", self._make_model(kwargs.get("precision"), "cpu"))
        with sionna_device(self.device):
            self._stream_management = StreamManagement(np.array([[1]]), self.antennas)
        self._frames: dict[int, tuple] = {}
        self._searchers: dict[tuple[int, int], object] = {}

    def _make_model(self, precision: str | None, device: str | None):
        """The Sionna channel model whose OFDM responses this channel draws."""
        return _SeededTDL(
            self.model,
            delay_spread=self.delay_spread_s,
            carrier_frequency=self.carrier_frequency_hz,
            min_speed=self.speed_mps,
            max_speed=self.speed_mps,
            num_rx_ant=self.antennas,
            num_tx_ant=self.antennas,
            precision=precision,
            device=device,
        )

    def _seed_model(self, generator: torch.Generator) -> None:
        """Make the channel model draw from ``generator``."""
        self._channel_model._generator = generator

    def layout(self, num_symbols: int) -> OFDMLayout:
        """The frame used for ``num_symbols`` data symbols (all layers together)."""
        per_layer = math.ceil(num_symbols / self.antennas)
        return ofdm_layout(per_layer, self.fft_size, self.pilot_period)

    def channel_uses(self, num_symbols: int) -> int:
        return self.layout(num_symbols).resource_elements

    def _frame(self, num_symbols: int) -> tuple:
        lay = self.layout(num_symbols)
        key = lay.num_ofdm_symbols
        if key not in self._frames:
            opts = {"precision": self.precision, "device": self.device}
            n = self.antennas
            rg = ResourceGrid(
                num_ofdm_symbols=lay.num_ofdm_symbols,
                fft_size=self.fft_size,
                subcarrier_spacing=self.subcarrier_spacing_hz,
                num_tx=1,
                num_streams_per_tx=n,
                pilot_pattern="kronecker",
                pilot_ofdm_symbol_indices=list(lay.pilot_symbols),
                **opts,
            )
            # Sionna draws the Kronecker pattern's QPSK pilots from its global generator;
            # replace them by a sequence fixed by the frame size, so that results never
            # depend on what the process drew before (set before the mapper copies them).
            # With several layers each keeps its own subcarriers (zeros elsewhere).
            old = rg.pilot_pattern.pilots
            pilots = qpsk_pilots(old.shape, key).to(old.device)
            rg.pilot_pattern.pilots = pilots if n == 1 else pilots * (old.abs() > 0)
            if self.estimator == "lmmse":
                estimator = WienerChannelEstimator(
                    rg.pilot_pattern.pilots.reshape(n, len(lay.pilot_symbols), self.fft_size),
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
            # call() equalises by LMMSE under K-best and EP too (their LLRs come from detect)
            equaliser = ZFEqualizer if self.detector == "zf" else LMMSEEqualizer
            # the responses are generated on the CPU, where the model draws, and moved
            on_cpu = str(self.device).startswith("cpu")
            gen_rg = (
                rg
                if on_cpu
                else ResourceGrid(
                    num_ofdm_symbols=lay.num_ofdm_symbols,
                    fft_size=self.fft_size,
                    subcarrier_spacing=self.subcarrier_spacing_hz,
                    num_tx=1,
                    num_streams_per_tx=n,
                    pilot_pattern=None,
                    precision=self.precision,
                    device="cpu",
                )
            )
            generate = GenerateOFDMChannel(
                self._channel_model,
                gen_rg,
                normalize_channel=False,
                precision=self.precision,
                device="cpu",
            )
            self._frames[key] = (
                rg,
                ResourceGridMapper(rg, **opts),
                generate,
                estimator,
                equaliser(rg, self._stream_management, **opts),
            )
        return self._frames[key]

    def through(self, x, no, generator: torch.Generator):
        """Data symbols ``x`` [B, n] mapped onto their frame (pilots added) and sent:
        returns the channel ``h`` [B, 1, N, 1, N, T, F] (scaled by 1/√N for the power
        split) and the received grid ``y`` [B, 1, N, T, F] at noise variance ``no``."""
        batch, n = x.shape
        k = self.antennas
        rg, mapper, generate, _, _ = self._frame(n)
        data = torch.nn.functional.pad(x, (0, rg.num_data_symbols * k - n))
        # consecutive symbols on consecutive layers: [B, D·N] -> [B, 1, N, D]
        data = data.reshape(batch, -1, k).transpose(1, 2).reshape(batch, 1, k, -1)
        grid = mapper(data)  # [B, 1, N, T, F]
        self._seed_model(generator)
        h = generate(batch).to(grid.device)
        if k > 1:
            h = h / math.sqrt(k)
        # sum over the transmit antennas: [B, Nr, Nt, T, F] · [B, 1, Nt, T, F]
        rx = (h[:, 0, :, 0] * grid[:, 0].unsqueeze(1)).sum(2)
        y = self.add_noise(rx.unsqueeze(1), no, generator)
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

    def _received(self, x, no, generator):
        """Send ``x`` [B, n]: the received grid, the channel estimate and its error
        variance (the true channel and 0 with perfect CSI), and ``no`` as a tensor."""
        estimator = self._frame(x.shape[-1])[3]
        h, y = self.through(x, no, generator)  # [B, 1, N, 1, N, T, F], [B, 1, N, T, F]
        no_t = torch.as_tensor(no, dtype=self.dtype, device=x.device)
        if self.perfect_csi:
            return y, h, torch.zeros_like(h.real), no_t
        h_hat, err_var = estimator(y, no_t)
        return y, h_hat, err_var, no_t

    def detect(self, x, no, *, generator, segments, block_symbols=None):
        if self.antennas == 1 or self.detector not in SEARCHING:
            return super().detect(
                x, no, generator=generator, segments=segments, block_symbols=block_symbols
            )
        batch, n = x.shape
        k = self.antennas
        rg = self._frame(n)[0]
        y, h_hat, err_var, no_t = self._received(x, no, generator)
        runs: dict[int, torch.Tensor] = {}

        def llrs(m: int, u0: int, u1: int) -> torch.Tensor:
            if m not in runs:  # the whole frame once per modulation, in symbol order
                llr = self._searcher(rg, m)(y, h_hat, err_var, no_t)  # [B, 1, N, D·m]
                llr = llr[:, 0].reshape(batch, k, -1, m).transpose(1, 2)
                runs[m] = llr.reshape(batch, -1, k * m)  # [B, D, N·m]
            return runs[m][:, u0:u1].reshape(batch, -1)

        return _search_segments(segments, k, llrs)

    def _searcher(self, rg, bits_per_symbol: int):
        """Sionna's OFDM K-best or EP detector for this frame and modulation (cached)."""
        key = (rg.num_ofdm_symbols, bits_per_symbol)
        if key not in self._searchers:
            from sionna.phy.ofdm import EPDetector, KBestDetector

            from channels.detection import EP_ITERATIONS, KBEST_PATHS

            opts = {"precision": self.precision, "device": self.device}
            sm = self._stream_management
            if self.detector == "kbest":
                block = KBestDetector(
                    "bit", self.antennas, KBEST_PATHS, rg, sm, "qam", bits_per_symbol, **opts
                )
            else:
                block = EPDetector("bit", rg, sm, bits_per_symbol, l=EP_ITERATIONS, **opts)
            self._searchers[key] = block
        return self._searchers[key]

    def call(self, x, no, *, generator, block_symbols=None):
        batch, n = x.shape
        equalizer = self._frame(n)[4]
        y, h_hat, err_var, no_t = self._received(x, no, generator)
        x_hat, no_eff = equalizer(y, h_hat, err_var, no_t)  # [B, 1, N, D]
        # back to the symbol order: [B, 1, N, D] -> [B, D·N]
        x_hat = x_hat[:, 0].transpose(1, 2).reshape(batch, -1)
        no_eff = no_eff[:, 0].transpose(1, 2).reshape(batch, -1)
        return x_hat[:, :n], no_eff[:, :n]


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
