"""Stage 3, ``spw_code``: the SPW stream's entropy model, counted from the indices the
final TASCM gives the training scenes (:class:`~semcom.mtgc.streams.spw_model.SPWEntropyModel`)."""

from __future__ import annotations

import numpy as np
import torch

from semcom.mtgc.streams.spw import SPWCoder
from semcom.mtgc.streams.spw_model import SPWEntropyModel
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.gates import _val_pool

#: Images per TASCM batch when collecting indices.
_BATCH = 64


def spw_indices(codec, images: torch.Tensor) -> np.ndarray:
    """SPW indices int64 [N,K] of ``images`` (uint8 or float [N,3,H,W]) as the encoder sends
    them."""
    out = []
    for i in range(0, len(images), _BATCH):
        batch = images[i : i + _BATCH]
        batch = batch.float() / 255 if batch.dtype == torch.uint8 else batch.float()
        out.append(codec.spw_indices(batch))
    return torch.cat(out).numpy()


def levels_of(codec) -> list[int]:
    """The SPW index's digits' levels, least significant first (TASCM's FSQ levels; one
    digit of the codebook's size for a VQ codebook)."""
    cfg = codec.tascm.config
    return list(cfg.fsq_levels) if cfg.quantizer == "fsq" else [int(cfg.codebook_size)]


def train(ctx: PartContext) -> dict[str, float]:
    """Fit the model on every training scene, gate it on validation scenes (mean bits per
    image raw and coded, and that every validation image's SPWs decode back), install it in
    the codec and write ``spw_model/`` into ``ctx.out``."""
    codec, pool, cfg = ctx.codec, ctx.pool, ctx.cfg
    model = SPWEntropyModel.fit(spw_indices(codec, pool.images), levels_of(codec))
    coder = SPWCoder(codec.tascm.config.num_queries, codec.tascm.config.codebook_size, model)
    images, _ = _val_pool(cfg.seed, cfg.report_scenes, pool.world)
    val = spw_indices(codec, images)
    payloads = [coder.encode(torch.from_numpy(row)) for row in val]
    exact = all(
        torch.equal(coder.decode(p), torch.from_numpy(row))
        for p, row in zip(payloads, val, strict=True)
    )
    codec.spw = coder
    codec._fingerprint = None
    model.save_pretrained(ctx.out / "spw_model")
    return {
        "spw_bits_raw": float(coder.k * coder.bits),
        "spw_bits_coded": float(np.mean([8 * len(p) for p in payloads])),
        "spw_bits_ideal": float(model.bits(val).mean()),
        "spw_decodes_exactly": float(exact),
        "spw_val_scenes": float(len(val)),
    }
