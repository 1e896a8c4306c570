"""The three training stages of MTGC (PAPER.md) for the ``tiny`` preset on ShapesWorld.

Stage 1 trains everything the decoder stands on, in parts (each resumable):
  ``captioner``  the transmitter's ShapesCaptioner (per-cell attribute cross-entropy);
  ``hci``        the learned HCI codec (rate + λ·distortion, a random quality per step);
  ``vae``        the AutoencoderKL on random crops (L1 + a small KL term);
  ``spw``        TASCM on its own with the task loss on its *quantised* tokens (an
                 attention head reads every cell's attributes back from the 8 SPWs; the
                 head is discarded after training), so the SPWs carry the scene before the
                 decoder learns to read them;
  ``decoder``    UNet + ControlNet + text encoder with the denoising loss (v-prediction,
                 Min-SNR-γ, weighted towards object pixels, EMA weights) on VAE latents,
                 guided by caption tokens + SPW tokens and the decoded HCI; caption, SPWs
                 and HCI are dropped independently so the decoder learns every subset (the
                 erasure fallback and the unconditional branch of classifier-free guidance).
Stage 2 freezes the decoder and fine-tunes TASCM through it: denoising loss + quantiser
  loss + the task loss of ``spw``.
Stage 3 fine-tunes TASCM, the ControlNet and the UNet's cross-attention layers jointly at
  a low learning rate with the same losses.

Every part renders its own training scenes from the ``train`` split (deterministic from
the seed), checkpoints into ``work`` every ``checkpoint_every`` steps, resumes from the
last checkpoint, stops at its step count or its time budget (whichever comes first; the
learning rate anneals over whichever is nearer), logs to ``work/stage<N>.log`` and writes
its trained component into the model directory ``out`` (default: the shipped
``semcom/presets/weights/tiny``), recording steps, losses, minutes and its measured gates
in ``out/training.json``. :func:`run_all` runs every stage in order: ``semcom train``
without ``--stage``.
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
    store_half,
)
from semcom.codec import MTGC
from semcom.data.captions import CELLS, canonical_caption
from semcom.data.shapes import ShapesWorld
from semcom.errors import SemcomError
from semcom.metrics.pixel import psnr as pixel_psnr
from semcom.metrics.semantic import PER_CELL, probe_loss, probe_targets
from semcom.sketch import CellReader
from semcom.streams.hci import downsample, upsample

STAGE_PARTS: dict[int, tuple[str, ...]] = {
    1: ("captioner", "hci", "vae", "spw", "sketch", "decoder"),
    2: ("tascm",),
    3: ("joint", "sampling"),
}
#: Sampling settings ``sampling`` chooses from on validation scenes: (DDIM steps, guidance
#: scale). Each decodes a 128×128 image in ≤ 1 s on one CPU thread with the tiny
#: architecture (guidance > 1 doubles the batch, hence half the steps).
SAMPLING_CANDIDATES: tuple[tuple[int, float], ...] = ((10, 1.0), (5, 2.0), (5, 3.0))


@dataclass
class TrainConfig:
    """Training settings (every field is a key of the ``--config`` YAML)."""

    seed: int = 0
    threads: int = 2
    train_scenes: int = 6000
    checkpoint_every: int = 100
    log_every: int = 25
    #: Validation scenes behind the figures each part writes into training.json.
    report_scenes: int = 300
    # captioner
    captioner_steps: int = 1500
    captioner_batch: int = 32
    captioner_lr: float = 2e-3
    captioner_minutes: float = 12.0
    # HCI codec: loss = bits/pixel + lambda · 255² · MSE on the downsampled image
    hci_steps: int = 5000
    hci_batch: int = 32
    hci_lr: float = 1e-3
    hci_lambda: float = 0.05
    hci_factors: tuple[int, ...] = (4, 8)
    hci_minutes: float = 14.0
    # autoencoder (on random crops; it is fully convolutional)
    vae_steps: int = 5000
    vae_batch: int = 16
    vae_crop: int = 48
    vae_lr: float = 1e-3
    vae_kl: float = 1e-6
    vae_mode: bool = True
    vae_minutes: float = 30.0
    # TASCM alone: task loss on the quantised SPWs
    spw_steps: int = 6000
    spw_batch: int = 32
    spw_lr: float = 1e-3
    spw_minutes: float = 22.0
    # scene sketch: the caption reader (task loss) and the painter (truth masks, colours)
    sketch_steps: int = 3000
    sketch_batch: int = 32
    sketch_lr: float = 2e-3
    sketch_minutes: float = 8.0
    # diffusion decoder
    decoder_steps: int = 8000
    decoder_batch: int = 16
    decoder_lr: float = 5e-4
    decoder_minutes: float = 60.0
    warmup: int = 100
    #: Each stream is dropped independently (every subset is seen, all three dropped is
    #: the unconditional branch of classifier-free guidance).
    p_drop_caption: float = 0.3
    p_drop_hci: float = 0.5
    p_drop_spw: float = 0.3
    p_canonical: float = 0.5
    #: Loss weight of a latent pixel fully covered by an object (background: 1).
    object_weight: float = 4.0
    ema_decay: float = 0.999
    #: bf16 autocast for the diffusion model's forward and backward passes (weights and
    #: optimiser stay float32); ~20 % faster on this CPU.
    bf16: bool = True
    # stage 2: TASCM through the frozen decoder
    tascm_steps: int = 400
    tascm_batch: int = 16
    tascm_lr: float = 2e-4
    tascm_minutes: float = 5.0
    task_weight: float = 1.0
    stage2_p_drop_caption: float = 0.5
    # stage 3: joint fine-tuning
    joint_steps: int = 400
    joint_batch: int = 16
    joint_lr: float = 5e-5
    joint_minutes: float = 5.0
    #: Validation scenes decoded (10 steps) for the decoder's gates in training.json.
    gate_scenes: int = 48
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
            if f.name.endswith("_minutes") and not v > 0:
                raise SemcomError(f"{where}: {f.name} must be a positive number of minutes.")
        return cfg


# -- data -------------------------------------------------------------------------------
@dataclass
class Pool:
    """Rendered training scenes: images uint8 [N,3,128,128], targets int64 [N,9,4],
    object masks bool [N,1,128,128] (truth: training weights only)."""

    images: torch.Tensor
    targets: torch.Tensor
    captions: list[str]
    canonical: list[str]
    masks: torch.Tensor


def render_pool(n: int, seed: int) -> Pool:
    """The first ``n`` scenes of training set ``seed``."""
    data = ShapesWorld("train", n=n, seed=seed)
    images = torch.empty((n, 3, 128, 128), dtype=torch.uint8)
    masks = torch.empty((n, 1, 128, 128), dtype=torch.bool)
    scenes, captions, canonical = [], [], []
    for i in range(n):
        item = data[i]
        images[i] = (item.image * 255).round().to(torch.uint8)
        masks[i, 0] = item.labels >= 0
        scenes.append(item.objects)
        captions.append(item.caption)
        canonical.append(canonical_caption(item.objects))
    return Pool(images, probe_targets(scenes), captions, canonical, masks)


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


# -- the model directory ---------------------------------------------------------------
def load_model(out: Path) -> MTGC:
    """The model in ``out``, or the untrained tiny architecture if ``out`` is empty."""
    from semcom.presets.tiny import build_tiny

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


def _context(codec: MTGC, texts: list[str], spw: torch.Tensor | None, grad: bool) -> torch.Tensor:
    """Caption tokens [B,L,D] (with or without gradients) followed by SPW tokens [B,K,D]."""
    ids = codec.text_encoder.tokenizer(texts)
    with torch.set_grad_enabled(grad):
        tokens = codec.text_encoder.model(input_ids=ids).last_hidden_state
    if spw is None:
        spw = codec.tascm.null(len(texts)).detach()
    return torch.cat([tokens, spw], dim=1)


def _layout(codec: MTGC, layout: torch.Tensor | None, drop: torch.Tensor) -> torch.Tensor | None:
    """SPW layout vectors [B,K,D] with the dropped images' (drop [B,1,1]) set to the null."""
    if layout is None:
        return None
    return torch.where(drop, codec.tascm.null_layout(layout.shape[0]).to(layout), layout)


def _guide(
    codec: MTGC,
    texts: list[str],
    spw: torch.Tensor,
    spw_present: torch.Tensor,
    hci: torch.Tensor,
    hci_present: torch.Tensor,
) -> torch.Tensor | None:
    """The decoder's guide planes for a training batch (None without a scene sketch), as
    the receiver builds them: the sketch of the present caption (non-empty ``texts``) and
    SPW tokens [B,K,D] (``spw_present`` [B]) over the HCI where present, else grey."""
    sk = codec.sketch
    if sk is None or not codec.mgdd.config.guide_channels:
        return None
    b = len(texts)
    background = torch.where(hci_present.view(b, 1, 1, 1), hci, torch.full_like(hci, 0.5))
    with torch.no_grad():
        cap = sk.read_caption(codec.text_encoder.tokenizer(texts))
        has_caption = torch.tensor([bool(t) for t in texts])
        image, cover = sk.guide_image(
            sk.read_spw(spw.float()), spw_present, cap, has_caption, background
        )
        return codec.mgdd.guide_planes(image, cover).float()


def _autocast(cfg: TrainConfig):
    """bf16 autocast on the CPU when ``cfg.bf16`` (a no-op context otherwise)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16)


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

    # the scaling factor is config, not state: it is part of what the latents depend on
    crc = zlib.crc32(repr(float(codec.mgdd.vae.config.scaling_factor)).encode())
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


class TaskHead(CellReader):
    """SPW embeddings [B,K,D] → per-cell attribute logits [B,9,PER_CELL] (training only).

    Nine learned cell queries attend to the K tokens (as the decoder's spatial queries
    do through cross-attention), so the SPWs learn a code that attention can read. A
    model with a scene sketch trains the sketch's SPW reader in its place.
    """

    def __init__(self, d: int, heads: int = 4) -> None:
        super().__init__(d, PER_CELL, len(CELLS), heads)


def task_head(codec: MTGC) -> CellReader:
    """The SPW reader TASCM's task loss trains: the sketch's, else a fresh TaskHead."""
    if codec.sketch is not None:
        return codec.sketch.spw_reader
    return TaskHead(codec.tascm.config.context_dim)


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


def init_from_captioner(codec: MTGC) -> bool:
    """Start TASCM's CNN from the trained captioner's convolutions where the layers match.

    Both sit at the transmitter and read the same image; the captioner (trained first, on
    the same attribute loss) has learnt to see the shapes, which TASCM's task loss then
    adapts. Returns whether the weights were copied.
    """
    cnn, cap = codec.tascm.cnn, getattr(codec.captioner, "body", None)
    if cnn is None or cap is None:
        return False
    ours = [m for m in cnn if isinstance(m, (nn.Conv2d, nn.GroupNorm))]
    theirs = [m for m in cap if isinstance(m, (nn.Conv2d, nn.GroupNorm))]
    pairs = list(zip(ours, theirs, strict=False))
    if len(theirs) > len(ours) or any(
        type(a) is not type(b) or a.weight.shape != b.weight.shape for a, b in pairs
    ):
        return False
    with torch.no_grad():
        for a, b in pairs:
            a.load_state_dict(b.state_dict())
    return True


def object_weights(masks: torch.Tensor, scale: int, weight: float) -> torch.Tensor:
    """Object masks bool [N,1,H,W] → loss weights [N,1,H/s,W/s] (1 + (w−1)·coverage).

    Normalised to mean 1 per image so the loss keeps its scale.
    """
    chunks = []
    for i in range(0, len(masks), 512):
        cover = F.avg_pool2d(masks[i : i + 512].float(), scale) if scale > 1 else masks[i : i + 512]
        w = 1 + (weight - 1) * cover.float()
        chunks.append(w / w.mean(dim=(1, 2, 3), keepdim=True))
    return torch.cat(chunks)


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
            cfg.captioner_minutes,
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
            part,
            {"hci": hci},
            params,
            cfg.hci_lr,
            cfg.hci_steps,
            cfg.hci_batch,
            n,
            loss_fn,
            resume,
            cfg.hci_minutes,
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
            mse = ((rec - x) ** 2).mean()
            kl = post.kl().mean()  # summed over the latent's elements
            return {"loss": l1 + 4 * mse + cfg.vae_kl * kl, "l1": l1, "mse": mse, "kl": kl}

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
            cfg.vae_minutes,
        )
        # Scale latents to unit variance, as Stable Diffusion's 0.18215 does for its VAE.
        vae.register_to_config(scaling_factor=1.0)
        z = encode_latents(codec, pool.images[:256])
        vae.register_to_config(scaling_factor=float(1.0 / z.std()))
        report["scaling_factor"] = float(vae.config.scaling_factor)
        report.update(_vae_gates(codec, cfg.seed, cfg.report_scenes))
        vae.save_pretrained(out / "vae")

    elif part == "spw":
        tascm = codec.tascm
        head = task_head(codec)
        if not (resume and has_checkpoint(work, part)):
            log(f"spw: CNN starts from the captioner's: {init_from_captioner(codec)}")

        def loss_fn(step, idx, gen):
            res = tascm(pool.images[idx].float() / 255)
            task = probe_loss(head(res["context"]), pool.targets[idx])
            return {"loss": task + res["vq_loss"], "task": task}

        report = trainer.run(
            part,
            {"tascm": tascm, "head": head},
            [*tascm.parameters(), *head.parameters()],
            cfg.spw_lr,
            cfg.spw_steps,
            cfg.spw_batch,
            n,
            loss_fn,
            resume,
            cfg.spw_minutes,
        )
        report.update(_tascm_task_accuracy(tascm, head, cfg.seed, cfg.report_scenes))
        report["gate_task_f1_0.97"] = report["val_task_f1"] >= 0.97
        tascm.save_pretrained(out / "tascm")
        if codec.sketch is not None:
            codec.sketch.save_pretrained(out / "sketch")

    elif part == "sketch":
        sk = codec.sketch
        if sk is None:
            raise SemcomError("this model has no scene sketch to train (TinyConfig.sketch).")
        tokenizer = codec.text_encoder.tokenizer
        params = [*sk.caption_reader.parameters(), sk.templates, sk.fills]

        def loss_fn(step, idx, gen):
            texts = _captions(pool, idx, gen, cfg.p_canonical, 0.0)
            task = probe_loss(sk.read_caption(tokenizer(texts)), pool.targets[idx])
            images = pool.images[idx].float() / 255
            paint = sk.paint_loss(pool.targets[idx], images, pool.masks[idx])
            return {**paint, "loss": task + paint["loss"], "caption_task": task}

        report = trainer.run(
            part,
            {"sketch": sk},
            params,
            cfg.sketch_lr,
            cfg.sketch_steps,
            cfg.sketch_batch,
            n,
            loss_fn,
            resume,
            cfg.sketch_minutes,
        )
        report.update(sketch_gates(codec, cfg.seed, cfg.report_scenes))
        sk.save_pretrained(out / "sketch")

    elif part == "decoder":
        mg = codec.mgdd
        text = codec.text_encoder.model
        latents = cached_latents(codec, pool, work, log)
        weights = object_weights(pool.masks, mg.vae_scale, cfg.object_weight)
        tascm = codec.tascm
        with torch.no_grad():
            idx_all = torch.cat(
                [tascm.indices(pool.images[i : i + 256].float() / 255) for i in range(0, n, 256)]
            )
            spw_all = tascm.embed(idx_all)

        def loss_fn(step, idx, gen):
            images = pool.images[idx].float() / 255
            texts = _captions(pool, idx, gen, cfg.p_canonical, cfg.p_drop_caption)
            hci = _hci(codec, images, gen, cfg.hci_factors)
            present = torch.rand(len(idx), generator=gen) >= cfg.p_drop_hci
            drop = (torch.rand(len(idx), generator=gen) < cfg.p_drop_spw).view(-1, 1, 1)
            spw = torch.where(drop, tascm.null(len(idx)), spw_all[idx]).detach()
            guide = _guide(codec, texts, spw_all[idx], ~drop.flatten(), hci, present)
            with _autocast(cfg):
                ctx = _context(codec, texts, spw, grad=True)
                layout = _layout(
                    codec, tascm.layout(idx_all[idx]) if mg.config.layout_grid else None, drop
                )
                loss = mg.training_loss(
                    images,
                    ctx,
                    hci,
                    present,
                    gen,
                    latents=latents[idx],
                    pixel_weights=weights[idx],
                    layout=layout,
                    guide=guide,
                )
            return {"loss": loss.float()}

        modules = {"unet": mg.unet, "controlnet": mg.controlnet, "text": text}
        if tascm.layout_head is not None:  # the receiver's layout vectors learn with the UNet
            modules["layout"] = tascm.layout_head
        ema = EMA(modules, cfg.ema_decay)
        report = trainer.run(
            part,
            {**modules, **ema.modules},
            [p for m in modules.values() for p in m.parameters()],
            cfg.decoder_lr,
            cfg.decoder_steps,
            cfg.decoder_batch,
            n,
            loss_fn,
            resume,
            cfg.decoder_minutes,
            after_step=ema.update,
        )
        ema.copy_to(modules)
        mg.save_pretrained(out)
        if "layout" in modules:
            tascm.save_pretrained(out / "tascm")
        text.save_pretrained(out / "text_encoder")
        codec.text_encoder.tokenizer.save_pretrained(out / "tokenizer")  # type: ignore[attr-defined]
        report.update(decoder_gates(codec, cfg.seed, cfg.gate_scenes))

    elif part == "sampling":
        report = choose_sampling(codec, cfg.seed, cfg.gate_scenes, log)
        codec.mgdd.config.num_inference_steps = int(report["num_inference_steps"])
        codec.mgdd.config.guidance_scale = float(report["guidance_scale"])
        codec.config.hci_lowpass = int(report["hci_lowpass"])
        codec.save_pretrained(out)

    elif part in ("tascm", "joint"):
        report = _train_tascm(part, codec, pool, cfg, trainer, resume, log)
        codec.tascm.save_pretrained(out / "tascm")
        if codec.sketch is not None:  # its SPW reader trained as the task head
            codec.sketch.save_pretrained(out / "sketch")
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
    head = task_head(codec)
    # a sketch's reader was saved with the model; a standalone head lives in checkpoints
    for earlier in () if codec.sketch is not None else ("tascm", "spw") if joint else ("spw",):
        if has_checkpoint(trainer.work, earlier):
            load_module_weights(trainer.work, earlier, "head", head)
            break
    vq = tascm.config.quantizer == "vq"
    latents = cached_latents(codec, pool, trainer.work, log)
    weights = object_weights(pool.masks, mg.vae_scale, cfg.object_weight)
    if vq and not joint and not (resume and has_checkpoint(trainer.work, part)):
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
    steps = cfg.joint_steps if joint else cfg.tascm_steps
    batch = cfg.joint_batch if joint else cfg.tascm_batch
    lr = cfg.joint_lr if joint else cfg.tascm_lr
    minutes = cfg.joint_minutes if joint else cfg.tascm_minutes

    def loss_fn(step, idx, gen):
        images = pool.images[idx].float() / 255
        texts = _captions(pool, idx, gen, cfg.p_canonical, p_drop_caption)
        hci = _hci(codec, images, gen, cfg.hci_factors)
        present = torch.rand(len(idx), generator=gen) >= cfg.p_drop_hci
        res = tascm(images)
        usage.index_add_(0, res["indices"].flatten(), torch.ones(res["indices"].numel()))
        spw = res["context"]
        drop = (torch.rand(len(idx), generator=gen) < cfg.p_drop_spw).view(-1, 1, 1)
        guide = _guide(codec, texts, spw.detach(), ~drop.flatten(), hci, present)
        spw = torch.where(drop, tascm.null(len(idx)), spw)
        with _autocast(cfg):
            ctx = _context(codec, texts, spw, grad=False)
            eps = mg.training_loss(
                images,
                ctx,
                hci,
                present,
                gen,
                latents=latents[idx],
                pixel_weights=weights[idx],
                layout=_layout(codec, res.get("layout"), drop),
                guide=guide,
            ).float()
        task = probe_loss(head(res["context"]), pool.targets[idx])
        # The window is counted before a restart, and none runs on the last step (its codes
        # would never be seen by the head); FSQ has no codebook to restart.
        if (step + 1) % 100 == 0:
            window["codes_used"] = int((usage > 0).sum())
            if vq and step + 1 < steps:
                _restart_dead_codes(tascm, usage, res, gen)
            usage.zero_()
        return {
            "loss": eps + res["vq_loss"] + cfg.task_weight * task,
            "eps": eps,
            "vq": res["vq_loss"],
            "task": task,
        }

    report = trainer.run(part, modules, params, lr, steps, batch, n, loss_fn, resume, minutes)
    # Distinct codes picked over the last window of steps (at most 100).
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


def _encode_val(codec: MTGC, images: torch.Tensor) -> list:
    """Validation scenes [N,3,H,W] → bitstreams at 0.05 bpp (encoded 16 at a time)."""
    sent = []
    for i in range(0, len(images), 16):
        sent += codec.encode(images[i : i + 16], target_bpp=0.05)
    return sent


def _semantic(images: torch.Tensor, scenes: list) -> dict[str, float]:
    """The probe's reading of images [B,3,H,W] against their scenes: F1, accuracies."""
    from semcom.metrics.semantic import semantic_metrics

    s, _ = semantic_metrics(images, scenes)
    return {
        "f1": round(s.f1, 4),
        "semantic_accuracy": round(s.semantic_accuracy, 4),
        "shape_accuracy": round(s.shape_accuracy, 4),
        "colour_accuracy": round(s.colour_accuracy, 4),
        "hallucination_rate": round(s.hallucination_rate, 4),
    }


#: Solid colours the autoencoder must keep (sRGB 0–255): black, white, mid-grey and the
#: named colours' primaries.
SOLID_COLOURS = (
    (0, 0, 0),
    (255, 255, 255),
    (128, 128, 128),
    (220, 30, 30),
    (30, 170, 50),
    (30, 60, 220),
    (240, 220, 20),
    (20, 210, 220),
)


def _vae_gates(codec: MTGC, seed: int, n: int) -> dict[str, float | bool]:
    """Autoencoder gates: round-trip PSNR, the probe on round trips, solid colours."""
    images, scenes = _val_pool(seed, n)
    mg = codec.mgdd
    with torch.no_grad():
        rec = torch.cat(
            [mg.decode_latents(mg.encode_latents(images[i : i + 32])) for i in range(0, n, 32)]
        )
        solid = torch.tensor(SOLID_COLOURS, dtype=torch.float32).view(-1, 3, 1, 1) / 255
        solid = solid.expand(-1, 3, 64, 64)
        solid_rec = mg.decode_latents(mg.encode_latents(solid))
    psnr = float(pixel_psnr(images, rec).mean())
    colour_err = float((solid_rec.mean((2, 3)) - solid[:, :, 0, 0]).abs().max() * 255)
    sem = _semantic(rec, scenes)
    return {
        "val_psnr": round(psnr, 2),
        "val_probe_accuracy": sem["semantic_accuracy"],
        "val_probe_f1": sem["f1"],
        "solid_colour_max_error_255": round(colour_err, 2),
        "gate_psnr_30db": psnr >= 30,
        "gate_probe_0.97": sem["semantic_accuracy"] >= 0.97,
        "gate_solid_5": colour_err <= 5,
    }


def decoder_gates(codec: MTGC, seed: int, n: int, steps: int = 10) -> dict[str, float]:
    """Decode ``n`` validation scenes from every stream and from each alone; the probe's
    F1 and semantic accuracy of each (the decoder's gates in training.json)."""
    images, scenes = _val_pool(seed, n)
    sent = _encode_val(codec, images)
    out: dict[str, float] = {"gate_scenes": n, "gate_steps": steps}
    for name, keep in (
        ("full", ("caption", "hci", "spw")),
        ("caption", ("caption",)),
        ("spw", ("spw",)),
        ("hci", ("hci",)),
    ):
        rec = codec.decode([bs.keeping(*keep) for bs in sent], steps=steps, max_batch=16)
        for k, v in _semantic(rec, scenes).items():
            if k in ("f1", "semantic_accuracy", "shape_accuracy"):
                out[f"val_{name}_{k}"] = v
    return out


def sketch_gates(codec: MTGC, seed: int, n: int) -> dict[str, float]:
    """How well the sketch carries the scene on validation scenes: the caption reader's
    and SPW reader's F1, and the probe's reading of sketches (over grey) painted from the
    truth, from the SPWs alone and from the caption alone."""
    from semcom.metrics.semantic import decode_logits, semantic_scores

    sk = codec.sketch
    assert sk is not None
    data = ShapesWorld("val", n=n, seed=seed)
    items = [data[i] for i in range(n)]
    images = torch.stack([it.image for it in items])
    scenes = [it.objects for it in items]
    grey = torch.full_like(images, 0.5)
    yes = torch.ones(n, dtype=torch.bool)
    out: dict[str, float] = {}
    with torch.no_grad():
        spw = sk.read_spw(codec.tascm.embed(codec.tascm.indices(images)))
        cap = sk.read_caption(codec.text_encoder.tokenizer([it.caption for it in items]))
        for name, logits in (("spw", spw), ("caption", cap)):
            f1 = semantic_scores(scenes, decode_logits(logits)).f1
            out[f"val_{name}_reader_f1"] = round(f1, 4)
        truth = sk.paint(sk.target_beliefs(probe_targets(scenes)), images.shape[-2:])
        painted = {"truth": sk.composite(*truth, grey)}
        painted["spw"] = sk.guide_image(spw, yes, None, ~yes, grey)[0]
        painted["caption"] = sk.guide_image(None, ~yes, cap, yes, grey)[0]
    for name, img in painted.items():
        sem = _semantic(img, scenes)
        out[f"val_sketch_{name}_semantic_accuracy"] = sem["semantic_accuracy"]
        out[f"val_sketch_{name}_shape_accuracy"] = sem["shape_accuracy"]
        out[f"val_sketch_{name}_f1"] = sem["f1"]
    out["gate_caption_reader_f1_0.97"] = out["val_caption_reader_f1"] >= 0.97
    out["gate_sketch_truth_0.95"] = out["val_sketch_truth_semantic_accuracy"] >= 0.95
    return out


def _tascm_task_accuracy(tascm, head: TaskHead, seed: int, n: int) -> dict[str, float]:
    """How much of the scene the quantised SPWs carry: the task head's val F1."""
    from semcom.metrics.semantic import decode_logits, semantic_scores

    images, scenes = _val_pool(seed, n)
    with torch.no_grad():
        logits = head(tascm.embed(tascm.indices(images)))
    s = semantic_scores(scenes, decode_logits(logits))
    return {"val_task_f1": round(s.f1, 4)}


def choose_sampling(codec: MTGC, seed: int, n: int, log=print) -> dict[str, float]:
    """Pick (steps, guidance, hci_lowpass) on ``n`` validation scenes.

    The strict metric first: candidates whose full-codec object F1 lies within 1.96
    binomial standard errors (over the true objects) of the best are tied, and the tie
    goes to the highest semantic accuracy, then to the earlier (cheaper) candidate. Every
    candidate's scores go into the report. ``hci_lowpass`` is tried off and at the HCI's
    factor.
    """
    images, scenes = _val_pool(seed, n)
    objects = max(1, sum(len(s) for s in scenes))
    sent = _encode_val(codec, images)
    factor = codec.config.hci_factor
    lowpass_before = codec.config.hci_lowpass
    report: dict[str, float] = {"scenes": n, "objects": objects}
    tried: list[tuple[float, float, int, float, int]] = []
    try:
        for steps, scale in SAMPLING_CANDIDATES:
            for lowpass in (0, factor):
                codec.config.hci_lowpass = lowpass
                rec = codec.decode(sent, steps=steps, guidance_scale=scale, max_batch=16)
                sem = _semantic(rec, scenes)
                key = f"s{steps}_g{scale:g}_lp{lowpass}"
                report[f"{key}_f1"] = sem["f1"]
                report[f"{key}_semantic_accuracy"] = sem["semantic_accuracy"]
                log(f"sampling: {key} F1 {sem['f1']} semantic accuracy {sem['semantic_accuracy']}")
                tried.append((sem["f1"], sem["semantic_accuracy"], steps, scale, lowpass))
    finally:
        codec.config.hci_lowpass = lowpass_before
    top = max(t[0] for t in tried)
    margin = 1.96 * math.sqrt(max(top * (1 - top), 1e-4) / objects)
    tied = [t for t in tried if t[0] >= top - margin]
    best = max(tied, key=lambda t: t[1])  # max keeps the first of equals
    report.update(
        {
            "f1_tie_margin": round(margin, 4),
            "val_f1": best[0],
            "val_semantic_accuracy": best[1],
            "num_inference_steps": best[2],
            "guidance_scale": best[3],
            "hci_lowpass": best[4],
        }
    )
    return report


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


#: How :func:`run_all` spreads stage 1 over two processes of one thread each (each lane
#: runs its parts in order); the decoder and stages 2 and 3 then get every thread.
STAGE1_LANES: tuple[tuple[str, ...], ...] = (("hci", "vae"), ("captioner", "spw", "sketch"))


def run_all(
    cfg: TrainConfig, out: Path, work: Path, resume: bool = True, lanes: bool = True
) -> dict[str, dict[str, float]]:
    """Every part of every stage, from the untrained architecture (``semcom train``).

    The model trains in ``work/model`` (a part recorded in its training.json is done and
    is skipped on a resume); stage 1's small parts run in two one-thread processes
    (:data:`STAGE1_LANES`) before the decoder; when all parts are done the model, its big
    weights stored as float16 (:func:`~semcom.checkpoint.store_half`), replaces ``out``
    as a whole, so a killed run never leaves half-trained weights there.
    """
    import shutil

    from semcom.presets.tiny import build_tiny

    model = work / "model"
    if not resume and model.exists():
        shutil.rmtree(model)
    if not (model / "mtgc.json").is_file():
        build_tiny().save_pretrained(model)
    reports: dict[str, dict[str, float]] = {}

    def todo(parts: tuple[str, ...]) -> tuple[str, ...]:
        record_file = model / "training.json"
        done = json.loads(record_file.read_text())["parts"] if record_file.is_file() else {}
        return tuple(p for p in parts if p not in done)

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
        if left:
            reports.update(run_stage(stage, cfg, model, work, left, resume))
    staging = out.with_name(out.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(model, staging, ignore=shutil.ignore_patterns(".training.lock"))
    store_half(staging)
    if out.exists():
        shutil.rmtree(out)
    staging.replace(out)
    return reports
