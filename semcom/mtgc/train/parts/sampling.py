"""Stage 3, ``sampling``: the decoding settings chosen on validation scenes."""

from __future__ import annotations

from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.gates import choose_sampling


def train(ctx: PartContext) -> dict[str, float]:
    """Train the part; writes its component into ``ctx.out``; returns its report."""
    codec = ctx.codec
    cfg = ctx.cfg
    out = ctx.out
    log = ctx.log
    report = choose_sampling(codec, cfg.seed, cfg.gate_scenes, log, cfg.sampling_overlay)
    codec.mgdd.config.num_inference_steps = int(report["num_inference_steps"])
    codec.mgdd.config.guidance_scale = float(report["guidance_scale"])
    codec.mgdd.config.init_strength = float(report["init_strength"])
    codec.config.hci_lowpass = int(report["hci_lowpass"])
    codec.config.sketch_overlay = bool(report["sketch_overlay"])
    codec.save_pretrained(out)
    return report
