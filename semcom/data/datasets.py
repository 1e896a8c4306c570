"""The named synthetic data sets (``--dataset NAME``, ``dataset: {name: NAME}``).

Each is deterministic from (split, n, size, seed), shares ShapesWorld's splits and dataset
seeds (:data:`semcom.data.shapes.SPLITS`) and yields items with ``image`` [3,H,W] float32
in [0,1], ``objects`` (the truth, for training and scoring only), ``labels`` and a ground
truth ``caption``. A folder of the user's own images is ``folder:PATH``
(:mod:`semcom.data.folder`), not a name here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Data set name → one-line description.
DATASETS: dict[str, str] = {
    "shapes": "ShapesWorld: 1-4 flat shapes on a 3x3 grid over a muted texture",
    "shapes-complex": "ShapesWorld-Complex: 3-10 rotated, textured, overlapping shapes "
    "at any position over a cluttered texture",
}


def dataset_names() -> tuple[str, ...]:
    """The named data sets."""
    return tuple(DATASETS)


def make_dataset(name: str, split: str, n: int, size: int = 128, seed: int = 0) -> Sequence[Any]:
    """The data set ``name`` (one of :data:`DATASETS`): an indexable sequence of items."""
    if name == "shapes":
        from semcom.data.shapes import ShapesWorld

        return ShapesWorld(split, n=n, size=size, seed=seed)
    if name == "shapes-complex":
        from semcom.data.complex import ShapesWorldComplex

        return ShapesWorldComplex(split, n=n, size=size, seed=seed)
    raise ValueError(f"no data set {name!r}; choose one of {', '.join(DATASETS)}")
