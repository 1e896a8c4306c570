"""``semcom evaluate``: codecs on ShapesWorld test (or validation) scenes, semantic and
pixel fidelity, or on a folder of natural images (``dataset="folder:PATH"``,
:mod:`semcom.data.folder`), pixel and perceptual fidelity only
(:mod:`experiments.evaluation.natural`: no ground truth, so no semantic figures).

Every codec is a registered digital codec (:mod:`semcom.registry`, ``semcom list
codecs``); ``--codec`` names them, plus ablations of the reference codec:

- the *reference* (``reference``, default ``mtgc``): each image encoded once
  (:meth:`~semcom.protocol.DigitalCodec.encode`) and planned into ``target_bpp`` of its
  pixels by the link planner's rule on bits (:func:`experiments.rate_match.plan_bits`:
  streams in priority order, each its first option that fits what is left). For MTGC the
  caption and SPWs go first and the HCI is the best-decoding setting that fits the rest.
- its ablations ``<reference>-<stream>[-<stream>…]`` (``mtgc-caption``,
  ``mtgc-caption-hci``, …): the same plan with the other streams left out (the receiver's
  fallback fills them); their rate counts only the streams they send. By default every
  single stream and every leave-one-out set.
- ``<reference>-oracle``: where the codec offers ``encode_oracle(image, objects)`` (MTGC:
  the ground-truth caption instead of the captioner's), the same plan from that encoding:
  an upper bound, labelled as such, never a default.
- every other digital codec (the conventional codecs, ``compressai``, a plug-in's) at the
  reference's rate. "equal" (the default) runs it "below" and "above" each image's
  reference bits and interpolates that image's figures linearly in bits between the two
  (its semantic counts too, so pooled F1 is that of the interpolated counts): the codec's
  score at exactly the reference's bits along its own rate-quality curve, image by image;
  where it cannot go as low, its lowest point, and the row's note counts those images.
  The other rules: per image, the plan the planner's rule makes at the reference's bits
  ("below"; where the codec cannot go that low, its smallest plan), the smallest plan it
  makes at or above them ("above": the codec gets at least the reference's bits, or its
  largest plan), or the nearer of the two ("nearest"); :mod:`experiments.rate_match`. The
  real bpp is
  reported. "interpolate" runs "below" and "above" and reports every figure linearly
  interpolated in bpp to the reference's mean rate (the codec's score *at* that rate
  along its rate-quality curve; intervals bootstrap the interpolated statistic); where
  the codec cannot go as low, the figures are those of its lowest points, and the row's
  note says so.

Every codec decodes each image with ``seed``. Figures per codec: mean bpp, semantic
accuracy (the mean of shape, colour, size and position accuracy over true objects),
object F1, hallucination rate, PSNR and MS-SSIM, and the mean of every field of the extra
``metrics`` (``--metric lpips`` …), each with a 95 % bootstrap confidence interval over
images (the pooled statistic recomputed on images drawn with replacement, percentile
interval). Per-image figures come from :func:`semcom.metrics.scoring.score`, the sweep's
scoring path; the semantic ones are pooled from the probe's per-image counts.
"""

from __future__ import annotations

from experiments.evaluation.config import (
    EVAL_SPLITS,
    MATCHES,
    EvalConfig,
    ablation_streams,
    default_codecs,
)
from experiments.evaluation.pool import run_matched
from experiments.evaluation.report import (
    check_claim,
    columns_of,
    format_differences,
    format_markdown,
    format_table,
    rate_figure,
    reconstruction_figure,
)
from experiments.evaluation.run import Measured, evaluate, measure, pooled
from experiments.evaluation.stats import COLUMNS, CodecResult, summarize, summarize_interpolated

__all__ = [
    "COLUMNS",
    "EVAL_SPLITS",
    "MATCHES",
    "CodecResult",
    "EvalConfig",
    "Measured",
    "ablation_streams",
    "check_claim",
    "columns_of",
    "default_codecs",
    "evaluate",
    "format_differences",
    "format_markdown",
    "format_table",
    "measure",
    "pooled",
    "rate_figure",
    "reconstruction_figure",
    "run_matched",
    "summarize",
    "summarize_interpolated",
]
