"""Publication-style error-rate figures, readable in black and white."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from channels.curves import CurvePoint

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")


def line_style(i: int, *, markersize: float = 5, linewidth: float = 1.2) -> dict:
    """Matplotlib style of the i-th line: black or grey, told apart by marker and dash."""
    return dict(
        color="black" if i % 2 == 0 else "0.45",
        marker=MARKERS[i % len(MARKERS)],
        linestyle=LINESTYLES[i % len(LINESTYLES)],
        markerfacecolor="white",
        markersize=markersize,
        linewidth=linewidth,
    )


def save_figure(fig, path: Path) -> None:
    """Save atomically (temporary file, then rename), so no half-written figure remains."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, bbox_inches="tight", dpi=200)
    os.replace(tmp, path)


def save_png_pdf(fig, path: Path) -> list[Path]:
    """Save ``fig`` as PATH.png and PATH.pdf (atomically), close it, return both paths."""
    import matplotlib.pyplot as plt

    out = []
    for suffix in (".png", ".pdf"):
        target = Path(path).with_suffix(suffix)
        save_figure(fig, target)
        out.append(target)
    plt.close(fig)
    return out


def plot_error_rates(
    curves: Mapping[str, Sequence[CurvePoint]],
    path: Path,
    *,
    metric: str = "bler",
    title: str | None = None,
) -> Path:
    """Plot ``metric`` (``bler`` or ``ber``) against Es/N0, one line per curve.

    Zero error rates are not drawn (they have no place on a log axis). Returns ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    for i, (label, points) in enumerate(curves.items()):
        xs = [p.snr_db for p in points if getattr(p, metric) > 0]
        ys = [getattr(p, metric) for p in points if getattr(p, metric) > 0]
        ax.semilogy(xs, ys, label=label, **line_style(i))
        theory = [(p.snr_db, p.ber_theory) for p in points if p.ber_theory]
        if metric == "ber" and theory:
            ax.semilogy(
                *zip(*theory, strict=True), color="0.6", linewidth=0.8, label=f"{label} (theory)"
            )
    ax.set_xlabel(r"$E_s/N_0$ (dB)")
    ax.set_ylabel("BLER" if metric == "bler" else "BER")
    ax.grid(True, which="both", linewidth=0.3, color="0.8")
    if metric == "bler":
        ax.axhline(0.1, color="0.5", linewidth=0.6, linestyle=":")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save_figure(fig, Path(path))
    plt.close(fig)
    return Path(path)
