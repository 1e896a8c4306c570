"""What the scoring models' training scripts share (the ShapesWorld probe,
:mod:`semcom.metrics.train_probe`; the ShapesWorld-Complex detector,
:mod:`semcom.metrics.train_detector`): the log, the learning-rate schedule, the step loop
with its checkpoints and validation, and the command line built from a config dataclass.

A config is a dataclass with at least ``train_scenes``, ``steps``, ``batch``, ``lr``,
``warmup``, ``seed``, ``checkpoint_every`` and ``eval_every``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from semcom.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint


class TrainLog:
    """Timestamped lines to stdout and ``work``/train.log (appended)."""

    def __init__(self, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self._file = (work / "train.log").open("a")

    def __call__(self, msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def lr_at(step: int, cfg: Any) -> float:
    """Learning rate at ``step``: linear warm-up over ``cfg.warmup`` steps, then cosine
    decay to 0 at ``cfg.steps``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def run_steps(
    cfg: Any,
    modules: dict[str, torch.nn.Module],
    opt: torch.optim.Optimizer,
    work: Path,
    resume: bool,
    batch_loss: Callable[[int, torch.Tensor], torch.Tensor],
    validate: Callable[[], dict[str, float]],
    log: TrainLog,
) -> tuple[int, float]:
    """Train ``modules`` to ``cfg.steps``: ``batch_loss(step, idx)`` is the loss of the
    training scenes ``idx`` (int64 [batch]; each epoch's order depends on (seed, epoch)
    only, so a resumed run takes the same batches); checkpoints (``modules`` and ``opt``)
    to ``work`` every ``cfg.checkpoint_every`` steps and at the end (``resume`` continues
    from the last one); ``validate()``'s scores logged every ``cfg.eval_every`` steps and
    at the end. Returns (steps run here, seconds)."""
    step = 0
    if resume and has_checkpoint(work, ""):
        step, _ = load_checkpoint(work, "", modules, opt)
        log(f"resumed at step {step}")
    per_epoch = cfg.train_scenes // cfg.batch
    t_train, start_step, running, order_epoch = time.time(), step, None, -1
    for module in modules.values():
        module.train()
    while step < cfg.steps:
        epoch, pos = divmod(step, per_epoch)
        if epoch != order_epoch:
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
            order, order_epoch = torch.randperm(cfg.train_scenes, generator=gen), epoch
        idx = order[pos * cfg.batch : (pos + 1) * cfg.batch]
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = batch_loss(step, idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        value = loss.item()
        running = value if running is None else 0.98 * running + 0.02 * value
        if step % 100 == 0:
            rate = (step - start_step) / (time.time() - t_train)
            eta = (cfg.steps - step) / max(rate, 1e-9)
            speed = f"{rate * cfg.batch:.0f} img/s ETA {eta / 60:.1f} min"
            log(f"step {step}/{cfg.steps} loss {running:.4f} {speed}")
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            save_checkpoint(work, "", modules, opt, step)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            log("val " + " ".join(f"{k} {v:.4f}" for k, v in validate().items()))
    train_s = time.time() - t_train
    log(f"trained {step - start_step} steps in {train_s / 60:.1f} min")
    return step - start_step, train_s


def argv_for(cfg: Any, out: Path, work: Path) -> list[str]:
    """The command-line options that reproduce ``cfg`` (its class's defaults left out)."""
    defaults = type(cfg)()
    args = [f"--out {out}", f"--work {work}"]
    for key, value in asdict(cfg).items():
        if value != getattr(defaults, key):
            args.append(f"--{key.replace('_', '-')} {value}")
    return args


def add_config_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per field of the config dataclass ``cls`` (``--train-scenes`` …)."""
    for key, value in asdict(cls()).items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)


def config_from(args: argparse.Namespace, cls: type) -> Any:
    """The ``cls`` config that parsed ``args`` name."""
    return cls(**{k: getattr(args, k) for k in asdict(cls())})
