"""Shared test helpers: statistical tolerances and the CLI runner."""

from __future__ import annotations

import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def binomial_tolerance(p: float, n: int, sigmas: float = 5.0) -> float:
    """``sigmas`` standard deviations of an error-rate estimate from ``n`` independent trials."""
    return sigmas * math.sqrt(max(p * (1 - p), 1e-12) / n)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``semcom`` in-process; returns (exit status, stdout, stderr)."""
    from semcom.cli import main

    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err
