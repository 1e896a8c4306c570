"""Stage 1, ``captioner``: the transmitter's ShapesCaptioner (per-cell attribute loss)."""

from __future__ import annotations

from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.gates import _captioner_accuracy


def train(ctx: PartContext) -> dict[str, float]:
    """Train the part; writes its component into ``ctx.out``; returns its report."""
    part = ctx.part
    codec = ctx.codec
    pool = ctx.pool
    cfg = ctx.cfg
    trainer = ctx.trainer
    out = ctx.out
    resume = ctx.resume
    n = ctx.n
    cap = codec.captioner

    def loss_fn(step, idx, gen):
        return {"loss": pool.task_loss(cap(pool.images[idx].float() / 255), idx)}

    report = trainer.run(
        part,
        {"captioner": cap},
        list(cap.parameters()),
        cfg.captioner_lr,
        cfg.captioner_steps,
        cfg.captioner_batch,
        n,
        loss_fn,
        resume,
        cfg.captioner_minutes,
    )
    report.update(_captioner_accuracy(cap, cfg.seed, cfg.report_scenes))
    cap.save_pretrained(out / "captioner")
    return report
