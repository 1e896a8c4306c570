"""Training data: rendered pools of a world's scenes (ShapesWorld or ShapesWorld-Complex),
batches, cached latents, the streams a receiver would see (captions, decoded HCI) and
per-pixel loss weights."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.data.captions import canonical_caption
from semcom.data.complex import ShapesWorldComplex
from semcom.data.shapes import ShapesWorld
from semcom.errors import SemcomError
from semcom.metrics.semantic import probe_targets
from semcom.mtgc.cells import CellLayout, cell_layout
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.streams.hci import downsample, upsample

#: The world (:mod:`semcom.worlds`) a model trains on unless its captioner reads another:
#: the decoder part records the pool's in the model's mtgc.json (``CodecConfig.world``).
WORLD = "shapes"


def training_world(codec: MTGC) -> str:
    """The world a model's parts train on: its captioner's cells' (tiny: ``shapes``,
    tiny-complex: ``shapes-complex``)."""
    layout = getattr(codec.captioner, "layout", None)
    return layout.world if layout is not None else WORLD


# -- data -------------------------------------------------------------------------------
@dataclass
class Pool:
    """Rendered training scenes of ``world``: images uint8 [N,3,128,128], per-cell targets
    int64 [N,G²,1+groups] (:mod:`semcom.mtgc.cells`; ShapesWorld [N,9,4]), object masks
    bool [N,1,128,128] (truth: training weights only) and, for ShapesWorld-Complex, each
    cell's exact placement float32 [N,G²,4] (:meth:`~semcom.mtgc.cells.CellLayout.placements`;
    None for ShapesWorld)."""

    images: torch.Tensor
    targets: torch.Tensor
    captions: list[str]
    canonical: list[str]
    masks: torch.Tensor
    world: str = WORLD
    placements: torch.Tensor | None = None

    @property
    def layout(self) -> CellLayout:
        """The world's per-cell reading (targets, losses)."""
        return cell_layout(self.world)

    def task_loss(self, logits: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The per-cell attribute loss of logits [B,G²,P] against scenes ``idx``' targets."""
        return self.layout.loss(logits, self.targets[idx])


def render_pool(n: int, seed: int, world: str = WORLD) -> Pool:
    """The first ``n`` scenes of training set ``seed`` of ``world`` (``shapes`` or
    ``shapes-complex``; a complex scene's caption is its concise one, in both lists)."""
    if world not in ("shapes", "shapes-complex"):
        raise SemcomError(f"no training scenes for the world {world!r}.")
    complex_world = world == "shapes-complex"
    data = (
        ShapesWorldComplex("train", n=n, seed=seed)
        if complex_world
        else ShapesWorld("train", n=n, seed=seed)
    )
    images = torch.empty((n, 3, 128, 128), dtype=torch.uint8)
    masks = torch.empty((n, 1, 128, 128), dtype=torch.bool)
    scenes, captions, canonical = [], [], []
    for i in range(n):
        item = data[i]
        images[i] = (item.image * 255).round().to(torch.uint8)
        masks[i, 0] = item.labels >= 0
        scenes.append(item.objects)
        captions.append(item.caption)
        canonical.append(item.caption if complex_world else canonical_caption(item.objects))
    if complex_world:
        layout = cell_layout(world)
        targets, placements = layout.targets(scenes), layout.placements(scenes)
        return Pool(images, targets, captions, canonical, masks, world, placements)
    return Pool(images, probe_targets(scenes), captions, canonical, masks)


def batches(n: int, batch: int, seed: int, start: int) -> Iterator[tuple[int, torch.Tensor]]:
    """(step, indices) from ``start`` on; epoch orders depend on (seed, epoch) only."""
    per_epoch = max(1, n // batch)
    step = start
    while True:
        epoch, pos = divmod(step, per_epoch)
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(n, generator=gen)
        yield step, order[pos * batch : (pos + 1) * batch]
        step += 1


def _captions(pool: Pool, idx: torch.Tensor, gen: torch.Generator, p_canon: float, p_drop: float):
    r = torch.rand(len(idx), 2, generator=gen)
    out = []
    for j, i in enumerate(idx.tolist()):
        text = pool.canonical[i] if r[j, 0] < p_canon else pool.captions[i]
        out.append("" if r[j, 1] < p_drop else text)
    return out


def _hci(codec: MTGC, images: torch.Tensor, gen: torch.Generator, factors: tuple[int, ...]):
    """What the receiver's decoded HCI looks like: [B,3,H,W] in [0,1] (no gradients)."""
    learned = codec.hci.learned
    h, w = images.shape[-2:]
    out = torch.empty_like(images)
    choice = torch.randint(0, len(factors), (len(images),), generator=gen)
    quality = torch.randint(0, len(learned.config.gains), (len(images),), generator=gen)
    with torch.no_grad():
        learned.eval()
        for j in range(len(images)):
            small = downsample(images[j : j + 1], factors[int(choice[j])])
            x_hat = learned(small, int(quality[j]))["x_hat"].clamp(0, 1)
            out[j] = upsample(x_hat, h, w)[0]
    return out


def cached_latents(codec: MTGC, pool: Pool, work: Path, log: Callable[[str], None]):
    """:func:`encode_latents` of the pool, cached in ``work`` per VAE weights and pool."""
    from safetensors.torch import load_file, save_file

    # the scaling factor is config, not state: it is part of what the latents depend on
    crc = zlib.crc32(repr(float(codec.mgdd.vae.config.scaling_factor)).encode())
    for key, tensor in sorted(codec.mgdd.vae.state_dict().items()):
        crc = zlib.crc32(key.encode(), crc)
        crc = zlib.crc32(tensor.detach().contiguous().view(torch.uint8).numpy().tobytes(), crc)
    crc = zlib.crc32(pool.images[:: max(1, len(pool.images) // 64)].numpy().tobytes(), crc)
    path = work / f"latents-{len(pool.images)}-{crc:08x}.safetensors"
    if path.is_file():
        return load_file(str(path))["latents"]
    t0 = time.time()
    latents = encode_latents(codec, pool.images)
    work.mkdir(parents=True, exist_ok=True)
    save_file({"latents": latents.contiguous()}, str(path.with_suffix(".tmp")))
    path.with_suffix(".tmp").replace(path)
    log(f"encoded {len(latents)} latents in {time.time() - t0:.0f} s")
    return latents


def encode_latents(codec: MTGC, images: torch.Tensor, batch: int = 32) -> torch.Tensor:
    """uint8 [N,3,H,W] → the VAE latents the diffusion model works on (float32)."""
    chunks = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            chunks.append(codec.mgdd.encode_latents(images[i : i + batch].float() / 255).float())
    return torch.cat(chunks)


def object_weights(masks: torch.Tensor, scale: int, weight: float) -> torch.Tensor:
    """Object masks bool [N,1,H,W] → loss weights [N,1,H/s,W/s] (1 + (w−1)·coverage).

    Normalised to mean 1 per image so the loss keeps its scale.
    """
    chunks = []
    for i in range(0, len(masks), 512):
        cover = F.avg_pool2d(masks[i : i + 512].float(), scale) if scale > 1 else masks[i : i + 512]
        w = 1 + (weight - 1) * cover.float()
        chunks.append(w / w.mean(dim=(1, 2, 3), keepdim=True))
    return torch.cat(chunks)
