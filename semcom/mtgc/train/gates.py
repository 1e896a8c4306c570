"""Quick measurements each part writes into ``training.json`` (its gates), and the choice
of decoding settings."""

from __future__ import annotations

import math

import numpy as np
import torch

from semcom.data.complex import ShapesWorldComplex
from semcom.data.shapes import ShapesWorld
from semcom.errors import SemcomError
from semcom.metrics.pixel import psnr as pixel_psnr
from semcom.mtgc.cells import cell_layout
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.streams.hci import downsample
from semcom.mtgc.train.config import SAMPLING_CANDIDATES
from semcom.mtgc.train.data import WORLD, training_world
from semcom.mtgc.train.inputs import TaskHead


# -- quick measurements written into training.json ------------------------------------
def _val_items(seed: int, n: int, world: str) -> list:
    """The first ``n`` validation scenes of ``world`` (data set seed ``seed``)."""
    if world == "shapes-complex":
        data = ShapesWorldComplex("val", n=n, seed=seed)
    else:
        data = ShapesWorld("val", n=n, seed=seed)
    return [data[i] for i in range(n)]


def _val_pool(seed: int, n: int = 300, world: str = WORLD) -> tuple[torch.Tensor, list]:
    """Validation images [N,3,128,128] in [0,1] and their true objects."""
    items = _val_items(seed, n, world)
    return torch.stack([it.image for it in items]), [it.objects for it in items]


def _captioner_accuracy(cap, seed: int, n: int) -> dict[str, float]:
    """The captioner on ``n`` validation scenes of its world: object F1 and count accuracy
    (ShapesWorld, by the semantic metric's matching); for ShapesWorld-Complex the cells'
    F1 and accuracies (:meth:`~semcom.mtgc.cells.CellLayout.scores`) and the share of
    captions equal to the truth's concise caption."""
    from semcom.metrics.semantic import semantic_scores

    world = cap.layout.world
    items = _val_items(seed, n, world)
    images = torch.stack([it.image for it in items])
    scenes = [it.objects for it in items]
    if world == "shapes":
        with torch.no_grad():
            read = cap.scenes(images)
        s = semantic_scores(scenes, read)
        return {"val_f1": round(s.f1, 4), "val_count_accuracy": round(s.count_accuracy, 4)}
    with torch.no_grad():
        logits = cap(images)
    scores = cap.layout.scores(logits, cap.layout.targets(scenes))
    report = {f"val_cell_{k}": round(v, 4) for k, v in scores.items()}
    report["val_f1"] = report.pop("val_cell_f1")
    same = [a == it.caption for a, it in zip(cap.layout.captions(logits), items, strict=True)]
    report["val_caption_exact"] = round(sum(same) / len(same), 4)
    return report


def _hci_rates(codec: MTGC, seed: int, n: int) -> dict[str, float]:
    """Mean real HCI bits and PSNR of the downsampled image at f = 8, q = 0 / 8 / 15."""
    images, _ = _val_pool(seed, min(n, 64), training_world(codec))
    return hci_rate_table(codec.hci.learned, downsample(images, 8), "f8")


def hci_rate_table(
    learned, small: torch.Tensor, prefix: str, qualities: tuple[int, ...] = (0, 8, 15)
) -> dict[str, float]:
    """Real bits (entropy-coded bytes that decode back) and PSNR of a learned HCI codec on
    downsampled images ``small`` [N,3,h,w] in [0,1] at each quality:
    ``{prefix}_q{q}_bits`` (mean per image) and ``{prefix}_q{q}_psnr`` (dB)."""
    out = {}
    h, w = small.shape[-2:]
    for q in qualities:
        payloads = learned.compress(small, q)
        rec = torch.cat([learned.decompress(p, h, w, q) for p in payloads])
        psnr = -10 * torch.log10(((rec - small) ** 2).mean((1, 2, 3))).mean()
        out[f"{prefix}_q{q}_bits"] = round(8 * float(np.mean([len(p) for p in payloads])), 1)
        out[f"{prefix}_q{q}_psnr"] = round(float(psnr), 2)
    return out


def _encode_val(codec: MTGC, images: torch.Tensor) -> tuple[list, int]:
    """Validation scenes [N,3,H,W] → (bitstreams at 0.05 bpp, how many are over it).

    An image whose caption and SPWs leave no HCI option within 0.05 bpp goes with its
    fewest HCI bits (``or_smallest``) and is counted: that happens while the SPWs are still
    packed raw, before a recipe's ``spw_code`` part has fitted their entropy model
    (tiny-complex's decoder gate, whose raw 512-bit SPWs leave 819 bits too few for some
    scenes)."""
    sent = []
    for i in range(0, len(images), 16):
        sent += codec.encode(images[i : i + 16], target_bpp=0.05, or_smallest=True)
    budget = math.floor(0.05 * images.shape[-2] * images.shape[-1])
    return sent, sum(bs.payload_bits > budget for bs in sent)


def _semantic(images: torch.Tensor, scenes: list) -> dict[str, float]:
    """The world's reader's reading of images [B,3,H,W] against their scenes (the probe
    for ShapesWorld, the detector for ShapesWorld-Complex): F1, accuracies."""
    from semcom.metrics.readers import cached_reader, reader_kind
    from semcom.metrics.semantic import semantic_metrics

    if reader_kind([o for scene in scenes for o in scene]) == "complex":
        from semcom.metrics.detector import detection_scores

        detector, why = cached_reader("complex")
        if detector is None:
            raise SemcomError(why)
        with torch.no_grad():
            read = detector.read(images.float().clamp(0, 1))
        d, _ = detection_scores(scenes, read)
        return {
            k: round(d[k], 4)
            for k in ("f1", "semantic_accuracy", "shape_accuracy", "colour_accuracy")
        } | {"hallucination_rate": round(d["hallucination_rate"], 4)}
    s, _ = semantic_metrics(images, scenes)
    return {
        "f1": round(s.f1, 4),
        "semantic_accuracy": round(s.semantic_accuracy, 4),
        "shape_accuracy": round(s.shape_accuracy, 4),
        "colour_accuracy": round(s.colour_accuracy, 4),
        "hallucination_rate": round(s.hallucination_rate, 4),
    }


#: Solid colours the autoencoder must keep (sRGB 0–255): black, white, mid-grey and the
#: named colours' primaries.
SOLID_COLOURS = (
    (0, 0, 0),
    (255, 255, 255),
    (128, 128, 128),
    (220, 30, 30),
    (30, 170, 50),
    (30, 60, 220),
    (240, 220, 20),
    (20, 210, 220),
)


def _vae_gates(codec: MTGC, seed: int, n: int) -> dict[str, float | bool]:
    """Autoencoder gates: round-trip PSNR, the reader on round trips, solid colours."""
    images, scenes = _val_pool(seed, n, training_world(codec))
    mg = codec.mgdd
    with torch.no_grad():
        rec = torch.cat(
            [mg.decode_latents(mg.encode_latents(images[i : i + 32])) for i in range(0, n, 32)]
        )
        solid = torch.tensor(SOLID_COLOURS, dtype=torch.float32).view(-1, 3, 1, 1) / 255
        solid = solid.expand(-1, 3, 64, 64)
        solid_rec = mg.decode_latents(mg.encode_latents(solid))
    psnr = float(pixel_psnr(images, rec).mean())
    colour_err = float((solid_rec.mean((2, 3)) - solid[:, :, 0, 0]).abs().max() * 255)
    sem = _semantic(rec, scenes)
    return {
        "val_psnr": round(psnr, 2),
        "val_probe_accuracy": sem["semantic_accuracy"],
        "val_probe_f1": sem["f1"],
        "solid_colour_max_error_255": round(colour_err, 2),
        "gate_psnr_30db": psnr >= 30,
        "gate_probe_0.97": sem["semantic_accuracy"] >= 0.97,
        "gate_solid_5": colour_err <= 5,
    }


def decoder_gates(codec: MTGC, seed: int, n: int, steps: int = 10) -> dict[str, float]:
    """Decode ``n`` validation scenes from every stream and from each alone; the probe's
    F1 and semantic accuracy of each (the decoder's gates in training.json)."""
    images, scenes = _val_pool(seed, n, training_world(codec))
    sent, over = _encode_val(codec, images)
    out: dict[str, float] = {"gate_scenes": n, "gate_steps": steps}
    if over:
        out["gate_scenes_over_0.05bpp"] = over
    for name, keep in (
        ("full", ("caption", "hci", "spw")),
        ("caption", ("caption",)),
        ("spw", ("spw",)),
        ("hci", ("hci",)),
    ):
        rec = codec.decode([bs.keeping(*keep) for bs in sent], steps=steps, max_batch=16)
        for k, v in _semantic(rec, scenes).items():
            if k in ("f1", "semantic_accuracy", "shape_accuracy"):
                out[f"val_{name}_{k}"] = v
    return out


def spw_indices(codec: MTGC, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """SPW indices int64 [N,K] of ``images`` (uint8, or float in [0,1], [N,3,H,W]) as the
    encoder sends them, ``batch`` images at a time."""
    out = []
    for i in range(0, len(images), batch):
        x = images[i : i + batch]
        out.append(codec.spw_indices(x.float() / 255 if x.dtype == torch.uint8 else x.float()))
    return torch.cat(out)


def spw_code_gates(codec: MTGC, seed: int, n: int) -> dict[str, float]:
    """The SPW stream on ``n`` validation scenes: mean bits an image packed raw
    (``spw_bits_raw``), as coded (``spw_bits_coded``) and the entropy model's ideal length
    (``spw_bits_ideal``), and whether every image's SPWs decode back
    (``spw_decodes_exactly``)."""
    coder = codec.spw
    images, _ = _val_pool(seed, n, training_world(codec))
    rows = spw_indices(codec, images)
    payloads = [coder.encode(row) for row in rows]
    exact = all(torch.equal(coder.decode(p), row) for p, row in zip(payloads, rows, strict=True))
    out = {
        "spw_bits_raw": float(coder.k * coder.bits),
        "spw_bits_coded": float(np.mean([8 * len(p) for p in payloads])),
        "spw_decodes_exactly": float(exact),
        "spw_val_scenes": float(n),
    }
    if coder.model is not None:
        out["spw_bits_ideal"] = float(coder.model.bits(rows.numpy()).mean())
    return out


def sketch_gates(codec: MTGC, seed: int, n: int) -> dict[str, float]:
    """How well the sketch carries the scene on validation scenes: the caption reader's
    and SPW reader's F1 (ShapesWorld-Complex: per cell), and the world's reader's reading
    of sketches (over grey) painted from the truth, from the SPWs alone and from the
    caption alone; with an overlay painter, also its sketches of the truth and of the SPWs
    (``overlay_truth``, ``overlay_spw``)."""
    from semcom.metrics.semantic import decode_logits, semantic_scores

    sk = codec.sketch
    assert sk is not None
    world = training_world(codec)
    layout = cell_layout(world)
    items = _val_items(seed, n, world)
    images = torch.stack([it.image for it in items])
    scenes = [it.objects for it in items]
    targets = layout.targets(scenes)
    grey = torch.full_like(images, 0.5)
    yes = torch.ones(n, dtype=torch.bool)
    out: dict[str, float] = {}
    with torch.no_grad():
        spw = sk.read_spw(codec.tascm.embed(codec.tascm.indices(images)))
        cap = sk.read_caption(codec.text_encoder.tokenizer([it.caption for it in items]))
        for name, logits in (("spw", spw), ("caption", cap)):
            if world == "shapes":
                f1 = semantic_scores(scenes, decode_logits(logits)).f1
            else:
                f1 = layout.scores(logits, targets)["f1"]
            out[f"val_{name}_reader_f1"] = round(f1, 4)
        truth = sk.paint(sk.target_beliefs(targets), images.shape[-2:])
        painted = {"truth": sk.composite(*truth, grey)}
        painted["spw"] = sk.guide_image(spw, yes, None, ~yes, grey)[0]
        painted["caption"] = sk.guide_image(None, ~yes, cap, yes, grey)[0]
        if sk.config.overlay_painter:  # what the receiver lays over its images
            truth = sk.paint(sk.target_beliefs(targets), images.shape[-2:], "overlay")
            painted["overlay_truth"] = sk.overlay(*truth, grey)
            drawn = sk.draw(spw, yes, None, ~yes, grey, "overlay")
            painted["overlay_spw"] = sk.overlay(*drawn, grey)
    for name, img in painted.items():
        sem = _semantic(img, scenes)
        out[f"val_sketch_{name}_semantic_accuracy"] = sem["semantic_accuracy"]
        out[f"val_sketch_{name}_shape_accuracy"] = sem["shape_accuracy"]
        out[f"val_sketch_{name}_f1"] = sem["f1"]
    out["gate_caption_reader_f1_0.97"] = out["val_caption_reader_f1"] >= 0.97
    out["gate_sketch_truth_0.95"] = out["val_sketch_truth_semantic_accuracy"] >= 0.95
    return out


def _tascm_task_accuracy(
    tascm, head: TaskHead, seed: int, n: int, world: str = WORLD
) -> dict[str, float]:
    """How much of the scene the quantised SPWs carry: the task head's val F1
    (ShapesWorld-Complex: per cell, with each group's accuracy)."""
    from semcom.metrics.semantic import decode_logits, semantic_scores

    images, scenes = _val_pool(seed, n, world)
    with torch.no_grad():
        logits = head(tascm.embed(tascm.indices(images)))
    if world == "shapes":
        s = semantic_scores(scenes, decode_logits(logits))
        return {"val_task_f1": round(s.f1, 4)}
    layout = cell_layout(world)
    scores = layout.scores(logits, layout.targets(scenes))
    report = {f"val_task_{k}": round(v, 4) for k, v in scores.items()}
    return report


def choose_sampling(
    codec: MTGC, seed: int, n: int, log=print, overlay: bool = False
) -> dict[str, float]:
    """Pick (steps, guidance, init strength, hci_lowpass, sketch_overlay) on ``n``
    validation scenes.

    The strict metric first: candidates whose full-codec object F1 lies within 1.96
    binomial standard errors (over the true objects) of the best are tied, and the tie
    goes to the highest semantic accuracy, then to the earlier (cheaper) candidate. Every
    candidate's scores go into the report. ``hci_lowpass`` is tried off and at the HCI's
    factor; with ``overlay`` and a scene sketch, every sample is scored as it is and with
    the sketch laid over it (:func:`~semcom.mtgc.receiver.overlay_sketch`, key suffix
    ``_ov``); without, ``sketch_overlay`` is chosen off.
    """
    from semcom.mtgc.receiver import overlay_sketch

    images, scenes = _val_pool(seed, n, training_world(codec))
    objects = max(1, sum(len(s) for s in scenes))
    sent, over = _encode_val(codec, images)
    decoded = [codec.decode_streams(bs) for bs in sent]
    factor = codec.config.hci_factor
    lowpass_before = codec.config.hci_lowpass
    overlay_before = codec.config.sketch_overlay
    strength_before = codec.mgdd.config.init_strength
    guided = bool(codec.mgdd.config.guide_channels)
    report: dict[str, float] = {"scenes": n, "objects": objects}
    if over:
        report["scenes_over_0.05bpp"] = over
    tried: list[tuple[float, float, int, float, float, int, bool]] = []
    codec.config.sketch_overlay = False
    try:
        for steps, scale, strength in SAMPLING_CANDIDATES:
            if strength < 1.0 and not guided:
                continue  # a start from the sketch needs a decoder that reads one
            codec.mgdd.config.init_strength = strength
            for lowpass in (0, factor):
                codec.config.hci_lowpass = lowpass
                rec = codec.decode(sent, steps=steps, guidance_scale=scale, max_batch=16)
                samples = [(False, rec)]
                if overlay and codec.sketch is not None:
                    samples.append((True, overlay_sketch(codec, decoded, rec)))
                for laid, image in samples:
                    sem = _semantic(image, scenes)
                    key = f"s{steps}_g{scale:g}_i{strength:g}_lp{lowpass}" + "_ov" * laid
                    report[f"{key}_f1"] = sem["f1"]
                    report[f"{key}_semantic_accuracy"] = sem["semantic_accuracy"]
                    log(
                        f"sampling: {key} F1 {sem['f1']} "
                        f"semantic accuracy {sem['semantic_accuracy']}"
                    )
                    tried.append(
                        (sem["f1"], sem["semantic_accuracy"], steps, scale, strength, lowpass,
                         laid)
                    )  # fmt: skip
    finally:
        codec.config.hci_lowpass = lowpass_before
        codec.config.sketch_overlay = overlay_before
        codec.mgdd.config.init_strength = strength_before
    top = max(t[0] for t in tried)
    margin = 1.96 * math.sqrt(max(top * (1 - top), 1e-4) / objects)
    tied = [t for t in tried if t[0] >= top - margin]
    best = max(tied, key=lambda t: t[1])  # max keeps the first of equals
    report.update(
        {
            "f1_tie_margin": round(margin, 4),
            "val_f1": best[0],
            "val_semantic_accuracy": best[1],
            "num_inference_steps": best[2],
            "guidance_scale": best[3],
            "init_strength": best[4],
            "hci_lowpass": best[5],
            "sketch_overlay": best[6],
        }
    )
    return report
