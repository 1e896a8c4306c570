"""``semcom evaluate``'s output: the table (plain text and Markdown, a column per figure
and per extra metric field), the reconstruction and rate–fidelity figures, and the check
of MTGC's claim.

Every consumer takes the columns the summaries hold: on a folder of natural images there
are no semantic ones (no ground truth), the rate figure shows LPIPS (where present) or
MS-SSIM beside PSNR, and there is no claim to check. Set figures (FID, KID: one value per
codec, listed in a summary's ``set_fields``) have no interval."""

from __future__ import annotations

import torch

from experiments.evaluation.stats import COLUMNS, COMPLEX_COLUMNS, CodecResult


def columns_of(summaries: list[dict]) -> list[tuple[str, str, bool]]:
    """The :data:`COLUMNS` the summaries hold (the semantic ones need ground truth), a
    column per extra metric field (label and direction from the metric's
    :class:`~semcom.metrics.protocol.Field`, or :data:`FIELD_LABELS`) and per set figure."""
    from experiments.evaluation.natural import FIELD_LABELS
    from semcom.metrics.registry import fields_of, metric_names

    first = summaries[0] if summaries else {}
    base = [c for c in COLUMNS if not first or c[0] in first]
    if "relation_accuracy" in first:  # ShapesWorld-Complex: its own semantic columns
        at = next(i for i, c in enumerate(base) if c[0] == "semantic_accuracy") + 1
        base = [c for c in base if c[0] != "hallucinations_per_image"]
        base[at:at] = list(COMPLEX_COLUMNS)
    known = {k for k, _, _ in COLUMNS}
    held = [k for k in first.get("ci95", {}) if k in _extra_keys(summaries) and k not in known]
    held += [k for k in first.get("set_fields", ()) if k not in held]
    if not held:
        return base
    fields = {f.name: f for f in fields_of(metric_names())}

    def column(k: str) -> tuple[str, str, bool]:
        if k in fields:
            return k, fields[k].label, fields[k].better != "lower"
        return k, *FIELD_LABELS.get(k, (k, True))

    return [*base, *(column(k) for k in held)]


def _extra_keys(summaries: list[dict]) -> set[str]:
    return {k for s in summaries for k in s.get("extra_fields", ())}


#: Decimals per figure in the tables (others: :data:`DEFAULT_DIGITS`).
DIGITS: dict[str, int] = {"bpp": 4, "psnr": 2, "fid": 2, "kid": 4}
DEFAULT_DIGITS = 3


def _cell(summary: dict, key: str, markdown: bool) -> str:
    """A figure with its 95 % interval (none for a set figure); "n/a" where the codec
    has none."""
    value = summary.get(key)
    if value is None:
        return "n/a"
    digits = DIGITS.get(key, DEFAULT_DIGITS)
    if key not in summary.get("ci95", {}):
        return f"{value:.{digits}f}"
    lo, hi = summary["ci95"][key]
    if markdown:
        return f"{value:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def format_table(summaries: list[dict]) -> str:
    """A plain-text table: one row per codec, figures with their 95 % intervals."""
    columns = columns_of(summaries)
    head = ["codec", *[c[1] for c in columns]]
    rows = []
    for s in summaries:
        rows.append([s["codec"], *(_cell(s, key, False) for key, _, _ in columns)])
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
        cells = [_cell(s, key, True) for key, _, _ in columns]
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


#: The rate figure's left panel, the first figure the summaries hold: (key, axis label).
RATE_PANELS: tuple[tuple[str, str], ...] = (
    ("f1", "object F1 (all four attributes right)"),
    ("lpips", "LPIPS (lower is better)"),
    ("ms_ssim", "MS-SSIM"),
)


def rate_panels(summaries: list[dict]) -> tuple[tuple[str, str], tuple[str, str]]:
    """The rate figure's two panels, (key, axis label) each: object F1 where there is
    ground truth, else LPIPS where it was scored, else MS-SSIM; then PSNR."""
    first = summaries[0] if summaries else {}
    left = next((p for p in RATE_PANELS if p[0] in first), RATE_PANELS[-1])
    return left, ("psnr", "PSNR (dB)")


def draw_rate(summaries: list[dict], reference: str = "mtgc"):
    """Object F1 (on a folder: LPIPS or MS-SSIM, :func:`rate_panels`) and PSNR against
    bits per pixel, one point per codec with its 95 % intervals on both axes: the
    reference and its ablations (filled markers) beside the other codecs at the
    reference's rate (open markers). Readable in black and white; bpp on a log axis
    (ablations send 10× less). Returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    from channels.plotting import MARKERS

    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.0))
    panels = rate_panels(summaries)
    for ax, (key, label) in zip(axes, panels, strict=True):
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
    if panels[0][0] == "f1":
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
    (empty when the claim holds, and without object F1: a folder has no ground truth).
    """
    by = {s["codec"]: s for s in summaries}
    if reference not in by or "f1" not in by[reference]:
        return []
    full = by[reference]
    from semcom.registry import codec_title

    label = codec_title(reference)
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
    rows = [s for s in summaries if s.get("vs_reference")]
    if not rows:
        return ""
    keys = list(rows[0]["vs_reference"])
    head = f"| {reference} minus | " + " | ".join(keys) + " |"
    lines = [head, "|---" * (len(keys) + 1) + "|"]
    for s in rows:
        cells = []
        for k in keys:
            d = s["vs_reference"][k]
            digits = 2 if k == "psnr" else 3
            lo, hi = d["ci95"]
            cells.append(f"{d['diff']:+.{digits}f} ({lo:+.{digits}f} to {hi:+.{digits}f})")
        lines.append(f"| {s['codec']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
