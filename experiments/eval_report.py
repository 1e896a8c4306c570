"""``semcom evaluate``'s output: the table (plain text and Markdown, a column per figure
and per extra metric field), the reconstruction and rate–fidelity figures, and the check
of MTGC's claim."""

from __future__ import annotations

import torch

from experiments.eval_stats import COLUMNS, CodecResult


def columns_of(summaries: list[dict]) -> list[tuple[str, str, bool]]:
    """:data:`COLUMNS` and a column per extra metric field the summaries hold (label and
    direction from the metric's :class:`~semcom.metrics.protocol.Field`)."""
    from semcom.metrics.registry import fields_of, metric_names

    known = {k for k, _, _ in COLUMNS}
    held = [k for k in (summaries[0]["ci95"] if summaries else {}) if k in _extra_keys(summaries)]
    if not held:
        return list(COLUMNS)
    fields = {f.name: f for f in fields_of(metric_names())}
    extra = [
        (
            k,
            fields[k].label if k in fields else k,
            fields[k].better != "lower" if k in fields else True,
        )
        for k in held
        if k not in known
    ]
    return [*COLUMNS, *extra]


def _extra_keys(summaries: list[dict]) -> set[str]:
    return {k for s in summaries for k in s.get("extra_fields", ())}


def format_table(summaries: list[dict]) -> str:
    """A plain-text table: one row per codec, figures with their 95 % intervals."""
    columns = columns_of(summaries)
    head = ["codec", *[c[1] for c in columns]]
    rows = []
    for s in summaries:
        row = [s["codec"]]
        for key, _, _ in columns:
            lo, hi = s["ci95"][key]
            digits = 4 if key == "bpp" else (2 if key == "psnr" else 3)
            row.append(f"{s[key]:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]")
        rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(head))]
    lines.append("  ".join("-" * wd for wd in widths))
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)) for r in rows]
    return "\n".join(lines)


def format_markdown(summaries: list[dict]) -> str:
    """The same table in Markdown (for the README)."""
    columns = columns_of(summaries)
    head = "| codec | " + " | ".join(c[1] for c in columns) + " |"
    sep = "|---" * (len(columns) + 1) + "|"
    lines = [head, sep]
    for s in summaries:
        cells = []
        for key, _, _ in columns:
            lo, hi = s["ci95"][key]
            digits = 4 if key == "bpp" else (2 if key == "psnr" else 3)
            cells.append(f"{s[key]:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})")
        lines.append(f"| {s['codec']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reconstruction_figure(
    results: dict[str, CodecResult],
    reference: torch.Tensor,
    summaries: list[dict],
    path,
    rows: int = 4,
) -> list:
    """Originals and each codec's reconstructions side by side (PNG and PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from channels.plotting import save_png_pdf

    names = [s["codec"] for s in summaries]
    bpp = {s["codec"]: s["bpp"] for s in summaries}
    rows = min(rows, reference.shape[0])
    cols = len(names) + 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.15 * rows + 0.4), squeeze=False)
    for r in range(rows):
        panels = [("original", reference[r])] + [(n, results[n].images[r]) for n in names]
        for c, (name, img) in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                label = name if name == "original" else f"{name}\n{bpp[name]:.3f} bpp"
                ax.set_title(label, fontsize=6)
    fig.tight_layout(pad=0.2)
    return save_png_pdf(fig, path)


def rate_figure(summaries: list[dict], path, reference: str = "mtgc") -> list:
    """:func:`draw_rate` saved as PATH.png and PATH.pdf; returns both paths."""
    from channels.plotting import save_png_pdf

    return save_png_pdf(draw_rate(summaries, reference), path)


def draw_rate(summaries: list[dict], reference: str = "mtgc"):
    """Object F1 and PSNR against bits per pixel, one point per codec with its 95 %
    intervals on both axes: the reference and its ablations (filled markers) beside the
    other codecs at the reference's rate (open markers). Readable in black and white; bpp
    on a log axis (ablations send 10× less). Returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    from channels.plotting import MARKERS

    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.0))
    for ax, key, label in (
        (axes[0], "f1", "object F1 (all four attributes right)"),
        (axes[1], "psnr", "PSNR (dB)"),
    ):
        count = {True: 0, False: 0}  # markers counted within each group
        for s in summaries:
            name = s["codec"]
            ours = name == reference or name.startswith(f"{reference}-")
            i = count[ours]
            count[ours] += 1
            (blo, bhi), (lo, hi) = s["ci95"]["bpp"], s["ci95"][key]
            ax.errorbar(
                s["bpp"],
                s[key],
                xerr=[[s["bpp"] - blo], [bhi - s["bpp"]]],
                yerr=[[s[key] - lo], [hi - s[key]]],
                marker=MARKERS[i % len(MARKERS)],
                markersize=7 if name == reference else 5,
                color="black" if ours else "0.45",
                markerfacecolor=("black" if name == reference else "0.6") if ours else "white",
                linestyle="none",
                capsize=2,
                linewidth=0.8,
                label=name,
            )
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(label)
        ax.grid(True, which="both", linewidth=0.3, color="0.85")
    axes[0].set_ylim(-0.02, 1.02)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    fig.tight_layout()
    return fig


def check_claim(summaries: list[dict], reference: str = "mtgc") -> list[str]:
    """Where the full ``reference`` codec is not shown above a rival in object F1.

    Rivals: each of its ablations (``<reference>-…``, not the oracle) and every other
    codec whose mean bpp is at least the reference's. A rival is beaten when the paired
    95 % bootstrap interval of the F1 difference (``vs_reference``) lies above 0; a
    summary without one is compared on point estimates. Returns one sentence per failure
    (empty when the claim holds).
    """
    by = {s["codec"]: s for s in summaries}
    if reference not in by:
        return []
    full = by[reference]
    label = "MTGC" if reference == "mtgc" else reference
    out = []
    for s in summaries:
        name = s["codec"]
        if name == reference or name == f"{reference}-oracle":
            continue
        ablation = name.startswith(f"{reference}-")
        if not (ablation or s["bpp"] >= full["bpp"] - 1e-12):
            continue
        diff = s.get("vs_reference", {}).get("f1")
        if diff is not None:
            lo, hi = diff["ci95"]
            if not lo > 0:
                out.append(
                    f"{name}: {label}'s object F1 lead {diff['diff']:+.3f} "
                    f"(paired 95 % interval {lo:+.3f} to {hi:+.3f}) does not exclude 0"
                )
        elif not full["f1"] > s["f1"]:
            out.append(f"{name} has object F1 {s['f1']:.3f} >= {label}'s {full['f1']:.3f}")
    return out


def format_differences(summaries: list[dict], reference: str = "mtgc") -> str:
    """A Markdown table of each codec's difference from the reference (reference minus
    codec) with paired 95 % bootstrap intervals; empty when there are none."""
    from experiments.eval_stats import DIFFERENCE_KEYS

    rows = [s for s in summaries if s.get("vs_reference")]
    if not rows:
        return ""
    head = f"| {reference} minus | " + " | ".join(DIFFERENCE_KEYS) + " |"
    lines = [head, "|---" * (len(DIFFERENCE_KEYS) + 1) + "|"]
    for s in rows:
        cells = []
        for k in DIFFERENCE_KEYS:
            d = s["vs_reference"][k]
            digits = 2 if k == "psnr" else 3
            lo, hi = d["ci95"]
            cells.append(f"{d['diff']:+.{digits}f} ({lo:+.{digits}f} to {hi:+.{digits}f})")
        lines.append(f"| {s['codec']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
