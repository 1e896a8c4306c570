"""Warm starts: a new model begins from a trained one's weights wherever they fit.

``TrainConfig.init_from`` names a preset (its shipped weights) or a model directory.
Before any part trains, :func:`warm_start` copies into the new model every tensor of the
autoencoder, HCI codec, UNet, ControlNet, text encoder and captioner whose name and shape
match; the text encoder's word embeddings are copied row by row for the words both
vocabularies hold. What does not fit (a captioner head over other cells, TASCM's queries
and codebook, the sketch's templates) keeps its fresh initialisation. The copy is
recorded under ``init`` in the model's training.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from semcom.errors import SemcomError
from semcom.mtgc.pipeline import MTGC


def load_source(name: str) -> MTGC:
    """The model ``name`` names: a preset's shipped weights (``tiny``) or a directory."""
    import warnings

    from semcom.mtgc.presets import PRESETS, load_codec

    if name in PRESETS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an untrained stand-in is no warm start
            try:
                return load_codec(name)
            except UserWarning as err:
                raise SemcomError(f"init_from {name}: {err}") from err
    path = Path(name)
    if not (path / "mtgc.json").is_file():
        raise SemcomError(
            f"init_from {name!r} is neither a preset nor a model directory (no mtgc.json)."
        )
    return MTGC.from_pretrained(path)


def _copy_matching(target: nn.Module | None, source: nn.Module | None) -> tuple[int, int]:
    """Copy source's tensors into target's where name and shape match; (copied, total)."""
    if target is None or source is None:
        return 0, 0
    ours, theirs = target.state_dict(), source.state_dict()
    fits = {k: v for k, v in theirs.items() if k in ours and ours[k].shape == v.shape}
    target.load_state_dict(fits, strict=False)
    return len(fits), len(ours)


def _copy_words(target: MTGC, source: MTGC) -> int:
    """Copy the word embeddings of the words both tokenizers know; the number copied."""
    vocab_t = getattr(target.text_encoder.tokenizer, "vocab", None)
    vocab_s = getattr(source.text_encoder.tokenizer, "vocab", None)
    if vocab_t is None or vocab_s is None:
        return 0
    emb_t = target.text_encoder.model.get_input_embeddings().weight
    emb_s = source.text_encoder.model.get_input_embeddings().weight
    if emb_t.shape[1] != emb_s.shape[1]:
        return 0
    index = {w: i for i, w in enumerate(vocab_s)}
    pairs = [(i, index[w]) for i, w in enumerate(vocab_t) if w in index]
    with torch.no_grad():
        for i, j in pairs:
            emb_t[i] = emb_s[j]
    return len(pairs)


def warm_start(codec: MTGC, source: MTGC) -> dict[str, float]:
    """Copy ``source``'s fitting weights into ``codec``; per component the share of its
    tensors copied (``<name>_share``) and the words whose embeddings were copied."""
    pairs = {
        "vae": (codec.mgdd.vae, source.mgdd.vae),
        "hci": (codec.hci.learned, source.hci.learned),
        "unet": (codec.mgdd.unet, source.mgdd.unet),
        "controlnet": (codec.mgdd.controlnet, source.mgdd.controlnet),
        "text_encoder": (codec.text_encoder.model, source.text_encoder.model),
        "captioner": (codec.captioner, source.captioner),
    }
    report: dict[str, float] = {}
    for name, (target, src) in pairs.items():
        copied, total = _copy_matching(target, src)
        report[f"{name}_share"] = round(copied / total, 4) if total else 0.0
    report["words"] = _copy_words(codec, source)
    if codec.mgdd.vae is not None and source.mgdd.vae is not None:
        factor = float(source.mgdd.vae.config.scaling_factor)
        codec.mgdd.vae.register_to_config(scaling_factor=factor)
    return report


def record_init(out: Path, name: str, report: dict[str, float]) -> None:
    """Write the warm start into ``out/training.json`` under ``init``."""
    path = out / "training.json"
    data = json.loads(path.read_text()) if path.is_file() else {"parts": {}}
    data["init"] = {"from": name, **report}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
