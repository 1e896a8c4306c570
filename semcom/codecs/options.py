"""Validation of a codec's config options (shared by the built-in codecs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def check_keys(options: Mapping[str, Any], allowed: tuple[str, ...], codec: str) -> dict:
    """``options`` as a dict, or ValueError naming the first key ``codec`` does not take."""
    unknown = [k for k in options if k not in allowed]
    if unknown:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no options"
        raise ValueError(f"{unknown[0]!r} is not an option of {codec}; it {takes}")
    return dict(options)


class OptionlessCodec:
    """``check_options`` / ``from_options`` of a codec that takes no options: any option
    is refused by name, and the codec is built without arguments."""

    name: str = ""
    option_names: tuple[str, ...] = ()

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        return check_keys(options, cls.option_names, cls.name)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], **_: Any):
        cls.check_options(options)
        return cls()


def positive_int(value: Any, name: str) -> int:
    """``value`` if it is an integer ≥ 1, else ValueError naming the option."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer ≥ 1, not {value!r}")
    return value
