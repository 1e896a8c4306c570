"""MTGC: encode(images) -> Bitstreams, decode(bitstreams) -> images.

Transmitter (sees the image only; a caption may be given explicitly):
  caption  captioner(image) or the user's text → :class:`CaptionCoder` bytes
  hci      :class:`HCICodec` bytes (downsampled image, learned or classical codec)
  spw      :class:`TASCM` indices → :class:`SPWCoder` bytes
Receiver (sees only what arrived; an absent stream becomes its null input):
  caption text → text encoder tokens (else the empty caption's tokens)
  SPW indices → TASCM embeddings (else TASCM's null tokens), and with a layout grid
              their layout vectors, painted over their cells (else the null vectors)
  HCI image → ControlNet condition (else no ControlNet residual)
  caption + SPWs (+ HCI) → the scene sketch's guide planes (with a sketch)
  → :class:`MGDD` samples the image (:mod:`semcom.mtgc.receiver`).

A model is a directory (``save_pretrained`` / ``from_pretrained``, :mod:`semcom.mtgc.model_dir`)
laid out like a diffusers Stable Diffusion snapshot plus MTGC's own parts; see
docs/codec.md. Settings and constants live in :mod:`semcom.mtgc.config`.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.errors import SemcomError
from semcom.mtgc.config import (
    ARRIVAL_PATTERNS,
    MAX_PIXELS,
    MTGC_CONFIG,
    CodecConfig,
    DecodedStreams,
)
from semcom.mtgc.container import STREAMS, Bitstream, BitstreamError
from semcom.mtgc.mgdd import MGDD
from semcom.mtgc.receiver import generate, lowpass_from
from semcom.mtgc.sketch import SceneSketch
from semcom.mtgc.streams import StreamError
from semcom.mtgc.streams.caption import CaptionCoder, caption_model
from semcom.mtgc.streams.hci import FACTORS, N_QUALITIES, HCICodec, HCISetting
from semcom.mtgc.streams.spw import SPWCoder
from semcom.mtgc.streams.spw_model import SPWEntropyModel
from semcom.mtgc.tascm import TASCM
from semcom.mtgc.textenc import TextEncoder

__all__ = [
    "ARRIVAL_PATTERNS",
    "MAX_PIXELS",
    "MTGC",
    "MTGC_CONFIG",
    "CodecConfig",
    "DecodedStreams",
    "lowpass_from",
]


class MTGC:
    """The multimodal-guided, task-aware generative image codec."""

    def __init__(
        self,
        config: CodecConfig,
        hci: HCICodec,
        tascm: TASCM,
        text_encoder: TextEncoder,
        mgdd: MGDD,
        captioner: object | None = None,
        image_encoder: torch.nn.Module | None = None,
        caption_coder: CaptionCoder | None = None,
        sketch: SceneSketch | None = None,
        spw_model: SPWEntropyModel | None = None,
    ) -> None:
        self.config = config
        self.hci = hci
        self.tascm = tascm.eval()
        self.text_encoder = text_encoder
        self.mgdd = mgdd
        self.captioner = captioner
        self.image_encoder = image_encoder.eval() if image_encoder is not None else None
        self.caption_coder = caption_coder or CaptionCoder(caption_model(config.caption_lm))
        self.sketch = sketch.eval() if sketch is not None else None
        if mgdd.config.guide_channels and sketch is None:
            raise SemcomError("this decoder reads a scene sketch: the model needs sketch/.")
        self.spw = SPWCoder(tascm.config.num_queries, tascm.config.codebook_size, spw_model)
        if tascm.config.context_dim != text_encoder.dim:
            raise SemcomError(
                f"TASCM context_dim {tascm.config.context_dim} differs from the text "
                f"encoder's width {text_encoder.dim}."
            )
        grid, channels = mgdd.config.layout_grid, mgdd.config.layout_channels
        if channels and (
            tascm.config.query_grid != grid or tascm.config.get("layout_dim", 0) != channels
        ):
            raise SemcomError(
                f"the decoder paints {channels} layout channels on a {grid}×{grid} grid, but "
                f"TASCM has query_grid {tascm.config.query_grid} and layout_dim "
                f"{tascm.config.get('layout_dim', 0)}."
            )
        if tascm.config.image_encoder == "external" and image_encoder is None:
            raise SemcomError("this TASCM reads CLIP image features: add image_encoder/.")
        self._fingerprint: int | None = None

    # -- identity -----------------------------------------------------------------------
    @property
    def preset(self) -> str:
        return self.config.preset

    @property
    def fingerprint(self) -> int:
        """CRC32 over everything both ends must share: coders (the SPW entropy model's
        tables too), TASCM and HCI weights
        (the config less ``world``, which describes the weights and changes nothing, and
        less ``sketch_overlay``, which the receiver alone applies)."""
        if self._fingerprint is None:
            config = asdict(self.config)
            config.pop("world")
            config.pop("sketch_overlay")
            crc = zlib.crc32(json.dumps(config, sort_keys=True).encode())
            crc = zlib.crc32(self.caption_coder.fingerprint.to_bytes(4, "big"), crc)
            if self.spw.model is not None:
                tables = self.spw.model.flat_counts.astype("<i4").tobytes()
                crc = zlib.crc32(b"spw_model" + tables, crc)
            modules = [("tascm", self.tascm)]
            if self.hci.learned is not None:
                modules.append(("hci", self.hci.learned))
            for name, module in modules:
                crc = zlib.crc32(name.encode(), crc)
                for key, tensor in sorted(module.state_dict().items()):
                    crc = zlib.crc32(key.encode(), crc)
                    t = tensor.detach().cpu().contiguous()
                    crc = zlib.crc32(t.view(torch.uint8).numpy().tobytes(), crc)
            self._fingerprint = crc
        return self._fingerprint

    def set_spw_model(self, model: SPWEntropyModel | None) -> None:
        """Code the SPW stream under ``model`` (None: packed raw); the fingerprint follows."""
        cfg = self.tascm.config
        self.spw = SPWCoder(cfg.num_queries, cfg.codebook_size, model)
        self._fingerprint = None

    @property
    def device(self) -> torch.device:
        return self.mgdd.device

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> MTGC:
        """Move the networks to ``device`` (the HCI codec's entropy coder stays on the CPU).

        ``dtype`` applies to the diffusion decoder, text and image encoders only.
        """
        self.mgdd.to(device, dtype)
        self.tascm.to(device)
        for m in (self.text_encoder.model, self.image_encoder):
            if m is not None:
                m.to(device) if dtype is None else m.to(device=device, dtype=dtype)
        if isinstance(self.captioner, torch.nn.Module):
            self.captioner.to(device)
        if self.sketch is not None:
            self.sketch.to(device)
        return self

    # -- transmitter --------------------------------------------------------------------
    def check_images(self, images: torch.Tensor) -> torch.Tensor:
        """Validate [B,3,H,W] (or [3,H,W]) float images in [0,1]; returns [B,3,H,W]."""
        if images.ndim == 3:
            images = images.unsqueeze(0)
        if images.ndim != 4 or images.shape[1] != 3:
            raise SemcomError(f"images must be [B,3,H,W] RGB tensors, got {list(images.shape)}.")
        h, w = images.shape[-2:]
        m = self.config.min_size
        if h < m or w < m:
            raise SemcomError(
                f"the image is {h}x{w}; the {self.preset} preset needs at least {m}x{m} pixels."
            )
        if h >= 1 << 16 or w >= 1 << 16:
            raise SemcomError(f"the image is {h}x{w}; sides must be below 65536 pixels.")
        if h * w > MAX_PIXELS:
            raise SemcomError(
                f"the image is {h}x{w}; MTGC codes at most {MAX_PIXELS} pixels (2048x2048)."
            )
        if not torch.isfinite(images).all():
            raise SemcomError("the image contains NaN or infinite values.")
        return images.float().clamp(0, 1)

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        """Images → TASCM input: the images (cnn) or CLIP vision tokens (external)."""
        tascm_dtype = next(self.tascm.parameters()).dtype
        if self.image_encoder is None:
            return images.to(self.tascm.device, tascm_dtype)
        with torch.no_grad():
            tokens = self.image_encoder(pixel_values=self.clip_pixels(images)).last_hidden_state
        return tokens.to(self.tascm.device, tascm_dtype)

    @torch.no_grad()
    def spw_indices(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B,3,H,W] in [0,1] → the SPW indices the encoder sends, int64 [B,K] (CPU)."""
        return self.tascm.indices(self._features(images)).cpu()

    def clip_pixels(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B,3,H,W] in [0,1] → the image encoder's ``pixel_values`` [B,3,S,S]:
        resized to its side S (bicubic), normalised by the CLIP mean and std, on its device
        and in its dtype (differentiable, for training losses through the encoder)."""
        enc = self.image_encoder
        if enc is None:
            raise SemcomError("this model has no image_encoder/ (CLIP).")
        size = int(enc.config.image_size)
        x = F.interpolate(images, size=(size, size), mode="bicubic", align_corners=False)
        mean = torch.tensor(self.config.clip_mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.config.clip_std, device=x.device).view(1, 3, 1, 1)
        return ((x.clamp(0, 1) - mean) / std).to(self.device, next(enc.parameters()).dtype)

    def captions_for(self, images: torch.Tensor) -> list[str]:
        """The transmitter's captions: from the captioner, which sees the image only."""
        if self.captioner is None:
            raise SemcomError(
                f"the {self.preset} preset has no captioner; pass a caption (--caption TEXT) "
                "or add captioner/ to the weights directory."
            )
        with torch.no_grad():
            return list(self.captioner.caption(images.to(self.device)))  # type: ignore[attr-defined]

    @torch.no_grad()
    def encode(
        self,
        images: torch.Tensor,
        captions: list[str | None] | None = None,
        hci_setting: HCISetting | None = None,
        target_bpp: float | None = None,
        or_smallest: bool = False,
    ) -> list[Bitstream]:
        """[B,3,H,W] float in [0,1] → B bitstreams.

        captions: per image, a text to send instead of the captioner's (None entries use
        the captioner). target_bpp: choose the HCI setting per image so that the real
        payload bits do not exceed target_bpp·H·W, with as many HCI bits as fit; an image
        that cannot reach it is an error, or with ``or_smallest`` gets its fewest HCI bits.
        """
        images = self.check_images(images)
        b, _, h, w = images.shape
        given = list(captions) if captions is not None else [None] * b
        if len(given) != b:
            raise SemcomError(f"{len(given)} captions for {b} images.")
        missing = [i for i, c in enumerate(given) if c is None]
        if missing:
            made = self.captions_for(images[missing])
            for i, c in zip(missing, made, strict=True):
                given[i] = c
        cap_bytes = [self.caption_coder.encode(str(c)) for c in given]
        indices = self.spw_indices(images)
        spw_bytes = [self.spw.encode(row) for row in indices]
        if target_bpp is None:
            hci_bytes = self.hci.encode(images, hci_setting)
        else:
            hci_bytes = [
                self._fit_hci(
                    images[i : i + 1],
                    target_bpp,
                    8 * (len(cap_bytes[i]) + len(spw_bytes[i])),
                    hci_setting,
                    or_smallest,
                )
                for i in range(b)
            ]
        return [
            Bitstream(
                self.preset,
                self.fingerprint,
                h,
                w,
                {"caption": cap_bytes[i], "hci": hci_bytes[i], "spw": spw_bytes[i]},
            )
            for i in range(b)
        ]

    def hci_candidates(self, kind: str | None = None) -> list[HCISetting]:
        """Every HCI operating point of one codec kind at the factors the decoder was
        trained on (``config.hci_factors``; all factors when it is not recorded)."""
        kind = kind or self.config.hci_kind
        factors = tuple(self.config.hci_factors or FACTORS)
        return [HCISetting(kind, f, q) for f in factors for q in range(N_QUALITIES)]

    def hci_options(self, image: torch.Tensor, kind: str | None = None) -> list[bytes]:
        """Every distinct HCI payload of ``image`` ([1,3,H,W] in [0,1]), the best-decoding
        first: by the PSNR of the decoded, upsampled HCI against ``image`` (ties: more
        bytes, then the finer setting). More bytes do not always buy more quality: past
        some gain the learned codec spends bits on precision its decoder cannot use. A
        payload that does not decode is left out."""
        h, w = image.shape[-2:]
        keys: dict[bytes, tuple[float, int, int, int]] = {}
        for s in self.hci_candidates(kind):
            payload = self.hci.encode(image, s)[0]
            if payload in keys:
                psnr = keys[payload][0]
            else:
                try:
                    rec = self.hci.decode(payload, h, w)
                except StreamError:
                    continue
                mse = float(((rec.float() - image.float().cpu()) ** 2).mean())
                psnr = round(10 * math.log10(1 / max(mse, 1e-12)), 6)
            key = (psnr, len(payload), -s.factor, s.quality)
            keys[payload] = max(keys.get(payload, key), key)
        return sorted(keys, key=lambda p: keys[p], reverse=True)

    def _fit_hci(
        self,
        image: torch.Tensor,
        target_bpp: float,
        other_bits: int,
        hint: HCISetting | None,
        or_smallest: bool = False,
    ) -> bytes:
        """The best-decoding HCI payload (:meth:`hci_options`) that fits target_bpp with
        ``other_bits``; when none fits, the shortest with ``or_smallest``, else an error."""
        h, w = image.shape[-2:]
        budget = math.floor(target_bpp * h * w)
        options = self.hci_options(image, hint.kind if hint else None)
        for payload in options:
            if other_bits + 8 * len(payload) <= budget:
                return payload
        if or_smallest and options:
            return min(options, key=len)
        smallest = other_bits + 8 * min((len(p) for p in options), default=0)
        raise SemcomError(
            f"target {target_bpp:g} bpp ({budget} bits) is below the smallest this image "
            f"reaches ({smallest} bits, {smallest / (h * w):.4f} bpp); raise --target-bpp."
        )

    # -- receiver -----------------------------------------------------------------------
    def _check_bitstream(self, bs: Bitstream) -> None:
        if bs.preset != self.preset:
            raise BitstreamError(
                f"the bitstream was encoded with preset {bs.preset!r}; decode it with "
                f"--preset {bs.preset} (this codec is {self.preset!r})."
            )
        if bs.fingerprint != self.fingerprint:
            raise BitstreamError(
                f"the bitstream's preset fingerprint {bs.fingerprint:08x} differs from these "
                f"{self.preset} weights ({self.fingerprint:08x}); decode with the weights "
                "that encoded it."
            )
        if bs.height * bs.width > MAX_PIXELS:
            raise BitstreamError(
                f"the bitstream declares a {bs.height}x{bs.width} image, more than the "
                f"{MAX_PIXELS} pixels MTGC decodes; its header is corrupted."
            )

    def decode_streams(self, bs: Bitstream, strict: bool = False) -> DecodedStreams:
        """Decode each present stream; a stream that fails is absent (or raises if strict)."""
        self._check_bitstream(bs)
        out = DecodedStreams()
        failed = []
        for name in STREAMS:
            if name not in bs.streams:
                continue
            payload = bs.streams[name]
            try:
                if name == "caption":
                    out.caption = self.caption_coder.decode(payload)
                elif name == "hci":
                    out.hci = self.hci.decode(payload, bs.height, bs.width)
                else:
                    out.spw = self.spw.decode(payload)
            except StreamError:
                if strict:
                    raise
                failed.append(name)
        out.failed = tuple(failed)
        return out

    @torch.no_grad()
    def decode(
        self,
        bitstreams: Bitstream | list[Bitstream],
        steps: int | None = None,
        seed: int | list[int] | None = None,
        guidance_scale: float | None = None,
        strict: bool = False,
        max_batch: int | None = None,
        init_strength: float | None = None,
    ) -> torch.Tensor | list[torch.Tensor]:
        """Bitstream(s) → image(s) [B,3,H,W] float32 in [0,1] (a list if sizes differ).

        seed: one for all images or one per image (default: the preset's seed).
        max_batch: sample at most this many images at once (bounds memory).
        init_strength: where sampling starts (:class:`~semcom.mtgc.mgdd.MGDDConfig`; None: the
        model's): 1 from noise, below 1 from the scene sketch.
        """
        if max_batch is not None and max_batch < 1:
            raise SemcomError("max_batch must be at least 1.")
        single = isinstance(bitstreams, Bitstream)
        items = [bitstreams] if single else list(bitstreams)
        if not items:
            raise SemcomError("nothing to decode.")
        seeds = (
            seed
            if isinstance(seed, list)
            else [self.config.seed if seed is None else seed] * len(items)
        )
        if len(seeds) != len(items):
            raise SemcomError(f"{len(seeds)} seeds for {len(items)} bitstreams.")
        decoded = [self.decode_streams(bs, strict=strict) for bs in items]
        results: list[torch.Tensor | None] = [None] * len(items)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, bs in enumerate(items):
            groups.setdefault((bs.height, bs.width), []).append(i)
        chunks = []
        for (h, w), idx in groups.items():
            step = max_batch or len(idx)
            chunks += [((h, w), idx[i : i + step]) for i in range(0, len(idx), step)]
        for (h, w), idx in chunks:
            imgs = generate(
                self,
                [decoded[i] for i in idx],
                h,
                w,
                [seeds[i] for i in idx],
                steps,
                guidance_scale,
                init_strength,
            )
            for j, i in enumerate(idx):
                results[i] = imgs[j : j + 1]
        if len(groups) == 1:
            return torch.cat(results)  # type: ignore[arg-type]
        return [r for r in results if r is not None]

    # -- persistence --------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> None:
        """Write the model directory (:func:`semcom.mtgc.model_dir.save_model`)."""
        from semcom.mtgc.model_dir import save_model

        save_model(self, path)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
    ) -> MTGC:
        """Load a model directory (:func:`semcom.mtgc.model_dir.load_model`); a missing part
        raises SemcomError naming it."""
        from semcom.mtgc.model_dir import load_model

        return load_model(path, device, dtype)
