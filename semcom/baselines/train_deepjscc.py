"""Train the Deep JSCC baseline on ShapesWorld: ``python -m semcom.baselines.train_deepjscc``.

One model for every budget: each step draws one budget from ``--budgets`` (in turn) and
an SNR per image uniformly from ``[--snr-min, --snr-max]`` dB, sends the batch through
the differentiable AWGN channel (:func:`channels.analog.awgn`; ``--rayleigh P`` sends a
fraction P of the steps through :func:`channels.analog.rayleigh_zf` instead) and minimises
the MSE. Images come from a pool of ``--pool`` ShapesWorld training scenes rendered once
(uint8) with random flips; the first ``--crop-steps`` steps use random ``--crop`` ×
``--crop`` crops (the model is convolutional and budgets are per pixel, so crops train
the same maps about 4× cheaper). One thread unless ``--threads`` says otherwise; a log
line every ``--log-every`` steps to ``WORK/train.log``; a resumable safetensors
checkpoint (:mod:`semcom.checkpoint`) every ``--ckpt-every`` steps and at the end; the
final model is written with ``save_pretrained`` to ``--out``. ``--minutes`` stops
training at a wall-time limit (the learning rate is a cosine over ``--steps``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from channels.analog import awgn, rayleigh_zf
from semcom.baselines.deepjscc import WEIGHTS_DIR, DeepJSCC
from semcom.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint


def render_pool(n: int, seed: int, size: int = 128) -> torch.Tensor:
    """[n,3,size,size] uint8: ShapesWorld training scenes 0..n-1."""
    from semcom.data.shapes import ShapesWorld

    data = ShapesWorld("train", n=n, size=size, seed=seed)
    pool = torch.empty(n, 3, size, size, dtype=torch.uint8)
    for i in range(n):
        pool[i] = (data[i].image * 255).round().to(torch.uint8)
    return pool


def batch_from(
    pool: torch.Tensor, size: int, g: torch.Generator, crop: int | None = None
) -> torch.Tensor:
    """[size,3,c,c] float in [0,1]: random images of the pool, randomly flipped, randomly
    cropped to ``crop`` (a multiple of 8; ``None``: whole images)."""
    idx = torch.randint(0, pool.shape[0], (size,), generator=g)
    x = pool[idx]
    if crop is not None and crop < x.shape[-1]:
        top, left = (
            int(v) * 8 for v in torch.randint(0, (x.shape[-1] - crop) // 8 + 1, (2,), generator=g)
        )
        x = x[:, :, top : top + crop, left : left + crop]
    x = x.float() / 255
    flip_w = torch.rand(size, generator=g) < 0.5
    flip_h = torch.rand(size, generator=g) < 0.5
    x[flip_w] = x[flip_w].flip(3)
    x[flip_h] = x[flip_h].flip(2)
    return x


def lr_at(step: int, steps: int, peak: float, warmup: int = 100) -> float:
    """Linear warm-up then cosine decay to 5 % of ``peak``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=Path("runs/train-deepjscc"))
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--pool", type=int, default=3000)
    p.add_argument("--crop", type=int, default=None)
    p.add_argument("--crop-steps", type=int, default=0)
    p.add_argument("--budgets", type=float, nargs="+", default=[0.03, 0.1, 0.3])
    p.add_argument("--snr-min", type=float, default=-5.0)
    p.add_argument("--snr-max", type=float, default=20.0)
    p.add_argument("--rayleigh", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--ckpt-every", type=int, default=250)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # parameter initialisation only
    args.work.mkdir(parents=True, exist_ok=True)
    log = (args.work / "train.log").open("a")

    def say(text: str) -> None:
        log.write(text + "\n")
        log.flush()

    start = time.monotonic()
    model = DeepJSCC(budgets_cpp=tuple(args.budgets))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    step = 0
    if has_checkpoint(args.work, "deepjscc"):
        step, _ = load_checkpoint(args.work, "deepjscc", {"model": model}, opt)
        say(f"resumed at step {step}")
    say(f"args {json.dumps({k: str(v) for k, v in vars(args).items()})}")
    say(f"parameters {sum(p.numel() for p in model.parameters())}")
    pool = render_pool(args.pool, args.seed)
    say(f"pool {tuple(pool.shape)} rendered in {time.monotonic() - start:.1f} s")
    g = torch.Generator().manual_seed(args.seed * 1000003 + step)
    model.train()
    running: dict[float, float] = {}
    while step < args.steps:
        if args.minutes is not None and time.monotonic() - start > 60 * args.minutes:
            say(f"time limit reached at step {step}")
            break
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr)
        budget = args.budgets[step % len(args.budgets)]
        crop = args.crop if step < args.crop_steps else None
        images = batch_from(pool, args.batch, g, crop)
        snr = args.snr_min + (args.snr_max - args.snr_min) * torch.rand(args.batch, generator=g)
        fading = args.rayleigh > 0 and float(torch.rand(1, generator=g)) < args.rayleigh

        def channel(x, s, fading=fading):
            return rayleigh_zf(x, s, g) if fading else awgn(x, s, g)

        loss = F.mse_loss(model(images, snr, budget, channel), images)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        running[budget] = 0.9 * running.get(budget, loss.item()) + 0.1 * loss.item()
        if step % args.log_every == 0:
            psnrs = " ".join(f"{b:g}:{-10 * math.log10(v):.2f}dB" for b, v in running.items())
            say(
                f"step {step} lr {lr_at(step, args.steps, args.lr):.2e} psnr(ema) {psnrs} "
                f"elapsed {time.monotonic() - start:.0f} s"
            )
        if step % args.ckpt_every == 0:
            save_checkpoint(args.work, "deepjscc", {"model": model}, opt, step)
    save_checkpoint(args.work, "deepjscc", {"model": model}, opt, step)
    model.eval()
    model.save_pretrained(args.out, safe_serialization=True)
    say(f"saved {args.out} at step {step} after {time.monotonic() - start:.0f} s")
    log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
