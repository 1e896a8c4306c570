"""Training settings: the stages' parts and :class:`TrainConfig` (every key of ``--config``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar, TypeVar

import yaml

from semcom.errors import SemcomError

STAGE_PARTS: dict[int, tuple[str, ...]] = {
    1: ("captioner", "hci", "vae", "spw", "sketch", "decoder"),
    2: ("tascm",),
    3: ("joint", "overlay", "spw_code", "sampling"),
}
#: Parts a recipe trains only when one of its settings asks for them (the setting named).
OPTIONAL_PARTS: dict[str, str] = {"overlay": "overlay_painter", "spw_code": "spw_entropy"}
#: Sampling settings ``sampling`` chooses from on validation scenes: (DDIM steps, guidance
#: scale, init strength; see :class:`~semcom.mtgc.mgdd.MGDDConfig`). Each decodes a 128×128
#: image in ≤ 1 s on one CPU thread with the tiny architecture (guidance > 1 doubles the
#: batch; strength s runs ≈ s × steps of them).
SAMPLING_CANDIDATES: tuple[tuple[int, float, float], ...] = (
    (10, 1.0, 1.0),
    (5, 2.0, 1.0),
    (5, 3.0, 1.0),
    (10, 2.0, 0.5),
    (10, 2.0, 0.3),
    (10, 3.0, 0.3),
    (10, 2.0, 0.2),
    (10, 2.0, 0.1),
)


S = TypeVar("S", bound="Settings")


class Settings:
    """``from_yaml`` and ``updated`` for a dataclass of training settings."""

    #: Settings that must be at least 1 (besides every ``*_steps`` and ``*_batch``).
    at_least_one: ClassVar[tuple[str, ...]] = ()

    def check(self, where: str) -> None:
        """Checks across fields (after :meth:`updated`'s per-field ones)."""

    @classmethod
    def from_yaml(cls: type[S], path: Path, base: S | None = None) -> S:
        """Read a YAML mapping of field → value over ``base`` (default: the defaults);
        unknown keys are an error."""
        if not path.is_file():
            raise SemcomError(f"the training config {path} does not exist.")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise SemcomError(f"{path} is not valid YAML ({type(err).__name__}).") from err
        if not isinstance(data, dict):
            raise SemcomError(f"{path} must hold a mapping of training settings.")
        return (base if base is not None else cls()).updated(data, str(path))

    def updated(self: S, values: dict, where: str = "the options") -> S:
        """A copy with ``values`` applied, type-checked against the defaults;
        ``*_steps``, ``*_batch`` and :attr:`at_least_one` settings must be at least 1,
        ``*_minutes`` positive."""
        known = {f.name for f in fields(self)}  # type: ignore[arg-type]
        out = asdict(self)  # type: ignore[call-overload]
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
        cfg = type(self)(**out)
        for f in fields(cfg):  # type: ignore[arg-type]
            v = getattr(cfg, f.name)
            if (f.name.endswith(("_steps", "_batch")) or f.name in cfg.at_least_one) and v < 1:
                raise SemcomError(f"{where}: {f.name} must be at least 1.")
            if f.name.endswith("_minutes") and not v > 0:
                raise SemcomError(f"{where}: {f.name} must be a positive number of minutes.")
        cfg.check(where)
        return cfg


@dataclass
class TrainConfig(Settings):
    """Training settings (every field is a key of the ``--config`` YAML)."""

    seed: int = 0
    threads: int = 2
    #: A trained model the new one starts from where its weights fit
    #: (:mod:`semcom.mtgc.train.warm`): a preset's shipped weights (``tiny``) or a model
    #: directory; empty: from scratch.
    init_from: str = ""
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
    #: Fractions of each batch replaced by solid-colour crops and by zoomed-in crops (a
    #: crop of half the size scaled up ×2). Off: tried at 0.125 / 0.25 (2026-11-29), they
    #: cost 1.6 dB on scenes and did not keep solid colours (docs/training.md).
    vae_solid: float = 0.0
    vae_zoom: float = 0.0
    vae_minutes: float = 36.0
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
    #: The receiver's overlay painter (stage 3's ``overlay`` part: a copy of the sketch's
    #: painter trained with each object's exact placement); only for a sketch that places
    #: objects (tiny-complex's recipe turns it on).
    overlay_painter: bool = False
    overlay_steps: int = 800
    overlay_batch: int = 32
    overlay_lr: float = 2e-3
    overlay_minutes: float = 6.0
    #: Arithmetic-code the SPW stream with an entropy model counted from the training
    #: scenes' indices (stage 3's ``spw_code`` part, after the last TASCM change).
    spw_entropy: bool = False
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
    #: optimiser stay float32); ~20 % faster on a CPU with native bf16, far slower on one
    #: without (AVX2 only: docs/training.md; tiny-complex's recipe turns it off).
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
    #: Whether the ``sampling`` part also scores each candidate with the scene sketch laid
    #: over the sample (``sketch_overlay``): the tiny-complex recipe does; tiny's, whose
    #: shipped settings predate the option, does not (docs/training.md).
    sampling_overlay: bool = False

    #: Settings that must be at least 1 (besides every ``*_steps`` and ``*_batch``).
    at_least_one: ClassVar[tuple[str, ...]] = ("train_scenes", "threads", "gate_scenes")

    def trains(self, part: str) -> bool:
        """Whether this recipe trains ``part`` (every part but an :data:`OPTIONAL_PARTS` one
        whose setting is off)."""
        setting = OPTIONAL_PARTS.get(part)
        return setting is None or bool(getattr(self, setting))

    def check(self, where: str) -> None:
        """Checks across fields (after :func:`updated`'s per-field ones)."""
        if min(self.vae_solid, self.vae_zoom) < 0 or self.vae_solid + self.vae_zoom > 1:
            raise SemcomError(
                f"{where}: vae_solid and vae_zoom are fractions of a batch (each ≥ 0, "
                "together ≤ 1)."
            )
