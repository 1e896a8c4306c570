"""The header reader of every baseline codec (see :mod:`semcom.formats`): the receiver
checks the size a stream declares before the native decoder runs."""

from __future__ import annotations

from collections.abc import Callable

from semcom.formats import avif_size, jpeg2000_size, jpeg_size, jpegxl_size, webp_size


def _compressai_size(data: bytes) -> tuple[int, int]:
    from semcom.baselines.learned import size_of

    return size_of(data)


#: Codec name → header reader.
SIZE_READERS: dict[str, Callable[[bytes], tuple[int, int]]] = {
    "jpeg": jpeg_size,
    "webp": webp_size,
    "jpeg2000": jpeg2000_size,
    "avif": avif_size,
    "jpegxl": jpegxl_size,
    "compressai": _compressai_size,
}
