"""Running the parts: :func:`train_part` (one part), :func:`run_stage` (a stage's parts in
order) and :func:`run_all` (``semcom train``: every stage, stage 1's small parts in two
one-thread lanes)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from importlib import import_module
from pathlib import Path

import torch

from semcom.checkpoint import store_half
from semcom.errors import SemcomError
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.train.config import STAGE_PARTS, TrainConfig
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.data import render_pool, training_world
from semcom.mtgc.train.loop import Trainer, bf16_warning, load_model, record, stage_log

#: The module under :mod:`semcom.mtgc.train.parts` that trains each part.
PART_MODULES: dict[str, str] = {
    "captioner": "captioner",
    "hci": "hci",
    "vae": "vae",
    "spw": "spw",
    "sketch": "sketch",
    "decoder": "decoder",
    "tascm": "tascm",
    "joint": "tascm",
    "overlay": "overlay",
    "spw_code": "spw_code",
    "sampling": "sampling",
}


def train_part(
    part: str, cfg: TrainConfig, out: Path, work: Path, resume: bool = True, log=print
) -> dict[str, float]:
    """Train one part and write its component into ``out``; returns its report."""
    if part not in PART_MODULES:
        raise SemcomError(f"unknown training part {part!r}.")
    stage = next(s for s, parts in STAGE_PARTS.items() if part in parts)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    codec = load_model(out)
    if not (out / "mtgc.json").is_file():
        codec.save_pretrained(out)
    t0 = time.time()
    pool = render_pool(cfg.train_scenes, cfg.seed, training_world(codec))
    log(f"{part}: rendered {cfg.train_scenes} training scenes in {time.time() - t0:.0f} s")
    trainer = Trainer(cfg, work, stage, log)
    ctx = PartContext(part, codec, pool, cfg, trainer, out, work, resume, log)
    report = import_module(f"semcom.mtgc.train.parts.{PART_MODULES[part]}").train(ctx)
    record(out, stage, part, report, cfg)
    log(f"{part}: done, wrote {out} ({json.dumps(report)})")
    return report


def run_stage(
    stage: int,
    cfg: TrainConfig,
    out: Path,
    work: Path,
    parts: tuple[str, ...] | None = None,
    resume: bool = True,
    preset: str | None = None,
) -> dict[str, dict[str, float]]:
    """Train the parts of ``stage`` (by default all that ``cfg`` trains) in order; logs to
    work/stage<N>.log.
    ``preset``: when ``out`` holds no model yet, start it as :func:`start_model` does."""
    if stage not in STAGE_PARTS:
        raise SemcomError(f"--stage must be 1, 2 or 3, not {stage}.")
    chosen = parts or tuple(p for p in STAGE_PARTS[stage] if cfg.trains(p))
    bad = [p for p in chosen if p not in STAGE_PARTS[stage]]
    if bad:
        raise SemcomError(
            f"stage {stage} has the parts {', '.join(STAGE_PARTS[stage])}; not {', '.join(bad)}."
        )
    if preset is not None and not (out / "mtgc.json").is_file():
        start_model(out, preset, cfg)
    reports = {}
    with stage_log(work / f"stage{stage}.log") as log:
        log(f"stage {stage} parts {chosen} config {json.dumps(asdict(cfg))}")
        if (warning := bf16_warning(cfg)) and any(p in BF16_PARTS for p in chosen):
            log(f"warning: {warning}")
        for part in chosen:
            reports[part] = train_part(part, cfg, out, work, resume, log)
    return reports


#: How :func:`run_all` spreads stage 1 over two processes of one thread each (each lane
#: runs its parts in order); the decoder and stages 2 and 3 then get every thread.
STAGE1_LANES: tuple[tuple[str, ...], ...] = (("hci", "vae"), ("captioner", "spw", "sketch"))


#: Parts that train under bf16 autocast when the recipe's ``bf16`` is on.
BF16_PARTS: tuple[str, ...] = ("decoder", "tascm", "joint")


#: Parts that train nothing but choose settings: they run last in their stage, on the
#: weights as they ship (float16-rounded), so the choice holds for the shipped model.
AS_SHIPPED: tuple[str, ...] = ("sampling",)


#: Each CPU preset's training recipe: TrainConfig fields changed from the defaults (the
#: tiny recipe's). tiny-complex starts from the shipped tiny weights and fine-tunes the
#: parts that fit in fewer steps (docs/training.md).
PRESET_TRAINING: dict[str, dict[str, object]] = {
    "tiny": {},
    "tiny-complex": {
        "init_from": "tiny",
        "train_scenes": 8000,
        "hci_steps": 1000,
        "hci_minutes": 5.0,
        "vae_steps": 5000,
        "vae_minutes": 30.0,
        "captioner_steps": 3000,
        "captioner_minutes": 16.0,
        "spw_steps": 6000,
        "spw_minutes": 25.0,
        "sketch_steps": 3000,
        "sketch_minutes": 10.0,
        "decoder_steps": 8000,
        "decoder_minutes": 35.0,
        "overlay_painter": True,
        "spw_entropy": True,
        "sampling_overlay": True,
        # float32: the CPU it is reproduced on has no native bf16 (docs/training.md)
        "bf16": False,
    },
}


def preset_training(preset: str = "tiny") -> TrainConfig:
    """The training recipe of a CPU preset (:data:`PRESET_TRAINING` over the defaults)."""
    if preset not in PRESET_TRAINING:
        raise SemcomError(f"the CPU recipe trains tiny or tiny-complex, not {preset!r}.")
    return TrainConfig().updated(PRESET_TRAINING[preset], f"the {preset} recipe")


def build_preset(preset: str = "tiny"):
    """The untrained architecture of a CPU preset (``tiny`` or ``tiny-complex``)."""
    if preset == "tiny-complex":
        from semcom.mtgc.presets.tiny_complex import build_tiny_complex

        return build_tiny_complex()
    if preset != "tiny":
        raise SemcomError(f"the CPU recipe trains tiny or tiny-complex, not {preset!r}.")
    from semcom.mtgc.presets.tiny import build_tiny

    return build_tiny()


def start_model(model: Path, preset: str, cfg: TrainConfig) -> None:
    """Write the preset's untrained architecture into ``model``, warm-started from
    ``cfg.init_from`` when it names a model (recorded in training.json's ``init``)."""
    fresh = build_preset(preset)
    if not cfg.init_from:
        fresh.save_pretrained(model)
        return
    from semcom.mtgc.train.warm import load_source, record_init, warm_start

    report = warm_start(fresh, load_source(cfg.init_from))
    fresh.save_pretrained(model)
    record_init(model, cfg.init_from, report)


def run_all(
    cfg: TrainConfig,
    out: Path,
    work: Path,
    resume: bool = True,
    lanes: bool = True,
    preset: str = "tiny",
) -> dict[str, dict[str, float]]:
    """Every part of every stage, from the untrained architecture of ``preset`` (``semcom
    train``).

    The model trains in ``work/model`` (a part recorded in its training.json is done and
    is skipped on a resume); stage 1's small parts run in two one-thread processes
    (:data:`STAGE1_LANES`) before the decoder; the parts of :data:`AS_SHIPPED` run after
    the big weights are stored as float16 (:func:`~semcom.checkpoint.store_half`); when
    all parts are done the model replaces ``out`` as a whole, so a killed run never
    leaves half-trained weights there.
    """
    import shutil

    model = work / "model"
    if not resume and model.exists():
        shutil.rmtree(model)
    if not (model / "mtgc.json").is_file():
        start_model(model, preset, cfg)
    elif (recorded := MTGC.from_pretrained(model).preset) != preset:
        raise SemcomError(
            f"{model} holds a {recorded} model; train {preset} with another --work or --fresh."
        )
    reports: dict[str, dict[str, float]] = {}

    def todo(parts: tuple[str, ...]) -> tuple[str, ...]:
        record_file = model / "training.json"
        done = json.loads(record_file.read_text())["parts"] if record_file.is_file() else {}
        return tuple(p for p in parts if p not in done and cfg.trains(p))

    lane_parts = [todo(lane) for lane in STAGE1_LANES] if lanes else []
    if sum(bool(p) for p in lane_parts) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        one = cfg.updated({"threads": 1})
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(len(lane_parts), mp_context=ctx) as pool:
            futures = [
                pool.submit(run_stage, 1, one, model, work, parts, resume)
                for parts in lane_parts
                if parts
            ]
            for f in futures:
                reports.update(f.result())
    for stage, parts in STAGE_PARTS.items():
        left = todo(parts)
        trained = tuple(p for p in left if p not in AS_SHIPPED)
        if trained:
            reports.update(run_stage(stage, cfg, model, work, trained, resume))
        chosen = tuple(p for p in left if p in AS_SHIPPED)
        if chosen:
            store_half(model)  # settings are chosen on the float16 weights that ship
            reports.update(run_stage(stage, cfg, model, work, chosen, resume))
    staging = out.with_name(out.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(model, staging, ignore=shutil.ignore_patterns(".training.lock"))
    store_half(staging)
    if out.exists():
        shutil.rmtree(out)
    staging.replace(out)
    return reports
