"""Scene sketch: what the caption and the SPWs say is where, painted for the decoder.

The receiver reads each semantic stream into per-cell attribute beliefs and paints them:

- ``read_spw``: SPW embeddings [B,K,D] → per-cell logits [B,G²,P]: G² learned cell queries
  attend to the SPW tokens (the same reader is TASCM's task head in training, so the codes
  TASCM learns are the ones this reader understands);
- ``read_caption``: caption token ids [B,L] → per-cell logits [B,G²,P] (word embeddings,
  a small bidirectional transformer, then the same cell-query readout);
- ``paint``: per-cell beliefs → an RGB sketch and its coverage α, both [B,·,H,W]. Each
  cell's window holds a learned α template per (shape, size) pair and a learned fill per
  colour, mixed by the beliefs, so an uncertain cell paints a faint blend and an empty
  cell paints nothing; windows are composited over each other by their α.

Per-cell logits follow ``groups``: one presence logit, then one block of scores per
categorical attribute (ShapesWorld: 6 shapes, 8 colours, 2 sizes; ShapesWorld-Complex
adds 3 textures, 4 + 4 within-cell offset bins and 16 rotation bins, :mod:`semcom.mtgc.cells`).
Templates depend jointly on the first and third group (shape × size); fills depend on the
second (colour). With seven groups a learned pattern per texture mixes each colour's fill
with a learned second fill, and one affine map per cell moves its window by the expected
row and column offset and turns it by the rotation bins' circular mean, read as a part
of the expected shape's symmetry period (``rotation_periods``). The sketch is a spatial path for
the semantic streams: the diffusion decoder sees it (through the autoencoder) beside the
noisy latents and draws the image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from semcom.mtgc.sketch_readers import CaptionReader, CellReader

#: Templates and fills are stored as logits / this gain, so that an optimiser step of the
#: readers' learning rate moves them by a useful amount (a template pixel from 0 to ±5
#: in a few hundred steps rather than thousands).
PAINT_GAIN = 30.0


class SceneSketch(ModelMixin, ConfigMixin):
    """Readers of the semantic streams and the painter of their per-cell beliefs.

    ``grid`` G: cells per side (cell k = G·row + col). ``groups``: sizes of the
    categorical attributes after the presence logit, (shapes, colours, sizes); templates
    are indexed by (first, last) and fills by the second. ``context_dim``: width of the
    SPW tokens. ``vocab_size``/``max_tokens``: the caption tokenizer's. ``canvas``: the
    image side (pixels) the templates are drawn for, ``window``: a template's side
    (pixels; larger than a cell so large objects may reach into their neighbours).
    ``halo`` r > 0: before the sketch is composited, the background within r canvas
    pixels of a painted object is replaced by the background around it (see
    :meth:`clear_halos`), so the blurred blob the HCI holds of the same object does not
    round the sketch's corners; ``halo_blur``: side (canvas pixels, odd) of the box over
    which that fill is averaged. 0 composites over the background as it is.
    ``rotation_periods``: with seven groups, each shape's symmetry period in radians (0: a
    shape that looks the same at every angle), over which its rotation bins are spread.
    ``decisive``: the receiver paints each cell's most likely reading (present where
    σ(presence) > ½, the top class of every group) instead of the belief-weighted blend;
    readers and painter train the same either way.
    ``overlay_painter``: a second set of templates, fills and patterns (seven groups only)
    that :meth:`overlay` callers (the receiver's ``sketch_overlay``) paint with, trained
    with each object's exact placement (:meth:`paint_loss`' ``placement``) so its outlines
    and textures stay sharp; the decoder's guide keeps the first set, which it was trained
    to read. :meth:`add_overlay_painter` adds it to a trained sketch.
    """

    @register_to_config
    def __init__(
        self,
        grid: int = 3,
        groups: tuple[int, ...] = (6, 8, 2),
        context_dim: int = 128,
        vocab_size: int = 64,
        max_tokens: int = 64,
        width: int = 128,
        layers: int = 2,
        heads: int = 4,
        canvas: int = 128,
        window: int = 64,
        halo: int = 0,
        halo_blur: int = 33,
        rotation_periods: tuple[float, ...] = (),
        decisive: bool = False,
        overlay_painter: bool = False,
    ) -> None:
        super().__init__()
        if len(groups) not in (3, 7):
            raise ValueError(
                "groups must be (shapes, colours, sizes) or (shapes, colours, sizes, "
                "textures, row offsets, column offsets, rotations)"
            )
        if len(groups) == 7 and len(rotation_periods) != groups[0]:
            raise ValueError(f"rotation_periods needs one period per shape ({groups[0]})")
        if overlay_painter and len(groups) != 7:
            raise ValueError("an overlay painter needs the seven groups that place objects")
        if window % 2 or window > canvas:
            raise ValueError("window must be even and at most the canvas side")
        if halo < 0 or halo_blur < 1 or halo_blur % 2 == 0:
            raise ValueError("halo must be ≥ 0 and halo_blur odd and ≥ 1")
        cells, out = grid * grid, 1 + sum(groups)
        self.spw_reader = CellReader(context_dim, out, cells, heads)
        self.caption_reader = CaptionReader(
            vocab_size, max_tokens, width, layers, heads, out, cells
        )
        n_shape, n_colour, n_size = groups[:3]
        self.templates = nn.Parameter(torch.zeros(n_shape * n_size, window, window))
        self.fills = nn.Parameter(torch.zeros(n_colour, 3))
        if self.placed:
            self.patterns = nn.Parameter(torch.zeros(groups[3], window, window))
            self.pattern_fills = nn.Parameter(torch.zeros(n_colour, 3))
            self.register_buffer(
                "periods", torch.tensor(rotation_periods, dtype=torch.float32), persistent=False
            )
        if overlay_painter:
            self.overlay_templates = nn.Parameter(torch.zeros_like(self.templates))
            self.overlay_fills = nn.Parameter(torch.zeros_like(self.fills))
            self.overlay_patterns = nn.Parameter(torch.zeros_like(self.patterns))
            self.overlay_pattern_fills = nn.Parameter(torch.zeros_like(self.pattern_fills))

    def add_overlay_painter(self) -> None:
        """Give a placing sketch (seven groups) an overlay painter started as a copy of the
        guide painter (a no-op when it has one)."""
        if self.config.overlay_painter:
            return
        if not self.placed:
            raise ValueError("an overlay painter needs the seven groups that place objects")
        for name in ("templates", "fills", "patterns", "pattern_fills"):
            source = getattr(self, name)
            setattr(self, f"overlay_{name}", nn.Parameter(source.detach().clone()))
        self.register_to_config(overlay_painter=True)

    @property
    def receiver_painter(self) -> str:
        """The painter the receiver lays over its images: ``overlay`` when the sketch has
        one, else ``guide``."""
        return "overlay" if self.config.overlay_painter else "guide"

    # -- reading ------------------------------------------------------------------------
    @property
    def placed(self) -> bool:
        """Whether the groups go on past (shape, colour, size) to texture, offsets and
        rotation (seven groups): windows are then patterned, moved and turned."""
        return len(self.config.groups) == 7

    @property
    def per_cell(self) -> int:
        """Logits per cell: presence + every group."""
        return 1 + sum(self.config.groups)

    def read_spw(self, tokens: torch.Tensor) -> torch.Tensor:
        """SPW embeddings [B,K,context_dim] → logits [B,G²,per_cell]."""
        return self.spw_reader(tokens)

    def read_caption(self, ids: torch.Tensor) -> torch.Tensor:
        """Caption ids [B,L] (L ≤ max_tokens, 0 = padding) → logits [B,G²,per_cell]."""
        return self.caption_reader(ids.to(self.device))

    @staticmethod
    def fuse(*logits: torch.Tensor | None) -> torch.Tensor | None:
        """The mean of the readers' logits that are present (None when none is)."""
        present = [x for x in logits if x is not None]
        if not present:
            return None
        return torch.stack(present).mean(0)

    def guide_image(
        self,
        spw_logits: torch.Tensor | None,
        spw_present: torch.Tensor,
        caption_logits: torch.Tensor | None,
        caption_present: torch.Tensor,
        background: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The sketch of what arrived, over ``background`` [B,3,H,W] in [0,1]: :meth:`draw`
        then :meth:`overlay`. Returns (image [B,3,H,W], coverage [B,1,H,W]), on the
        background's device."""
        rgb, cover = self.draw(spw_logits, spw_present, caption_logits, caption_present, background)
        return self.overlay(rgb, cover, background), cover

    def draw(
        self,
        spw_logits: torch.Tensor | None,
        spw_present: torch.Tensor,
        caption_logits: torch.Tensor | None,
        caption_present: torch.Tensor,
        like: torch.Tensor,
        painter: str = "guide",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The sketch of what arrived: (RGB [B,3,H,W] in [0,1], coverage [B,1,H,W]) at the
        size, dtype and device of ``like`` [B,·,H,W], by ``painter`` (:meth:`paint`).

        Per image, the mean of the logits of the readers whose stream is present
        (``*_present`` [B] bool; logits [B,G²,P] or None when no image has that stream);
        an image with neither paints nothing (coverage 0).
        """
        b = like.shape[0]
        total = torch.zeros(b, self.config.grid**2, self.per_cell, device=self.device)
        count = torch.zeros(b, 1, 1, device=self.device)
        for logits, present in ((spw_logits, spw_present), (caption_logits, caption_present)):
            if logits is not None:
                m = present.to(self.device, torch.float32).view(b, 1, 1)
                total = total + m * logits.to(self.device, torch.float32)
                count = count + m
        beliefs = self.beliefs(total / count.clamp_min(1))
        if self.config.decisive:
            beliefs = self.decide(beliefs)
        rgb, cover = self.paint(beliefs, like.shape[-2:], painter)
        cover = cover * (count > 0).to(cover).view(b, 1, 1, 1)
        return rgb.to(like), cover.to(like)

    def overlay(
        self, rgb: torch.Tensor, cover: torch.Tensor, background: torch.Tensor
    ) -> torch.Tensor:
        """A drawn sketch (:meth:`draw`) over ``background`` [B,3,H,W] in [0,1] → [B,3,H,W]:
        with a ``halo``, the background near the sketch's objects cleared first
        (:meth:`clear_halos`), so what it held there does not frame them."""
        if self.config.halo > 0:
            background = self.clear_halos(background, cover)
        return self.composite(rgb, cover, background)

    def clear_halos(self, background: torch.Tensor, cover: torch.Tensor) -> torch.Tensor:
        """``background`` [B,3,H,W] with the pixels within ``halo`` of the sketch's
        objects (coverage [B,1,H,W] above ½) filled by a normalised box average of the
        background outside them (the image's mean outside them where the box holds too
        little of it). Distances scale with H / ``canvas``.
        """
        scale = background.shape[-2] / self.config.canvas
        r = max(1, round(self.config.halo * scale))
        k = max(1, round(self.config.halo_blur * scale)) | 1
        inside = F.max_pool2d((cover > 0.5).to(background), 2 * r + 1, 1, r)
        keep = 1 - inside
        num = F.avg_pool2d(background * keep, k, 1, k // 2, count_include_pad=False)
        den = F.avg_pool2d(keep, k, 1, k // 2, count_include_pad=False)
        kept = keep.sum((2, 3), keepdim=True)
        mean = (background * keep).sum((2, 3), keepdim=True) / kept.clamp_min(1)
        mean = torch.where(kept > 0, mean, background.mean((2, 3), keepdim=True))
        fill = torch.where(den > 0.05, num / den.clamp_min(1e-6), mean)
        return keep * background + inside * fill

    def beliefs(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits [B,G²,P] → probabilities [B,G²,P]: σ(presence), softmax per group."""
        parts, start = [torch.sigmoid(logits[..., :1])], 1
        for size in self.config.groups:
            parts.append(torch.softmax(logits[..., start : start + size], dim=-1))
            start += size
        return torch.cat(parts, dim=-1)

    def decide(self, beliefs: torch.Tensor) -> torch.Tensor:
        """Beliefs [B,G²,P] → the most likely reading as one-hot beliefs [B,G²,P]: presence
        1 where above ½ (else 0), the top class of every group."""
        reading, start = [(beliefs[..., :1] > 0.5).long()], 1
        for size in self.config.groups:
            reading.append(beliefs[..., start : start + size].argmax(-1, keepdim=True))
            start += size
        return self.target_beliefs(torch.cat(reading, dim=-1)).to(beliefs)

    def target_beliefs(self, targets: torch.Tensor) -> torch.Tensor:
        """Truth [B,G²,1+groups] int (present, then a class per group; -100 where empty) →
        one-hot beliefs [B,G²,P] (training the painter on what a perfect reader would say)."""
        parts = [targets[..., :1].float()]
        for k, size in enumerate(self.config.groups, start=1):
            parts.append(F.one_hot(targets[..., k].clamp(min=0), size).float())
        return torch.cat(parts, dim=-1)

    # -- painting -----------------------------------------------------------------------
    def painter_parameters(self, painter: str = "guide") -> list[nn.Parameter]:
        """A painter's learned tensors (``guide`` or ``overlay``): templates and fills, and
        with seven groups the texture patterns and their second fills."""
        names = ["templates", "fills"] + (["patterns", "pattern_fills"] if self.placed else [])
        return [getattr(self, self._painter_prefix(painter) + n) for n in names]

    def _painter_prefix(self, painter: str) -> str:
        if painter == "guide":
            return ""
        if painter == "overlay" and self.config.overlay_painter:
            return "overlay_"
        raise ValueError(f"no {painter!r} painter in this sketch (guide, or overlay if added)")

    def paint(
        self,
        beliefs: torch.Tensor,
        size: tuple[int, int] | None = None,
        painter: str = "guide",
        placement: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Beliefs [B,G²,P] → (RGB [B,3,H,W] in [0,1], coverage α [B,1,H,W] in [0,1]).

        Drawn on the ``canvas``² grid by ``painter``'s tensors and resized to ``size`` (H,
        W) if that differs. Where several windows overlap, colours mix in proportion to
        their α and the coverage is 1 − Π(1 − α_k). ``placement`` [B,G²,4] float (seven
        groups; training only): each cell's exact placement from the truth, as
        :meth:`~semcom.mtgc.cells.CellLayout.placements` gives it, instead of the one its
        beliefs imply (:meth:`_place`).
        """
        g = self.config.grid
        groups = self.config.groups
        n_shape, n_colour, n_size = groups[:3]
        b, k, _ = beliefs.shape
        pre = self._painter_prefix(painter)
        if placement is not None and not self.placed:
            raise ValueError("only a sketch with the seven placing groups takes a placement")
        templates, fills = getattr(self, pre + "templates"), getattr(self, pre + "fills")
        dtype = templates.dtype
        beliefs = beliefs.to(self.device, dtype)
        present = beliefs[..., 0]
        shape = beliefs[..., 1 : 1 + n_shape]
        colour = beliefs[..., 1 + n_shape : 1 + n_shape + n_colour]
        size_p = beliefs[..., 1 + n_shape + n_colour : 1 + n_shape + n_colour + n_size]
        joint = (shape.unsqueeze(-1) * size_p.unsqueeze(-2)).flatten(-2)  # [B,K,S·Z]
        alpha = torch.einsum("bkj,jhw->bkhw", joint, torch.sigmoid(PAINT_GAIN * templates))
        alpha = alpha * present[..., None, None]  # [B,K,w,w]
        fill = colour @ torch.sigmoid(PAINT_GAIN * fills)  # [B,K,3]
        side, win = self.config.canvas, self.config.window
        pattern = second = None
        if self.placed:
            lo = 1 + sum(groups[:3])
            texture = beliefs[..., lo : lo + groups[3]]
            patterns = torch.sigmoid(PAINT_GAIN * getattr(self, pre + "patterns"))
            pattern = torch.einsum("bkt,thw->bkhw", texture, patterns)
            second = colour @ torch.sigmoid(PAINT_GAIN * getattr(self, pre + "pattern_fills"))
            planes = torch.stack([alpha, pattern], 2)
            placed = self._place(planes, beliefs, shape, side / g, placement)
            alpha, pattern = placed.unbind(2)

        half = win // 2
        pad = side + win  # canvas with a margin of half a window on each side
        coverage = torch.zeros(b, pad, pad, device=self.device, dtype=dtype)
        log_clear = torch.zeros(b, pad, pad, device=self.device, dtype=dtype)
        paint = torch.zeros(b, 3, pad, pad, device=self.device, dtype=dtype)
        for cell in range(k):
            row, col = divmod(cell, g)
            cy = round((row + 0.5) * side / g)
            cx = round((col + 0.5) * side / g)
            a = alpha[:, cell]
            ys, xs = slice(cy, cy + win), slice(cx, cx + win)  # margin half cancels −half
            coverage[:, ys, xs] = coverage[:, ys, xs] + a
            log_clear[:, ys, xs] = log_clear[:, ys, xs] + torch.log1p(-a.clamp(max=1 - 1e-6))
            colours = fill[:, cell, :, None, None]
            if pattern is not None:
                p = pattern[:, cell].unsqueeze(1)
                colours = colours * (1 - p) + second[:, cell, :, None, None] * p
            tint = a.unsqueeze(1) * colours
            paint[:, :, ys, xs] = paint[:, :, ys, xs] + tint
        inner = slice(half, half + side)
        rgb = paint[:, :, inner, inner] / coverage[:, None, inner, inner].clamp_min(1e-6)
        cover = (1 - torch.exp(log_clear[:, inner, inner])).unsqueeze(1)
        rgb = rgb.clamp(0, 1)
        if size is not None and tuple(size) != (side, side):
            rgb = F.interpolate(rgb, size=size, mode="bilinear", align_corners=False)
            cover = F.interpolate(cover, size=size, mode="bilinear", align_corners=False)
        return rgb, cover

    def _place(
        self,
        planes: torch.Tensor,
        beliefs: torch.Tensor,
        shape: torch.Tensor,
        cell: float,
        placement: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Windows [B,K,C,w,w] moved by each cell's expected offset from its centre and turned
        by its expected angle (one affine map per cell; ``cell`` pixels a cell).

        The offsets are the row then column bins' expected centres; the angle is the
        rotation bins' circular mean as a part of the expected period of the cell's shape
        (``shape`` [B,K,S] beliefs), positive turning as the world's outlines do. With
        ``placement`` [B,K,4] (row and column pixels from the offset bins' centres, angle in
        radians, radius over the size class's middle radius) the bins' centres move by the
        first two, the angle is the third and the window is scaled by the fourth.
        """
        groups = self.config.groups
        n_row, n_col, n_rot = groups[4:7]
        lo = 1 + sum(groups[:4])
        b, k, c, w, _ = planes.shape
        shifts = []
        for p in (beliefs[..., lo : lo + n_row], beliefs[..., lo + n_row : lo + n_row + n_col]):
            centres = torch.arange(p.shape[-1], device=p.device, dtype=p.dtype) + 0.5
            shifts.append(((p * (centres / p.shape[-1])).sum(-1) - 0.5) * cell)  # [B,K] px
        dy, dx = shifts
        scale = torch.ones_like(dy)
        if placement is None:
            rot = beliefs[..., lo + n_row + n_col : lo + n_row + n_col + n_rot]
            phase = torch.arange(n_rot, device=rot.device, dtype=rot.dtype) + 0.5
            phase = 2 * torch.pi * phase / n_rot
            phase = torch.atan2((rot * torch.sin(phase)).sum(-1),
                                (rot * torch.cos(phase)).sum(-1))  # fmt: skip
            phase = torch.remainder(phase, 2 * torch.pi)  # a bin's centre maps to itself
            angle = phase / (2 * torch.pi) * (shape @ self.periods.to(shape))  # [B,K] radians
        else:
            exact = placement.to(dy)
            dy, dx = dy + exact[..., 0], dx + exact[..., 1]
            angle, scale = exact[..., 2], exact[..., 3]
        cos, sin = torch.cos(angle).reshape(-1), torch.sin(angle).reshape(-1)
        sx, sy = 2 * dx.reshape(-1) / w, 2 * dy.reshape(-1) / w
        # output pixel q (normalised, window centre 0) samples the template at R(−θ)(q − s)/z
        theta = torch.stack(
            [
                torch.stack([cos, sin, -(cos * sx + sin * sy)], -1),
                torch.stack([-sin, cos, -(-sin * sx + cos * sy)], -1),
            ],
            1,
        ) / scale.reshape(-1, 1, 1)
        grid = F.affine_grid(theta.to(planes.dtype), [b * k, c, w, w], align_corners=False)
        moved = F.grid_sample(planes.reshape(b * k, c, w, w), grid, align_corners=False)
        return moved.reshape(b, k, c, w, w)

    @staticmethod
    def composite(rgb: torch.Tensor, cover: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        """The sketch over ``background`` [B,3,H,W] in [0,1] → [B,3,H,W]."""
        return cover * rgb + (1 - cover) * background.to(rgb)

    def paint_loss(
        self,
        targets: torch.Tensor,
        images: torch.Tensor,
        masks: torch.Tensor,
        painter: str = "guide",
        placement: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """A painter's training loss on truth: coverage BCE against the object masks
        [B,1,H,W] bool and L1 of the fill on object pixels of ``images`` [B,3,H,W];
        ``placement`` [B,G²,4]: the truth's exact placement (:meth:`paint`)."""
        beliefs = self.target_beliefs(targets)
        rgb, cover = self.paint(beliefs, images.shape[-2:], painter, placement)
        m = masks.to(cover)
        bce = F.binary_cross_entropy(cover.clamp(1e-5, 1 - 1e-5), m)
        l1 = ((rgb - images.to(rgb)).abs() * m).sum() / (3 * m.sum()).clamp_min(1.0)
        return {"loss": bce + l1, "coverage_bce": bce, "fill_l1": l1}
