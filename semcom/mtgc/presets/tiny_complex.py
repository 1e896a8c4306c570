"""The ``tiny-complex`` preset: the tiny architecture for 128×128 ShapesWorld-Complex scenes.

The same classes and sizes as ``tiny`` (:mod:`semcom.mtgc.presets.tiny`), read on the
world's 4×4 grid of 32-pixel cells (:mod:`semcom.mtgc.cells`): the captioner writes the
concise caption ("seven shapes, large red star top left, blue circle centre"), coded
under the caption model counted on that world's captions (``caption_lm = shapes-complex``:
30.8 bits a caption on 500 validation scenes, at most 32, against 161.5 under
ShapesWorld's model: ``python -m semcom.mtgc.presets.tiny_complex``); TASCM sends one
32-bit SPW per cell (FSQ levels 8⁸·4⁴: 16 SPWs, 512 bits raw, arithmetic-coded to about
303) read back as each cell's shape, colour, size, texture, offset within the cell and
rotation (an object whose centre shares a cell with a more visible one is not held:
15.5 % of objects on 1000 validation scenes, ``python -m semcom.mtgc.cells``); the
captioner and TASCM read stride-8 feature maps (a cell is 4×4 features), each cell's
patch by one 4×4 convolution (TASCM's cell query starts from it); the scene sketch
paints each cell's object where its offset says, turned as its rotation says and
patterned as its texture says, in a window of 80 pixels (a large object spans up to 46),
each cell's most likely reading rather than a blend of its beliefs (``decisive``).

The trained weights live in ``semcom/mtgc/presets/weights/tiny-complex`` (a model
directory, ``semcom train --dataset shapes-complex``; docs/training.md, "The fourth
recipe"); without them :func:`load_tiny_complex` builds the architecture from a fixed seed
and warns that it is untrained.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.presets.tiny import TinyConfig, build_tiny, load_preset_dir

PRESET = "tiny-complex"
WEIGHTS_DIR = Path(__file__).with_name("weights") / PRESET


def complex_config(**changes) -> TinyConfig:
    """The tiny-complex sizes (``changes`` override fields, as tests shrink them)."""
    values = dict(
        preset=PRESET,
        world="shapes-complex",
        num_queries=16,
        query_grid=4,
        sketch_grid=4,
        sketch_window=80,
        max_tokens=32,
        # stride-8 encoders: a small object (16–21 px) spans two or three feature pixels
        captioner_channels=(32, 64, 128, 128, 128),
        captioner_strides=(2, 2, 2, 1, 1),
        captioner_cell_patch=4,
        tascm_cnn=(32, 64, 128, 128, 128),
        tascm_strides=(2, 2, 2, 1, 1),
        # a cell's attributes and placement hold about 17.5 bits, but TASCM learns to use
        # them only with room to spare: 24-bit SPWs dropped an attribute group in A/B
        # lanes, 32 bits read by the captioner's cell patch did not (docs/training.md)
        tascm_cell_patch=4,
        codebook_size=2**32,
        fsq_levels=(8,) * 8 + (4,) * 4,
        sketch_decisive=True,
    )
    values.update(changes)
    return TinyConfig(**values)


def build_tiny_complex(config: TinyConfig | None = None) -> MTGC:
    """A randomly initialised tiny-complex codec (deterministic from config.seed)."""
    return build_tiny(config or complex_config())


def load_tiny_complex(
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> MTGC:
    """The tiny-complex codec from ``weights`` (default: the shipped directory).

    Without shipped weights it builds the untrained architecture from seed 0 and warns.
    """
    return load_preset_dir(PRESET, WEIGHTS_DIR, build_tiny_complex, weights, device, dtype)


if __name__ == "__main__":
    from semcom.data.complex import ShapesWorldComplex
    from semcom.mtgc.streams.caption import CaptionCoder, caption_model

    data = ShapesWorldComplex("val", n=500)
    captions = [data[i].caption for i in range(len(data))]
    for name in ("shapes", "shapes-complex"):
        coder = CaptionCoder(caption_model(name))
        bits = [8 * len(coder.encode(c)) for c in captions]
        print(f"{name:>15} model: {sum(bits) / len(bits):.1f} bits a caption (max {max(bits)})")
