"""A sweep's units of work: :class:`Group` (one codec at one channel, SNR and budget, for the
(image, trial) pairs not yet stored), :func:`plan_groups`, the sweep's images and the link
seed of a point (shared by every codec, channel, SNR and budget: common random numbers)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from experiments.config import ChannelSpec, CodecSpec, SweepConfig


def link_seed(seed: int, image: int, trial: int) -> int:
    """The noise/fading seed of (image, trial): shared by codecs, channels, SNRs, budgets."""
    return (seed * 1_000_003 + image * 1009 + trial) % (1 << 31)


@dataclass(frozen=True)
class Group:
    """One unit of work: a codec at one channel, SNR and budget, for ``todo`` = the
    (image, trial) pairs not yet stored. Runs as one batch through the link."""

    channel: ChannelSpec
    spec: CodecSpec
    snr_db: float
    budget_cpp: float
    todo: tuple[tuple[int, int], ...]


@dataclass
class GroupResult:
    """What one group produced: store rows, reconstruction PNGs, and the decoder calls and
    seconds it cost (added to the run's totals by the writer)."""

    rows: list[dict]
    pngs: list[tuple]
    calls: dict[str, int]
    seconds: dict[str, float]


def plan_groups(config: SweepConfig, done: set[tuple]) -> list[Group]:
    """The groups still to run, in the sweep's order (channel, codec, SNR, budget)."""
    units = [(i, t) for i in range(config.dataset.n) for t in range(config.trials)]
    groups = []
    for channel in config.channels:
        for spec in config.codecs:
            for snr in config.snr_db:
                for budget_cpp in config.budget_cpp:
                    todo = tuple(
                        (i, t)
                        for i, t in units
                        if (i, spec.label, channel.label, snr, budget_cpp, t) not in done
                    )
                    if todo:
                        groups.append(Group(channel, spec, snr, budget_cpp, todo))
    return groups


def sweep_images(config: SweepConfig) -> tuple[torch.Tensor, list]:
    """The sweep's reference images [N,3,H,W] float32 in [0, 1] and their ground truth."""
    from semcom.data.datasets import make_dataset

    ds = config.dataset
    data = make_dataset(ds.name, ds.split, ds.n, ds.size, ds.seed)
    items = [data[i] for i in range(ds.n)]
    return torch.stack([it.image for it in items]), [it.objects for it in items]
