"""Training MTGC-sd21 on natural images: a folder of images with captions, three stages.

Stage 1 ``hci``: the learned HCI codec on the images downsampled by the codec's HCI
  factor (rate + λ·distortion at a random quality per step).
  ``controlnet``: the ControlNet on the decoded HCI with the denoising loss, the UNet,
  VAE and text encoder frozen; the caption and the HCI are dropped independently (the
  erasure fallback and the unconditional branch of classifier-free guidance) and the SPW
  tokens are the null ones (TASCM is not trained yet).
Stage 2 ``tascm``: TASCM on CLIP vision tokens through the frozen decoder: the denoising
  loss with its SPW tokens + the quantiser loss + a task loss that fits natural images:
  1 − cos between the CLIP image embeddings of the decoder's one-step clean estimate and
  of the original, weighted by ᾱ_t (a near-clean estimate counts fully, pure noise not).
Stage 3 ``joint``: TASCM, the ControlNet and the UNet's cross-attention layers at a low
  learning rate, the same losses.

The model directory ``out`` (an sd21 weights directory, :func:`semcom.mtgc.presets.sd21.
assemble_sd21`) is updated part by part. Checkpoints and the log (``sd21-stage<N>.log``)
live in ``work``, and a part resumes from its last checkpoint as tiny's do. Each part's
steps, losses, minutes and gates go into ``out/training.json``; the gates are measured on
the validation images (every ``val_every``-th file), never on the training ones.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from semcom.data.folder import ImageFolder, load_folder
from semcom.errors import SemcomError
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.streams.hci import downsample
from semcom.mtgc.train.config import Settings
from semcom.mtgc.train.data import _hci
from semcom.mtgc.train.gates import hci_rate_table
from semcom.mtgc.train.inputs import _context
from semcom.mtgc.train.loop import Trainer, record, stage_log
from semcom.mtgc.train.parts.hci import hci_parameters, rate_distortion
from semcom.mtgc.train.parts.tascm import joint_decoder_parameters

__all__ = ["NATURAL_STAGE_PARTS", "NaturalTrainConfig", "clip_agreement", "train_natural"]

NATURAL_STAGE_PARTS: dict[int, tuple[str, ...]] = {
    1: ("hci", "controlnet"),
    2: ("tascm",),
    3: ("joint",),
}


@dataclass
class NaturalTrainConfig(Settings):
    """Settings of sd21 training (every field is a key of ``semcom train --config``)."""

    seed: int = 0
    threads: int = 2
    #: Images are centre-cropped and resized to this square side (pixels).
    image_size: int = 512
    #: Every ``val_every``-th image (from the last) validates; the rest train.
    val_every: int = 10
    #: Validation images the gates use (at most).
    gate_images: int = 16
    checkpoint_every: int = 200
    log_every: int = 20
    warmup: int = 100
    grad_clip: float = 1.0
    #: bf16 autocast for the diffusion model's forward and backward passes.
    bf16: bool = False
    hci_steps: int = 5000
    hci_batch: int = 8
    hci_lr: float = 1e-4
    hci_lambda: float = 0.01
    hci_minutes: float = 600.0
    controlnet_steps: int = 5000
    controlnet_batch: int = 4
    controlnet_lr: float = 1e-5
    controlnet_minutes: float = 600.0
    tascm_steps: int = 3000
    tascm_batch: int = 4
    tascm_lr: float = 1e-4
    tascm_minutes: float = 600.0
    joint_steps: int = 1000
    joint_batch: int = 4
    joint_lr: float = 5e-6
    joint_minutes: float = 600.0
    #: Weight of the CLIP-agreement task loss (stages 2 and 3).
    clip_weight: float = 0.5
    p_drop_caption: float = 0.2
    p_drop_hci: float = 0.3
    p_drop_spw: float = 0.3

    at_least_one: ClassVar[tuple[str, ...]] = (
        "threads",
        "image_size",
        "val_every",
        "gate_images",
        "checkpoint_every",
        "log_every",
        "warmup",
    )

    def check(self, where: str) -> None:
        for name in ("p_drop_caption", "p_drop_hci", "p_drop_spw"):
            if not 0 <= getattr(self, name) < 1:
                raise SemcomError(f"{where}: {name} must lie in [0, 1).")


@dataclass
class _Run:
    """What every part of one run shares."""

    codec: MTGC
    train: ImageFolder
    val: ImageFolder
    cfg: NaturalTrainConfig
    trainer: Trainer
    out: Path
    resume: bool
    device: str

    def images(self, idx: torch.Tensor, data: ImageFolder | None = None) -> torch.Tensor:
        """Float images [B,3,S,S] in [0,1] on the device."""
        return (data or self.train).float_images(idx).to(self.device)

    def texts(self, idx: torch.Tensor, gen: torch.Generator, p_drop: float) -> list[str]:
        """The captions of ``idx``, each dropped (empty) with probability ``p_drop``."""
        keep = torch.rand(len(idx), generator=gen) >= p_drop
        return [
            self.train.captions[i] if k else ""
            for i, k in zip(idx.tolist(), keep.tolist(), strict=True)
        ]

    def hci(self, images: torch.Tensor, gen: torch.Generator, p_drop: float, keep_one=False):
        """The receiver's decoded HCI [B,3,S,S] (no gradients) and which images keep it
        (``keep_one``: at least the first, so that a ControlNet batch always teaches)."""
        factors = tuple(self.codec.config.hci_factors or (self.codec.config.hci_factor,))
        present = torch.rand(len(images), generator=gen) >= p_drop
        if keep_one:
            present[0] = True
        return _hci(self.codec, images, gen, factors), present

    def autocast(self):
        kind = "cuda" if self.device.startswith("cuda") else "cpu"
        return torch.autocast(kind, dtype=torch.bfloat16, enabled=self.cfg.bf16)


def clip_embedding(codec: MTGC, images: torch.Tensor) -> torch.Tensor:
    """CLIP image embeddings [B,D] (unit length) of images [B,3,H,W] in [0,1], with
    gradients if the images carry them (the encoder's own weights stay frozen)."""
    pixels = codec.clip_pixels(images.float())
    return F.normalize(codec.image_encoder(pixel_values=pixels).pooler_output.float(), dim=-1)


def clip_agreement(codec: MTGC, x0: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Cosine [B] between the CLIP embeddings of the decoded latents ``x0`` [B,C,h,w]
    (VAE-decoded with gradients) and of the originals ``images`` [B,3,H,W] in [0,1]."""
    vae = codec.mgdd.vae
    z = x0.to(next(vae.parameters()).dtype) / vae.config.scaling_factor
    decoded = (vae.decode(z).sample.float().clamp(-1, 1) + 1) / 2
    with torch.no_grad():
        target = clip_embedding(codec, images)
    return (clip_embedding(codec, decoded) * target).sum(-1)


# -- the parts ---------------------------------------------------------------------------
def _train_hci(run: _Run) -> dict[str, float]:
    codec, cfg = run.codec, run.cfg
    hci = codec.hci.learned
    if hci is None:
        raise SemcomError("this model's HCI is a fixed codec (webp/jpeg): nothing to train.")
    f = codec.config.hci_factor

    def loss_fn(step, idx, gen):
        q = int(torch.randint(0, len(hci.config.gains), (1,), generator=gen))
        return rate_distortion(hci, downsample(run.images(idx), f), q, cfg.hci_lambda)

    report = run.trainer.run(
        "hci",
        {"hci": hci},
        hci_parameters(hci),
        cfg.hci_lr,
        cfg.hci_steps,
        cfg.hci_batch,
        len(run.train),
        loss_fn,
        run.resume,
        cfg.hci_minutes,
    )
    hci.cpu()  # the entropy coder's tables live on the CPU
    hci.update()
    hci.save_pretrained(run.out / "hci")
    small = downsample(run.val.float_images()[: cfg.gate_images], f)
    report.update(hci_rate_table(hci, small, f"val_f{f}"))
    hci.to(run.device)
    return report


def _denoising(run: _Run, images, texts, hci, present, spw, gen, with_x0: bool = False):
    """The denoising loss (and one-step clean latents, ᾱ) under the run's autocast."""
    with run.autocast():
        ctx = _context(run.codec, texts, spw, grad=False)
        return run.codec.mgdd.training_loss(images, ctx, hci, present, gen, return_x0=with_x0)


def _train_controlnet(run: _Run) -> dict[str, float]:
    codec, cfg = run.codec, run.cfg
    mg = codec.mgdd
    for m in (mg.unet, mg.vae, codec.text_encoder.model):
        m.requires_grad_(False)
    mg.controlnet.requires_grad_(True)

    def loss_fn(step, idx, gen):
        images = run.images(idx)
        texts = run.texts(idx, gen, cfg.p_drop_caption)
        hci, present = run.hci(images, gen, cfg.p_drop_hci, keep_one=True)
        return {"loss": _denoising(run, images, texts, hci, present, None, gen).float()}

    report = run.trainer.run(
        "controlnet",
        {"controlnet": mg.controlnet},
        list(mg.controlnet.parameters()),
        cfg.controlnet_lr,
        cfg.controlnet_steps,
        cfg.controlnet_batch,
        len(run.train),
        loss_fn,
        run.resume,
        cfg.controlnet_minutes,
    )
    mg.controlnet.save_pretrained(run.out / "controlnet")
    report.update(_gates(run, spw=False))
    return report


def _train_tascm(run: _Run, joint: bool) -> dict[str, float]:
    codec, cfg = run.codec, run.cfg
    mg, tascm = codec.mgdd, codec.tascm
    for m in (mg.unet, mg.vae, mg.controlnet, codec.text_encoder.model, codec.image_encoder):
        m.requires_grad_(False)
    tascm.requires_grad_(True)
    params = list(tascm.parameters())
    modules: dict[str, torch.nn.Module] = {"tascm": tascm}
    if joint:
        more, decoder = joint_decoder_parameters(mg)
        params += more
        modules.update(decoder)

    def loss_fn(step, idx, gen):
        images = run.images(idx)
        texts = run.texts(idx, gen, cfg.p_drop_caption)
        hci, present = run.hci(images, gen, cfg.p_drop_hci)
        with torch.no_grad():
            features = codec._features(images)
        res = tascm(features)
        drop = (torch.rand(len(idx), generator=gen) < cfg.p_drop_spw).view(-1, 1, 1)
        spw = torch.where(drop.to(res["context"].device), tascm.null(len(idx)), res["context"])
        eps, x0, ac = _denoising(run, images, texts, hci, present, spw, gen, with_x0=True)
        task = ((1 - clip_agreement(codec, x0, images)) * ac).mean()
        return {
            "loss": eps.float() + res["vq_loss"] + cfg.clip_weight * task,
            "eps": eps,
            "vq": res["vq_loss"],
            "task": task,
        }

    steps = cfg.joint_steps if joint else cfg.tascm_steps
    batch = cfg.joint_batch if joint else cfg.tascm_batch
    lr = cfg.joint_lr if joint else cfg.tascm_lr
    minutes = cfg.joint_minutes if joint else cfg.tascm_minutes
    name = "joint" if joint else "tascm"
    n = len(run.train)
    report = run.trainer.run(
        name, modules, params, lr, steps, batch, n, loss_fn, run.resume, minutes
    )
    tascm.save_pretrained(run.out / "tascm")
    if joint:
        mg.unet.save_pretrained(run.out / "unet")
        mg.controlnet.save_pretrained(run.out / "controlnet")
    report.update(_gates(run, spw=True))
    return report


@torch.no_grad()
def _gates(run: _Run, spw: bool) -> dict[str, float]:
    """Paired validation measurements (the same images, noise and timesteps each way):
    the denoising loss with the HCI and without it; with ``spw``, also with the SPWs and
    with null ones, and the CLIP agreement of the one-step clean estimate each way."""
    codec = run.codec
    n = min(run.cfg.gate_images, len(run.val))
    idx = torch.arange(n)
    images = run.images(idx, run.val)
    texts = [run.val.captions[i] for i in range(n)]
    gen = torch.Generator().manual_seed(run.cfg.seed + 1)
    hci, _ = run.hci(images, gen, 0.0)
    tokens = codec.tascm(codec._features(images))["context"] if spw else None
    out: dict[str, float] = {}

    def measure(with_hci: bool, with_spw: bool) -> tuple[float, float]:
        """(denoising loss, CLIP agreement: only measured with ``spw``, else NaN)."""
        g = torch.Generator().manual_seed(run.cfg.seed + 2)
        present = torch.full((n,), with_hci)
        context = tokens if with_spw else None
        if not spw:
            return float(_denoising(run, images, texts, hci, present, context, g)), float("nan")
        loss, x0, _ = _denoising(run, images, texts, hci, present, context, g, with_x0=True)
        return float(loss), float(clip_agreement(codec, x0, images).mean())

    on = measure(True, spw)
    off = measure(False, spw)
    out["val_loss"] = round(on[0], 5)
    out["val_loss_without_hci"] = round(off[0], 5)
    out["hci_gain"] = round(1 - on[0] / off[0], 4)  # > 0: the ControlNet reads the HCI
    if spw:
        null = measure(True, False)
        out["val_loss_without_spw"] = round(null[0], 5)
        out["spw_gain"] = round(1 - on[0] / null[0], 4)  # > 0: the decoder reads the SPWs
        out["val_clip_agreement"] = round(on[1], 4)
        out["val_clip_agreement_without_spw"] = round(null[1], 4)
        out["codes_used"] = int(codec.tascm(codec._features(images))["indices"].unique().numel())
    return out


PART_FUNCTIONS = {
    "hci": _train_hci,
    "controlnet": _train_controlnet,
    "tascm": lambda run: _train_tascm(run, joint=False),
    "joint": lambda run: _train_tascm(run, joint=True),
}


def train_natural(
    stage: int | None,
    data: str | Path,
    out: str | Path,
    work: str | Path,
    cfg: NaturalTrainConfig,
    parts: tuple[str, ...] | None = None,
    resume: bool = True,
    device: str = "cpu",
    captions: str | Path | None = None,
) -> dict[str, dict[str, float]]:
    """Train the sd21 model in ``out`` on the image folder ``data``: the parts of
    ``stage`` (every stage in order when None); returns each part's report."""
    from semcom.mtgc.presets.sd21 import load_sd21

    stages = [stage] if stage is not None else list(NATURAL_STAGE_PARTS)
    if stage is not None and stage not in NATURAL_STAGE_PARTS:
        raise SemcomError(f"--stage must be 1, 2 or 3, not {stage}.")
    if parts and stage is None:
        raise SemcomError("--part needs --stage (the parts are named per stage).")
    if parts:
        bad = [p for p in parts if p not in NATURAL_STAGE_PARTS[stages[0]]]
        if bad:
            named = ", ".join(NATURAL_STAGE_PARTS[stages[0]])
            raise SemcomError(
                f"sd21 stage {stages[0]} has the parts {named}; not {', '.join(bad)}."
            )
    out, work = Path(out), Path(work)
    codec = load_sd21(out)
    multiple = max(codec.mgdd.size_multiple, codec.config.hci_factor)
    size = cfg.image_size
    if size % multiple or size < codec.config.min_size:
        raise SemcomError(
            f"image_size {size} does not suit this model: it must be a multiple of {multiple} "
            f"and at least {codec.config.min_size}."
        )
    folder = load_folder(data, size, captions)
    train, val = folder.split(cfg.val_every)
    if not len(train) or not len(val):
        raise SemcomError(
            f"{data} holds {len(folder)} images: training needs at least two (every "
            f"{cfg.val_every}th validates)."
        )
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    codec.to(device)
    if codec.hci.learned is not None:
        codec.hci.learned.to(device)
    reports: dict[str, dict[str, float]] = {}
    for s in stages:
        with stage_log(work / f"sd21-stage{s}.log") as log:
            log(
                f"sd21 stage {s}: {len(train)} training and {len(val)} validation images of "
                f"{data} at {size}² on {device}; config {json.dumps(asdict(cfg))}"
            )
            run = _Run(codec, train, val, cfg, Trainer(cfg, work, s, log), out, resume, device)
            for part in parts or NATURAL_STAGE_PARTS[s]:
                report = PART_FUNCTIONS[part](run)
                record(out, s, part, report, cfg)
                log(f"{part}: done, wrote {out} ({json.dumps(report)})")
                reports[part] = report
    return reports
