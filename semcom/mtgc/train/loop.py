"""One training loop for every part (:class:`Trainer`), EMA weights, the model directory
and its ``training.json`` record."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from semcom.checkpoint import (
    has_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.train.config import TrainConfig
from semcom.mtgc.train.data import batches


# -- one training loop for every part ------------------------------------------------
class Trainer:
    """Runs one part: optimiser, warm-up + cosine schedule, checkpoints, log, progress."""

    def __init__(self, cfg: TrainConfig, work: Path, stage: int, log: Callable[[str], None]):
        self.cfg, self.work, self.stage, self.log = cfg, work, stage, log

    def run(
        self,
        name: str,
        modules: dict[str, nn.Module],
        params: list[nn.Parameter],
        lr: float,
        steps: int,
        batch: int,
        n: int,
        loss_fn: Callable[[int, torch.Tensor, torch.Generator], dict[str, torch.Tensor]],
        resume: bool = True,
        minutes: float = float("inf"),
        after_step: Callable[[int], None] | None = None,
    ) -> dict[str, float]:
        """Train for ``steps`` or ``minutes`` of training time, whichever ends first.

        loss_fn(step, indices, generator) returns {'loss': …, …}; after_step(step) runs
        after each optimiser step (e.g. an EMA update). The learning rate follows a
        warm-up and a cosine over the larger of the step and the time fraction.
        """
        from tqdm import tqdm

        cfg = self.cfg
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        start, extra = 0, {}
        if resume and has_checkpoint(self.work, name):
            start, extra = load_checkpoint(self.work, name, modules, opt)
            self.log(f"{name}: resumed at step {start}")
        for m in modules.values():
            m.train()
        running: dict[str, float] = dict(extra.get("running", {}))
        seconds = float(extra.get("seconds", 0.0))
        t_last = time.time()
        budget = 60.0 * minutes
        bar = tqdm(total=steps, initial=start, desc=name, unit="step", mininterval=5)
        done = start
        for step, idx in batches(n, batch, cfg.seed, start):
            elapsed = seconds + time.time() - t_last
            if step >= steps or elapsed >= budget:
                break
            warm = min(1.0, (step + 1) / cfg.warmup)
            progress = min(1.0, max(step / steps, elapsed / budget))
            cos = 0.5 * (1 + math.cos(math.pi * progress))
            for g in opt.param_groups:
                g["lr"] = lr * warm * max(cos, 0.05)
            gen = torch.Generator().manual_seed(cfg.seed * 7_919 + step * 104_729 + len(name))
            out = loss_fn(step, idx, gen)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            if after_step is not None:
                after_step(step)
            for k, v in out.items():
                val = float(v.detach())
                running[k] = val if k not in running else 0.98 * running[k] + 0.02 * val
            bar.update(1)
            done = step + 1
            if done % cfg.log_every == 0 or done == steps:
                now = time.time()
                seconds += now - t_last
                t_last = now
                text = " ".join(f"{k} {v:.4f}" for k, v in running.items())
                self.log(f"{name}: step {done}/{steps} {text} ({seconds / 60:.1f} min)")
            out_of_time = seconds + time.time() - t_last >= budget
            if done % cfg.checkpoint_every == 0 or done == steps or out_of_time:
                seconds += time.time() - t_last
                t_last = time.time()
                save_checkpoint(
                    self.work, name, modules, opt, done, {"running": running, "seconds": seconds}
                )
        bar.close()
        seconds += time.time() - t_last
        for m in modules.values():
            m.eval()
        stopped = "steps" if done >= steps else "time"
        self.log(f"{name}: stopped by its {stopped} budget at step {done}/{steps}")
        return {
            "steps": done,
            "max_steps": steps,
            "stopped_by": stopped,
            "minutes": round(seconds / 60, 1),
            **running,
        }


# -- the stage log ----------------------------------------------------------------------
@contextmanager
def stage_log(path: Path) -> Iterator[Callable[[str], None]]:
    """A log function for one stage: each message, timestamped, to stdout and appended to
    ``path`` (created with its folder; closed when the block ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:

        def log(msg: str) -> None:
            line = f"{time.strftime('%H:%M:%S')} {msg}"
            print(line, flush=True)
            file.write(line + "\n")
            file.flush()

        yield log


# -- the model directory ---------------------------------------------------------------
def load_model(out: Path) -> MTGC:
    """The model in ``out``, or the untrained tiny architecture if ``out`` is empty."""
    from semcom.mtgc.presets.tiny import build_tiny

    if (out / "mtgc.json").is_file():
        return MTGC.from_pretrained(out)
    return build_tiny()


def record(out: Path, stage: int, part: str, report: dict, cfg: TrainConfig) -> None:
    """Add one part's report to out/training.json (under a lock: parts run side by side)."""
    import fcntl

    path = out / "training.json"
    with (out / ".training.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.is_file() else {"parts": {}}
        data["parts"][part] = {"stage": stage, **report}
        cfg_dict = asdict(cfg)
        cfg_dict.pop("threads")  # a lane's thread count, not a setting of the recipe
        data["config"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg_dict.items()}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)


def bf16_warning(cfg: TrainConfig, cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """A sentence when ``cfg.bf16`` is on and this x86 CPU has no native bf16 (neither
    AVX512-BF16 nor AMX), where bf16 autocast runs far slower than float32 and the
    time-budgeted parts make far fewer steps than the recipe's weights had; else None."""
    if not cfg.bf16:
        return None
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return None  # not Linux: nothing to say
    if not {"avx", "avx2", "sse2"} & flags or {"avx512_bf16", "amx_bf16"} & flags:
        return None
    return (
        "this CPU has no native bf16 (no avx512_bf16 or amx_bf16 in /proc/cpuinfo), so bf16 "
        "autocast runs many times slower than float32 here and the parts with a time "
        "budget will make far fewer steps than the shipped weights had: use a CPU with "
        "AVX512-BF16 or AMX, or set bf16: false in --config (other numerics, other weights)."
    )


def _autocast(cfg: TrainConfig):
    """bf16 autocast on the CPU when ``cfg.bf16`` (a no-op context otherwise)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16)


class EMA:
    """Exponential moving averages of modules' parameters (the weights that ship).

    ``modules`` holds the averaged copies (named ``ema_<name>``) so checkpoints carry them;
    the decay ramps up as min(decay, (1 + step) / (10 + step)).
    """

    def __init__(self, live: dict[str, nn.Module], decay: float) -> None:
        import copy

        self.decay = decay
        self.modules = {f"ema_{k}": copy.deepcopy(m).requires_grad_(False) for k, m in live.items()}
        self._pairs = [
            (list(self.modules[f"ema_{k}"].parameters()), list(m.parameters()))
            for k, m in live.items()
        ]

    @torch.no_grad()
    def update(self, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for shadow, live in self._pairs:
            torch._foreach_lerp_(shadow, [p.detach() for p in live], 1 - d)

    @torch.no_grad()
    def copy_to(self, live: dict[str, nn.Module]) -> None:
        for k, m in live.items():
            m.load_state_dict(self.modules[f"ema_{k}"].state_dict())
