"""Stage 1, ``spw``: TASCM alone with the task loss on its quantised tokens."""

from __future__ import annotations

from semcom.checkpoint import has_checkpoint
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.gates import _tascm_task_accuracy
from semcom.mtgc.train.inputs import init_from_captioner, task_head


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
    tascm = codec.tascm
    head = task_head(codec)
    if not (resume and has_checkpoint(work, part)):
        log(f"spw: CNN starts from the captioner's: {init_from_captioner(codec)}")

    def loss_fn(step, idx, gen):
        res = tascm(pool.images[idx].float() / 255)
        task = pool.task_loss(head(res["context"]), idx)
        return {"loss": task + res["vq_loss"], "task": task}

    report = trainer.run(
        part,
        {"tascm": tascm, "head": head},
        [*tascm.parameters(), *head.parameters()],
        cfg.spw_lr,
        cfg.spw_steps,
        cfg.spw_batch,
        n,
        loss_fn,
        resume,
        cfg.spw_minutes,
    )
    report.update(_tascm_task_accuracy(tascm, head, cfg.seed, cfg.report_scenes, pool.world))
    report["gate_task_f1_0.97"] = report["val_task_f1"] >= 0.97
    tascm.save_pretrained(out / "tascm")
    if codec.sketch is not None:
        codec.sketch.save_pretrained(out / "sketch")
    return report
