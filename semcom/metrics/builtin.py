"""semcom's own metrics, registered in the ``semcom.metrics`` entry-point group like a
plug-in's (see :mod:`semcom.metrics.protocol`).

- ``pixel``: PSNR and MS-SSIM against the original;
- ``semantic``: the probe reads the ShapesWorld objects back (attribute accuracy, exact
  recall, hallucination rate, and the counts they pool from); needs the scene's truth;
- ``lpips``, ``dists``: perceptual distances from local weights
  (:mod:`semcom.metrics.perceptual`), available where those weights are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from semcom.metrics.protocol import Field


class PixelMetric:
    """PSNR (dB) and MS-SSIM of each reconstruction against the original."""

    name = "pixel"
    summary = "PSNR (dB) and MS-SSIM against the original"
    fields = (
        Field("psnr", "PSNR (dB)", low=0.0),
        Field("ms_ssim", "MS-SSIM", 0.0, 1.0),
    )
    needs_truth = False

    def status(self) -> str:
        return "ok"

    def score(self, reference: Any, images: Any, truths: Any = None) -> list[dict]:
        from semcom.metrics.pixel import ms_ssim, psnr

        p = psnr(reference, images).tolist()
        m = ms_ssim(reference, images).tolist()
        return [{"psnr": a, "ms_ssim": b} for a, b in zip(p, m, strict=True)]


class SemanticMetric:
    """The world's reader against the scene's truth: the ShapesWorld probe, or on
    ShapesWorld-Complex the detector (:mod:`semcom.metrics.readers`); the same fields
    either way (attribute accuracy over shape, colour, size and cell — texture on
    ShapesWorld-Complex)."""

    name = "semantic"
    summary = "objects read back by the probe: attribute accuracy, exact recall, hallucinations"
    fields = (
        Field("attribute_accuracy", "attribute accuracy", 0.0, 1.0),
        Field("exact_recall", "exact-object recall", 0.0, 1.0, panel=False),
        Field("hallucination_rate", "hallucination rate", 0.0, 1.0, better="lower"),
        Field("objects_true", "true objects", 0.0, better="none", panel=False),
        Field("objects_read", "objects read", 0.0, better="none", panel=False),
        Field("exact", "exact objects", 0.0, better="none", panel=False),
        Field("hallucinated", "hallucinated objects", 0.0, better="none", panel=False),
    )
    needs_truth = True

    def status(self) -> str:
        from semcom.metrics.readers import cached_reader

        return cached_reader("shapes")[1]

    def score(
        self, reference: Any, images: Any, truths: Sequence[Sequence[object]] | None
    ) -> list[dict]:
        """Per image, the fields (all None without truth or probe)."""
        from semcom.metrics import detector, semantic
        from semcom.metrics.readers import cached_reader, image_counts, reader_kind

        empty = dict.fromkeys(f.name for f in self.fields)
        kind = reader_kind([o for t in truths or () for o in t])
        reader = cached_reader(kind)[0]
        if truths is None or reader is None:
            return [dict(empty) for _ in range(len(images))]
        fields = detector.image_fields if kind == "complex" else semantic.image_fields
        return [fields(c) for c in image_counts(reader, images, truths)]


class _Perceptual:
    """A perceptual distance of :mod:`semcom.metrics.perceptual` (lower is better)."""

    name = ""
    summary = ""
    fields: tuple[Field, ...] = ()
    needs_truth = False

    def status(self) -> str:
        from semcom.metrics.perceptual import _hint, default_weights_dir, missing_files

        root = default_weights_dir()
        if missing_files(self.name, root):
            return f"{self.name} needs its weights: {_hint(self.name, root)}."
        return "ok"

    def score(self, reference: Any, images: Any, truths: Any = None) -> list[dict]:
        from semcom.metrics import perceptual

        values = getattr(perceptual, self.name)(reference, images).tolist()
        return [{self.name: v} for v in values]


class LPIPSMetric(_Perceptual):
    """LPIPS (AlexNet, v0.1) from local weights."""

    name = "lpips"
    summary = "LPIPS (AlexNet, v0.1), from local weights (docs/metrics.md)"
    fields = (Field("lpips", "LPIPS", 0.0, 1.0, better="lower"),)


class DISTSMetric(_Perceptual):
    """DISTS from local weights."""

    name = "dists"
    summary = "DISTS, from local weights (docs/metrics.md)"
    fields = (Field("dists", "DISTS", 0.0, 1.0, better="lower"),)
