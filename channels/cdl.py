"""3GPP TR 38.901 CDL-A…E over OFDM with 1×1, 2×2 or 4×4 antennas (spatial multiplexing).

:class:`CDLChannel` is :class:`~channels.models.TDLChannel`'s frame, pilots, estimation and
equalisation with Sionna's clustered-delay-line model in place of the tapped delay line:
uniform linear arrays of N vertically polarised omnidirectional elements at half a
wavelength on both ends (uplink: the terminal transmits), N layers, no precoding. CDL-A–C
are NLOS, CDL-D and CDL-E have a LOS cluster. The LMMSE channel estimate uses the TDL
profile of the same letter as its covariance model (TR 38.901 derives the TDL profiles
from the CDL ones; ``benchmarks/estimation.py`` measures what that costs).

Sionna's CDL draws its random phases and velocities from two objects' generators (the
model and its coefficient generator); both draw from the generator of the call here, so
a seed fixes every realisation.
"""

from __future__ import annotations

from sionna.phy.channel.tr38901 import CDL, PanelArray
from sionna.phy.channel.tr38901.channel_coefficients import ChannelCoefficientsGenerator

from channels.models.base import _GeneratorSlot
from channels.models.ofdm import TDLChannel


class _SeededCDL(_GeneratorSlot, CDL):
    pass


class _SeededCoefficients(_GeneratorSlot, ChannelCoefficientsGenerator):
    pass


class CDLChannel(TDLChannel):
    """3GPP TR 38.901 CDL-A…E over OFDM, N×N antennas (1, 2, 4), LMMSE estimation and
    equalisation.

    Takes :class:`~channels.models.TDLChannel`'s options (``antennas``, ``detector``,
    ``estimator``, ``perfect_csi``, delay spread, speed, carrier, numerology); ``model``
    is ``"A"`` to ``"E"``. Thresholds are calibrated per configuration under its name
    (``cdl-c``, ``cdl-c-2x2``, ...).
    """

    profiles = ("A", "B", "C", "D", "E")
    family = "cdl"

    def _make_model(self, precision, device):
        opts = {"precision": precision, "device": device}

        def array() -> PanelArray:
            return PanelArray(
                num_rows_per_panel=1,
                num_cols_per_panel=self.antennas,
                polarization="single",
                polarization_type="V",
                antenna_pattern="omni",
                carrier_frequency=self.carrier_frequency_hz,
                **opts,
            )

        model = _SeededCDL(
            self.model,
            self.delay_spread_s,
            self.carrier_frequency_hz,
            ut_array=array(),
            bs_array=array(),
            direction="uplink",
            min_speed=self.speed_mps,
            max_speed=self.speed_mps,
            **opts,
        )
        # the coefficient generator draws its own random phases: ours too
        model._cir_gen = _SeededCoefficients(
            carrier_frequency=self.carrier_frequency_hz,
            tx_array=model._tx_array,
            rx_array=model._rx_array,
            subclustering=False,
            **opts,
        )
        return model

    def _seed_model(self, generator):
        self._channel_model._generator = generator
        self._channel_model._cir_gen._generator = generator


def _cdl(model: str):
    def factory(device: str | None = None, **options) -> CDLChannel:
        return CDLChannel(model, device=device, **options)

    factory.__doc__ = (
        f"3GPP TR 38.901 CDL-{model} over OFDM, 1×1/2×2/4×4 antennas (``antennas``), "
        "LMMSE estimation and equalisation."
    )
    factory.__name__ = f"cdl_{model.lower()}"
    factory.options_of = CDLChannel  # type: ignore[attr-defined]  # its options, for listing
    return factory


cdl_a = _cdl("A")
cdl_b = _cdl("B")
cdl_c = _cdl("C")
cdl_d = _cdl("D")
cdl_e = _cdl("E")
