"""``semcom link``: BER/BLER of the protected link against SNR."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from semcom.errors import SemcomError

#: Payload bits per SNR point above which ``semcom link`` refuses (memory and time).
MAX_BITS_PER_POINT = 50_000_000


def register(app: typer.Typer) -> None:
    """Add ``semcom link`` to ``app``."""
    app.command("link")(link)


def link(
    snr_db: list[str] = typer.Option(
        ...,
        "--snr-db",
        help="Es/N0 values in dB: '0 2 4', a range 'start:stop:step', or 'auto' "
        "(a window around each MCS's measured 10 % BLER threshold).",
    ),
    channel: str = typer.Option(
        "awgn", help="awgn, rayleigh, tdl-a…tdl-c, cdl-a…cdl-e (`semcom list channels`)."
    ),
    modulation: str = typer.Option("qpsk", help="qpsk, qam16, qam64 or qam256."),
    code_rate: float = typer.Option(0.5, help="LDPC code rate in [0.2, 0.925]."),
    mcs: list[str] = typer.Option(
        None,
        "--mcs",
        help="Curves to draw instead of --modulation/--code-rate: "
        "table indices ('mcs4'), 'modulation:rate' ('qam16:1/2') or the 5G Polar code "
        "'polar:modulation:rate' ('polar:qpsk:1/5', payloads up to 1013 bits); several allowed.",
    ),
    uncoded: bool = typer.Option(False, "--uncoded", help="No CRC and no LDPC: raw BER."),
    bits: int = typer.Option(1024, help="Payload bits per transport block."),
    blocks: int = typer.Option(100, help="Transport blocks per SNR point."),
    seed: int = typer.Option(0, help="Seed of payloads, noise and fading."),
    max_iter: int = typer.Option(20, help="Maximum LDPC decoding iterations."),
    harq: int = typer.Option(
        1,
        "--harq",
        help="Transmissions per block: a block whose CRC fails is sent again (IR, "
        "redundancy versions 0,2,3,1) and decoded combined; BLER is then the residual.",
    ),
    early_stop: bool = typer.Option(
        True, "--early-stop/--no-early-stop", help="Stop decoding a code block once its CRC passes."
    ),
    coherence: str = typer.Option(
        "block", help="Rayleigh coherence: 'block' (one code block) or a number of symbols."
    ),
    delay_spread_ns: float = typer.Option(300.0, help="TDL RMS delay spread in ns."),
    speed_mps: float = typer.Option(3.0, help="TDL terminal speed in m/s."),
    perfect_csi: bool = typer.Option(False, help="TDL/CDL: equalise with the true channel."),
    antennas: int = typer.Option(
        1, help="Rayleigh/TDL/CDL: N×N antennas, N layers (1, 2 or 4); thresholds per N."
    ),
    detector: str = typer.Option(
        "lmmse", help="MIMO detector with --antennas > 1: lmmse, zf, kbest or ep."
    ),
    estimator: str = typer.Option("lmmse", help="TDL/CDL channel estimate: lmmse or ls."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    plot: Path = typer.Option(None, help="Write a BLER figure (BER when --uncoded): PNG or PDF."),
    device: str = typer.Option(
        "cpu", "--device", help="cpu, cuda (cuda:N) or auto: where the link's blocks run."
    ),
) -> None:
    """Measure BER and BLER of the link against SNR (Es/N0 in dB)."""
    from channels.curves import coded_curve, uncoded_curve
    from channels.link import Link
    from channels.mcs import MCS, parse_mcs
    from semcom.devices import resolve_device

    auto = [v.strip().lower() for v in snr_db] == ["auto"]
    if auto and uncoded:
        raise SemcomError("--snr-db auto needs a coded MCS; give SNR values with --uncoded.")
    snrs = [] if auto else parse_snr_list(snr_db)
    if bits < 1:
        raise SemcomError(f"--bits must be at least 1, got {bits}.")
    if seed < 0:
        raise SemcomError(f"--seed must be a non-negative integer, got {seed}.")
    if blocks < 1:
        raise SemcomError(f"--blocks must be at least 1, got {blocks}.")
    if bits * blocks > MAX_BITS_PER_POINT:
        raise SemcomError(
            f"--bits x --blocks = {bits * blocks:,} bits per SNR point is more than "
            f"{MAX_BITS_PER_POINT:,}; lower --bits or --blocks (or run several seeds)."
        )
    if plot is not None and plot.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise SemcomError(f"--plot {plot} must end in .png, .pdf or .svg.")
    options = channel_options(channel, coherence, delay_spread_ns, speed_mps, perfect_csi)
    options.update(mimo_options(channel, antennas, detector, estimator))
    lnk = Link(
        channel,
        max_iter=max_iter,
        early_stop=early_stop,
        channel_options=options,
        harq=harq,
        device=resolve_device(device),
    )
    if harq > 1 and uncoded:
        raise SemcomError("--harq needs a coded MCS (a CRC tells which blocks to resend).")

    curves = {}
    if uncoded:
        label = f"{modulation.upper()} uncoded"
        curves[label] = uncoded_curve(lnk, modulation, snrs, bits, blocks, seed)
    else:
        schemes = [parse_mcs(m) for m in mcs] if mcs else [MCS(modulation, code_rate)]
        for scheme in schemes:
            points = auto_snrs(scheme, lnk.channel.name) if auto else snrs
            curves[str(scheme)] = coded_curve(lnk, scheme, points, bits, blocks, seed)

    report = {
        "channel": lnk.channel.name,
        "channel_options": options,
        "uncoded": uncoded,
        "max_iter": max_iter,
        "early_stop": early_stop,
        "harq": harq,
        "seed": seed,
        "curves": [
            {"label": label, "points": [asdict(p) for p in points]}
            for label, points in curves.items()
        ],
    }
    if plot is not None:
        from channels.plotting import plot_error_rates

        plot_error_rates(
            curves,
            plot,
            metric="ber" if uncoded else "bler",
            title=f"{lnk.channel.name.upper()}, {bits}-bit blocks",
        )
    if as_json:
        typer.echo(json.dumps(report, indent=1))
    else:
        print_table(report)
        if plot is not None:
            typer.echo(f"figure written to {plot}")


def parse_snr_list(values: list[str]) -> list[float]:
    """``['0', '2', '4:10:2']`` -> ``[0, 2, 4, 6, 8, 10]`` (ranges include their end)."""
    import math

    out: list[float] = []
    for text in values:
        try:
            if ":" in text:
                start, stop, step = (float(v) for v in text.split(":"))
                if step <= 0:
                    raise ValueError
                n = int(math.floor((stop - start) / step + 1e-9)) + 1
                out.extend(round(start + i * step, 6) for i in range(max(n, 0)))
            else:
                out.append(float(text))
        except ValueError as err:
            raise SemcomError(
                f"--snr-db {text!r} is not a number or a range 'start:stop:step' (step > 0)."
            ) from err
    if not out:
        raise SemcomError("--snr-db needs at least one value.")
    bad = [v for v in out if not math.isfinite(v)]
    if bad:
        raise SemcomError(f"--snr-db {bad[0]} is not finite; give finite Es/N0 values in dB.")
    return out


def auto_snrs(mcs, channel: str) -> list[float]:
    """SNRs around ``mcs``'s calibrated 10 % BLER threshold on ``channel``.

    AWGN: -1.5 dB to +1.5 dB in 0.25 dB steps; fading channels: -6 dB to +9 dB in 1.5 dB
    steps (their curves are far less steep).
    """
    from channels.mcs import threshold_db

    centre = round(threshold_db(mcs, channel) * 4) / 4
    lo, hi, step = (-1.5, 1.5, 0.25) if channel == "awgn" else (-6.0, 9.0, 1.5)
    n = int(round((hi - lo) / step)) + 1
    return [round(centre + lo + i * step, 3) for i in range(n)]


def channel_options(
    channel: str, coherence: str, delay_spread_ns: float, speed_mps: float, perfect_csi: bool
) -> dict:
    """The channel-model options that apply to ``channel``."""
    name = channel.lower()
    if name == "rayleigh":
        if coherence == "block":
            return {"coherence": "block"}
        try:
            return {"coherence": int(coherence)}
        except ValueError as err:
            raise SemcomError(
                f"--coherence {coherence!r} must be 'block' or a positive number of symbols."
            ) from err
    if name.startswith(("tdl-", "cdl-")):
        return {
            "delay_spread_ns": delay_spread_ns,
            "speed_mps": speed_mps,
            "perfect_csi": perfect_csi,
        }
    return {}


def mimo_options(channel: str, antennas: int, detector: str, estimator: str) -> dict:
    """The MIMO and estimation options that differ from the defaults, for ``channel``."""
    name = channel.lower()
    fading = name == "rayleigh" or name.startswith(("tdl-", "cdl-"))
    if not fading and (antennas != 1 or detector != "lmmse" or estimator != "lmmse"):
        raise SemcomError(
            f"--antennas, --detector and --estimator apply to rayleigh, tdl-* and cdl-*, "
            f"not to {channel}."
        )
    out: dict = {}
    if antennas != 1:
        out["antennas"] = antennas
    if detector != "lmmse":
        out["detector"] = detector
    if estimator != "lmmse":
        if name == "rayleigh":
            raise SemcomError("--estimator applies to tdl-* and cdl-*: rayleigh has perfect CSI.")
        out["estimator"] = estimator
    return out


def print_table(report: dict) -> None:
    """A plain table per curve."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    for curve in report["curves"]:
        title = f"{report['channel']} — {curve['label']}"
        table = Table(title=title, title_justify="left")
        coded = not report["uncoded"]
        cols = ["Es/N0 dB", "BER", "BLER"]
        cols += ["pre-FEC BER", "undetected", "iterations"] if coded else ["BER theory"]
        harq = report.get("harq", 1) > 1
        cols += ["BLER 1st tx", "tx/block"] if harq else []
        cols += ["ch. uses/block", "info kbit/s"]
        for c in cols:
            table.add_column(c, justify="right")
        for p in curve["points"]:
            row = [f"{p['snr_db']:g}", f"{p['ber']:.3e}", f"{p['bler']:.3f}"]
            if coded:
                row += [f"{p['pre_fec_ber']:.3e}", str(p["undetected"]), f"{p['iterations']:.1f}"]
            else:
                theory = p["ber_theory"]
                row += ["—" if theory is None else f"{theory:.3e}"]
            if harq:
                row += [f"{p['bler_first']:.3f}", f"{p['transmissions']:.2f}"]
            row += [str(p["channel_uses_per_block"]), f"{p['info_kbps']:.1f}"]
            table.add_row(*row)
        console.print(table)
