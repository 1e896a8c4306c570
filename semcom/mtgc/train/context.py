"""What every training part gets: :class:`PartContext`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.train.config import TrainConfig
from semcom.mtgc.train.data import Pool
from semcom.mtgc.train.loop import Trainer


@dataclass
class PartContext:
    """One part's run: the model being trained (from ``out``), the rendered training pool,
    the settings, the loop, where the model and checkpoints live, and the log."""

    part: str
    codec: MTGC
    pool: Pool
    cfg: TrainConfig
    trainer: Trainer
    out: Path
    work: Path
    resume: bool
    log: Callable[[str], None]

    @property
    def n(self) -> int:
        """Training scenes in the pool."""
        return self.cfg.train_scenes

    def unpack(self) -> tuple:
        """(codec, pool, cfg, trainer, out, work, resume, log, n), for a part's body."""
        return (
            self.codec,
            self.pool,
            self.cfg,
            self.trainer,
            self.out,
            self.work,
            self.resume,
            self.log,
            self.n,
        )
