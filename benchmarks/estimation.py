"""Channel estimation on TDL: our separable Wiener (LMMSE) estimate against Sionna's
``LMMSEChannelEstimator`` (the reference, same covariances) and against LS.

Run: ``.venv/bin/python benchmarks/estimation.py [--frames 64] [--repeats 3]``.

For TDL-A, B and C at Es/N0 0, 10 and 20 dB it draws ``--frames`` frames of the link's
default layout (72 subcarriers, 12 data + 2 pilot OFDM symbols) and prints, per estimator,
the NMSE over every resource element and the time per call (median of ``--repeats``,
one torch thread), with the ratio of each time to Sionna's LMMSE in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from sionna.phy.ofdm import LMMSEChannelEstimator, tdl_freq_cov_mat, tdl_time_cov_mat

from channels.models import TDLChannel

DATA_SYMBOLS = 800  # → 14 OFDM symbols, pilots on symbols 3 and 10


def _timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def run(frames: int, repeats: int) -> list[tuple]:
    rows = []
    for model in ("A", "B", "C"):
        channels = {est: TDLChannel(model, estimator=est) for est in ("ls", "lmmse")}
        ch = channels["lmmse"]
        rg = ch._frame(DATA_SYMBOLS)[0]
        lay = ch.layout(DATA_SYMBOLS)
        reference = LMMSEChannelEstimator(
            rg,
            tdl_time_cov_mat(
                model,
                ch.speed_mps,
                ch.carrier_frequency_hz,
                rg.ofdm_symbol_duration,
                lay.num_ofdm_symbols,
            ).to(torch.complex64),
            tdl_freq_cov_mat(model, ch.subcarrier_spacing_hz, ch.fft_size, ch.delay_spread_s).to(
                torch.complex64
            ),
            order="f-t",
        )
        x = torch.zeros(frames, DATA_SYMBOLS, dtype=torch.complex64)
        for snr in (0.0, 10.0, 20.0):
            no = 10 ** (-snr / 10)
            h, y = ch.through(x, no, torch.Generator().manual_seed(0))
            no_t = torch.as_tensor(no, dtype=torch.float32)
            estimators = {
                "sionna-lmmse": reference,
                "ours-lmmse": channels["lmmse"]._frame(DATA_SYMBOLS)[3],
                "ls-lin": channels["ls"]._frame(DATA_SYMBOLS)[3],
            }
            ref_time = None
            for name, est in estimators.items():
                est(y, no_t)  # warm-up (weights, caches)
                (h_hat, _), seconds = _timed(lambda est=est, y=y, no=no_t: est(y, no), repeats)
                nmse = 10 * torch.log10((h_hat - h).abs().square().sum() / h.abs().square().sum())
                ref_time = ref_time or seconds
                rows.append(
                    (f"tdl-{model.lower()}", snr, name, float(nmse), seconds, seconds / ref_time)
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = run(args.frames, args.repeats)
    print(
        f"| channel | Es/N0 dB | estimator | NMSE dB | ms per {args.frames} frames "
        "| time vs Sionna LMMSE |"
    )
    print("|---|---|---|---|---|---|")
    for ch, snr, name, nmse, sec, ratio in rows:
        print(f"| {ch} | {snr:g} | {name} | {nmse:.1f} | {sec * 1e3:.1f} | {ratio:.4f} |")


if __name__ == "__main__":
    main()
