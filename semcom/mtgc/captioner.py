"""Captioners: the transmitter's image → caption (it sees the image only).

``tiny``: :class:`ShapesCaptioner`, a small CNN that reads, for each cell of its world's
grid (:mod:`semcom.mtgc.cells`), whether an object is there and its attributes, and writes
the world's caption (ShapesWorld: canonical, 3×3 cells; ShapesWorld-Complex: concise,
4×4 cells). ``sd21``: :class:`HFCaptioner`, any local transformers
image-to-text model (BLIP, BLIP-2, …) with its processor, decoded greedily.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from semcom.data.captions import CELLS, COLOURS, SHAPES, ShapeObject, canonical_caption
from semcom.errors import SemcomError
from semcom.mtgc.cells import CellLayout, cell_layout


class ShapesCaptioner(ModelMixin, ConfigMixin):
    """CNN over [B,3,H,W] images in [0,1] → per-cell attribute logits → captions.

    ``world``: whose cells and caption (a :func:`~semcom.mtgc.cells.cell_layout` name).
    ``channels``/``strides``: the 3×3 convolutions (every stride 2 when ``strides`` is
    empty). ``cell_patch`` p: 1 averages each cell's features; p > 1 pools the map to p×p
    per cell and reads each cell's patch with a p×p convolution, so the head knows where
    in its cell a feature lies.
    """

    @register_to_config
    def __init__(
        self,
        channels: tuple[int, ...] = (32, 64, 128, 128),
        world: str = "shapes",
        strides: tuple[int, ...] = (),
        cell_patch: int = 1,
    ) -> None:
        super().__init__()
        self.layout: CellLayout = cell_layout(world)
        strides = tuple(strides) or (2,) * len(channels)
        if len(strides) != len(channels) or cell_patch < 1:
            raise ValueError("strides needs one stride per channel entry; cell_patch must be ≥ 1")
        layers: list[nn.Module] = []
        c_in = 3
        for c, stride in zip(channels, strides, strict=True):
            layers += [
                nn.Conv2d(c_in, c, 3, stride=stride, padding=1),
                nn.GroupNorm(8, c),
                nn.SiLU(),
            ]
            c_in = c
        layers.append(nn.AdaptiveAvgPool2d(self.layout.grid * cell_patch))
        if cell_patch > 1:
            layers += [
                nn.Conv2d(c_in, c_in, cell_patch, stride=cell_patch),
                nn.GroupNorm(8, c_in),
                nn.SiLU(),
            ]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(c_in, self.layout.per_cell, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] in [0,1] → logits [B, G², layout.per_cell] (ShapesWorld: [B, 9, 17])."""
        out = self.head(self.body(images * 2 - 1))  # [B, P, G, G]
        return out.flatten(2).transpose(1, 2)

    @torch.no_grad()
    def scenes(self, images: torch.Tensor) -> list[list[ShapeObject]]:
        """Read ShapesWorld objects: a list of ShapeObject per image."""
        if self.layout.world != "shapes":
            raise SemcomError("scenes() reads ShapesWorld objects; this captioner reads another.")
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

    @torch.no_grad()
    def caption(self, images: torch.Tensor) -> list[str]:
        """[B,3,H,W] in [0,1] → B captions."""
        if self.layout.world == "shapes":
            return [canonical_caption(s) for s in self.scenes(images)]
        return self.layout.captions(self(images))


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
