"""``semcom evaluate``'s per-image rows (``DIR/images.parquet``): one row per (codec,
image) holding everything its pooled figures are made of, so ``semcom verify DIR`` can
re-run a sample of images and compare them field by field (:mod:`experiments.verify_evaluate`).

Columns: the key (:data:`KEYS`: ``codec``; ``side``, empty except under ``--match
interpolate``, where each other codec has a ``below`` and an ``above`` row per image, the
two points its pooled figures are interpolated between; ``image``, the image's index in
the evaluated set, 0 … n − 1), then ``file`` (a folder's image name), ``bits`` (what
crosses the link; fractions for a codec interpolated per image), ``bpp``, ``file_bits``
(a baseline's whole standard file), ``<stream>_bits`` per stream of the reference's
variants, ``psnr`` (dB), ``ms_ssim``, the semantic counts the pooled figures sum (the
ShapesWorld probe's :class:`~semcom.metrics.semantic.SemanticCounts` or the
ShapesWorld-Complex detector's :class:`~semcom.metrics.detector.DetectionCounts` fields;
none on a folder) and every extra metric field (LPIPS, CLIP score …). A value a codec
does not have is empty (NaN).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from semcom.errors import SemcomError

if TYPE_CHECKING:
    import pandas as pd

    from experiments.evaluation.run import Measured
    from experiments.evaluation.stats import CodecResult

#: The file beside results.json.
ROWS_FILE = "images.parquet"
#: The columns that name a row.
KEYS = ("codec", "side", "image")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def codec_rows(
    result: CodecResult, measured: Measured, codec: str, side: str = ""
) -> list[dict[str, Any]]:
    """One row per image of ``result`` (codec ``codec``; ``side``: :data:`KEYS`)."""
    pixels = measured.pixels
    rows = []
    for i, image in enumerate(measured.indices):
        bits = float(result.bits[i])
        row: dict[str, Any] = {"codec": codec, "side": side, "image": int(image)}
        if measured.names:
            row["file"] = measured.names[i]
        row.update(bits=bits, bpp=bits / pixels)
        if result.file_bits:
            row["file_bits"] = float(result.file_bits[i])
        row.update({f"{s}_bits": float(v[i]) for s, v in result.streams.items()})
        row.update(psnr=float(result.psnr[i]), ms_ssim=float(result.ms_ssim[i]))
        if result.counts:
            row.update({k: _plain(v) for k, v in asdict(result.counts[i]).items()})
        row.update({k: float(v[i]) for k, v in result.extra.items()})
        rows.append(row)
    return rows


def image_rows(measured: Measured, codecs: tuple[str, ...]) -> pd.DataFrame:
    """Every per-image row of ``measured``, codecs in the order of ``codecs``, then by
    side and image."""
    import pandas as pd

    rows = []
    for name in codecs:
        if name in measured.brackets:
            below, above = measured.brackets[name]
            rows += codec_rows(below, measured, name, "below")
            rows += codec_rows(above, measured, name, "above")
        else:
            rows += codec_rows(measured.results[name], measured, name)
    return pd.DataFrame(rows)


def write_rows(rows: pd.DataFrame, path: Path) -> None:
    """``rows`` to ``path`` (Parquet) through a temporary file beside it, so a failed or
    killed write leaves no partial file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        rows.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise SemcomError(
            f"cannot write {path} ({err.strerror or err}); free space or choose another --out."
        ) from None


def read_rows(path: Path) -> pd.DataFrame:
    """The rows :func:`write_rows` wrote; SemcomError for a file that is not such rows."""
    import pandas as pd

    try:
        rows = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise SemcomError(f"{path} cannot be read as per-image rows ({err}).") from None
    missing = [k for k in KEYS if k not in rows.columns]
    if missing:
        raise SemcomError(
            f"{path} has no {missing[0]!r} column: it is not semcom evaluate's per-image rows."
        )
    if rows.duplicated(list(KEYS)).any():
        raise SemcomError(f"{path} holds two rows for the same (codec, side, image).")
    return rows
