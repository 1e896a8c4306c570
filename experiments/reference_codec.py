"""What ``semcom evaluate`` asks of its reference codec on a folder of natural images:
the image size it was built for, the smallest it takes, and an encoding with the user's
caption.

These read the model a registered codec wraps where it has one (MTGC's ``model``: its
``config.min_size``, its decoder's latent size and the transmitter's ``captions``); a
reference without one (e.g. ``--reference webp``) states no size and takes no caption.
"""

from __future__ import annotations

from typing import Any

import torch

from semcom.errors import SemcomError


def _model(codec: Any) -> Any:
    return getattr(codec, "model", None)


def natural_size(codec: Any) -> int | None:
    """The side of the square images the reference's decoder was built for, in pixels:
    its UNet's latent ``sample_size`` times the VAE's downsampling (128 for MTGC-tiny, 512
    for SD 2.1-base); None when the codec states none."""
    mgdd = getattr(_model(codec), "mgdd", None)
    if mgdd is None:
        return None
    sample = getattr(mgdd.unet.config, "sample_size", None)
    if isinstance(sample, (tuple, list)):
        sample = sample[0]
    return int(sample) * int(mgdd.vae_scale) if sample else None


def check_size(codec: Any, name: str, size: int) -> None:
    """SemcomError when the reference cannot code ``size`` × ``size`` images (its
    ``check_images``: at least ``config.min_size`` a side, at most its pixel limit)."""
    if size < 1:
        raise SemcomError(f"--image-size must be a positive number of pixels, not {size}.")
    model = _model(codec)
    if model is None or not hasattr(model, "check_images"):
        return
    minimum = getattr(getattr(model, "config", None), "min_size", None)
    if minimum is not None and size < minimum:
        raise SemcomError(
            f"--image-size {size} is below the {minimum}-pixel side the {name} "
            f"({model.preset} preset) takes; choose --image-size {minimum} or more."
        )
    try:
        model.check_images(torch.zeros(1, 3, size, size))
    except SemcomError as err:
        raise SemcomError(
            f"--image-size {size} does not suit {name}: {str(err).rstrip('.')}."
        ) from None


def takes_captions(codec: Any) -> bool:
    """Whether the reference sends a caption stream that the user's text can replace."""
    return "caption" in getattr(codec, "streams", ()) and hasattr(codec, "encode_with_caption")


def has_captioner(codec: Any) -> bool:
    """Whether the reference writes its own caption for an image without one."""
    return getattr(_model(codec), "captioner", None) is not None


def encode(codec: Any, image: torch.Tensor, caption: str | None) -> Any:
    """``image`` [3,H,W] in [0, 1] → the codec's :class:`~semcom.protocol.Encoded`, its
    caption stream carrying ``caption`` (None: the codec's own encoding)."""
    if caption is None:
        return codec.encode(image)
    return codec.encode_with_caption(image, caption)
