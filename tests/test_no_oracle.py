"""No oracle: the transmitter sees the image only. ShapesWorld's caption grammar (ground
truth) is made to raise, and `semcom transmit`, a sweep and `semcom evaluate` still run,
sending the captioner's text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from semcom.data import captions as grammar
from tests._mtgc import single_thread, small_codec  # noqa: F401
from tests.conftest import run_cli

#: The caption grammar: the captioner writes its own reading with it (legitimate); called
#: on a scene's ground-truth objects it is an oracle.
GRAMMAR = ("canonical_caption", "caption_for")


@pytest.fixture
def truth_captions_raise(monkeypatch):
    """ShapesWorld's captions of a scene raise, and so does the caption grammar wherever a
    loaded semcom module calls it on a scene's ground-truth objects (the very list a
    ShapesWorld item holds); on anything else (the captioner's reading) it works."""
    from semcom.data import shapes

    handed_out: list[list] = []  # kept alive, so their ids stay theirs
    get_item = shapes.ShapesWorld.__getitem__

    def getitem(self, index):
        item = get_item(self, index)
        handed_out.append(item.objects)
        return item

    def refuse(_self=None):
        raise AssertionError("the ground-truth caption was read by the pipeline")

    monkeypatch.setattr(shapes.ShapesWorld, "__getitem__", getitem)
    monkeypatch.setattr(shapes.ShapesItem, "caption", property(refuse))
    monkeypatch.setattr(shapes.ShapesItem, "canonical_caption", property(refuse))

    def guarded(original):
        def call(scene, *args, **kwargs):
            if any(scene is truth for truth in handed_out):
                refuse()
            return original(scene, *args, **kwargs)

        return call

    for name in GRAMMAR:
        original = getattr(grammar, name)
        ours = ("semcom", "experiments", "channels")
        for module in list(sys.modules.values()):
            mine = getattr(module, "__name__", "").startswith(ours)
            if mine and getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, guarded(original))
    return handed_out


def _weights(tmp_path: Path) -> Path:
    weights = tmp_path / "model"
    small_codec(0).save_pretrained(weights)
    return weights


def test_the_fixture_does_refuse_the_truth(truth_captions_raise) -> None:
    from semcom.data.shapes import ShapesWorld

    item = ShapesWorld("test", n=1, seed=0)[0]
    assert item.image.shape == (3, 128, 128)  # images and objects stay available
    with pytest.raises(AssertionError, match="ground-truth caption"):
        _ = item.caption
    with pytest.raises(AssertionError, match="ground-truth caption"):
        _ = item.canonical_caption
    with pytest.raises(AssertionError, match="ground-truth caption"):
        grammar.canonical_caption(item.objects)
    assert grammar.canonical_caption(list(item.objects))  # a reading, not the truth


@pytest.mark.slow
def test_transmit_sends_the_captioners_text(tmp_path, capsys, truth_captions_raise) -> None:
    from semcom.codecs.mtgc import MTGCCodec
    from semcom.data.shapes import ShapesWorld
    from semcom.imageio import save_image

    weights = _weights(tmp_path)
    image = ShapesWorld("test", n=1, seed=0)[0].image
    src = tmp_path / "in.png"
    save_image(image, src)
    args = ["transmit", str(src), "-o", str(tmp_path / "out.png"), "--weights", str(weights)]
    code, _, err = run_cli([*args, "--snr-db", "20", "--budget-cpp", "0.5", "--json"], capsys)
    assert code == 0, err
    # what the transmitter puts on the caption stream is the captioner's reading
    codec = MTGCCodec(weights=weights)
    sent = codec.encode(image)
    payload = next(s for s in sent.streams if s.name == "caption").options[0].payload
    said = codec.model.captions_for(image.unsqueeze(0))[0]
    assert codec.model.caption_coder.decode(payload) == said


def test_a_sweep_and_evaluate_run_without_the_truth(tmp_path, truth_captions_raise) -> None:
    from experiments.config import parse_config
    from experiments.evaluation import EvalConfig, evaluate
    from experiments.sweep import run_sweep

    weights = _weights(tmp_path)
    cfg = parse_config(
        {
            "name": "no-oracle",
            "dataset": {"split": "test", "n": 1, "size": 128, "seed": 0},
            "codecs": ["mtgc", "webp"],
            "channels": ["awgn"],
            "snr_db": [20],
            "budget_cpp": [0.4],
            "trials": 1,
            "save_images": 0,
        }
    )
    report = run_sweep(cfg, tmp_path / "sweep", progress=False, weights=weights)
    assert report.points_written == 2
    summaries, results, _ = evaluate(
        EvalConfig(
            codecs=("mtgc", "mtgc-caption", "webp"),
            n=2,
            batch=2,
            bootstrap=10,
            weights=str(weights),
        )
    )
    assert [s["codec"] for s in summaries] == ["mtgc", "mtgc-caption", "webp"]
    assert torch.isfinite(results["mtgc"].images).all()
    # the oracle variant is the one place ground truth is sent, and it is refused here
    with pytest.raises(AssertionError, match="ground-truth caption"):
        evaluate(
            EvalConfig(codecs=("mtgc-oracle",), n=1, batch=1, bootstrap=10, weights=str(weights))
        )
