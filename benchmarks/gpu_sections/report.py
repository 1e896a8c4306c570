"""The GPU benchmark's table: one figure per result row, by what the row measured."""

from __future__ import annotations


def _timing(r: dict) -> str:
    fig = f"{r['s_per_image'] * 1e3:9.1f} ms/image"
    return fig + (f" {r['peak_mib']:7.0f} MiB" if "peak_mib" in r else "")


def _sweep(r: dict) -> str:
    fig = f"{r['points']} points {r['seconds']:6.1f} s"
    if "same_link_rows" in r:
        fig += (
            f" same link {r['same_link_rows']} semantic {r['same_semantic_rows']}"
            f" dPSNR<={r['max_psnr_diff_db']:.2g}"
        )
    return fig


def _agreement(r: dict) -> str:
    return (
        f"vs {r['against']}: same bits={r['same_bitstreams']} "
        f"PSNR>={r['min_psnr_db']:.1f} dB max diff {r['max_abs_diff']:.3g}"
    )


def _training(r: dict) -> str:
    fig = f"{r['part']}: {r['steps']} steps of {r['batch']} in {r['seconds']:6.1f} s"
    return fig + (f" {r['peak_mib']:7.0f} MiB" if "peak_mib" in r else "")


def _ldpc(r: dict) -> str:
    return f"{r['kbit_per_s']:9.0f} kbit/s early={r['early_stop']} same={r['same_bits']}"


def _link(r: dict) -> str:
    return (
        f"{r['s_per_item'] * 1e3:9.1f} ms/item {r['channel']} "
        f"delivered={r['streams_delivered']} same={r['same_deliveries']}"
    )


#: Row kind (its ``what``) -> its figure; decode timings are told by ``s_per_image``.
FIGURES = {"sweep": _sweep, "agreement": _agreement, "sd21 train": _training, "ldpc": _ldpc}


def figure(r: dict) -> str:
    """The table's figure for one result row."""
    if "error" in r:
        return "error: " + r["error"][:60]
    if "s_per_image" in r:
        return _timing(r)
    if r["what"] in FIGURES:
        return FIGURES[r["what"]](r)
    if "seconds" in r:
        return f"{r['seconds']:9.1f} s"
    return _link(r)
