"""Stage 1, ``hci``: the learned HCI codec (rate + λ·distortion, a random quality per step)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semcom.streams.hci import downsample
from semcom.train.context import PartContext
from semcom.train.gates import _hci_rates


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
    return report
