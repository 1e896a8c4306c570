"""Train the semantic probe on clean ShapesWorld training scenes, then score it on test.

    python -m semcom.metrics.train_probe --out semcom/metrics/weights/probe --work out/probe

A fixed pool of training scenes is rendered once (deterministic from ``--seed``) and the
probe is trained on it for ``--steps`` AdamW steps (warm-up, cosine decay) on one torch
thread. Every ``--checkpoint-every`` steps the model and optimizer go to ``--work`` as
safetensors (``--resume`` continues from there). The log (``--work``/train.log) shows
loss, speed, ETA and validation scores. At the end the probe is saved to ``--out``
(config.json + safetensors) with ``probe_eval.json``: its clean-test scores per attribute.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from semcom.data.shapes import ShapesWorld
from semcom.metrics.semantic import (
    DEFAULT_PROBE_DIR,
    SemanticProbe,
    load_probe,
    probe_loss,
    probe_targets,
    semantic_scores,
    wilson_interval,
)
from semcom.metrics.training import (
    TrainLog,
    add_config_options,
    argv_for,
    config_from,
    run_steps,
)


@dataclass
class ProbeTrainConfig:
    """Training settings; every field is a command-line option of the same name."""

    train_scenes: int = 20_000
    val_scenes: int = 500
    test_scenes: int = 2_000
    steps: int = 4_000
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 200
    seed: int = 0
    checkpoint_every: int = 500
    eval_every: int = 1_000
    threads: int = 1
    #: Probability that a training image is degraded (blur, JPEG, resampling or noise).
    augment: float = 0.0


def render_pool(split: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, list]:
    """n scenes of a split → (images uint8 [n,3,128,128], targets int64 [n,9,4], objects)."""
    data = ShapesWorld(split, n=n, seed=seed)
    images = torch.empty((n, 3, 128, 128), dtype=torch.uint8)
    scenes = []
    for i in range(n):
        item = data[i]
        images[i] = (item.image * 255).round().to(torch.uint8)
        scenes.append(item.objects)
    return images, probe_targets(scenes), scenes


def degrade(images: torch.Tensor, rng: np.random.Generator, p: float) -> torch.Tensor:
    """uint8 [B,3,H,W] → float [B,3,H,W] in [0,1], each image degraded with probability p
    by one of: Gaussian blur (radius 0.5-1.5 px), JPEG (quality 10-50), bicubic down- and
    up-sampling (x2-x4) or Gaussian noise (sigma 0.01-0.06). The labels stay those of the
    clean scene."""
    out = images.float() / 255
    for b in range(images.shape[0]):
        if rng.random() >= p:
            continue
        kind = int(rng.integers(4))
        if kind == 3:
            noise = torch.from_numpy(rng.normal(0, rng.uniform(0.01, 0.06), out[b].shape))
            out[b] = (out[b] + noise.float()).clamp(0, 1)
            continue
        img = Image.fromarray(images[b].permute(1, 2, 0).numpy())
        if kind == 0:
            img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 1.5))))
        elif kind == 1:
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=int(rng.integers(10, 51)))
            img = Image.open(buf).convert("RGB")
        else:
            side = img.size[0] // int(rng.integers(2, 5))
            img = img.resize((side, side), Image.Resampling.BICUBIC)
            img = img.resize(images.shape[-2:][::-1], Image.Resampling.BICUBIC)
        out[b] = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255
    return out


#: Fixed degradations of :func:`robustness`: name → (kind, parameter).
ROBUSTNESS_CASES: dict[str, tuple[str, float]] = {
    "blur r1": ("blur", 1.0),
    "blur r2": ("blur", 2.0),
    "jpeg q20": ("jpeg", 20),
    "jpeg q5": ("jpeg", 5),
    "down-up x4": ("resample", 4),
    "noise 0.05": ("noise", 0.05),
}


def _degrade_fixed(image: torch.Tensor, kind: str, value: float, seed: int) -> torch.Tensor:
    """uint8 [3,H,W] → float [3,H,W] in [0,1], one fixed degradation."""
    if kind == "noise":
        noise = torch.from_numpy(np.random.default_rng(seed).normal(0, value, image.shape))
        return (image.float() / 255 + noise.float()).clamp(0, 1)
    img = Image.fromarray(image.permute(1, 2, 0).numpy())
    if kind == "blur":
        img = img.filter(ImageFilter.GaussianBlur(value))
    elif kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(value))
        img = Image.open(buf).convert("RGB")
    else:
        w, h = img.size
        img = img.resize((w // int(value), h // int(value)), Image.Resampling.BICUBIC)
        img = img.resize((w, h), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255


def robustness(probe: SemanticProbe, n: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """Scores of the probe on the first ``n`` test scenes under each fixed degradation of
    :data:`ROBUSTNESS_CASES` (the labels are the clean scenes')."""
    images, _, scenes = render_pool("test", n, seed)
    out = {}
    for name, (kind, value) in ROBUSTNESS_CASES.items():
        batch = torch.stack([_degrade_fixed(im, kind, value, i) for i, im in enumerate(images)])
        out[name] = semantic_scores(scenes, probe.eval().read(batch)).as_dict()
    return out


@torch.no_grad()
def evaluate(probe: SemanticProbe, images: torch.Tensor, scenes: list) -> dict[str, float]:
    """Clean scores of the probe on uint8 images [n,3,128,128] with their true objects."""
    probe.eval()
    reads = probe.read(images.float() / 255)
    probe.train()
    return semantic_scores(scenes, reads).as_dict()


def train(cfg: ProbeTrainConfig, out: Path, work: Path, resume: bool) -> dict[str, float]:
    """Train, save the probe to ``out`` and return its clean-test scores."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    log = TrainLog(work)
    t0 = time.time()
    log(f"config {json.dumps(asdict(cfg))}")
    images, targets, _ = render_pool("train", cfg.train_scenes, cfg.seed)
    val_images, _, val_scenes = render_pool("val", cfg.val_scenes, cfg.seed)
    n_rendered = f"{cfg.train_scenes} train + {cfg.val_scenes} val"
    log(f"rendered {n_rendered} scenes in {time.time() - t0:.0f} s")

    probe = SemanticProbe()
    opt = torch.optim.AdamW(probe.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def batch_loss(step: int, idx: torch.Tensor) -> torch.Tensor:
        batch = images[idx].float() / 255
        if cfg.augment > 0:
            batch = degrade(images[idx], np.random.default_rng([cfg.seed, step]), cfg.augment)
        return probe_loss(probe(batch), targets[idx])

    _, train_s = run_steps(
        cfg,
        {"probe": probe},
        opt,
        work,
        resume,
        batch_loss,
        lambda: evaluate(probe, val_images, val_scenes),
        log,
    )
    probe.eval()
    probe.save_pretrained(str(out), safe_serialization=True)
    report = score_probe(probe, cfg.test_scenes, cfg.seed)
    report["command"] = "python -m semcom.metrics.train_probe " + " ".join(argv_for(cfg, out, work))
    report["train_minutes"] = round(train_s / 60, 1)
    report["train_steps"] = cfg.steps
    (out / "probe_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    log("test " + " ".join(f"{k} {v:.4f}" for k, v in report["scores"].items()))
    log(f"saved to {out}; total {(time.time() - t0) / 60:.1f} min")
    log.close()
    return report["scores"]


def score_probe(probe: SemanticProbe, n: int, seed: int = 0) -> dict:
    """Clean-test scores of a probe on the first ``n`` test scenes of dataset ``seed``:
    rates, 95 % Wilson intervals of the per-attribute accuracies, counts."""
    t0 = time.time()
    images, _, scenes = render_pool("test", n, seed)
    scores = semantic_scores(scenes, probe.eval().read(images.float() / 255))
    c = scores.counts
    return {
        "test_scenes": n,
        "test_seed": seed,
        "test_objects": c.objects_true,
        "scores": scores.as_dict(),
        "wilson95": {
            "shape_accuracy": wilson_interval(c.shape_ok, c.objects_true),
            "colour_accuracy": wilson_interval(c.colour_ok, c.objects_true),
            "size_accuracy": wilson_interval(c.size_ok, c.objects_true),
            "position_accuracy": wilson_interval(c.position_ok, c.objects_true),
            "count_accuracy": wilson_interval(c.count_ok, c.images),
        },
        "counts": asdict(c),
        "parameters": sum(p.numel() for p in probe.parameters()),
        "eval_seconds": round(time.time() - t0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_PROBE_DIR)
    parser.add_argument("--work", type=Path, default=Path("out/probe"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--eval-only",
        action="store_true",
        help="score the probe in --out on --test-scenes clean test scenes; update probe_eval.json",
    )
    parser.add_argument(
        "--robustness",
        type=int,
        default=0,
        metavar="N",
        help="with --eval-only: also score N test scenes under fixed degradations",
    )
    add_config_options(parser, ProbeTrainConfig)
    args = parser.parse_args(argv)
    cfg = config_from(args, ProbeTrainConfig)
    if args.eval_only:
        torch.set_num_threads(cfg.threads)
        probe = load_probe(args.out)
        report = score_probe(probe, cfg.test_scenes, cfg.seed)
        if args.robustness:
            report["robustness_scenes"] = args.robustness
            report["robustness"] = robustness(probe, args.robustness, cfg.seed)
        path = args.out / "probe_eval.json"
        old = json.loads(path.read_text()) if path.is_file() else {}
        for key in ("command", "train_minutes", "train_steps"):
            if key in old:
                report[key] = old[key]
        report["eval_command"] = (
            f"python -m semcom.metrics.train_probe --eval-only --out {args.out} "
            f"--test-scenes {cfg.test_scenes} --seed {cfg.seed}"
            + (f" --robustness {args.robustness}" if args.robustness else "")
        )
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        return
    train(cfg, args.out, args.work, args.resume)


if __name__ == "__main__":
    main()
