"""ShapesWorld-Complex's statistics (objects per scene, sizes, textures, occlusion,
caption length), as reported in docs/datasets.md:

    python -m semcom.data.complex_stats --scenes 1000 --split test
"""

from __future__ import annotations

import numpy as np

from semcom.data.complex import SIZES, TEXTURES, ShapesWorldComplex


def statistics(n: int = 1000, split: str = "val", seed: int = 0) -> dict:
    """The world's statistics over ``n`` scenes of ``split``: objects per scene, size
    classes, textures, occlusion (fraction hidden), caption words, as plain numbers."""
    data = ShapesWorldComplex(split, n=n, seed=seed)
    items = [data[i] for i in range(n)]
    objs = [o for it in items for o in it.objects]
    hidden = np.array([1 - o.visible for o in objs])
    words = np.array([len(it.caption.split()) for it in items])
    counts = np.array([len(it.objects) for it in items])
    share = lambda values, names: {  # noqa: E731
        name: round(float(np.mean(np.array(values) == k)), 3) for k, name in enumerate(names)
    }
    return {
        "scenes": n,
        "split": split,
        "objects_per_scene": {
            "mean": round(float(counts.mean()), 2),
            "min": int(counts.min()),
            "max": int(counts.max()),
            "share": {int(c): round(float(np.mean(counts == c)), 3) for c in np.unique(counts)},
        },
        "objects": len(objs),
        "size_classes": share([o.size for o in objs], SIZES),
        "textures": share([o.texture for o in objs], TEXTURES),
        "occlusion": {
            "objects_partly_hidden": round(float(np.mean(hidden > 0)), 3),
            "mean_hidden": round(float(hidden.mean()), 3),
            "hidden_of_occluded_p50": round(float(np.median(hidden[hidden > 0])), 3),
            "hidden_of_occluded_p90": round(float(np.quantile(hidden[hidden > 0], 0.9)), 3),
            "max_hidden": round(float(hidden.max()), 3),
        },
        "caption_words": {
            "mean": round(float(words.mean()), 2),
            "min": int(words.min()),
            "max": int(words.max()),
        },
    }


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="ShapesWorld-Complex statistics as JSON.")
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--split", default="val")
    args = parser.parse_args()
    print(json.dumps(statistics(args.scenes, args.split), indent=1))
