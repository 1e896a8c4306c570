"""Train the ShapesWorld-Complex object detector on clean training scenes; score it on test.

    python -m semcom.metrics.train_detector --work out/detector

A fixed pool of training scenes is rendered once (deterministic from ``--seed``); each
batch is turned by a random element of the square's symmetry group (flips and
transposition: every shape of the world is mirror-symmetric, so labels stay true) and,
with probability ``--augment``, degraded (blur, JPEG, resampling or noise, as the
ShapesWorld probe's training) so codec artefacts alone do not make it misread a legible
object. AdamW with warm-up and cosine decay; checkpoints every ``--checkpoint-every``
steps to ``--work`` (``--resume`` continues); the log is ``--work``/train.log. At the end
the read threshold is chosen on the validation scenes, the detector is saved to ``--out``
and scored on ``--test-scenes`` clean test scenes, with its residual errors, in
``detector_eval.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from semcom.data.complex import COLOURS, SHAPES, SIZES, TEXTURES, ShapesWorldComplex
from semcom.metrics.detector import (
    ATTRIBUTES,
    DEFAULT_DETECTOR_DIR,
    ObjectDetector,
    decode_maps,
    detection_scores,
    detector_loss,
    detector_targets,
    load_detector,
    match_boxes,
)
from semcom.metrics.semantic import wilson_interval
from semcom.metrics.train_probe import degrade
from semcom.metrics.training import (
    TrainLog,
    add_config_options,
    argv_for,
    config_from,
    run_steps,
)

#: Read thresholds tried on the validation scenes.
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


@dataclass
class DetectorTrainConfig:
    """Training settings; every field is a command-line option of the same name."""

    train_scenes: int = 20_000
    val_scenes: int = 500
    test_scenes: int = 2_000
    steps: int = 10_000
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 300
    seed: int = 0
    checkpoint_every: int = 500
    eval_every: int = 1_000
    threads: int = 2
    #: Probability that a training image is degraded (blur, JPEG, resampling or noise).
    augment: float = 0.3


@dataclass
class Pool:
    """Rendered scenes: images uint8 [n,3,128,128], boxes float [n_i,4] and attributes
    int [n_i,4] per scene, and the objects themselves."""

    images: torch.Tensor
    boxes: list[np.ndarray]
    attrs: list[np.ndarray]
    objects: list[list]


def render_pool(split: str, n: int, seed: int) -> Pool:
    """n scenes of a split, rendered once."""
    data = ShapesWorldComplex(split, n=n, seed=seed)
    images = torch.empty((n, 3, 128, 128), dtype=torch.uint8)
    boxes, attrs, objects = [], [], []
    for i in range(n):
        item = data[i]
        images[i] = (item.image * 255).round().to(torch.uint8)
        boxes.append(np.array([o.box for o in item.objects], np.float32).reshape(-1, 4))
        attrs.append(
            np.array([(o.shape, o.colour, o.size, o.texture) for o in item.objects]).reshape(-1, 4)
        )
        objects.append(item.objects)
    return Pool(images, boxes, attrs, objects)


def symmetry(
    images: torch.Tensor, boxes: list[np.ndarray], code: int, size: int = 128
) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Apply element ``code`` (0-7: bit 0 transpose, bit 1 flip x, bit 2 flip y) of the
    square's symmetry group to images [B,3,H,W] and their boxes (x0, y0, x1, y1)."""
    out_boxes = [b.copy() for b in boxes]
    if code & 1:
        images = images.transpose(-1, -2)
        out_boxes = [b[:, [1, 0, 3, 2]] for b in out_boxes]
    if code & 2:
        images = images.flip(-1)
        out_boxes = [
            np.stack([size - b[:, 2], b[:, 1], size - b[:, 0], b[:, 3]], 1) for b in out_boxes
        ]
    if code & 4:
        images = images.flip(-2)
        out_boxes = [
            np.stack([b[:, 0], size - b[:, 3], b[:, 2], size - b[:, 1]], 1) for b in out_boxes
        ]
    return images.contiguous(), out_boxes


@torch.no_grad()
def _maps(detector: ObjectDetector, images: torch.Tensor) -> torch.Tensor:
    detector.eval()
    maps = torch.cat(
        [detector(images[i : i + 64].float() / 255) for i in range(0, len(images), 64)]
    )
    detector.train()
    return maps


def choose_threshold(detector: ObjectDetector, pool: Pool) -> tuple[float, dict[float, float]]:
    """The read threshold of :data:`THRESHOLDS` with the best object F1 on ``pool``."""
    maps = _maps(detector, pool.images)
    f1 = {t: detection_scores(pool.objects, decode_maps(maps, t))[0]["f1"] for t in THRESHOLDS}
    best = max(THRESHOLDS, key=lambda t: (f1[t], -abs(t - 0.3)))
    return best, f1


def train(cfg: DetectorTrainConfig, out: Path, work: Path, resume: bool) -> dict:
    """Train, save the detector to ``out`` and return its clean-test report."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    log = TrainLog(work)
    t0 = time.time()
    log(f"config {json.dumps(asdict(cfg))}")
    pool = render_pool("train", cfg.train_scenes, cfg.seed)
    val = render_pool("val", cfg.val_scenes, cfg.seed)
    log(
        f"rendered {cfg.train_scenes} train + {cfg.val_scenes} val scenes "
        f"in {time.time() - t0:.0f} s"
    )

    detector = ObjectDetector()
    opt = torch.optim.AdamW(detector.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def batch_loss(step: int, idx: torch.Tensor) -> torch.Tensor:
        rng = np.random.default_rng([cfg.seed, step])
        picked = idx.tolist()
        images, boxes = symmetry(
            pool.images[idx], [pool.boxes[i] for i in picked], int(rng.integers(8))
        )
        batch = degrade(images, rng, cfg.augment) if cfg.augment > 0 else images.float() / 255
        targets = detector_targets(boxes, [pool.attrs[i] for i in picked])
        return detector_loss(detector(batch), targets)

    def validate() -> dict[str, float]:
        return detection_scores(val.objects, decode_maps(_maps(detector, val.images)))[0]

    _, train_s = run_steps(
        cfg, {"detector": detector}, opt, work, resume, batch_loss, validate, log
    )
    threshold, val_f1 = choose_threshold(detector, val)
    log(f"threshold {threshold} (val F1 by threshold: {val_f1})")
    detector.register_to_config(threshold=threshold)
    detector.eval()
    detector.save_pretrained(str(out), safe_serialization=True)
    report = score_detector(detector, cfg.test_scenes, cfg.seed)
    report["val_f1_by_threshold"] = {str(t): round(v, 4) for t, v in val_f1.items()}
    report["command"] = "python -m semcom.metrics.train_detector " + " ".join(
        argv_for(cfg, out, work)
    )
    report["train_minutes"] = round(train_s / 60, 1)
    report["train_steps"] = cfg.steps
    (out / "detector_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    log("test " + " ".join(f"{k} {v:.4f}" for k, v in report["scores"].items()))
    log(f"saved to {out}; total {(time.time() - t0) / 60:.1f} min")
    log.close()
    return report


def residual_errors(truth: list[list], read: list[list]) -> dict:
    """What the detector gets wrong: misses by size class and by hidden fraction, the most
    common attribute confusions of paired objects, and hallucinations."""
    missed_by_size, missed_hidden, objects_hidden = Counter(), 0, 0
    confusions: dict[str, Counter] = {name: Counter() for name in ATTRIBUTES}
    names = {"shape": SHAPES, "colour": COLOURS, "size": SIZES, "texture": TEXTURES}
    hallucinations = 0
    for t, r in zip(truth, read, strict=True):
        pairs = match_boxes(t, r)
        paired = {i for i, _ in pairs}
        hallucinations += len(r) - len(pairs)
        for i, o in enumerate(t):
            hidden = o.visible < 0.8
            objects_hidden += hidden
            if i not in paired:
                missed_by_size[SIZES[o.size]] += 1
                missed_hidden += hidden
        for i, j in pairs:
            for name in ATTRIBUTES:
                a, b = getattr(t[i], name), getattr(r[j], name)
                if a != b:
                    confusions[name][f"{names[name][a]} -> {names[name][b]}"] += 1
    return {
        "missed_by_size": dict(missed_by_size),
        "missed_more_than_20pct_hidden": missed_hidden,
        "objects_more_than_20pct_hidden": objects_hidden,
        "hallucinations": hallucinations,
        "confusions": {k: dict(v.most_common(6)) for k, v in confusions.items()},
    }


def score_detector(detector: ObjectDetector, n: int, seed: int = 0) -> dict:
    """Clean-test scores of a detector on the first ``n`` test scenes of dataset ``seed``,
    with 95 % Wilson intervals, counts and residual errors."""
    t0 = time.time()
    pool = render_pool("test", n, seed)
    read = detector.eval().read(pool.images.float() / 255)
    scores, c = detection_scores(pool.objects, read)
    return {
        "test_scenes": n,
        "test_seed": seed,
        "test_objects": c.objects_true,
        "threshold": detector.config.threshold,
        "scores": scores,
        "wilson95": {
            "recall": wilson_interval(c.exact, c.objects_true),
            "precision": wilson_interval(c.exact, c.objects_read),
            "count_accuracy": wilson_interval(c.count_ok, c.images),
        },
        "counts": asdict(c),
        "residual_errors": residual_errors(pool.objects, read),
        "parameters": sum(p.numel() for p in detector.parameters()),
        "eval_seconds": round(time.time() - t0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DETECTOR_DIR)
    parser.add_argument("--work", type=Path, default=Path("out/detector"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--eval-only",
        action="store_true",
        help="score the detector in --out on --test-scenes clean test scenes "
        "(updates detector_eval.json)",
    )
    add_config_options(parser, DetectorTrainConfig)
    args = parser.parse_args(argv)
    cfg = config_from(args, DetectorTrainConfig)
    if args.eval_only:
        torch.set_num_threads(cfg.threads)
        detector = load_detector(args.out)
        report = score_detector(detector, cfg.test_scenes, cfg.seed)
        path = args.out / "detector_eval.json"
        old = json.loads(path.read_text()) if path.is_file() else {}
        for key in ("command", "train_minutes", "train_steps", "val_f1_by_threshold"):
            if key in old:
                report[key] = old[key]
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        return
    train(cfg, args.out, args.work, args.resume)


if __name__ == "__main__":
    main()
