"""Stage 1, ``decoder``: UNet + ControlNet + text encoder with the denoising loss."""

from __future__ import annotations

import json
from dataclasses import asdict

import torch

from semcom.mtgc.config import MTGC_CONFIG
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.data import _captions, _hci, cached_latents, object_weights
from semcom.mtgc.train.gates import decoder_gates
from semcom.mtgc.train.inputs import _context, _guide, _layout
from semcom.mtgc.train.loop import EMA, _autocast


def train(ctx: PartContext) -> dict[str, float]:
    """Train the part; writes its component into ``ctx.out``; returns its report."""
    part = ctx.part
    codec = ctx.codec
    pool = ctx.pool
    cfg = ctx.cfg
    trainer = ctx.trainer
    out = ctx.out
    work = ctx.work
    resume = ctx.resume
    log = ctx.log
    n = ctx.n
    mg = codec.mgdd
    text = codec.text_encoder.model
    latents = cached_latents(codec, pool, work, log)
    weights = object_weights(pool.masks, mg.vae_scale, cfg.object_weight)
    tascm = codec.tascm
    with torch.no_grad():
        idx_all = torch.cat(
            [tascm.indices(pool.images[i : i + 256].float() / 255) for i in range(0, n, 256)]
        )
        spw_all = tascm.embed(idx_all)

    def loss_fn(step, idx, gen):
        images = pool.images[idx].float() / 255
        texts = _captions(pool, idx, gen, cfg.p_canonical, cfg.p_drop_caption)
        hci = _hci(codec, images, gen, cfg.hci_factors)
        present = torch.rand(len(idx), generator=gen) >= cfg.p_drop_hci
        drop = (torch.rand(len(idx), generator=gen) < cfg.p_drop_spw).view(-1, 1, 1)
        spw = torch.where(drop, tascm.null(len(idx)), spw_all[idx]).detach()
        guide = _guide(codec, texts, spw_all[idx], ~drop.flatten(), hci, present)
        with _autocast(cfg):
            ctx = _context(codec, texts, spw, grad=True)
            layout = _layout(
                codec, tascm.layout(idx_all[idx]) if mg.config.layout_grid else None, drop
            )
            loss = mg.training_loss(
                images,
                ctx,
                hci,
                present,
                gen,
                latents=latents[idx],
                pixel_weights=weights[idx],
                layout=layout,
                guide=guide,
            )
        return {"loss": loss.float()}

    modules = {"unet": mg.unet, "controlnet": mg.controlnet, "text": text}
    if tascm.layout_head is not None:  # the receiver's layout vectors learn with the UNet
        modules["layout"] = tascm.layout_head
    ema = EMA(modules, cfg.ema_decay)
    report = trainer.run(
        part,
        {**modules, **ema.modules},
        [p for m in modules.values() for p in m.parameters()],
        cfg.decoder_lr,
        cfg.decoder_steps,
        cfg.decoder_batch,
        n,
        loss_fn,
        resume,
        cfg.decoder_minutes,
        after_step=ema.update,
    )
    ema.copy_to(modules)
    # the transmitter keeps to the HCI factors the decoder saw (CodecConfig.hci_factors)
    codec.config.hci_factors = tuple(cfg.hci_factors)
    codec.config.world = pool.world  # the images it learned to draw (semcom.worlds)
    codec._fingerprint = None  # the config is part of it
    (out / MTGC_CONFIG).write_text(json.dumps(asdict(codec.config), indent=2))
    mg.save_pretrained(out)
    if "layout" in modules:
        tascm.save_pretrained(out / "tascm")
    text.save_pretrained(out / "text_encoder")
    codec.text_encoder.tokenizer.save_pretrained(out / "tokenizer")  # type: ignore[attr-defined]
    report.update(decoder_gates(codec, cfg.seed, cfg.gate_scenes))
    return report
