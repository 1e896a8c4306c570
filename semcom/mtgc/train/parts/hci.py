"""Stage 1, ``hci``: the learned HCI codec (rate + λ·distortion, a random quality per step)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semcom.mtgc.streams.hci import downsample
from semcom.mtgc.train.context import PartContext
from semcom.mtgc.train.gates import _hci_rates


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
        return rate_distortion(
            hci, downsample(pool.images[idx].float() / 255, f), q, cfg.hci_lambda
        )

    report = trainer.run(
        part,
        {"hci": hci},
        hci_parameters(hci),
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


def rate_distortion(hci, small: torch.Tensor, quality: int, lam: float) -> dict[str, torch.Tensor]:
    """The learned HCI codec's training loss on downsampled images ``small`` [B,3,h,w] in
    [0,1] at ``quality``: bits per (small) pixel + λ·255²·MSE + compressai's aux loss."""
    res = hci(small, quality)
    pixels = small.shape[0] * small.shape[-2] * small.shape[-1]
    bpp = sum(-torch.log2(lk).sum() for lk in res["likelihoods"].values()) / pixels
    mse = F.mse_loss(res["x_hat"], small)
    return {"loss": bpp + lam * 255**2 * mse + hci.net.aux_loss(), "bpp_small": bpp, "mse": mse}


def hci_parameters(hci) -> list[torch.nn.Parameter]:
    """The HCI codec's parameters, the entropy bottleneck's quantiles (aux loss) last."""
    aux = {n for n, _ in hci.named_parameters() if n.endswith(".quantiles")}
    named = list(hci.named_parameters())
    return [p for n, p in named if n not in aux] + [p for n, p in named if n in aux]
