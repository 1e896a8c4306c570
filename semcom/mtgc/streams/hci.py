"""HCI stream: a highly compressed, downsampled copy of the image, as real bytes.

The image is area-downsampled by a factor f ∈ {2, 4, 8, 16} and coded either by a
learned codec (a compressai ``FactorizedPrior``; a scalar gain on the latent is the
quality knob) or by a classical codec (WebP or JPEG at low quality). The receiver
decodes it and upsamples it back to the full size. Payload layout::

    byte 0   bits 7-6 kind (0 learned, 1 webp, 2 jpeg) · bits 5-4 log2(f) − 1 ·
             bits 3-0 quality index q (learned: gain = gains[q]; classical: quality 6·q)
    rest     the codec's bytes
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from safetensors.torch import load_file, save_file
from torch import nn

from semcom.formats import encode_varint, read_varint
from semcom.mtgc.streams import StreamError

KINDS: tuple[str, ...] = ("learned", "webp", "jpeg")
FACTORS: tuple[int, ...] = (2, 4, 8, 16)
N_QUALITIES = 16
#: Default gain table of the learned codec: 16 values from 1/8 to 4, geometric.
DEFAULT_GAINS: tuple[float, ...] = tuple(round(2 ** (-3 + 5 * q / 15), 6) for q in range(16))
#: Most rANS bytes one latent symbol takes; a learned payload beyond this is corrupted.
MAX_BYTES_PER_SYMBOL = 8
_WEIGHTS = "diffusion_pytorch_model.safetensors"
_CDF_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")


@dataclass(frozen=True)
class HCISetting:
    """One operating point of the HCI stream: codec kind, downsampling factor, quality."""

    kind: str = "learned"
    factor: int = 8
    quality: int = 8

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise StreamError(f"HCI codec {self.kind!r} is unknown; choose one of {KINDS}.")
        if self.factor not in FACTORS:
            raise StreamError(f"HCI factor {self.factor} is unsupported; choose from {FACTORS}.")
        if not 0 <= self.quality < N_QUALITIES:
            raise StreamError(f"HCI quality {self.quality} is outside 0..{N_QUALITIES - 1}.")

    def header(self) -> int:
        """The payload's first byte."""
        return (KINDS.index(self.kind) << 6) | ((FACTORS.index(self.factor)) << 4) | self.quality

    @classmethod
    def from_header(cls, byte: int) -> HCISetting:
        kind = byte >> 6
        if kind >= len(KINDS):
            raise StreamError("the HCI stream is corrupted (unknown codec kind).")
        return cls(KINDS[kind], FACTORS[(byte >> 4) & 3], byte & 15)


def small_size(height: int, width: int, factor: int) -> tuple[int, int]:
    """Size of the downsampled image: ceil(H/f) × ceil(W/f)."""
    return math.ceil(height / factor), math.ceil(width / factor)


def downsample(image: torch.Tensor, factor: int) -> torch.Tensor:
    """[B,3,H,W] in [0,1] → [B,3,ceil(H/f),ceil(W/f)] by area averaging."""
    return F.interpolate(image, size=small_size(*image.shape[-2:], factor), mode="area")


def upsample(small: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[B,3,h,w] → [B,3,H,W] bicubic, clamped to [0,1]."""
    return F.interpolate(small, size=(height, width), mode="bicubic", align_corners=False).clamp(
        0, 1
    )


def _read_varint(data: bytes) -> tuple[int, int]:
    """(value, bytes used) of a LEB128 varint of at most 4 bytes at the start of data."""
    try:
        return read_varint(data, 4)
    except ValueError as err:
        raise StreamError("the HCI stream is corrupted (bad hyperprior length).") from err


class LearnedHCICodec(nn.Module, ConfigMixin):
    """A compressai model with a latent gain; real rANS bytes.

    ``arch="factorized"``: FactorizedPrior(N, M) (Ballé 2017), sides padded to a multiple
    of 16, payload = y's bytes. ``arch="hyperprior"``: ScaleHyperprior(N, M) (Ballé 2018),
    sides padded to a multiple of 64, payload = varint len(z) · z's bytes · y's bytes;
    better for larger HCIs (sd21), wasteful below 64×64.
    Input [B,3,h,w] float in [0,1] (replicate padding).
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        n: int = 64,
        m: int = 64,
        gains: tuple[float, ...] = DEFAULT_GAINS,
        arch: str = "factorized",
    ) -> None:
        super().__init__()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from compressai.models import FactorizedPrior, ScaleHyperprior
        if len(gains) != N_QUALITIES:
            raise StreamError(f"the HCI gain table needs {N_QUALITIES} entries.")
        if arch not in ("factorized", "hyperprior"):
            raise StreamError(f"HCI arch must be factorized or hyperprior, not {arch!r}.")
        self.net = FactorizedPrior(n, m) if arch == "factorized" else ScaleHyperprior(n, m)
        self.stride = 16 if arch == "factorized" else 64
        self._updated = False
        self.update()

    def update(self) -> None:
        """Build the entropy coder's CDF tables from the current parameters."""
        self.net.update(force=True)
        self._updated = True

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.stride, (-w) % self.stride
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    def forward(self, x: torch.Tensor, quality: int = 8) -> dict[str, object]:
        """Training pass: {'x_hat': [B,3,h,w], 'likelihoods': {'y': …, 'z': …}}."""
        h, w = x.shape[-2:]
        gain = self.config.gains[quality]
        y = self.net.g_a(self._pad(x)) * gain
        if self.config.arch == "factorized":
            y_hat, lik = self.net.entropy_bottleneck(y)
            likelihoods = {"y": lik}
        else:
            z_hat, z_lik = self.net.entropy_bottleneck(self.net.h_a(torch.abs(y)))
            y_hat, y_lik = self.net.gaussian_conditional(y, self.net.h_s(z_hat))
            likelihoods = {"y": y_lik, "z": z_lik}
        x_hat = self.net.g_s(y_hat / gain)[..., :h, :w]
        return {"x_hat": x_hat, "likelihoods": likelihoods}

    @torch.no_grad()
    def compress(self, x: torch.Tensor, quality: int) -> list[bytes]:
        """[B,3,h,w] in [0,1] → one byte string per image."""
        if not self._updated:
            self.update()
        y = self.net.g_a(self._pad(x.float())) * self.config.gains[quality]
        if self.config.arch == "factorized":
            return [bytes(s) for s in self.net.entropy_bottleneck.compress(y)]
        z = self.net.h_a(torch.abs(y))
        z_strings = self.net.entropy_bottleneck.compress(z)
        z_hat = self.net.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        indexes = self.net.gaussian_conditional.build_indexes(self.net.h_s(z_hat))
        y_strings = self.net.gaussian_conditional.compress(y, indexes)
        return [
            encode_varint(len(zs)) + bytes(zs) + bytes(ys)
            for zs, ys in zip(z_strings, y_strings, strict=True)
        ]

    @staticmethod
    def _check_length(data: bytes, symbols: int, what: str) -> None:
        # rANS writes at most MAX_BYTES_PER_SYMBOL per symbol (an int32 escape costs
        # about 7), so a longer payload is corrupted; refusing it also bounds the padding
        # below, which would otherwise turn a 16 MB section into a 1 GB allocation.
        if len(data) > MAX_BYTES_PER_SYMBOL * symbols + 64:
            raise StreamError(
                f"the HCI stream is corrupted ({what} is {len(data)} bytes, more than any "
                f"{symbols}-symbol payload)."
            )

    @staticmethod
    def _padded(data: bytes, symbols: int) -> bytes:
        # compressai's rANS decoder does not bound-check its input: a corrupted payload
        # makes it read past the end. Its reads are bounded by a few words per symbol plus
        # what bypass runs in the data itself can ask for, so zero padding of that size
        # keeps every over-read inside the buffer (the fuzz test in tests/test_hci.py).
        return bytes(data) + bytes(32 * (len(data) + symbols) + 256)

    @torch.no_grad()
    def decompress(self, data: bytes, height: int, width: int, quality: int) -> torch.Tensor:
        """Bytes → [1,3,height,width] in [0,1]."""
        if not self._updated:
            self.update()
        m = self.config.m
        if self.config.arch == "factorized":
            lh, lw = math.ceil(height / 16), math.ceil(width / 16)
            self._check_length(data, lh * lw * m, "the latent")
            y_hat = self.net.entropy_bottleneck.decompress(
                [self._padded(data, lh * lw * m)], (lh, lw)
            )
        else:
            zh, zw = math.ceil(height / 64), math.ceil(width / 64)
            n_z, used = _read_varint(data)
            if used + n_z > len(data):
                raise StreamError(
                    "the HCI stream is corrupted (hyperprior longer than the payload)."
                )
            z_bytes, y_bytes = data[used : used + n_z], data[used + n_z :]
            self._check_length(z_bytes, zh * zw * self.config.n, "the hyperprior")
            self._check_length(y_bytes, 16 * zh * zw * m, "the latent")
            z_hat = self.net.entropy_bottleneck.decompress(
                [self._padded(z_bytes, zh * zw * self.config.n)], (zh, zw)
            )
            indexes = self.net.gaussian_conditional.build_indexes(self.net.h_s(z_hat))
            y_hat = self.net.gaussian_conditional.decompress(
                [self._padded(y_bytes, 16 * zh * zw * m)], indexes, z_hat.dtype
            )
        y_hat = y_hat / self.config.gains[quality]
        if not torch.isfinite(y_hat).all():
            raise StreamError("the HCI stream is corrupted (non-finite latent).")
        x_hat = self.net.g_s(y_hat)[..., :height, :width]
        if not torch.isfinite(x_hat).all():
            raise StreamError("the HCI stream is corrupted (non-finite image).")
        return x_hat.clamp(0, 1)

    def save_pretrained(self, path: str | Path) -> None:
        """Write config.json and safetensors weights (CDF tables included)."""
        if not self._updated:
            self.update()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.save_config(path)
        state = {k: v.contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path / _WEIGHTS))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> LearnedHCICodec:
        """Load what :meth:`save_pretrained` wrote."""
        path = Path(path)
        if not (path / "config.json").is_file() or not (path / _WEIGHTS).is_file():
            raise StreamError(f"{path} needs config.json and {_WEIGHTS} for the HCI codec.")
        model = cls.from_config(cls.load_config(path))
        model.update()
        model.load_state_dict(load_file(str(path / _WEIGHTS)))
        model._updated = True  # saved right after update(): the tables fit the weights
        return model.eval()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """As torch's, but the entropy coder's CDF tables (which change size with
        training) are resized to the incoming ones first; the tables are rebuilt before the
        next compress (a training checkpoint's may be stale)."""
        own = self.state_dict()
        for key, value in state_dict.items():
            owner, _, name = key.rpartition(".")
            if key in own and own[key].shape != value.shape and name in _CDF_BUFFERS:
                getattr(self.get_submodule(owner), name).resize_(value.shape)
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self._updated = False
        return result


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """[3,h,w] in [0,1] → [h,w,3] uint8."""
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy().copy()


class HCICodec:
    """Encode images to HCI payloads and decode them back to full-size images.

    ``learned`` may be None: then only the classical kinds are available.
    """

    def __init__(self, learned: LearnedHCICodec | None, default: HCISetting) -> None:
        self.learned = learned
        self.default = default
        if default.kind == "learned" and learned is None:
            raise StreamError("the learned HCI codec has no weights; choose webp or jpeg.")

    def encode(self, images: torch.Tensor, setting: HCISetting | None = None) -> list[bytes]:
        """[B,3,H,W] float in [0,1] → B payloads."""
        s = setting or self.default
        small = downsample(images.detach().float().cpu(), s.factor)
        head = bytes([s.header()])
        if s.kind == "learned":
            if self.learned is None:
                raise StreamError("the learned HCI codec has no weights; choose webp or jpeg.")
            return [head + b for b in self.learned.compress(small, s.quality)]
        import imagecodecs

        out = []
        for img in small:
            arr = _to_uint8(img)
            if s.kind == "webp":
                data = imagecodecs.webp_encode(arr, level=6 * s.quality, lossless=False, method=6)
            else:
                data = imagecodecs.jpeg_encode(arr, level=max(1, 6 * s.quality))
            out.append(head + bytes(data))
        return out

    def decode(self, payload: bytes, height: int, width: int) -> torch.Tensor:
        """Payload → [1,3,height,width] in [0,1]; raises StreamError if malformed."""
        if len(payload) < 1:
            raise StreamError("the HCI stream is empty.")
        s = HCISetting.from_header(payload[0])
        h, w = small_size(height, width, s.factor)
        body = bytes(payload[1:])
        if s.kind == "learned":
            if self.learned is None:
                raise StreamError("this HCI stream needs the learned codec, which has no weights.")
            try:
                small = self.learned.decompress(body, h, w, s.quality)
            except StreamError:
                raise
            except Exception as err:  # compressai's decoder raises assorted errors
                raise StreamError(f"the HCI stream is corrupted ({type(err).__name__}).") from err
        else:
            small = _decode_classical(s.kind, body, h, w)
        return upsample(small, height, width)


def _decode_classical(kind: str, body: bytes, h: int, w: int) -> torch.Tensor:
    import imagecodecs

    from semcom.errors import SemcomError
    from semcom.formats import jpeg_size, webp_size

    # The size the header declares is checked first: libjpeg and libwebp allocate and
    # fill the declared image before anything else fails (a corrupted JPEG frame header
    # declaring 16383 × 16383 took 2.5 s and 0.8 GB; 65535 × 65535 asks for 12 GB).
    try:
        declared = (jpeg_size if kind == "jpeg" else webp_size)(body)
    except (SemcomError, IndexError, ValueError) as err:
        raise StreamError(f"the HCI stream is corrupted ({kind} header unreadable).") from err
    if declared != (h, w):
        raise StreamError(
            f"the HCI stream is corrupted ({kind} declares {declared[0]}x{declared[1]}, "
            f"expected {h}x{w})."
        )
    try:
        arr = (imagecodecs.webp_decode if kind == "webp" else imagecodecs.jpeg_decode)(body)
    except Exception as err:  # imagecodecs raises its own codec errors
        raise StreamError(f"the HCI stream is corrupted ({kind} does not decode).") from err
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.dtype != np.uint8 or arr.shape[:2] != (h, w) or arr.shape[2] < 3:
        raise StreamError(f"the HCI stream is corrupted ({kind} image has the wrong shape).")
    t = torch.from_numpy(np.ascontiguousarray(arr[..., :3])).permute(2, 0, 1).float() / 255
    return t.unsqueeze(0)
