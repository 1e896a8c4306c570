"""The images, truth and reference features an evaluation reads (:func:`load_data`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from experiments.evaluation.config import EvalConfig
from experiments.evaluation.natural import NaturalPlan
from semcom.errors import SemcomError


@dataclass
class EvalData:
    """The originals [N,3,H,W] in [0, 1], their true objects (None: a folder, no
    ground truth), the user's captions (None entries: the codec's own) and, for a
    folder, its file names, captions file and the figures it can get."""

    images: torch.Tensor
    truths: list | None
    captions: list[str | None]
    names: list[str] = field(default_factory=list)
    captions_file: str | None = None
    natural: NaturalPlan | None = None

    def take(self, indices: Sequence[int]) -> EvalData:
        """The same data restricted to ``indices`` (positions in this set), in that order."""
        idx = [int(i) for i in indices]
        bad = [i for i in idx if not 0 <= i < self.images.shape[0]]
        if bad:
            raise SemcomError(
                f"image {bad[0]} is not among the {self.images.shape[0]} images evaluated "
                f"(0 to {self.images.shape[0] - 1})."
            )
        return EvalData(
            self.images[idx],
            [self.truths[i] for i in idx] if self.truths is not None else None,
            [self.captions[i] for i in idx],
            [self.names[i] for i in idx] if self.names else [],
            self.captions_file,
            self.natural,
        )


def load_data(cfg: EvalConfig, ref: Any) -> EvalData:
    """``cfg``'s images: a synthetic world's scenes, or a folder's images at ``cfg.image_size``
    (default: the reference ``ref``'s natural size) with their captions."""
    from experiments.evaluation.natural import plan_natural
    from experiments.reference_codec import check_size, has_captioner, natural_size
    from experiments.reference_codec import takes_captions as captioned
    from semcom.data.folder import folder_of, read_folder

    folder = folder_of(cfg.dataset)
    if folder is None:
        from semcom.data.datasets import make_dataset

        data = make_dataset(cfg.dataset, cfg.split, cfg.n, seed=cfg.seed)
        items = [data[i] for i in range(cfg.n)]
        images = torch.stack([it.image for it in items])
        return EvalData(images, [it.objects for it in items], [None] * cfg.n)
    size = cfg.image_size if cfg.image_size is not None else natural_size(ref)
    if size is None:
        raise SemcomError(
            f"--image-size is needed: the reference {cfg.reference} states no natural image size."
        )
    check_size(ref, cfg.reference, size)
    given = Path(cfg.captions) if cfg.captions is not None else None
    if given is not None and not captioned(ref):
        raise SemcomError(
            f"--captions gives the transmitter's caption, but {cfg.reference} sends none; "
            "leave --captions out."
        )
    fs = read_folder(folder, size, cfg.n, given, with_captions=captioned(ref))
    bare = [k for k, c in zip(fs.names, fs.captions, strict=True) if c is None]
    if bare and captioned(ref) and not has_captioner(ref):
        raise SemcomError(
            f"{len(bare)} images ({bare[0]} first) have no caption and {cfg.reference}'s model "
            "has no captioner; give each one in --captions (or PATH/captions.jsonl) or add "
            "captioner/ to the weights directory."
        )
    natural = plan_natural(
        len(fs.names), size, tuple(cfg.metrics), cfg.clip, cfg.inception, cfg.fid_patch
    )
    return EvalData(
        fs.images,
        None,
        fs.captions,
        fs.names,
        str(fs.captions_file) if fs.captions_file is not None else None,
        natural,
    )
