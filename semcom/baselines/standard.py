"""Conventional image codecs (JPEG, WebP, JPEG 2000, AVIF, JPEG XL) as real byte streams.

Each codec has two knobs: a **quality** (the codec's own parameter, higher is better; see
:data:`QUALITY_DOCS`) and a **downsampling factor** f ∈ {1, 2, 4, 8}. With f > 1 the
sender shrinks the image to ceil(H/f) × ceil(W/f) with an antialiased bicubic resize
before encoding, and the receiver decodes and upsamples it back to H × W (bicubic, with
Pillow; the reconstruction is 8-bit, as a real receiver's would be), which
is how ultra-low-rate baselines are built in the literature.

Files: JPEG (JFIF, 4:2:0; optimised or standard Huffman tables), WebP (RIFF, lossy VP8),
JPEG 2000 (bare J2K codestream), AVIF (ISOBMFF, 4:2:0), JPEG XL (bare codestream).

Stream format (what crosses the link, :mod:`semcom.baselines.wire`): one setting byte
(factor × quality × encoder variant) and the file less the boilerplate the receiver
rebuilds from the setting, the image size and the stream's length (magic numbers, tables,
box and chunk lengths); the receiver rebuilds the very file and decodes it. The rate
counts every byte of the stream, the setting byte included; :meth:`ConventionalCodec.file_of`
gives the standard file back.

Images are float32 torch tensors in [0, 1], [3, H, W] (one image) or [B, 3, H, W] (a
batch); pixels are rounded to 8 bits before encoding.

Decoding never crashes on corrupted, truncated or random bytes: it raises
:class:`~semcom.errors.SemcomError`, or, with ``fallback="mean"``, returns the
training-set mean image (:mod:`semcom.data.mean_image`: the receiver's best guess when it
knows nothing about the image, and the same for every codec), so a sweep can score a lost
transmission. The declared size in a stream's header is
checked before the native decoder runs (see :mod:`semcom.baselines.headers`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import imagecodecs
import numpy as np
import torch
from PIL import Image

from semcom.baselines import learned, wire
from semcom.baselines.headers import SIZE_READERS
from semcom.errors import SemcomError

#: Downsampling factors, smallest first.
FACTORS: tuple[int, ...] = (1, 2, 4, 8)
#: Codec names, in the order tables list them.
CODEC_NAMES: tuple[str, ...] = ("jpeg", "webp", "jpeg2000", "avif", "jpegxl")
#: Learned baselines (:mod:`semcom.baselines.learned`), used through the same interface.
LEARNED_NAMES: tuple[str, ...] = ("compressai",)
#: Every baseline a sweep, ``semcom transmit`` or ``semcom evaluate`` accepts.
BASELINE_NAMES: tuple[str, ...] = (*CODEC_NAMES, *LEARNED_NAMES)
#: Bits every stream adds to what its file keeps: the setting byte (:mod:`semcom.baselines.wire`).
HEADER_BITS = 8


def fallback_image(height: int, width: int) -> torch.Tensor:
    """The ``fallback="mean"`` image: the training-set mean image
    (:func:`semcom.data.mean_image.mean_image`), the same for every codec."""
    from semcom.data.mean_image import mean_image

    return mean_image(height, width)


Fallback = Literal["mean"] | None

#: Grid of qualities on the 0..100 scale that rate control searches (dense at the low end,
#: where ultra-low-rate budgets live).
_GRID_0_100: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 35, 40, 50, 60)
_GRID_0_100 += (70, 80, 90, 95)
#: JPEG 2000's quality is a target PSNR in dB; below about 12 dB the stream stops shrinking.
_GRID_J2K_DB: tuple[int, ...] = (12, 14, *range(16, 41), 42, 44, 46, 48, 50, 55, 60)

#: What ``quality`` means for each codec.
QUALITY_DOCS: dict[str, str] = {
    "jpeg": "libjpeg quality 1..100 (4:2:0 chroma, optimised Huffman tables)",
    "webp": "libwebp lossy quality 0..100 (method 6, the slowest and smallest)",
    "jpeg2000": "OpenJPEG fixed-quality target PSNR in dB, 1..100 (9/7 wavelet, one layer)",
    "avif": "libavif quality 0..100 (AV1, 4:2:0, speed 6)",
    "jpegxl": "libjxl quality 0..100 (mapped to a Butteraugli distance, effort 7)",
    "compressai": "index 0..15 of the learned codec's latent gain (MTGC-tiny's HCI codec)",
}


@dataclass(frozen=True)
class _Backend:
    """How one codec maps (uint8 [h,w,3] array, quality) to bytes and back."""

    quality_range: tuple[int, int]
    grid: tuple[int, ...]
    encode: Callable[[np.ndarray, int], Any]
    decode: Callable[[bytes], np.ndarray]
    #: Further encoders of the same format (variant 1, 2, ...), e.g. other entropy tables.
    variants: tuple[Callable[[np.ndarray, int], Any], ...] = ()


_BACKENDS: dict[str, _Backend] = {
    "jpeg": _Backend(
        (1, 100),
        tuple(max(1, q) for q in _GRID_0_100 if q != 0),
        lambda a, q: imagecodecs.jpeg8_encode(a, level=q, subsampling="420", optimize=True),
        lambda b: imagecodecs.jpeg8_decode(b),
        (lambda a, q: imagecodecs.jpeg8_encode(a, level=q, subsampling="420", optimize=False),),
    ),
    "webp": _Backend(
        (0, 100),
        _GRID_0_100,
        lambda a, q: imagecodecs.webp_encode(a, level=q, lossless=False, method=6),
        lambda b: imagecodecs.webp_decode(b),
    ),
    "jpeg2000": _Backend(
        (1, 100),
        _GRID_J2K_DB,
        lambda a, q: imagecodecs.jpeg2k_encode(
            a, level=q, codecformat="J2K", reversible=False, numthreads=1
        ),
        lambda b: imagecodecs.jpeg2k_decode(b, numthreads=1),
    ),
    "avif": _Backend(
        (0, 100),
        _GRID_0_100,
        lambda a, q: imagecodecs.avif_encode(a, level=q, speed=6, pixelformat="420", numthreads=1),
        lambda b: imagecodecs.avif_decode(b, numthreads=1),
    ),
    "jpegxl": _Backend(
        (0, 100),
        _GRID_0_100,
        lambda a, q: imagecodecs.jpegxl_encode(a, level=q, effort=7, numthreads=1),
        lambda b: imagecodecs.jpegxl_decode(b, numthreads=1),
    ),
    "compressai": _Backend((0, 15), learned.QUALITIES, learned.encode, learned.decode),
}


def small_size(height: int, width: int, factor: int) -> tuple[int, int]:
    """Size of the image the codec sees at ``factor``: (ceil(H/f), ceil(W/f))."""
    return math.ceil(height / factor), math.ceil(width / factor)


def as_arrays(image: torch.Tensor) -> np.ndarray:
    """[3,H,W] or [B,3,H,W] tensor → [B,H,W,3] float32 numpy array, clipped to [0, 1].

    Numpy rather than torch kernels: on a busy machine torch's thread pool costs
    milliseconds per small operation, more than the codecs themselves.
    """
    if not isinstance(image, torch.Tensor) or image.ndim not in (3, 4) or image.shape[-3] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise SemcomError(f"expected an image tensor [3,H,W] or [B,3,H,W], got {shape}.")
    x = image.detach().cpu().numpy().astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise SemcomError("the image has non-finite pixels (NaN or inf).")
    x = x if x.ndim == 4 else x[None]
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).clip(0, 1)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[H,W,3] float in [0,1] → contiguous [H,W,3] uint8 (rounded)."""
    return np.rint(image * 255).clip(0, 255).astype(np.uint8)


def from_uint8(arr: np.ndarray) -> torch.Tensor:
    """[H,W,3] uint8 → [3,H,W] float32 in [0,1] (numpy arithmetic, no torch kernels)."""
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32) / 255)


def resize(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """[h,w,3] uint8 → [height,width,3] uint8, bicubic (Pillow; antialiased when shrinking)."""
    if arr.shape[:2] == (height, width):
        return arr
    out = Image.fromarray(arr, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(out, dtype=np.uint8)


class ConventionalCodec:
    """One conventional codec by name: ``encode`` to real bytes, ``decode`` back to pixels.

    ``ConventionalCodec("webp").encode(image, quality=10, factor=4)`` → the stream (bytes);
    ``.decode(stream, 128, 128)`` → [3,128,128] float32 in [0, 1];
    ``.file_of(stream, 128, 128)`` → the standard file.
    """

    def __init__(self, name: str) -> None:
        if name not in _BACKENDS:
            raise SemcomError(f"unknown codec {name!r}; choose one of {', '.join(BASELINE_NAMES)}.")
        self.name = name
        self._backend = _BACKENDS[name]

    def __repr__(self) -> str:
        return f"ConventionalCodec({self.name!r})"

    @property
    def quality_range(self) -> tuple[int, int]:
        """Smallest and largest accepted quality (inclusive)."""
        return self._backend.quality_range

    @property
    def qualities(self) -> tuple[int, ...]:
        """The grid of qualities rate control searches, ascending."""
        return self._backend.grid

    @property
    def variants(self) -> int:
        """How many encoders of the format the sender tries (JPEG: 2, others 1)."""
        return 1 + len(self._backend.variants)

    def check_setting(self, quality: int, factor: int) -> None:
        """Raise SemcomError unless (quality, factor) is a valid setting."""
        lo, hi = self.quality_range
        if isinstance(quality, bool) or not isinstance(quality, int) or not lo <= quality <= hi:
            raise SemcomError(
                f"{self.name} quality must be an integer in {lo}..{hi}, not {quality!r}."
            )
        if factor not in FACTORS:
            raise SemcomError(f"downsampling factor must be one of {FACTORS}, not {factor!r}.")

    def encode(self, image: torch.Tensor, quality: int, factor: int = 1) -> bytes:
        """[3,H,W] (or [1,3,H,W]) float in [0,1] → the stream (see the module docstring).

        The image is downsampled by ``factor`` and coded at ``quality`` (see QUALITY_DOCS).
        """
        if isinstance(image, torch.Tensor) and image.ndim == 4 and image.shape[0] != 1:
            raise SemcomError("encode takes one image; use encode_batch for a batch.")
        return self.encode_batch(image, quality, factor)[0]

    def encode_batch(self, images: torch.Tensor, quality: int, factor: int = 1) -> list[bytes]:
        """[B,3,H,W] float in [0,1] → B streams, one per image."""
        self.check_setting(quality, factor)
        out = []
        for img in as_arrays(images):
            arr = to_uint8(img)
            h, w = small_size(arr.shape[0], arr.shape[1], factor)
            out.append(self.encode_stream(resize(arr, h, w), quality, factor, *arr.shape[:2]))
        return out

    def encode_stream(
        self, arr: np.ndarray, quality: int, factor: int, height: int, width: int
    ) -> bytes:
        """The shortest stream of any encoder variant for an [h,w,3] uint8 image already
        downsampled by ``factor`` from height × width."""
        streams = [
            wire.pack(self, self.encode_array(arr, quality, v), factor, quality, height, width, v)
            for v in range(self.variants)
        ]
        return min(streams, key=len)

    def encode_array(self, arr: np.ndarray, quality: int, variant: int = 0) -> bytes:
        """Code an [h,w,3] uint8 image (already downsampled) at ``quality`` into the
        codec's file, with encoder ``variant`` (0: the default)."""
        encoders = (self._backend.encode, *self._backend.variants)
        try:
            return bytes(encoders[variant](arr, quality))
        except Exception as err:  # imagecodecs raises one error class per library
            raise SemcomError(
                f"{self.name} could not encode a {arr.shape[0]}×{arr.shape[1]} image at "
                f"quality {quality} ({err})."
            ) from err

    def decode(
        self,
        data: bytes | bytearray | memoryview | None,
        height: int,
        width: int,
        fallback: Fallback = None,
    ) -> torch.Tensor:
        """Bytes → [3,height,width] float32 in [0,1].

        ``None`` stands for an erased stream. A stream that is erased, corrupted or not
        of this codec raises SemcomError, or, with ``fallback="mean"``, gives the
        training-set mean image (:func:`fallback_image`).
        """
        if fallback not in (None, "mean"):
            raise SemcomError(f"fallback must be None or 'mean', not {fallback!r}.")
        if height < 1 or width < 1:
            raise SemcomError(f"the target size must be positive, not {height}×{width}.")
        try:
            return from_uint8(self.decode_array(data, height, width))
        except SemcomError:
            if fallback is None:
                raise
            return fallback_image(height, width)

    def decode_batch(
        self,
        streams: Sequence[bytes | bytearray | memoryview | None],
        height: int,
        width: int,
        fallback: Fallback = None,
    ) -> torch.Tensor:
        """B streams → [B,3,height,width] float32 in [0,1]; errors as in :meth:`decode`."""
        return torch.stack([self.decode(d, height, width, fallback) for d in streams])

    def file_of(self, stream: bytes, height: int, width: int) -> bytes:
        """The codec's standard file rebuilt from a stream for a height × width image
        (SemcomError when the stream is corrupted)."""
        return wire.unpack(self, stream, height, width)

    def factor_of(self, data: bytes, height: int, width: int) -> int:
        """The factor a file for a height × width image was coded at, from its header.

        The smallest such factor when several give the same size (same reconstruction).
        """
        try:
            declared = SIZE_READERS[self.name](bytes(data))
        except (IndexError, KeyError, ValueError) as err:
            raise SemcomError(f"the {self.name} stream is corrupted (unreadable header).") from err
        for factor in FACTORS:
            if small_size(height, width, factor) == declared:
                return factor
        raise SemcomError(
            f"the {self.name} stream is corrupted or not for a {height}×{width} image "
            f"(it declares {declared[0]}×{declared[1]})."
        )

    def decode_array(
        self, data: bytes | bytearray | memoryview | None, height: int, width: int
    ) -> np.ndarray:
        """Bytes → the receiver's [height,width,3] uint8 image; SemcomError if unusable."""
        if data is None:
            raise SemcomError(f"the {self.name} stream was lost (erased).")
        body = self.file_of(bytes(data), height, width)
        if not body:
            raise SemcomError(f"the {self.name} stream is empty.")
        factor = self.factor_of(body, height, width)
        named = wire.setting_of(self, bytes(data))
        if named is not None and small_size(height, width, named[0]) != small_size(
            height, width, factor
        ):
            raise SemcomError(f"the {self.name} stream is corrupted (its sizes disagree).")
        h, w = small_size(height, width, factor)
        try:
            arr = np.asarray(self._backend.decode(body))
        except Exception as err:  # imagecodecs raises one error class per library
            raise SemcomError(f"the {self.name} stream is corrupted (it does not decode).") from err
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[:2] != (h, w) or arr.shape[2] < 3:
            raise SemcomError(
                f"the {self.name} stream is corrupted (it decodes to {arr.shape} {arr.dtype})."
            )
        return resize(np.ascontiguousarray(arr[..., :3]), height, width)


def get_codec(codec: str | ConventionalCodec) -> ConventionalCodec:
    """A codec by name (``jpeg``, ``webp``, ``jpeg2000``, ``avif``, ``jpegxl``)."""
    return codec if isinstance(codec, ConventionalCodec) else ConventionalCodec(codec)
