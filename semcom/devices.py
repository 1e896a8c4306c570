"""Where models and the link run: ``--device cpu|cuda|auto`` resolved in one place.

A device name is resolved once per command (:func:`resolve_device`) into a torch device
string; ``cuda`` without a CUDA GPU is a clear error, not a silent fallback. The channel's
random draws come from CPU generators whatever the device (:mod:`channels.frame`), so a
transmission's noise and fades are the same numbers on a GPU.
"""

from __future__ import annotations

from semcom.errors import SemcomError

#: What ``--device`` accepts (``cuda:N`` names one GPU).
DEVICE_CHOICES: tuple[str, ...] = ("cpu", "cuda", "auto")


def resolve_device(name: str, option: str = "--device") -> str:
    """``cpu``, ``cuda``/``cuda:N`` (a CUDA GPU must be present) or ``auto`` (CUDA when
    present, else the CPU) as a device string torch and Sionna both take (``cpu`` or
    ``cuda:N``: a bare ``cuda`` names torch's current GPU)."""
    import torch

    from channels.devices import canonical_device

    text = str(name).strip().lower()
    if text == "auto":
        return canonical_device("cuda") if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return "cpu"
    if text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        if not torch.cuda.is_available():
            raise SemcomError(
                f"{option} {text} was asked for, but no CUDA GPU is available; use "
                f"{option} cpu (or auto)."
            )
        if ":" in text and int(text[5:]) >= torch.cuda.device_count():
            raise SemcomError(
                f"{option} {text}: this machine has {torch.cuda.device_count()} CUDA GPU(s)."
            )
        return canonical_device(text)
    raise SemcomError(f"{option} must be cpu, cuda, cuda:N or auto, not {name!r}.")


def half_dtype(device: str):
    """The half precision a decoder runs in on ``device``: float16 on a GPU, bfloat16 on
    a CPU."""
    import torch

    return torch.float16 if str(device).startswith("cuda") else torch.bfloat16


def model_dtype(device: str, half: bool):
    """The dtype networks load in on ``device``: :func:`half_dtype` when ``half`` is asked
    for, else None (float32, as stored)."""
    return half_dtype(device) if half else None
