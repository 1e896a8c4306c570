"""The sender's own reading of a scene: what it expects the receiver's image to show.

The planner weighs each stream by what it is worth. For the streams whose decode the sender
can afford to run itself (:func:`~experiments.planning.sender.sender_values`), it knows the
receiver's pixels exactly; their semantic worth it estimates with its own *reader*: a
:class:`~semcom.metrics.semantic.SemanticProbe` trained apart from the scoring probe (other
training scenes and initialisation, dataset seed 1). ``weights/reader/probe_eval.json``
says how well it reads: F1 0.9996 on 2,000 clean test scenes, as the scoring probe. The
reader's objects of the original image stand in for the scene's truth, which the sender
never sees, and its objects of a decoded image are matched against them by the scoring
rule (:func:`~semcom.metrics.semantic.count_scene`).

Reproduce the shipped weights::

    python -m semcom.metrics.train_probe --out experiments/planning/weights/reader \\
        --work out/sender_reader --augment 0.5 --seed 1 --threads 1
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from semcom.errors import SemcomError

#: Where the shipped reader lives (config.json + diffusion_pytorch_model.safetensors).
READER_DIR = Path(__file__).parent / "weights" / "reader"
#: The command that trained it.
TRAIN_COMMAND = (
    "python -m semcom.metrics.train_probe --out experiments/planning/weights/reader "
    "--work out/sender_reader --augment 0.5 --seed 1 --threads 1"
)


@lru_cache(maxsize=1)
def load_reader():
    """The sender's reader (eval mode, CPU); one sentence when its weights are missing."""
    from semcom.metrics.semantic import load_probe

    try:
        return load_probe(READER_DIR)
    except SemcomError as err:
        raise SemcomError(
            f"the planner's reader is missing from {READER_DIR}; restore it or retrain it "
            f"with `{TRAIN_COMMAND}`."
        ) from err


def reader_figures(original: torch.Tensor, decoded: torch.Tensor) -> list[dict[str, float]]:
    """Per decoded image [N,3,H,W] in [0,1], the ``semantic`` metric's fields and ``f1`` as
    the sender expects them: the reader's objects of ``decoded`` against its objects of
    ``original`` [3,H,W] (in place of the scene's truth)."""
    from semcom.metrics.semantic import count_scene, image_fields
    from semcom.values import numeric_fields

    reader = load_reader()
    read = reader.read(torch.cat([original.unsqueeze(0), decoded]).float())
    truth = read[0]
    return [numeric_fields(image_fields(count_scene(truth, r))) for r in read[1:]]
