"""CLIP score between an original and its reconstruction, from a local CLIP model only.

The score of a pair is the cosine similarity of the two images' CLIP image embeddings
(the projected embedding of a transformers ``CLIPModel`` or
``CLIPVisionModelWithProjection``): 1 for identical content, lower as the decoded
image's meaning drifts; higher is better. Nothing is downloaded: ``model_dir`` is a
saved model folder (``config.json`` + weights, and ``preprocessor_config.json`` for its
resize and normalisation; without it the model's ``image_size`` and CLIP's published
mean and standard deviation).

Images: float tensors [B,3,H,W] in [0, 1]; each is resized (bicubic, antialiased) so its
shorter side is the model's ``image_size``, centre-cropped to a square and normalised, as
CLIP's own preprocessor does. Output: float64 [B] in [-1, 1].
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.errors import SemcomError

#: CLIP's published pixel mean and standard deviation (used when the folder has no
#: preprocessor_config.json).
CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
#: Architectures whose projected image embedding the score uses.
ARCHITECTURES: tuple[str, ...] = ("CLIPModel", "CLIPVisionModelWithProjection")


def clip_status(model_dir: str | Path | None) -> str:
    """``"ok"`` when ``model_dir`` holds a usable CLIP model, else why not (a phrase)."""
    if model_dir is None:
        return "no CLIP model given (--clip DIR names a local transformers CLIP model folder)"
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        return f"{path} has no config.json of a transformers CLIP model"
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return f"{path / 'config.json'} is not readable JSON"
    kinds = config.get("architectures") or []
    if not any(k in ARCHITECTURES for k in kinds):
        return (
            f"{path} holds {', '.join(kinds) or 'no named architecture'}, not one of "
            f"{', '.join(ARCHITECTURES)}"
        )
    return "ok"


class ClipEmbedder(torch.nn.Module):
    """A local CLIP model's image embedding: [B,3,H,W] in [0, 1] → [B,D] unit vectors."""

    def __init__(self, model_dir: str | Path) -> None:
        super().__init__()
        status = clip_status(model_dir)
        if status != "ok":
            raise SemcomError(f"the CLIP score cannot run: {status}.")
        from transformers import CLIPModel, CLIPVisionModelWithProjection

        path = Path(model_dir)
        kinds = json.loads((path / "config.json").read_text())["architectures"]
        cls = CLIPModel if "CLIPModel" in kinds else CLIPVisionModelWithProjection
        try:
            self.model = cls.from_pretrained(path, local_files_only=True).eval()
        except (OSError, ValueError) as err:
            raise SemcomError(f"the CLIP model in {path} does not load ({err}).") from None
        vision = self.model.config.vision_config if cls is CLIPModel else self.model.config
        size, mean, std = int(vision.image_size), CLIP_MEAN, CLIP_STD
        pre = path / "preprocessor_config.json"
        if pre.is_file():
            cfg = json.loads(pre.read_text())
            mean = tuple(cfg.get("image_mean", mean))
            std = tuple(cfg.get("image_std", std))
            crop = cfg.get("crop_size", size)
            size = int(crop["height"] if isinstance(crop, dict) else crop)
        self.size = size
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] in [0, 1] → [B,3,S,S] normalised pixel values (S: the model's size)."""
        x = images.float().clamp(0, 1)
        h, w = x.shape[-2:]
        scale = self.size / min(h, w)
        nh, nw = max(self.size, round(h * scale)), max(self.size, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
        top, left = (nh - self.size) // 2, (nw - self.size) // 2
        x = x[..., top : top + self.size, left : left + self.size].clamp(0, 1)
        return (x - self.mean) / self.std

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pixels = self.preprocess(images)
        if hasattr(self.model, "get_image_features"):
            emb = self.model.get_image_features(pixel_values=pixels)
            emb = getattr(emb, "pooler_output", emb)  # transformers ≥ 5 may wrap it
        else:
            emb = self.model(pixel_values=pixels).image_embeds
        return F.normalize(emb.float(), dim=-1)


@lru_cache(maxsize=2)
def _embedder(model_dir: str) -> ClipEmbedder:
    return ClipEmbedder(model_dir)


def clip_scores(
    reference: torch.Tensor, images: torch.Tensor, model_dir: str | Path, batch: int = 16
) -> torch.Tensor:
    """Cosine similarity of CLIP image embeddings per pair, float64 [B] in [-1, 1]
    (``reference`` and ``images``: [B,3,H,W] in [0, 1], same B)."""
    if reference.shape[0] != images.shape[0]:
        raise SemcomError(
            f"the CLIP score compares pairs; got {reference.shape[0]} originals and "
            f"{images.shape[0]} images."
        )
    embed = _embedder(str(Path(model_dir).resolve()))
    out = []
    for i in range(0, reference.shape[0], batch):
        a = embed(reference[i : i + batch].cpu())
        b = embed(images[i : i + batch].cpu())
        out.append((a * b).sum(-1).double())
    return torch.cat(out)
