"""Stage 3, ``spw_code``: the SPW stream's entropy model, counted from the indices the
final TASCM gives the training scenes
(:class:`~semcom.mtgc.streams.spw_model.SPWEntropyModel`)."""

from __future__ import annotations

from semcom.mtgc.streams.spw_model import SPWEntropyModel
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.gates import spw_code_gates, spw_indices


def levels_of(codec) -> list[int]:
    """The SPW index's digits' levels, least significant first (TASCM's FSQ levels; one
    digit of the codebook's size for a VQ codebook)."""
    cfg = codec.tascm.config
    return list(cfg.fsq_levels) if cfg.quantizer == "fsq" else [int(cfg.codebook_size)]


def train(ctx: PartContext) -> dict[str, float]:
    """Fit the model on every training scene, install it in the codec, gate it on
    validation scenes (:func:`~semcom.mtgc.train.gates.spw_code_gates`) and write
    ``spw_model/`` into ``ctx.out``."""
    codec, cfg = ctx.codec, ctx.cfg
    model = SPWEntropyModel.fit(spw_indices(codec, ctx.pool.images).numpy(), levels_of(codec))
    codec.set_spw_model(model)
    report = spw_code_gates(codec, cfg.seed, cfg.report_scenes)
    model.save_pretrained(ctx.out / "spw_model")
    return report
