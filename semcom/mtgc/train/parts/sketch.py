"""Stage 1, ``sketch``: the scene sketch's caption reader and painter."""

from __future__ import annotations

from semcom.errors import SemcomError
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.data import _captions
from semcom.mtgc.train.gates import sketch_gates


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
    sk = codec.sketch
    if sk is None:
        raise SemcomError("this model has no scene sketch to train (TinyConfig.sketch).")
    tokenizer = codec.text_encoder.tokenizer
    params = [*sk.caption_reader.parameters(), *sk.painter_parameters()]

    def loss_fn(step, idx, gen):
        texts = _captions(pool, idx, gen, cfg.p_canonical, 0.0)
        task = pool.task_loss(sk.read_caption(tokenizer(texts)), idx)
        images = pool.images[idx].float() / 255
        paint = sk.paint_loss(pool.targets[idx], images, pool.masks[idx])
        return {**paint, "loss": task + paint["loss"], "caption_task": task}

    report = trainer.run(
        part,
        {"sketch": sk},
        params,
        cfg.sketch_lr,
        cfg.sketch_steps,
        cfg.sketch_batch,
        n,
        loss_fn,
        resume,
        cfg.sketch_minutes,
    )
    report.update(sketch_gates(codec, cfg.seed, cfg.report_scenes))
    sk.save_pretrained(out / "sketch")
    return report
