"""What the decoder and TASCM see in training, built as the receiver builds it: the
cross-attention context, layout vectors, the scene sketch's guide planes; the task head
and the captioner-initialised TASCM."""

from __future__ import annotations

import torch
from torch import nn

from semcom.data.captions import CELLS
from semcom.metrics.semantic import PER_CELL
from semcom.mtgc.cells import cell_layout
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.receiver import sketch_guide
from semcom.mtgc.sketch import CellReader
from semcom.mtgc.train.data import training_world


def _context(codec: MTGC, texts: list[str], spw: torch.Tensor | None, grad: bool) -> torch.Tensor:
    """Caption tokens [B,L,D] (with or without gradients) followed by SPW tokens [B,K,D]."""
    model = codec.text_encoder.model
    ids = codec.text_encoder.tokenizer(texts).to(next(model.parameters()).device)
    with torch.set_grad_enabled(grad):
        tokens = model(input_ids=ids).last_hidden_state
    if spw is None:
        spw = codec.tascm.null(len(texts)).detach()
    return torch.cat([tokens, spw.to(tokens)], dim=1)


def _layout(codec: MTGC, layout: torch.Tensor | None, drop: torch.Tensor) -> torch.Tensor | None:
    """SPW layout vectors [B,K,D] with the dropped images' (drop [B,1,1]) set to the null."""
    if layout is None:
        return None
    return torch.where(drop, codec.tascm.null_layout(layout.shape[0]).to(layout), layout)


def _guide(
    codec: MTGC,
    texts: list[str],
    spw: torch.Tensor,
    spw_present: torch.Tensor,
    hci: torch.Tensor,
    hci_present: torch.Tensor,
) -> torch.Tensor | None:
    """The decoder's guide planes for a training batch (None without a scene sketch), as
    the receiver builds them: the sketch of the present caption (non-empty ``texts``) and
    SPW tokens [B,K,D] (``spw_present`` [B]) over the HCI where present, else grey."""
    if codec.sketch is None or not codec.mgdd.config.guide_channels:
        return None
    captions = [t or None for t in texts]  # a dropped caption is an absent one
    guide, _ = sketch_guide(
        codec, captions, spw.float(), spw_present, hci, hci_present, tuple(hci.shape[-2:])
    )
    return guide.float()


class TaskHead(CellReader):
    """SPW embeddings [B,K,D] → per-cell attribute logits [B,cells,out] (training only;
    ShapesWorld: [B,9,PER_CELL]).

    Nine learned cell queries attend to the K tokens (as the decoder's spatial queries
    do through cross-attention), so the SPWs learn a code that attention can read. A
    model with a scene sketch trains the sketch's SPW reader in its place.
    """

    def __init__(
        self, d: int, heads: int = 4, out: int = PER_CELL, cells: int = len(CELLS)
    ) -> None:
        super().__init__(d, out, cells, heads)


def task_head(codec: MTGC) -> CellReader:
    """The SPW reader TASCM's task loss trains: the sketch's, else a fresh TaskHead over
    the cells of the model's world."""
    if codec.sketch is not None:
        return codec.sketch.spw_reader
    layout = cell_layout(training_world(codec))
    return TaskHead(codec.tascm.config.context_dim, out=layout.per_cell, cells=layout.cells)


def init_from_captioner(codec: MTGC) -> bool:
    """Start TASCM's CNN from the trained captioner's convolutions where the layers match.

    Both sit at the transmitter and read the same image; the captioner (trained first, on
    the same attribute loss) has learnt to see the shapes, which TASCM's task loss then
    adapts; with TASCM's ``cell_patch``, its cell reading starts from the captioner's when
    the two match. Returns whether the weights were copied.
    """
    cnn, cap = codec.tascm.cnn, getattr(codec.captioner, "body", None)
    if cnn is None or cap is None:
        return False
    ours = [m for m in cnn if isinstance(m, (nn.Conv2d, nn.GroupNorm))]
    convs = []  # the captioner's image convolutions: the layers before its per-cell pooling
    for m in cap:
        if isinstance(m, nn.AdaptiveAvgPool2d):
            break
        convs.append(m)
    theirs = [m for m in convs if isinstance(m, (nn.Conv2d, nn.GroupNorm))]
    if len(theirs) > len(ours) or not _same_layers(ours[: len(theirs)], theirs):
        return False
    pairs = list(zip(ours, theirs, strict=False))
    after = [m for m in cap[len(convs) + 1 :] if isinstance(m, (nn.Conv2d, nn.GroupNorm))]
    read = getattr(codec.tascm, "cell_read", None)
    cell = [m for m in read if isinstance(m, (nn.Conv2d, nn.GroupNorm))] if read else []
    if _same_layers(cell, after):  # else the captioner reads its cells otherwise
        pairs += list(zip(cell, after, strict=True))
    with torch.no_grad():
        for a, b in pairs:
            a.load_state_dict(b.state_dict())
    return True


def _same_layers(ours: list[nn.Module], theirs: list[nn.Module]) -> bool:
    """Whether two lists of layers pair up one to one with the same types and shapes."""
    return len(ours) == len(theirs) and all(
        type(a) is type(b) and a.weight.shape == b.weight.shape
        for a, b in zip(ours, theirs, strict=True)
    )
