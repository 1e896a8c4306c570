"""Device names as Sionna takes them, and Sionna's default device while a link runs.

Sionna 2 accepts ``cpu`` and ``cuda:N`` only (not torch's bare ``cuda``), and every part
built or drawn without a device (stream management, pilot patterns, its tensor
utilities) lands on ``sionna.phy.config.device``: a GPU wherever one is present. A link
on the CPU of a GPU machine would then mix devices. :func:`sionna_device` sets that
default to the link's own device while its parts are built and run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch

__all__ = ["canonical_device", "on_own_device", "sionna_device"]

F = TypeVar("F", bound=Callable[..., Any])


def canonical_device(device: str | torch.device | None) -> str:
    """``device`` as Sionna names it: None → ``cpu``, ``cuda`` → ``cuda:N`` (torch's
    current GPU), anything else as ``str(torch.device(device))``."""
    if device is None:
        return "cpu"
    d = torch.device(device)
    if d.type == "cuda" and d.index is None:
        return f"cuda:{torch.cuda.current_device()}"
    return str(d)


@contextmanager
def sionna_device(device: str | torch.device | None) -> Iterator[str]:
    """Sionna's default device set to ``device`` (canonical) inside the block."""
    from sionna.phy import config

    name = canonical_device(device)
    old = config.device
    config.device = name
    try:
        yield name
    finally:
        config.device = old


def on_own_device(method: F) -> F:
    """Run a method of an object with a ``device`` attribute under :func:`sionna_device`."""

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        with sionna_device(self.device):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
