"""Closed forms the simulated link is checked against (SNR = Es/N0, linear or dB)."""

from __future__ import annotations

import math


def qfunc(x: float) -> float:
    """Gaussian tail probability Q(x) = P(N(0, 1) > x)."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def db2lin(snr_db: float) -> float:
    """dB to linear power ratio."""
    return 10.0 ** (snr_db / 10.0)


def ber_qpsk_awgn(snr_db: float) -> float:
    """Gray QPSK bit error rate over AWGN: Q(sqrt(Es/N0))."""
    return qfunc(math.sqrt(db2lin(snr_db)))


def ber_qam16_awgn(snr_db: float) -> float:
    """Gray 16-QAM bit error rate over AWGN (exact).

    ``(3 Q(a) + 2 Q(3a) - Q(5a)) / 4`` with ``a = sqrt(Es / (5 N0))``.
    """
    a = math.sqrt(db2lin(snr_db) / 5.0)
    return (3 * qfunc(a) + 2 * qfunc(3 * a) - qfunc(5 * a)) / 4.0


def ber_qpsk_rayleigh(snr_db: float) -> float:
    """Gray QPSK bit error rate over flat Rayleigh fading with perfect CSI.

    ``0.5 (1 - sqrt(g / (1 + g)))`` with ``g = Es / (2 N0)`` (the SNR per bit).
    """
    g = db2lin(snr_db) / 2.0
    return 0.5 * (1.0 - math.sqrt(g / (1.0 + g)))


def ber_qpsk_mimo_zf(snr_db: float, antennas: int) -> float:
    """Gray QPSK bit error rate per layer of N×N spatial multiplexing over i.i.d. Rayleigh
    fading with zero-forcing detection and perfect CSI.

    The total power is split over N layers, so each layer sees Es/N0 / N before detection;
    after ZF a layer's SNR is that times ``1 / [(H^H H)^-1]_kk``, which is Gamma(Nr - Nt +
    1, 1) — exponential for Nr = Nt (diversity order 1). So the BER is the single-antenna
    Rayleigh one at Es/N0 / N: :func:`ber_qpsk_rayleigh` at ``snr_db - 10 log10 N``.
    """
    return ber_qpsk_rayleigh(snr_db - 10.0 * math.log10(antennas))


def uncoded_ber(channel: str, modulation: str, snr_db: float) -> float | None:
    """The closed-form uncoded BER where one is implemented, else ``None``."""
    forms = {
        ("awgn", "qpsk"): ber_qpsk_awgn,
        ("awgn", "qam16"): ber_qam16_awgn,
        ("rayleigh", "qpsk"): ber_qpsk_rayleigh,
    }
    form = forms.get((channel, modulation))
    return None if form is None else form(snr_db)
