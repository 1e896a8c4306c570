"""What the sender knows of one image, in place of the validation scenes' averages.

A value table (:mod:`semcom.values`) holds means over validation scenes; the planner plans
one image, and some of what that image will look like at the receiver the sender can work
out itself, for it holds the receiver's decoder:

- every subset of the codec's one-option streams (MTGC: nothing, the caption, the SPWs,
  both), decoded as the receiver would decode it, with the receiver's seed;
- each payload option of a one-stream codec (a conventional image), decoded alone.

Their PSNR is then exact. Their semantic figures stay the table's, for the sender has no
ground truth to score them against; so does their MS-SSIM (see :data:`PIXEL_FIELD`). A
reader of the sender's own — a probe trained apart from the scoring one, its reading of the
original standing in for the truth — was tried on 2026-12-06: it read codec artefacts more
leniently than the scoring probe, so its F1 was optimistic by 0.1–0.2 for AVIF and
compressai, and plans chosen on it scored lower (docs/planning.md). Subsets holding a
variable stream of a multi-stream codec (MTGC's HCI options) keep the table's curves:
decoding each of tens of options with and without the other streams costs seconds an image.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

import torch

#: The field a sender works out exactly from pixels. (MS-SSIM would be exact too, but costs
#: about 30 ms an image on one core — 1.2–1.7 s a scene for the 56–58 options of WebP or
#: JPEG 2000 — so it stays the table's.)
PIXEL_FIELD = "psnr"

#: ``received streams -> the receiver's image`` [3,H,W] in [0,1].
Decode = Callable[[Mapping[str, bytes]], torch.Tensor]


def sender_cases(encoded) -> list[tuple[tuple[str, ...], dict[str, bytes]]]:
    """The (subset, received streams) the sender decodes for ``encoded``: every subset of
    the one-option streams (the empty one included), and for a one-stream codec each of its
    payload options alone (once per distinct payload)."""
    streams = encoded.streams
    if len(streams) == 1:
        (only,) = streams
        seen: dict[bytes, None] = {}
        for o in only.options:
            if o.payload:
                seen.setdefault(o.payload, None)
        return [((), {})] + [((only.name,), {only.name: p}) for p in seen]
    fixed = [s for s in streams if len([o for o in s.options if o.payload]) == 1]
    cases = []
    for r in range(len(fixed) + 1):
        for subset in itertools.combinations(fixed, r):
            received = {s.name: next(o.payload for o in s.options if o.payload) for s in subset}
            cases.append((tuple(s.name for s in subset), received))
    return cases


def sender_values(
    table, codec, encoded, image: torch.Tensor, seed: int = 0, decode: Decode | None = None
):
    """``table`` with what the sender knows of this ``image`` ([3,H,W] in [0,1]): for each
    of :func:`sender_cases`, the pixel figures of the receiver's image (decoded here with
    ``seed``, or by ``decode(received)`` — a sweep passes its decode cache, so the receiver
    reuses these decodes): their PSNR. The planner reads it instead of the table's average."""
    from semcom.metrics.pixel import psnr

    if decode is None:

        def decode(received: Mapping[str, bytes]) -> torch.Tensor:
            return codec.decode(encoded.header, received, seed).clamp(0, 1)

    cases = [(s, r) for s, r in sender_cases(encoded) if set(s) <= set(table.streams)]
    if not cases:
        return table
    recons = torch.stack([decode(received).to(image.dtype) for _, received in cases])
    ref = image.unsqueeze(0).expand(len(cases), -1, -1, -1)
    pixels = psnr(ref, recons).tolist()  # as the pixel metric scores them
    known: dict[tuple[str, ...], tuple[list[float], list[float]]] = {}
    for (subset, received), value in zip(cases, pixels, strict=True):
        bits, values = known.setdefault(subset, ([], []))
        bits.append(float(sum(8 * len(received[n]) for n in subset if n in table.variable)))
        values.append(float(value))
    for subset, (bits, values) in known.items():
        table = table.known(list(subset), {PIXEL_FIELD: values}, bits)
    return table
