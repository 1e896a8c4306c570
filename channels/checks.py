"""The link's input checks: an SNR and a budget, each one clear error when wrong."""

from __future__ import annotations

import math

from channels.errors import LinkError


def check_snr(snr_db: float) -> float:
    """Validate an Es/N0 in dB; returns it as float."""
    try:
        value = float(snr_db)
    except (TypeError, ValueError) as err:
        raise LinkError(f"SNR {snr_db!r} is not a number; give Es/N0 in dB.") from err
    if not math.isfinite(value):
        raise LinkError(f"SNR {snr_db} dB is not finite; give a finite Es/N0 in dB.")
    return value


def check_budget(budget: float | None) -> int | None:
    """Validate a budget in complex channel uses (``None`` = unlimited); returns an int."""
    if budget is None:
        return None
    try:
        value = float(budget)
    except (TypeError, ValueError) as err:
        raise LinkError(f"budget {budget!r} is not a number of channel uses.") from err
    if not math.isfinite(value) or value < 1:
        raise LinkError(
            f"budget {budget} is not a positive number of channel uses; give at least 1."
        )
    return int(value)
