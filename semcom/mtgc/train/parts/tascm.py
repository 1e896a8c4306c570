"""Stages 2 and 3, ``tascm`` and ``joint``: TASCM through the decoder (joint: with the
ControlNet and the UNet's cross-attention)."""

from __future__ import annotations

import math

import torch
from torch import nn

from semcom.checkpoint import (
    has_checkpoint,
    load_module_weights,
)
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.data import Pool, _captions, _hci, cached_latents, object_weights
from semcom.mtgc.train.gates import _tascm_task_accuracy
from semcom.mtgc.train.inputs import _context, _guide, _layout, task_head
from semcom.mtgc.train.loop import _autocast


def train(ctx: PartContext) -> dict[str, float]:
    """Train the part; writes its component into ``ctx.out``; returns its report."""
    part = ctx.part
    codec = ctx.codec
    pool = ctx.pool
    cfg = ctx.cfg
    trainer = ctx.trainer
    out = ctx.out
    resume = ctx.resume
    log = ctx.log
    report = _train_tascm(part, codec, pool, cfg, trainer, resume, log)
    codec.tascm.save_pretrained(out / "tascm")
    if codec.sketch is not None:  # its SPW reader trained as the task head
        codec.sketch.save_pretrained(out / "sketch")
    if part == "joint":
        codec.mgdd.save_pretrained(out)
    return report


def _train_tascm(part, codec, pool, cfg, trainer, resume, log) -> dict[str, float]:
    tascm, mg = codec.tascm, codec.mgdd
    n = cfg.train_scenes
    joint = part == "joint"
    head = task_head(codec)
    # a sketch's reader was saved with the model; a standalone head lives in checkpoints
    for earlier in () if codec.sketch is not None else ("tascm", "spw") if joint else ("spw",):
        if has_checkpoint(trainer.work, earlier):
            load_module_weights(trainer.work, earlier, "head", head)
            break
    vq = tascm.config.quantizer == "vq"
    latents = cached_latents(codec, pool, trainer.work, log)
    weights = object_weights(pool.masks, mg.vae_scale, cfg.object_weight)
    if vq and not joint and not (resume and has_checkpoint(trainer.work, part)):
        _init_codebook(tascm, pool, cfg.seed)
    # the codes seen in the window; VQ also counts every entry (dead ones restart), FSQ,
    # whose codebook may hold 2^32 codes, needs no count over it
    usage = torch.zeros(tascm.config.codebook_size) if vq else None
    seen: set[int] = set()
    window: dict[str, int] = {}
    for p in [*mg.unet.parameters(), *mg.controlnet.parameters()]:
        p.requires_grad_(False)
    for p in codec.text_encoder.model.parameters():
        p.requires_grad_(False)
    params = list(tascm.parameters()) + list(head.parameters())
    modules: dict[str, nn.Module] = {"tascm": tascm, "head": head}
    if joint:
        more, decoder = joint_decoder_parameters(mg)
        params += more
        modules.update(decoder)
    p_drop_caption = cfg.stage2_p_drop_caption
    steps = cfg.joint_steps if joint else cfg.tascm_steps
    batch = cfg.joint_batch if joint else cfg.tascm_batch
    lr = cfg.joint_lr if joint else cfg.tascm_lr
    minutes = cfg.joint_minutes if joint else cfg.tascm_minutes

    def loss_fn(step, idx, gen):
        images = pool.images[idx].float() / 255
        texts = _captions(pool, idx, gen, cfg.p_canonical, p_drop_caption)
        hci = _hci(codec, images, gen, cfg.hci_factors)
        present = torch.rand(len(idx), generator=gen) >= cfg.p_drop_hci
        res = tascm(images)
        if usage is not None:
            usage.index_add_(0, res["indices"].flatten(), torch.ones(res["indices"].numel()))
        seen.update(res["indices"].flatten().tolist())
        spw = res["context"]
        drop = (torch.rand(len(idx), generator=gen) < cfg.p_drop_spw).view(-1, 1, 1)
        guide = _guide(codec, texts, spw.detach(), ~drop.flatten(), hci, present)
        spw = torch.where(drop, tascm.null(len(idx)), spw)
        with _autocast(cfg):
            ctx = _context(codec, texts, spw, grad=False)
            eps = mg.training_loss(
                images,
                ctx,
                hci,
                present,
                gen,
                latents=latents[idx],
                pixel_weights=weights[idx],
                layout=_layout(codec, res.get("layout"), drop),
                guide=guide,
            ).float()
        task = pool.task_loss(head(res["context"]), idx)
        # The window is counted before a restart, and none runs on the last step (its codes
        # would never be seen by the head); FSQ has no codebook to restart.
        if (step + 1) % 100 == 0:
            window["codes_used"] = len(seen)
            if usage is not None:
                if step + 1 < steps:
                    _restart_dead_codes(tascm, usage, res, gen)
                usage.zero_()
            seen.clear()
        return {
            "loss": eps + res["vq_loss"] + cfg.task_weight * task,
            "eps": eps,
            "vq": res["vq_loss"],
            "task": task,
        }

    report = trainer.run(part, modules, params, lr, steps, batch, n, loss_fn, resume, minutes)
    # Distinct codes picked over the last window of steps (at most 100).
    report["codes_used_last_window"] = window.get("codes_used", len(seen))
    report.update(_tascm_task_accuracy(tascm, head, cfg.seed, cfg.report_scenes, pool.world))
    return report


def joint_decoder_parameters(mg) -> tuple[list[nn.Parameter], dict[str, nn.Module]]:
    """What stage 3 (``joint``) trains of the decoder: the UNet's cross-attention layers
    and the whole ControlNet, made trainable; returns them and the modules that hold
    them (for the checkpoint)."""
    cross = [p for name, p in mg.unet.named_parameters() if ".attn2." in name]
    control = list(mg.controlnet.parameters())
    for p in [*cross, *control]:
        p.requires_grad_(True)
    return cross + control, {"unet": mg.unet, "controlnet": mg.controlnet}


def _init_codebook(tascm, pool: Pool, seed: int) -> None:
    """Start the codebook at encoder outputs (random entries never get picked otherwise)."""
    k = tascm.config.codebook_size
    per = tascm.config.num_queries
    n_img = min(len(pool.images), math.ceil(k / per))
    with torch.no_grad():
        z = tascm.latents(pool.images[:n_img].float() / 255).reshape(-1, tascm.config.code_dim)
        gen = torch.Generator().manual_seed(seed)
        pick = torch.randint(0, len(z), (k,), generator=gen)
        tascm.codebook.data.copy_(z[pick] + 0.01 * torch.randn(k, z.shape[1], generator=gen))


def _restart_dead_codes(tascm, usage: torch.Tensor, res: dict, gen: torch.Generator) -> None:
    """Move codebook entries unused since the last restart onto current encoder outputs."""
    dead = (usage == 0).nonzero().flatten()
    if len(dead):
        with torch.no_grad():
            src = res["latents"].detach().reshape(-1, tascm.config.code_dim)
            pick = torch.randint(0, len(src), (len(dead),), generator=gen)
            noise = 0.05 * torch.randn(len(dead), src.shape[1], generator=gen)
            tascm.codebook.data[dead] = src[pick] + noise
    usage.zero_()
