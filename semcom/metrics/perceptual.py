"""Perceptual fidelity: LPIPS (AlexNet, v0.1) and DISTS, only from local weights.

Both networks need ImageNet backbone weights and their own learned layers, which are
never downloaded here. Put them in a weights directory (``weights_dir``, else the
environment variable ``SEMCOM_PERCEPTUAL_WEIGHTS``, else ``~/.cache/semcom/perceptual``):

    lpips/alexnet.pth   torchvision AlexNet ImageNet weights (alexnet-owt-7be5be79.pth)
    lpips/alex.pth      LPIPS v0.1 linear layers (lpips/weights/v0.1/alex.pth of the
                        PerceptualSimilarity repository or the ``lpips`` package)
    dists/vgg16.pth     torchvision VGG16 ImageNet weights (vgg16-397923af.pth)
    dists/weights.pt    DISTS alpha and beta (DISTS_pytorch/weights.pt of the reference)
    inception/inception_v3.pth  torchvision Inception-v3 (inception_v3_google-0cc3c7bd.pth),
                        for the patch FID/KID of :mod:`semcom.metrics.patch_fid`

Weights are read from safetensors only (never unpickled at run time): convert the
upstream files once with ``python -m semcom.metrics.perceptual convert [DIR]``, which
reads each ``.pth``/``.pt`` above (or a backbone in torch's own cache,
$TORCH_HOME/hub/checkpoints, under its original name) with
``torch.load(weights_only=True)`` and writes the ``.safetensors`` file beside it
(``lpips/alex.safetensors`` …). Without them :func:`perceptual_metrics` skips the metric
and says why and what to do; :func:`lpips` and :func:`dists` raise.

Inputs: float tensors [B,3,H,W] (or [3,H,W]) in [0, 1], compared at native resolution;
outputs one value per image, float64 [B], lower is better for both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semcom.errors import SemcomError

#: Metrics this module knows.
PERCEPTUAL_METRICS: tuple[str, ...] = ("lpips", "dists")
#: Files each metric needs: (path in the weights directory, torch-cache name or None).
REQUIRED_FILES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "lpips": (("lpips/alexnet.pth", "alexnet-owt-7be5be79.pth"), ("lpips/alex.pth", None)),
    "dists": (("dists/vgg16.pth", "vgg16-397923af.pth"), ("dists/weights.pt", None)),
}
#: Every file ``convert`` turns into safetensors: the metrics' and the Inception-v3 of
#: the patch FID/KID (:mod:`semcom.metrics.patch_fid`).
CONVERTIBLE_FILES: dict[str, tuple[tuple[str, str | None], ...]] = {
    **REQUIRED_FILES,
    "inception": (("inception/inception_v3.pth", "inception_v3_google-0cc3c7bd.pth"),),
}


def default_weights_dir() -> Path:
    """``$SEMCOM_PERCEPTUAL_WEIGHTS`` if set, else ``~/.cache/semcom/perceptual``."""
    env = os.environ.get("SEMCOM_PERCEPTUAL_WEIGHTS")
    return Path(env) if env else Path.home() / ".cache" / "semcom" / "perceptual"


def _torch_cache() -> Path:
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "torch"
    )
    return Path(home) / "hub" / "checkpoints"


def _upstream(root: Path, rel: str, cache_name: str | None) -> Path | None:
    """The upstream (pickled) file of ``rel``: in the weights folder or torch's cache."""
    candidates = [root / rel]
    if cache_name is not None:
        candidates.append(_torch_cache() / cache_name)
    return next((p for p in candidates if p.is_file()), None)


def _safetensors(root: Path, rel: str) -> Path:
    return (root / rel).with_suffix(".safetensors")


def missing_files(metric: str, weights_dir: str | Path | None = None) -> list[Path]:
    """The safetensors files ``metric`` still needs under the weights folder (empty: ready)."""
    root = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    return [
        _safetensors(root, rel)
        for rel, _ in REQUIRED_FILES[metric]
        if not _safetensors(root, rel).is_file()
    ]


def _hint(metric: str, root: Path) -> str:
    """What to do about the missing files of ``metric``."""
    missing = missing_files(metric, root)
    convertible = [
        rel
        for rel, cache in REQUIRED_FILES[metric]
        if _safetensors(root, rel) in missing and _upstream(root, rel, cache) is not None
    ]
    if convertible and len(convertible) == len(missing):
        return (
            f"{', '.join(str(p) for p in missing)} not converted yet; run python -m "
            f"semcom.metrics.perceptual convert {root}"
        )
    return (
        "weights not found locally (never downloaded); to compute it, provide "
        + " and ".join(str(root / rel) for rel, _ in REQUIRED_FILES[metric])
        + f" and run python -m semcom.metrics.perceptual convert {root} (or set "
        "SEMCOM_PERCEPTUAL_WEIGHTS to a folder holding lpips/ and dists/); "
        "semcom/metrics/perceptual.py says where each file comes from"
    )


def convert_weights(weights_dir: str | Path | None = None) -> list[Path]:
    """Write the ``.safetensors`` file of every upstream file present; returns the files
    written. Upstream files are read with ``torch.load(weights_only=True)``."""
    from safetensors.torch import save_file

    root = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    written = []
    for files in CONVERTIBLE_FILES.values():
        for rel, cache in files:
            src, dst = _upstream(root, rel, cache), _safetensors(root, rel)
            if src is None or dst.is_file():
                continue
            try:
                state = torch.load(str(src), map_location="cpu", weights_only=True)
            except Exception as err:  # noqa: BLE001 - any unreadable file gets one message
                raise SemcomError(f"{src} is not a readable tensor file ({err}).") from None
            if not isinstance(state, dict) or not all(
                isinstance(v, torch.Tensor) for v in state.values()
            ):
                raise SemcomError(f"{src} does not hold a dictionary of tensors.")
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.tmp")
            save_file({k: v.contiguous().clone() for k, v in state.items()}, str(tmp))
            os.replace(tmp, dst)
            written.append(dst)
    return written


def _weights(metric: str, root: Path) -> list[dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    if missing_files(metric, root):
        raise SemcomError(f"{metric.upper()}: {_hint(metric, root)}.")
    return [load_file(str(_safetensors(root, rel))) for rel, _ in REQUIRED_FILES[metric]]


class _LPIPS(nn.Module):
    """LPIPS v0.1 over AlexNet: unit-normalised features, squared differences, learned
    1×1 weights, spatial mean, summed over the five ReLU outputs."""

    channels = (64, 192, 384, 256, 256)
    cuts = (2, 5, 8, 10, 12)

    def __init__(self, backbone: dict[str, torch.Tensor], lins: dict[str, torch.Tensor]) -> None:
        super().__init__()
        from torchvision.models import alexnet

        features = alexnet(weights=None).features
        features.load_state_dict(
            {k[len("features.") :]: v for k, v in backbone.items() if k.startswith("features.")}
        )
        starts = (0, *self.cuts[:-1])
        self.slices = nn.ModuleList(
            nn.Sequential(*[features[i] for i in range(a, b)])
            for a, b in zip(starts, self.cuts, strict=True)
        )
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in self.channels)
        for k, lin in enumerate(self.lins):
            lin.weight.data.copy_(lins[f"lin{k}.model.1.weight"])
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = ((x * 2 - 1) - self.shift) / self.scale
        feats = []
        for s in self.slices:
            h = s(h)
            feats.append(h / (h.square().sum(1, keepdim=True).sqrt() + 1e-10))
        return feats

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(x.shape[0], device=x.device)
        for lin, fx, fy in zip(self.lins, self._features(x), self._features(y), strict=True):
            total = total + lin((fx - fy).square()).mean((1, 2, 3))
        return total


class _L2Pool(nn.Module):
    """DISTS' L2 pooling: sqrt of a Hann-weighted (3×3) mean of squares, stride 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        a = np.hanning(5)[1:-1]
        g = torch.tensor(a[:, None] * a[None, :], dtype=torch.float32)
        self.register_buffer("filter", (g / g.sum())[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x.square(), self.filter, stride=2, padding=1, groups=x.shape[1])
        return (out + 1e-12).sqrt()


class _DISTS(nn.Module):
    """DISTS: VGG16 with L2 pooling; per channel, structure (means) and texture
    (covariance) similarities weighted by the learned alpha, beta; 1 - sum."""

    channels = (3, 64, 128, 256, 512, 512)

    def __init__(self, backbone: dict[str, torch.Tensor], ab: dict[str, torch.Tensor]) -> None:
        super().__init__()
        from torchvision.models import vgg16

        features = vgg16(weights=None).features
        features.load_state_dict(
            {k[len("features.") :]: v for k, v in backbone.items() if k.startswith("features.")}
        )
        bounds = ((0, 4), (5, 9), (10, 16), (17, 23), (24, 30))
        stages = []
        for k, (a, b) in enumerate(bounds):
            layers = [] if k == 0 else [_L2Pool(self.channels[k])]
            stages.append(nn.Sequential(*layers, *[features[i] for i in range(a, b)]))
        self.stages = nn.ModuleList(stages)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.register_buffer("alpha", ab["alpha"].reshape(1, -1, 1, 1).float())
        self.register_buffer("beta", ab["beta"].reshape(1, -1, 1, 1).float())
        self.eval().requires_grad_(False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std
        feats = [x]
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        return feats

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        c1 = c2 = 1e-6
        w_sum = self.alpha.sum() + self.beta.sum()
        alpha = torch.split(self.alpha / w_sum, list(self.channels), dim=1)
        beta = torch.split(self.beta / w_sum, list(self.channels), dim=1)
        d1 = d2 = torch.zeros(x.shape[0], 1, 1, 1, device=x.device)
        for k, (fx, fy) in enumerate(zip(self._features(x), self._features(y), strict=True)):
            mx, my = fx.mean((2, 3), keepdim=True), fy.mean((2, 3), keepdim=True)
            s1 = (2 * mx * my + c1) / (mx.square() + my.square() + c1)
            d1 = d1 + (alpha[k] * s1).sum(1, keepdim=True)
            vx = (fx - mx).square().mean((2, 3), keepdim=True)
            vy = (fy - my).square().mean((2, 3), keepdim=True)
            cov = (fx * fy).mean((2, 3), keepdim=True) - mx * my
            s2 = (2 * cov + c2) / (vx + vy + c2)
            d2 = d2 + (beta[k] * s2).sum(1, keepdim=True)
        return 1 - (d1 + d2).flatten()


@lru_cache(maxsize=4)
def _network(metric: str, root: str) -> nn.Module:
    backbone, head = _weights(metric, Path(root))
    return _LPIPS(backbone, head) if metric == "lpips" else _DISTS(backbone, head)


def _pair(reference: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ref = reference.unsqueeze(0) if reference.dim() == 3 else reference
    img = image.unsqueeze(0) if image.dim() == 3 else image
    if ref.shape != img.shape or ref.dim() != 4 or ref.shape[1] != 3:
        raise SemcomError(
            f"images to compare must have the same shape [B, 3, H, W]; got "
            f"{tuple(reference.shape)} and {tuple(image.shape)}."
        )
    return ref.float().clamp(0, 1), img.float().clamp(0, 1)


def _score(metric: str, reference: torch.Tensor, image: torch.Tensor, weights_dir) -> torch.Tensor:
    root = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    net = _network(metric, str(root.resolve()))
    ref, img = _pair(reference, image)
    with torch.no_grad():
        return net(ref.cpu(), img.cpu()).double()


def lpips(
    reference: torch.Tensor, image: torch.Tensor, weights_dir: str | Path | None = None
) -> torch.Tensor:
    """LPIPS (AlexNet, v0.1) per image, float64 [B]; raises SemcomError without weights."""
    return _score("lpips", reference, image, weights_dir)


def dists(
    reference: torch.Tensor, image: torch.Tensor, weights_dir: str | Path | None = None
) -> torch.Tensor:
    """DISTS per image, float64 [B]; raises SemcomError without weights."""
    return _score("dists", reference, image, weights_dir)


@dataclass
class PerceptualResult:
    """Per-metric values (float64 [B]) and, for each skipped metric, why."""

    values: dict[str, torch.Tensor] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def note(self) -> str:
        """One line per skipped metric, for a report's output ("" if none was skipped)."""
        return "\n".join(f"{name} skipped: {why}" for name, why in self.skipped.items())


def perceptual_metrics(
    reference: torch.Tensor,
    image: torch.Tensor,
    metrics: Sequence[str] = PERCEPTUAL_METRICS,
    weights_dir: str | Path | None = None,
) -> PerceptualResult:
    """Compute each metric whose weights are present; skip the others with a reason."""
    root = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    result = PerceptualResult()
    for metric in metrics:
        if metric not in REQUIRED_FILES:
            raise SemcomError(f"unknown perceptual metric {metric!r}; use {PERCEPTUAL_METRICS}.")
        if missing_files(metric, root):
            result.skipped[metric] = _hint(metric, root) + "."
            continue
        result.values[metric] = _score(metric, reference, image, root)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m semcom.metrics.perceptual convert [DIR]``: upstream files → safetensors."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "convert" or len(args) > 2:
        print("usage: python -m semcom.metrics.perceptual convert [WEIGHTS_DIR]", file=sys.stderr)
        return 2
    try:
        written = convert_weights(args[1] if len(args) == 2 else None)
    except SemcomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("nothing to convert (no upstream files without a .safetensors beside them)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
