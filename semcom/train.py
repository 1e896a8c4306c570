"""The three training stages of MTGC (PAPER.md) for the ``tiny`` preset on ShapesWorld.

Stage 1 trains everything the decoder stands on, in parts (each resumable):
  ``captioner``  the transmitter's ShapesCaptioner (per-cell attribute cross-entropy);
  ``hci``        the learned HCI codec (rate + λ·distortion, a random quality per step);
  ``vae``        the AutoencoderKL on random crops (L1 + a small KL term);
  ``decoder``    UNet + ControlNet + text encoder with the ε-prediction loss on VAE
                 latents, guided by caption tokens (+ TASCM's null tokens) and the decoded
                 HCI; captions and HCIs are dropped at random so the decoder learns the
                 unconditional branch of classifier-free guidance and the erasure fallback.
Stage 2 freezes the decoder and trains TASCM through it: ε-loss + VQ loss + an optional
  task loss (a linear head on the SPW embeddings predicting the scene's attributes; the
  head is discarded after training).
Stage 3 fine-tunes TASCM, the ControlNet and the UNet's cross-attention layers jointly at
  a low learning rate with the same losses.

Every part renders its own training scenes from the ``train`` split (deterministic from
the seed), checkpoints into ``work`` every ``checkpoint_every`` steps, resumes from the
last checkpoint, logs to ``work/stage<N>.log`` and writes its trained component into the
model directory ``out`` (default: the shipped ``semcom/presets/weights/tiny``), recording
steps, losses and minutes in ``out/training.json``.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from semcom.checkpoint import (
    has_checkpoint,
    load_checkpoint,
    load_module_weights,
    save_checkpoint,
)
from semcom.codec import MTGC
from semcom.data.captions import CELLS, canonical_caption
from semcom.data.shapes import ShapesWorld
from semcom.errors import SemcomError
from semcom.metrics.semantic import PER_CELL, probe_loss, probe_targets
from semcom.streams.hci import downsample, upsample

STAGE_PARTS: dict[int, tuple[str, ...]] = {
    1: ("captioner", "hci", "vae", "decoder"),
    2: ("tascm",),
    3: ("joint",),
}


@dataclass
class TrainConfig:
    """Training settings (every field is a key of the ``--config`` YAML)."""

    seed: int = 0
    threads: int = 1
    train_scenes: int = 6000
    checkpoint_every: int = 100
    log_every: int = 25
    #: Validation scenes behind the figures each part writes into training.json.
    report_scenes: int = 300
    # captioner
    captioner_steps: int = 1500
    captioner_batch: int = 32
    captioner_lr: float = 2e-3
    # HCI codec: loss = bits/pixel + lambda · 255² · MSE on the downsampled image
    hci_steps: int = 5000
    hci_batch: int = 32
    hci_lr: float = 1e-3
    hci_lambda: float = 0.05
    hci_factors: tuple[int, ...] = (4, 8)
    # autoencoder (on random crops; it is fully convolutional)
    vae_steps: int = 1200
    vae_batch: int = 16
    vae_crop: int = 64
    vae_lr: float = 1e-3
    vae_kl: float = 1e-5
    vae_mode: bool = True
    # diffusion decoder
    decoder_steps: int = 1800
    decoder_batch: int = 16
    decoder_lr: float = 5e-4
    warmup: int = 100
    p_drop_caption: float = 0.1
    p_drop_hci: float = 0.4
    p_canonical: float = 0.5
    # stage 2: TASCM through the frozen decoder
    tascm_steps: int = 300
    tascm_batch: int = 16
    tascm_lr: float = 1e-3
    task_weight: float = 0.5
    p_drop_spw: float = 0.1
    stage2_p_drop_caption: float = 0.3
    # stage 3: joint fine-tuning
    joint_steps: int = 150
    joint_batch: int = 16
    joint_lr: float = 5e-5
    grad_clip: float = 1.0

    @classmethod
    def from_yaml(cls, path: Path) -> TrainConfig:
        """Read a YAML mapping of field → value; unknown keys are an error."""
        if not path.is_file():
            raise SemcomError(f"the training config {path} does not exist.")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise SemcomError(f"{path} is not valid YAML ({type(err).__name__}).") from err
        if not isinstance(data, dict):
            raise SemcomError(f"{path} must hold a mapping of training settings.")
        return cls().updated(data, str(path))

    def updated(self, values: dict, where: str = "the options") -> TrainConfig:
        """A copy with ``values`` applied, type-checked against the defaults."""
        known = {f.name: f for f in fields(self)}
        out = asdict(self)
        for key, value in values.items():
            if key not in known:
                raise SemcomError(f"{where}: unknown training setting {key!r}.")
            default = out[key]
            try:
                if isinstance(default, tuple):
                    value = tuple(int(v) for v in value)
                elif isinstance(default, bool):
                    value = bool(value)
                else:
                    value = type(default)(value)
            except (TypeError, ValueError) as err:
                raise SemcomError(f"{where}: {key} must be like {default!r}.") from err
            out[key] = value
        cfg = TrainConfig(**out)
        for f in fields(cfg):
            v = getattr(cfg, f.name)
            if (f.name.endswith(("_steps", "_batch")) or f.name == "train_scenes") and v < 1:
                raise SemcomError(f"{where}: {f.name} must be at least 1.")
        return cfg


# -- data -------------------------------------------------------------------------------
@dataclass
class Pool:
    """Rendered training scenes: images uint8 [N,3,128,128], targets int64 [N,9,4]."""

    images: torch.Tensor
    targets: torch.Tensor
    captions: list[str]
    canonical: list[str]


def render_pool(n: int, seed: int) -> Pool:
    """The first ``n`` scenes of training set ``seed``."""
    data = ShapesWorld("train", n=n, seed=seed)
    images = torch.empty((n, 3, 128, 128), dtype=torch.uint8)
    scenes, captions, canonical = [], [], []
    for i in range(n):
        item = data[i]
        images[i] = (item.image * 255).round().to(torch.uint8)
        scenes.append(item.objects)
        captions.append(item.caption)
        canonical.append(canonical_caption(item.objects))
    return Pool(images, probe_targets(scenes), captions, canonical)


def batches(n: int, batch: int, seed: int, start: int) -> Iterator[tuple[int, torch.Tensor]]:
    """(step, indices) from ``start`` on; epoch orders depend on (seed, epoch) only."""
    per_epoch = max(1, n // batch)
    step = start
    while True:
        epoch, pos = divmod(step, per_epoch)
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(n, generator=gen)
        yield step, order[pos * batch : (pos + 1) * batch]
        step += 1


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
    ) -> dict[str, float]:
        """Train for ``steps``; loss_fn(step, indices, generator) returns {'loss': …, …}."""
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
        bar = tqdm(total=steps, initial=start, desc=name, unit="step", mininterval=5)
        for step, idx in batches(n, batch, cfg.seed, start):
            if step >= steps:
                break
            warm = min(1.0, (step + 1) / cfg.warmup)
            cos = 0.5 * (1 + math.cos(math.pi * step / steps))
            for g in opt.param_groups:
                g["lr"] = lr * warm * max(cos, 0.05)
            gen = torch.Generator().manual_seed(cfg.seed * 7_919 + step * 104_729 + len(name))
            out = loss_fn(step, idx, gen)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
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
            if done % cfg.checkpoint_every == 0 or done == steps:
                seconds += time.time() - t_last
                t_last = time.time()
                save_checkpoint(
                    self.work, name, modules, opt, done, {"running": running, "seconds": seconds}
                )
        bar.close()
        for m in modules.values():
            m.eval()
        return {"steps": steps, "minutes": round(seconds / 60, 1), **running}


# -- the model directory ---------------------------------------------------------------
def load_model(out: Path) -> MTGC:
    """The model in ``out``, or the untrained tiny architecture if ``out`` is empty."""
    from semcom.presets.tiny import build_tiny

    if (out / "mtgc.json").is_file():
        return MTGC.from_pretrained(out)
    return build_tiny()


def record(out: Path, stage: int, part: str, report: dict, cfg: TrainConfig) -> None:
    """Add one part's report to out/training.json."""
    path = out / "training.json"
    data = json.loads(path.read_text()) if path.is_file() else {"parts": {}}
    data["parts"][part] = {"stage": stage, **report}
    data["config"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}
    path.write_text(json.dumps(data, indent=2) + "\n")


def _context(codec: MTGC, texts: list[str], spw: torch.Tensor | None, grad: bool) -> torch.Tensor:
    """Caption tokens [B,L,D] (with or without gradients) followed by SPW tokens [B,K,D]."""
    ids = codec.text_encoder.tokenizer(texts)
    with torch.set_grad_enabled(grad):
        tokens = codec.text_encoder.model(input_ids=ids).last_hidden_state
    if spw is None:
        spw = codec.tascm.null(len(texts)).detach()
    return torch.cat([tokens, spw], dim=1)


def _captions(pool: Pool, idx: torch.Tensor, gen: torch.Generator, p_canon: float, p_drop: float):
    r = torch.rand(len(idx), 2, generator=gen)
    out = []
    for j, i in enumerate(idx.tolist()):
        text = pool.canonical[i] if r[j, 0] < p_canon else pool.captions[i]
        out.append("" if r[j, 1] < p_drop else text)
    return out


def _hci(codec: MTGC, images: torch.Tensor, gen: torch.Generator, factors: tuple[int, ...]):
    """What the receiver's decoded HCI looks like: [B,3,H,W] in [0,1] (no gradients)."""
    learned = codec.hci.learned
    h, w = images.shape[-2:]
    out = torch.empty_like(images)
    choice = torch.randint(0, len(factors), (len(images),), generator=gen)
    quality = torch.randint(0, len(learned.config.gains), (len(images),), generator=gen)
    with torch.no_grad():
        learned.eval()
        for j in range(len(images)):
            small = downsample(images[j : j + 1], factors[int(choice[j])])
            x_hat = learned(small, int(quality[j]))["x_hat"].clamp(0, 1)
            out[j] = upsample(x_hat, h, w)[0]
    return out


def cached_latents(codec: MTGC, pool: Pool, work: Path, log: Callable[[str], None]):
    """:func:`encode_latents` of the pool, cached in ``work`` per VAE weights and pool."""
    from safetensors.torch import load_file, save_file

    crc = 0
    for key, tensor in sorted(codec.mgdd.vae.state_dict().items()):
        crc = zlib.crc32(key.encode(), crc)
        crc = zlib.crc32(tensor.detach().contiguous().view(torch.uint8).numpy().tobytes(), crc)
    crc = zlib.crc32(pool.images[:: max(1, len(pool.images) // 64)].numpy().tobytes(), crc)
    path = work / f"latents-{len(pool.images)}-{crc:08x}.safetensors"
    if path.is_file():
        return load_file(str(path))["latents"]
    t0 = time.time()
    latents = encode_latents(codec, pool.images)
    work.mkdir(parents=True, exist_ok=True)
    save_file({"latents": latents.contiguous()}, str(path.with_suffix(".tmp")))
    path.with_suffix(".tmp").replace(path)
    log(f"encoded {len(latents)} latents in {time.time() - t0:.0f} s")
    return latents


def encode_latents(codec: MTGC, images: torch.Tensor, batch: int = 32) -> torch.Tensor:
    """uint8 [N,3,H,W] → the VAE latents the diffusion model works on (float32)."""
    chunks = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            chunks.append(codec.mgdd.encode_latents(images[i : i + batch].float() / 255).float())
    return torch.cat(chunks)


class TaskHead(nn.Module):
    """SPW embeddings [B,K,D] → per-cell attribute logits [B,9,PER_CELL] (training only)."""

    def __init__(self, k: int, d: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(1), nn.Linear(k * d, 256), nn.SiLU())
        self.out = nn.Linear(256, len(CELLS) * PER_CELL)

    def forward(self, spw: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(spw)).view(-1, len(CELLS), PER_CELL)


# -- the parts ---------------------------------------------------------------------------
def train_part(
    part: str, cfg: TrainConfig, out: Path, work: Path, resume: bool = True, log=print
) -> dict[str, float]:
    """Train one part and write its component into ``out``; returns its report."""
    stage = next(s for s, parts in STAGE_PARTS.items() if part in parts)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    codec = load_model(out)
    if not (out / "mtgc.json").is_file():
        codec.save_pretrained(out)
    t0 = time.time()
    pool = render_pool(cfg.train_scenes, cfg.seed)
    log(f"{part}: rendered {cfg.train_scenes} training scenes in {time.time() - t0:.0f} s")
    trainer = Trainer(cfg, work, stage, log)
    n = cfg.train_scenes
    report: dict[str, float]

    if part == "captioner":
        cap = codec.captioner

        def loss_fn(step, idx, gen):
            return {"loss": probe_loss(cap(pool.images[idx].float() / 255), pool.targets[idx])}

        report = trainer.run(
            part,
            {"captioner": cap},
            list(cap.parameters()),
            cfg.captioner_lr,
            cfg.captioner_steps,
            cfg.captioner_batch,
            n,
            loss_fn,
            resume,
        )
        report.update(_captioner_accuracy(cap, cfg.seed, cfg.report_scenes))
        cap.save_pretrained(out / "captioner")

    elif part == "hci":
        hci = codec.hci.learned

        def loss_fn(step, idx, gen):
            f = cfg.hci_factors[int(torch.randint(0, len(cfg.hci_factors), (1,), generator=gen))]
            q = int(torch.randint(0, len(hci.config.gains), (1,), generator=gen))
            small = downsample(pool.images[idx].float() / 255, f)
            res = hci(small, q)
            pixels = small.shape[0] * small.shape[-2] * small.shape[-1]
            bpp = sum(-torch.log2(lk).sum() for lk in res["likelihoods"].values()) / pixels
            mse = F.mse_loss(res["x_hat"], small)
            aux = hci.net.aux_loss()
            return {
                "loss": bpp + cfg.hci_lambda * 255**2 * mse + aux,
                "bpp_small": bpp,
                "mse": mse,
            }

        aux_params = {n_ for n_, p in hci.named_parameters() if n_.endswith(".quantiles")}
        params = [p for n_, p in hci.named_parameters() if n_ not in aux_params]
        params += [p for n_, p in hci.named_parameters() if n_ in aux_params]
        report = trainer.run(
            part, {"hci": hci}, params, cfg.hci_lr, cfg.hci_steps, cfg.hci_batch, n, loss_fn, resume
        )
        hci.update()
        report.update(_hci_rates(codec, cfg.seed, cfg.report_scenes))
        hci.save_pretrained(out / "hci")

    elif part == "vae":
        vae = codec.mgdd.vae
        if vae is None:
            raise SemcomError("this preset has no autoencoder to train.")
        crop = cfg.vae_crop

        def loss_fn(step, idx, gen):
            ys = torch.randint(0, 128 - crop + 1, (len(idx),), generator=gen).tolist()
            xs = torch.randint(0, 128 - crop + 1, (len(idx),), generator=gen).tolist()
            x = torch.stack(
                [
                    pool.images[i, :, y : y + crop, x_ : x_ + crop]
                    for i, y, x_ in zip(idx.tolist(), ys, xs, strict=True)
                ]
            )
            x = x.float() / 127.5 - 1
            post = vae.encode(x).latent_dist
            # The mode, not a sample: with a KL weight this small the posterior's noise
            # only slows training (the diffusion model encodes with the mode too).
            rec = vae.decode(post.mode() if cfg.vae_mode else post.sample(generator=gen)).sample
            l1 = (rec - x).abs().mean()
            kl = post.kl().mean()  # summed over the latent's elements
            return {"loss": l1 + cfg.vae_kl * kl, "l1": l1, "kl": kl}

        report = trainer.run(
            part,
            {"vae": vae},
            list(vae.parameters()),
            cfg.vae_lr,
            cfg.vae_steps,
            cfg.vae_batch,
            n,
            loss_fn,
            resume,
        )
        # Scale latents to unit variance, as Stable Diffusion's 0.18215 does for its VAE.
        vae.register_to_config(scaling_factor=1.0)
        z = encode_latents(codec, pool.images[:256])
        vae.register_to_config(scaling_factor=float(1.0 / z.std()))
        report["scaling_factor"] = float(vae.config.scaling_factor)
        report.update(_vae_psnr(codec, cfg.seed, cfg.report_scenes))
        vae.save_pretrained(out / "vae")

    elif part == "decoder":
        mg = codec.mgdd
        text = codec.text_encoder.model
        latents = cached_latents(codec, pool, work, log)

        def loss_fn(step, idx, gen):
            images = pool.images[idx].float() / 255
            texts = _captions(pool, idx, gen, cfg.p_canonical, cfg.p_drop_caption)
            hci = _hci(codec, images, gen, cfg.hci_factors)
            present = torch.rand(len(idx), generator=gen) >= cfg.p_drop_hci
            ctx = _context(codec, texts, None, grad=True)
            eps = mg.training_loss(images, ctx, hci, present, gen, latents=latents[idx])
            return {"loss": eps}

        modules = {"unet": mg.unet, "controlnet": mg.controlnet, "text": text}
        params = [p for m in modules.values() for p in m.parameters()]
        report = trainer.run(
            part,
            modules,
            params,
            cfg.decoder_lr,
            cfg.decoder_steps,
            cfg.decoder_batch,
            n,
            loss_fn,
            resume,
        )
        mg.save_pretrained(out)
        text.save_pretrained(out / "text_encoder")

    elif part in ("tascm", "joint"):
        report = _train_tascm(part, codec, pool, cfg, trainer, resume, log)
        codec.tascm.save_pretrained(out / "tascm")
        if part == "joint":
            codec.mgdd.save_pretrained(out)
    else:
        raise SemcomError(f"unknown training part {part!r}.")
    record(out, stage, part, report, cfg)
    log(f"{part}: done, wrote {out} ({json.dumps(report)})")
    return report


def _train_tascm(part, codec, pool, cfg, trainer, resume, log) -> dict[str, float]:
    tascm, mg = codec.tascm, codec.mgdd
    n = cfg.train_scenes
    joint = part == "joint"
    head = TaskHead(tascm.config.num_queries, tascm.config.context_dim)
    if joint and has_checkpoint(trainer.work, "tascm"):
        load_module_weights(trainer.work, "tascm", "head", head)
    latents = cached_latents(codec, pool, trainer.work, log)
    if not joint and not (resume and has_checkpoint(trainer.work, part)):
        _init_codebook(tascm, pool, cfg.seed)
    usage = torch.zeros(tascm.config.codebook_size)
    window: dict[str, int] = {}
    for p in [*mg.unet.parameters(), *mg.controlnet.parameters()]:
        p.requires_grad_(False)
    for p in codec.text_encoder.model.parameters():
        p.requires_grad_(False)
    params = list(tascm.parameters()) + list(head.parameters())
    modules: dict[str, nn.Module] = {"tascm": tascm, "head": head}
    if joint:
        cross = [p for name, p in mg.unet.named_parameters() if ".attn2." in name]
        for p in [*cross, *mg.controlnet.parameters()]:
            p.requires_grad_(True)
        params += cross + list(mg.controlnet.parameters())
        modules.update({"unet": mg.unet, "controlnet": mg.controlnet})
    p_drop_caption = cfg.stage2_p_drop_caption

    def loss_fn(step, idx, gen):
        images = pool.images[idx].float() / 255
        texts = _captions(pool, idx, gen, cfg.p_canonical, p_drop_caption)
        hci = _hci(codec, images, gen, cfg.hci_factors)
        present = torch.rand(len(idx), generator=gen) >= cfg.p_drop_hci
        res = tascm(images)
        usage.index_add_(0, res["indices"].flatten(), torch.ones(res["indices"].numel()))
        spw = res["context"]
        drop = (torch.rand(len(idx), generator=gen) < cfg.p_drop_spw).view(-1, 1, 1)
        spw = torch.where(drop, tascm.null(len(idx)), spw)
        ctx = _context(codec, texts, spw, grad=False)
        eps = mg.training_loss(images, ctx, hci, present, gen, latents=latents[idx])
        task = probe_loss(head(res["context"]), pool.targets[idx])
        if (step + 1) % 100 == 0:
            window["codes_used"] = int((usage > 0).sum())
            _restart_dead_codes(tascm, usage, res, gen)
        return {
            "loss": eps + res["vq_loss"] + cfg.task_weight * task,
            "eps": eps,
            "vq": res["vq_loss"],
            "task": task,
        }

    steps = cfg.joint_steps if joint else cfg.tascm_steps
    batch = cfg.joint_batch if joint else cfg.tascm_batch
    lr = cfg.joint_lr if joint else cfg.tascm_lr
    report = trainer.run(part, modules, params, lr, steps, batch, n, loss_fn, resume)
    # Distinct codes picked in the last 100-step window (before its dead-code restart).
    report["codes_used_last_window"] = window.get("codes_used", int((usage > 0).sum()))
    report.update(_tascm_task_accuracy(tascm, head, cfg.seed, cfg.report_scenes))
    return report


def _init_codebook(tascm, pool: Pool, seed: int) -> None:
    """Start the codebook at encoder outputs (random entries never get picked otherwise)."""
    k = tascm.config.codebook_size
    per = tascm.config.num_queries
    n_img = min(len(pool.images), math.ceil(k / per))
    with torch.no_grad():
        z = tascm.latents(pool.images[:n_img].float() / 255).reshape(-1, tascm.config.code_dim)
        gen = torch.Generator().manual_seed(seed)
        pick = torch.randint(0, len(z), (k,), generator=gen)
        tascm.codebook.data.copy_(z[pick] + 0.01 * torch.randn(k, z.shape[1], generator=gen))


def _restart_dead_codes(tascm, usage: torch.Tensor, res: dict, gen: torch.Generator) -> None:
    """Move codebook entries unused since the last restart onto current encoder outputs."""
    dead = (usage == 0).nonzero().flatten()
    if len(dead):
        with torch.no_grad():
            src = res["latents"].detach().reshape(-1, tascm.config.code_dim)
            pick = torch.randint(0, len(src), (len(dead),), generator=gen)
            noise = 0.05 * torch.randn(len(dead), src.shape[1], generator=gen)
            tascm.codebook.data[dead] = src[pick] + noise
    usage.zero_()


# -- quick measurements written into training.json ------------------------------------
def _val_pool(seed: int, n: int = 300) -> tuple[torch.Tensor, list]:
    data = ShapesWorld("val", n=n, seed=seed)
    items = [data[i] for i in range(n)]
    return torch.stack([it.image for it in items]), [it.objects for it in items]


def _captioner_accuracy(cap, seed: int, n: int) -> dict[str, float]:
    from semcom.metrics.semantic import semantic_scores

    images, scenes = _val_pool(seed, n)
    with torch.no_grad():
        read = cap.scenes(images)
    s = semantic_scores(scenes, read)
    return {"val_f1": round(s.f1, 4), "val_count_accuracy": round(s.count_accuracy, 4)}


def _hci_rates(codec: MTGC, seed: int, n: int) -> dict[str, float]:
    """Mean real HCI bits and PSNR of the downsampled image at f = 8, q = 0 / 8 / 15."""
    images, _ = _val_pool(seed, min(n, 64))
    out = {}
    for q in (0, 8, 15):
        small = downsample(images, 8)
        payloads = codec.hci.learned.compress(small, q)
        rec = torch.cat([codec.hci.learned.decompress(p, 16, 16, q) for p in payloads])
        psnr = -10 * torch.log10(((rec - small) ** 2).mean((1, 2, 3))).mean()
        out[f"f8_q{q}_bits"] = round(8 * float(np.mean([len(p) for p in payloads])), 1)
        out[f"f8_q{q}_psnr"] = round(float(psnr), 2)
    return out


def _vae_psnr(codec: MTGC, seed: int, n: int) -> dict[str, float]:
    images, _ = _val_pool(seed, min(n, 64))
    with torch.no_grad():
        rec = codec.mgdd.decode_latents(codec.mgdd.encode_latents(images))
    psnr = -10 * torch.log10(((rec - images) ** 2).mean((1, 2, 3))).mean()
    return {"val_psnr": round(float(psnr), 2)}


def _tascm_task_accuracy(tascm, head: TaskHead, seed: int, n: int) -> dict[str, float]:
    """How much of the scene the quantised SPWs carry: the task head's val F1."""
    from semcom.metrics.semantic import decode_logits, semantic_scores

    images, scenes = _val_pool(seed, n)
    with torch.no_grad():
        logits = head(tascm.embed(tascm.indices(images)))
    s = semantic_scores(scenes, decode_logits(logits))
    return {"val_task_f1": round(s.f1, 4)}


def run_stage(
    stage: int,
    cfg: TrainConfig,
    out: Path,
    work: Path,
    parts: tuple[str, ...] | None = None,
    resume: bool = True,
) -> dict[str, dict[str, float]]:
    """Train the parts of ``stage`` (all by default) in order; logs to work/stage<N>.log."""
    if stage not in STAGE_PARTS:
        raise SemcomError(f"--stage must be 1, 2 or 3, not {stage}.")
    chosen = parts or STAGE_PARTS[stage]
    bad = [p for p in chosen if p not in STAGE_PARTS[stage]]
    if bad:
        raise SemcomError(
            f"stage {stage} has the parts {', '.join(STAGE_PARTS[stage])}; not {', '.join(bad)}."
        )
    work.mkdir(parents=True, exist_ok=True)
    log_file = (work / f"stage{stage}.log").open("a")

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    log(f"stage {stage} parts {chosen} config {json.dumps(asdict(cfg))}")
    reports = {}
    try:
        for part in chosen:
            reports[part] = train_part(part, cfg, out, work, resume, log)
    finally:
        log_file.close()
    return reports
