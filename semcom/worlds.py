"""What a learned codec knows: the world its weights were trained on, and one line when
the images come from elsewhere.

A codec may state ``world``: the name of the images its weights learned from, one of
:data:`WORLDS` (``shapes``: ShapesWorld; ``natural``: natural photographs, the sd21
preset's Stable Diffusion backbone; ``untrained``: random weights) or the name of another
data set it was trained on. None (the conventional codecs) means any image. Given
pictures from elsewhere such a codec does not fail: it draws what it knows. MTGC's tiny
preset, asked by ``semcom evaluate --dataset folder:`` for 24 Kodak photographs at
0.038 bpp, drew coloured ShapesWorld shapes on a green field: PSNR 13.35 dB, MS-SSIM
0.231, against AVIF's 21.08 dB and 0.732 at the same rate. So the commands that code
images print one line (:func:`dataset_notice`, :func:`image_notice`) when a codec's
world and the images differ: a named data set by its name, a folder's images or a single
file by a cheap image test of the world where it has one (ShapesWorld's:
:func:`shapes_share`). Untrained weights get no line: they know no world for the
images to differ from (``semcom list codecs`` says ``untrained``).

It loads no model: listing codecs and checking images read attributes and pixels only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from semcom.data.folder import FOLDER_PREFIX


@dataclass(frozen=True)
class World:
    """What a codec trained on a world knows, in words a user reads.

    ``title`` and ``about``: the world and a sentence of what its images hold;
    ``expect``: what such a codec makes of images from elsewhere (``{what}``: the images
    named, "these images" or "this image"); ``folders``: whether a
    folder of the user's pictures counts as this world; ``test``: an image [3,H,W] in
    [0,1] → the share of it that looks like this world, with ``threshold`` the least
    share a picture of the world has (None: no image test).
    """

    name: str
    title: str
    about: str
    expect: str
    folders: bool = False
    test: Callable[[torch.Tensor], float] | None = None
    threshold: float = 0.0

    def looks_like(self, image: torch.Tensor) -> bool | None:
        """Whether ``image`` [3,H,W] in [0,1] looks like this world (None: no test)."""
        if self.test is None:
            return None
        return self.test(image) >= self.threshold


def _colours() -> np.ndarray:
    from semcom.data.shapes import COLOUR_RGB

    return np.array(list(COLOUR_RGB.values()), dtype=np.float32) / 255


#: A pixel within this distance (largest channel difference, in [0,1]) of a named colour
#: is one of ShapesWorld's flat objects.
NAMED_TOLERANCE = 12 / 255
#: ShapesWorld's muted backgrounds: HSV saturation at most 0.22 and value 0.55–0.92
#: (:mod:`semcom.data.shapes`), taken with a margin.
MUTED_SATURATION = 0.25
MUTED_VALUE = (0.5, 0.95)
#: Pixels :func:`shapes_share` looks at, at most (larger images are strided).
SHARE_PIXELS = 1 << 16
#: The least :func:`shapes_share` of a ShapesWorld scene.
SHAPES_THRESHOLD = 0.75


def shapes_share(image: torch.Tensor) -> float:
    """The share of ``image``'s pixels ([3,H,W], float in [0,1]) that ShapesWorld could
    have drawn: within :data:`NAMED_TOLERANCE` of one of the eight named flat colours
    (``semcom.data.shapes.COLOUR_RGB``), or muted like its backgrounds (saturation at most
    :data:`MUTED_SATURATION`, value within :data:`MUTED_VALUE`). Images over
    :data:`SHARE_PIXELS` pixels are strided down first.

    Measured by ``python benchmarks/world_check.py --photos grace_hopper.jpg f3.jpg
    verify.jpeg`` (min / median / max over the images; the photographs are matplotlib's
    sample portrait and two of the Rust embedded book's): ShapesWorld scenes 1.000 /
    1.000 / 1.000 (200 validation and 200 test scenes at 128 pixels, 50 at 256; also
    every one of 2000 validation, 2000 test and 1000 training scenes at 128 pixels, 300
    at 64 and 100 at 512), the same scenes saved as JPEG at quality 75 0.895 / 0.951 /
    0.992 and at quality 50 0.869 / 0.939 / 0.990, shrunk to 64 pixels and back 0.948 /
    0.972 / 0.995; 39 crops of the photographs 0.000 / 0.049 / 0.218 (in grey 0.000 /
    0.191 / 0.536), 50 pictures of coloured 1/f² noise 0.001 / 0.071 / 0.350 and the
    folder tests' smooth sinusoid pictures 0.000 / 0.000 / 0.133. :data:`SHAPES_THRESHOLD`
    (0.75) lies between: 0.25 below every lossless scene, 0.12 below the worst JPEG
    copy, 0.21 above the greyest photograph. What passes without being ShapesWorld:
    pictures that are mostly flat, pale and grey (a muted gradient is a ShapesWorld
    background without its shapes).
    """
    x = image.detach().float().cpu().numpy()  # numpy: one thread, no waiting on a busy core
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"shapes_share takes one [3,H,W] image, not {tuple(x.shape)}")
    step = max(1, math.ceil(math.sqrt(x.shape[1] * x.shape[2] / SHARE_PIXELS)))
    x = np.clip(x[:, ::step, ::step], 0, 1)
    top, bottom = x.max(0), x.min(0)
    saturation = (top - bottom) / np.maximum(top, 1e-6)
    lo, hi = MUTED_VALUE
    fits = (saturation <= MUTED_SATURATION) & (top >= lo) & (top <= hi)
    for colour in _colours():
        fits |= np.abs(x - colour[:, None, None]).max(0) <= NAMED_TOLERANCE
    return float(fits.mean())


#: The world of random weights (an architecture built, not trained).
UNTRAINED = "untrained"
#: The worlds a codec may name, by name.
WORLDS: dict[str, World] = {
    w.name: w
    for w in (
        World(
            "shapes",
            "ShapesWorld",
            "flat coloured shapes on muted textures, 128×128",
            "ShapesWorld's shapes and colours in place of {what}",
            test=shapes_share,
            threshold=SHAPES_THRESHOLD,
        ),
        World(
            "shapes-complex",
            "ShapesWorld-Complex",
            "3-10 rotated, textured, overlapping shapes over cluttered textures, 128×128",
            "ShapesWorld-Complex's shapes, textures and clutter in place of {what}",
        ),
        World(
            "natural",
            "natural photographs",
            "the Stable Diffusion 2.1-base backbone",
            "photographic texture and detail that {what} may lack",
            folders=True,
        ),
        World(UNTRAINED, "nothing", "random weights", "noise whatever {what} show"),
    )
}


def world(name: str | None) -> World | None:
    """The :class:`World` of ``name`` (one outside :data:`WORLDS`, a data set a codec was
    trained on, gets a plain one); None for None (any image)."""
    if name is None:
        return None
    return WORLDS.get(name) or World(
        name, name, f"the {name} data set", f"pictures like {name}'s in place of {{what}}"
    )


def codec_world(codec: object) -> str | None:
    """A codec's ``world`` attribute (None when it states none: any image)."""
    value = getattr(codec, "world", None)
    return value if isinstance(value, str) and value else None


def codec_label(codec: object, name: str | None = None) -> str:
    """How a line names a codec: its name and, where it has one, its preset."""
    label = name or str(getattr(codec, "name", type(codec).__name__))
    preset = getattr(codec, "preset", None)
    return f"{label} ({preset} preset)" if isinstance(preset, str) and preset else label


def dataset_notice(
    codecs: Sequence[tuple[str, str | None]],
    dataset: str,
    images: torch.Tensor | Sequence[torch.Tensor] | None = None,
) -> str | None:
    """One line when some of ``codecs`` ((label, world) pairs) were trained on another
    world than ``dataset`` (a data set's name, or ``folder:PATH``), else None.

    A data set fits a world of the same name; a folder fits a world of photographs
    (``folders``) and, for a world with an image test, when at least half of its
    ``images`` ([N,3,H,W] or a sequence of [3,H,W]) pass it. Codecs that state no world
    (any image) or an ``untrained`` one (random weights know no world for images to
    differ from; ``semcom list codecs`` says so) are never named.
    """
    folder = dataset.startswith(FOLDER_PREFIX)
    shown = dataset[len(FOLDER_PREFIX) :] if folder else dataset
    if dataset in WORLDS:
        shown = f"{dataset} ({WORLDS[dataset].title})"
    off: list[tuple[str, World]] = []
    why = f"these images come from {shown}"
    for label, name in codecs:
        w = world(name)
        if w is None or w.name in (UNTRAINED, dataset) or (folder and w.folders):
            continue
        if folder and w.test is not None and images is not None and len(images) > 0:
            passed = sum(bool(w.looks_like(im)) for im in images)
            if 2 * passed >= len(images):
                continue
            why = (
                f"these images from {shown} do not look like it ({passed} of {len(images)} "
                "pass its image test)"
            )
        off.append((label, w))
    return _line(off, why, "these images", dataset) if off else None


def image_notice(
    codecs: Sequence[tuple[str, str | None]], image: torch.Tensor, source: str
) -> str | None:
    """One line when ``image`` ([3,H,W] in [0,1], read from ``source``) does not look like
    the world some of ``codecs`` ((label, world) pairs) were trained on, by the world's
    image test; a world without a test is taken to fit (and, as in
    :func:`dataset_notice`, no world or an ``untrained`` one is never named)."""
    off: list[tuple[str, World]] = []
    why = ""
    for label, name in codecs:
        w = world(name)
        if w is None or w.name == UNTRAINED or w.test is None:
            continue
        share = w.test(image)
        if share >= w.threshold:
            continue
        why = why or (
            f"{source} does not look like it ({share:.2f} of its pixels could be "
            f"{w.title}'s; a {w.title} picture's, {w.threshold:.2f} or more)"
        )
        off.append((label, w))
    return _line(off, why, "this image") if off else None


#: The model to suggest for a named data set's images: its preset (or training command).
TRAINED_FOR: dict[str, str] = {
    "shapes": "the tiny preset (`preset: tiny`)",
    "shapes-complex": "the tiny-complex preset (`preset: tiny-complex`, trained by "
    "`semcom train --dataset shapes-complex`)",
}


def _line(off: list[tuple[str, World]], why: str, what: str, dataset: str | None = None) -> str:
    """``note: <codecs> were trained on <world> (<about>), but <why>, so expect
    <expect>; <what to use instead>.`` (codecs grouped by world; ``dataset``, the named
    data set the images come from, picks the model suggested: :data:`TRAINED_FOR`)."""
    groups: dict[str, tuple[World, list[str]]] = {}
    for label, w in off:
        groups.setdefault(w.name, (w, []))[1].append(label)
    said = "; ".join(
        f"{' and '.join(labels)} {'was' if len(labels) == 1 else 'were'} trained on "
        f"{w.title} ({w.about})"
        for w, labels in groups.values()
    )
    expect = " or ".join(dict.fromkeys(w.expect.replace("{what}", what) for _, w in off))
    known = TRAINED_FOR.get(dataset or "")
    model = f": {known}" if known else " (`semcom train --preset sd21 --data DIR`)"
    return (
        f"note: {said}, but {why}, so expect {expect}; use a conventional codec instead "
        f"(e.g. avif; world - in `semcom list codecs`) or a model trained on such images"
        f"{model}."
    )
