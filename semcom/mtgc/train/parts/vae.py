"""Stage 1, ``vae``: the AutoencoderKL on random crops; then its latent scaling factor."""

from __future__ import annotations

import torch

from semcom.errors import SemcomError
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.data import encode_latents
from semcom.mtgc.train.gates import _vae_gates


def mix_crops(x: torch.Tensor, solid: float, zoom: float, gen: torch.Generator) -> torch.Tensor:
    """Replace the first ``solid`` fraction of a batch of crops ``x`` ([B,3,c,c] in
    [-1, 1]) by solid colours and the next ``zoom`` fraction by a half-size sub-crop of
    themselves scaled up ×2 (bilinear): large flat areas and large objects that
    scenes alone rarely show. Draws from ``gen`` only, so a step's batch is repeatable."""
    b, _, c, _ = x.shape
    n_solid = round(solid * b)
    n_zoom = min(round(zoom * b), b - n_solid)
    x = x.clone()
    if n_solid:
        x[:n_solid] = (torch.rand(n_solid, 3, 1, 1, generator=gen) * 2 - 1).expand(-1, -1, c, c)
    half = c // 2
    for i in range(n_solid, n_solid + n_zoom):
        y0, x0 = torch.randint(0, c - half + 1, (2,), generator=gen).tolist()
        sub = x[i : i + 1, :, y0 : y0 + half, x0 : x0 + half]
        x[i : i + 1] = torch.nn.functional.interpolate(
            sub, size=(c, c), mode="bilinear", align_corners=False
        )
    return x


def train(ctx: PartContext) -> dict[str, float]:
    """Train the part; writes its component into ``ctx.out``; returns its report."""
    part = ctx.part
    codec = ctx.codec
    pool = ctx.pool
    cfg = ctx.cfg
    trainer = ctx.trainer
    out = ctx.out
    resume = ctx.resume
    n = ctx.n
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
        x = mix_crops(x.float() / 127.5 - 1, cfg.vae_solid, cfg.vae_zoom, gen)
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
    return report
