"""MTGC's receiver: from the streams that arrived to the decoder's conditioning and the
sampled image.

:func:`generate` turns decoded streams into MGDD's cross-attention context, ControlNet
condition and scene-sketch guide planes (:func:`sketch_guide`, shared with training) and
samples; :func:`lowpass_from` swaps in the HCI's low frequencies (``hci_lowpass``) and
:func:`overlay_sketch` lays the scene sketch over the sample (``sketch_overlay``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from semcom.errors import SemcomError
from semcom.mtgc.config import DecodedStreams
from semcom.mtgc.mgdd import Guidance

if TYPE_CHECKING:
    from semcom.mtgc.pipeline import MTGC


def generate(
    codec: MTGC,
    decoded: list[DecodedStreams],
    h: int,
    w: int,
    seeds: list[int],
    steps: int | None,
    guidance_scale: float | None,
    init_strength: float | None = None,
) -> torch.Tensor:
    """Sample B images of h×w from what arrived (``decoded``, one seed each) → [B,3,h,w].

    Caption text → text-encoder tokens (else the empty caption's), SPW indices → TASCM
    embeddings (else its null tokens; with a layout grid also their layout vectors), HCI
    → ControlNet condition (else no residual) and, with a sketch, the guide planes of
    :func:`sketch_guide`; then :meth:`MGDD.generate` at a size padded up to its multiple
    (cropped back) and, where the HCI arrived, ``hci_lowpass``.
    """
    b = len(decoded)
    texts = [d.caption if d.caption is not None else "" for d in decoded]
    caption_tokens = codec.text_encoder(texts)
    null_caption = codec.text_encoder([""] * b)
    spw = spw_tokens(codec, decoded).to(caption_tokens)
    layout = null_layout = None
    if codec.mgdd.config.layout_grid:
        null_layout = codec.tascm.null_layout(b).to(caption_tokens)
        layout = null_layout.clone()
        for i, d in enumerate(decoded):
            if d.spw is not None:
                idx = d.spw.to(codec.tascm.device).unsqueeze(0)
                layout[i] = codec.tascm.layout(idx)[0].to(layout)
    context = torch.cat([caption_tokens, spw], dim=1)
    null_context = torch.cat([null_caption, codec.tascm.null(b).to(caption_tokens)], dim=1)
    m = codec.mgdd.size_multiple
    hp, wp = math.ceil(h / m) * m, math.ceil(w / m) * m
    present = torch.tensor([d.hci is not None for d in decoded])
    hci = None
    if bool(present.any()):
        hci = torch.zeros(b, 3, hp, wp)
        for i, d in enumerate(decoded):
            if d.hci is not None:
                img = d.hci.float().cpu()
                if (hp, wp) != (h, w):
                    img = F.pad(img, (0, wp - w, 0, hp - h), mode="replicate")
                hci[i] = img[0]
    guide = null_guide = None
    if codec.mgdd.config.guide_channels:
        has_spw = torch.tensor([d.spw is not None for d in decoded])
        captions = [d.caption for d in decoded]
        guide, background = sketch_guide(codec, captions, spw, has_spw, hci, present, (hp, wp))
        with torch.no_grad():  # the null context: the background alone
            null_guide = codec.mgdd.guide_planes(background, torch.zeros(b, 1, hp, wp))
    guidance = Guidance(context, null_context, hci, present, layout, null_layout, guide, null_guide)
    out = codec.mgdd.generate(
        guidance, seeds, (hp, wp), steps, guidance_scale, init_strength=init_strength
    )
    if hci is not None and codec.config.hci_lowpass > 0:
        out = torch.where(
            present.view(b, 1, 1, 1), lowpass_from(out, hci, codec.config.hci_lowpass), out
        )
    out = out[..., :h, :w]
    if codec.config.sketch_overlay and codec.sketch is not None:
        out = overlay_sketch(codec, decoded, out)
    return out


def spw_tokens(codec: MTGC, decoded: list[DecodedStreams]) -> torch.Tensor:
    """TASCM's embeddings of the SPWs that arrived, TASCM's null tokens where none did
    → [B,K,D] float32 on TASCM's device."""
    spw = codec.tascm.null(len(decoded)).clone().float()
    for i, d in enumerate(decoded):
        if d.spw is not None:
            idx = d.spw.to(codec.tascm.device).unsqueeze(0)
            spw[i] = codec.tascm.embed(idx)[0].float()
    return spw


def overlay_sketch(
    codec: MTGC, decoded: list[DecodedStreams], images: torch.Tensor
) -> torch.Tensor:
    """``images`` [B,3,H,W] in [0,1] with the scene sketch of what arrived laid over them
    (:meth:`~semcom.mtgc.sketch.SceneSketch.draw`, then ``overlay``: the image near the
    sketch's objects cleared, the objects drawn over it) → [B,3,H,W] float32.

    The receiver's ``sketch_overlay`` (ours, not in the paper): where the decoder's
    autoencoder blurs the small objects the semantic streams placed, the sketch keeps
    them; the sampled image supplies everything else. It is painted by the sketch's
    overlay painter where it has one
    (:attr:`~semcom.mtgc.sketch.SceneSketch.receiver_painter`). An image whose caption
    and SPWs were both lost is returned as it is.
    """
    sk = codec.sketch
    if sk is None:
        raise SemcomError("this model has no scene sketch to lay over its images.")
    has_spw = torch.tensor([d.spw is not None for d in decoded])
    has_caption = torch.tensor([d.caption is not None for d in decoded])
    images = images.float().cpu()
    if not bool((has_spw | has_caption).any()):
        return images
    with torch.no_grad():
        read = None
        if bool(has_spw.any()):
            read = sk.read_spw(spw_tokens(codec, decoded).to(sk.device, sk.dtype))
        cap = None
        if bool(has_caption.any()):
            texts = [d.caption or "" for d in decoded]
            cap = sk.read_caption(codec.text_encoder.tokenizer(texts))
        rgb, cover = sk.draw(read, has_spw, cap, has_caption, images, sk.receiver_painter)
    return sk.overlay(rgb, cover, images)


def sketch_guide(
    codec: MTGC,
    captions: list[str | None],
    spw: torch.Tensor,
    has_spw: torch.Tensor,
    hci: torch.Tensor | None,
    hci_present: torch.Tensor,
    size: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's guide planes [B,C+1,h,w] and the sketch's background [B,3,H,W].

    The sketch of what the caption (None: absent) and the SPW tokens [B,K,D]
    (``has_spw`` [B] bool) say is painted over the HCI [B,3,H,W] where it arrived
    (``hci_present``) and over mid-grey elsewhere. The receiver and training both
    build the guide here.
    """
    sk = codec.sketch
    if sk is None:
        raise SemcomError("this model has no scene sketch.")
    b = len(captions)
    background = torch.full((b, 3, *size), 0.5)
    if hci is not None:
        background = torch.where(hci_present.view(b, 1, 1, 1), hci.float().cpu(), background)
    has_caption = torch.tensor([c is not None for c in captions])
    with torch.no_grad():
        cap = None
        if bool(has_caption.any()):
            cap = sk.read_caption(codec.text_encoder.tokenizer([c or "" for c in captions]))
        read = sk.read_spw(spw.to(sk.device, sk.dtype)) if bool(has_spw.any()) else None
        image, cover = sk.guide_image(read, has_spw, cap, has_caption, background)
        return codec.mgdd.guide_planes(image, cover), background


def lowpass_from(image: torch.Tensor, guide: torch.Tensor, factor: int) -> torch.Tensor:
    """``image`` with its low frequencies taken from ``guide`` (both [B,3,H,W] in [0,1]).

    low(x) = bicubic upsampling of the area-downsampled x (by ``factor``); the result is
    image − low(image) + low(guide), clamped to [0,1].
    """
    from semcom.mtgc.streams.hci import downsample

    h, w = image.shape[-2:]

    def low(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(
            downsample(x.float(), factor), size=(h, w), mode="bicubic", align_corners=False
        )

    return (image.float() - low(image) + low(guide)).clamp(0, 1)
