"""Captioners: the transmitter's image → caption (it sees the image only).

``tiny``: :class:`ShapesCaptioner`, a small CNN that reads, for each cell of the 3×3
grid, whether an object is there and its shape, colour and size, and writes the
canonical ShapesWorld caption. ``sd21``: :class:`HFCaptioner`, any local transformers
image-to-text model (BLIP, BLIP-2, …) with its processor, decoded greedily.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from semcom.data.captions import CELLS, COLOURS, SHAPES, SIZES, ShapeObject, canonical_caption
from semcom.errors import SemcomError

#: Logits per grid cell: presence, shapes, colours, sizes.
_PER_CELL = 1 + len(SHAPES) + len(COLOURS) + len(SIZES)


class ShapesCaptioner(ModelMixin, ConfigMixin):
    """CNN over [B,3,H,W] images in [0,1] → per-cell attribute logits → captions."""

    @register_to_config
    def __init__(self, channels: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(8, c), nn.SiLU()]
            c_in = c
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(3))
        self.head = nn.Conv2d(c_in, _PER_CELL, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] in [0,1] → logits [B, 9, 1 + shapes + colours + sizes]."""
        out = self.head(self.body(images * 2 - 1))  # [B, P, 3, 3]
        return out.flatten(2).transpose(1, 2)

    @torch.no_grad()
    def scenes(self, images: torch.Tensor) -> list[list[ShapeObject]]:
        """Read the objects: a list of ShapeObject per image."""
        logits = self(images)
        s0, s1 = 1, 1 + len(SHAPES)
        c1 = s1 + len(COLOURS)
        result = []
        for row in logits:
            objs = []
            for cell in range(len(CELLS)):
                v = row[cell]
                if v[0] > 0:
                    objs.append(
                        ShapeObject(
                            shape=int(v[s0:s1].argmax()),
                            colour=int(v[s1:c1].argmax()),
                            size=int(v[c1:].argmax()),
                            cell=cell,
                        )
                    )
            result.append(objs)
        return result

    def caption(self, images: torch.Tensor) -> list[str]:
        """[B,3,H,W] in [0,1] → B captions."""
        return [canonical_caption(s) for s in self.scenes(images)]


class HFCaptioner:
    """A local transformers image-to-text model and its processor (greedy decoding)."""

    def __init__(self, path: str | Path, max_new_tokens: int = 30) -> None:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        path = Path(path)
        if not (path / "config.json").is_file():
            raise SemcomError(
                f"no captioner in {path}: put a transformers image-to-text model there "
                "(config.json, weights and processor files), or pass --caption TEXT."
            )
        self.processor = AutoProcessor.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModelForImageTextToText.from_pretrained(
            str(path), local_files_only=True, use_safetensors=True
        ).eval()
        self.max_new_tokens = max_new_tokens

    @torch.no_grad()
    def caption(self, images: torch.Tensor) -> list[str]:
        """[B,3,H,W] in [0,1] → B captions."""
        arrays = [
            (img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy() for img in images
        ]
        inputs = self.processor(images=arrays, return_tensors="pt").to(self.model.device)
        out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        texts = self.processor.batch_decode(out, skip_special_tokens=True)
        return [t.strip() for t in texts]
