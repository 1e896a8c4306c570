"""Stage 3, ``overlay``: the painter the receiver lays over its images (``sketch_overlay``),
trained with each object's exact placement."""

from __future__ import annotations

from semcom.errors import SemcomError
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.gates import sketch_gates


def train(ctx: PartContext) -> dict[str, float]:
    """Add the scene sketch's overlay painter (a copy of its guide painter) and train it on
    the truth's masks and colours with every object at its exact place, angle and radius
    (:meth:`~semcom.mtgc.cells.CellLayout.placements`): the guide painter learns at the
    offset bins' centres, so its outlines and textures blur over where objects really lie
    in a bin; this one learns them sharp. Writes the sketch into ``ctx.out``."""
    codec, pool, cfg = ctx.codec, ctx.pool, ctx.cfg
    sk = codec.sketch
    if sk is None or not sk.placed or pool.placements is None:
        raise SemcomError(
            "the overlay part needs a scene sketch that places objects (tiny-complex's); "
            "this model's sketch places nothing."
        )
    sk.add_overlay_painter()
    params = sk.painter_parameters("overlay")

    def loss_fn(step, idx, gen):
        images = pool.images[idx].float() / 255
        placement = pool.placements[idx]
        return sk.paint_loss(pool.targets[idx], images, pool.masks[idx], "overlay", placement)

    report = ctx.trainer.run(
        ctx.part,
        {"sketch": sk},
        params,
        cfg.overlay_lr,
        cfg.overlay_steps,
        cfg.overlay_batch,
        ctx.n,
        loss_fn,
        ctx.resume,
        cfg.overlay_minutes,
    )
    report.update(sketch_gates(codec, cfg.seed, cfg.report_scenes))
    sk.save_pretrained(ctx.out / "sketch")
    return report
