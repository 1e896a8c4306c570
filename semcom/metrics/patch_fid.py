"""FID and KID on image patches (as HiFiC scores a few hundred images), local weights only.

A set of images [N,3,S,S] is cut into non-overlapping ``patch`` × ``patch`` squares
(:func:`patches`: ⌊S/patch⌋² per image, row by row), each resized to 299 × 299
(bilinear) and fed to torchvision's Inception-v3; its 2048 average-pool features
(float64) describe the set. Between the originals' patches and a codec's:

- FID (:func:`frechet_distance`): ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½); defined here
  only from :data:`FID_MIN_PATCHES` patches per set (the feature dimension: with fewer the
  covariances are singular and the figure is not meaningful).
- KID (:func:`kernel_inception_distance`): the unbiased MMD² with the cubic polynomial
  kernel k(x, y) = (x·y / 2048 + 1)³, averaged over :data:`KID_SUBSETS` random subsets of
  min(:data:`KID_SUBSET_SIZE`, N) patches; defined from 2 patches per set.

Weights: torchvision's ``inception_v3_google-0cc3c7bd.pth`` converted once to
safetensors (``python -m semcom.metrics.perceptual convert``) as
``inception/inception_v3.safetensors`` in the perceptual weights folder
(:func:`~semcom.metrics.perceptual.default_weights_dir`), or a safetensors file named
by the caller. These are torchvision's ImageNet weights, not the TF-Inception weights
(``pt_inception-2015-12-05``) behind published FID figures, so values compare with each
other, not with papers. Lower is better for both.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semcom.errors import SemcomError

#: Feature dimension of Inception-v3's pool layer.
FEATURE_DIM = 2048
#: Fewest patches per set FID is computed from (the feature dimension).
FID_MIN_PATCHES = FEATURE_DIM
#: Fewest patches per set KID is computed from (the unbiased estimator needs pairs).
KID_MIN_PATCHES = 2
#: KID's subset size and number of subsets (as clean-fid and torchmetrics).
KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
#: Inception-v3's input side.
INCEPTION_SIZE = 299
#: The converted weights' place in the perceptual weights folder.
INCEPTION_FILE = "inception/inception_v3.safetensors"
#: ImageNet's pixel mean and standard deviation (torchvision's Inception-v3 expects them
#: and, with ``transform_input``, maps them to the Google weights' own scaling).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_inception_file() -> Path:
    """``inception/inception_v3.safetensors`` in the perceptual weights folder."""
    from semcom.metrics.perceptual import default_weights_dir

    return default_weights_dir() / INCEPTION_FILE


def inception_status(path: str | Path | None = None) -> str:
    """``"ok"`` when the Inception weights are at ``path`` (default:
    :func:`default_inception_file`), else why not and what to do (a phrase)."""
    file = Path(path) if path is not None else default_inception_file()
    if file.is_file() and file.suffix == ".safetensors":
        return "ok"
    if file.is_file():
        return (
            f"{file} is not a .safetensors file; put it at DIR/inception/inception_v3.pth and "
            "run python -m semcom.metrics.perceptual convert DIR"
        )
    return (
        f"Inception-v3 weights not found at {file} (never downloaded); put torchvision's "
        "inception_v3_google-0cc3c7bd.pth at inception/inception_v3.pth in the perceptual "
        "weights folder and run python -m semcom.metrics.perceptual convert, or name a "
        "converted file with --inception"
    )


def patches(images: torch.Tensor, patch: int) -> torch.Tensor:
    """[N,3,H,W] → [N·⌊H/patch⌋·⌊W/patch⌋, 3, patch, patch], non-overlapping, image by
    image and row by row (a remainder at the right and bottom is left out)."""
    n, c, h, w = images.shape
    rows, cols = h // patch, w // patch
    x = images[..., : rows * patch, : cols * patch]
    x = x.reshape(n, c, rows, patch, cols, patch).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(n * rows * cols, c, patch, patch)


def patch_count(n: int, side: int, patch: int) -> int:
    """Patches :func:`patches` cuts from ``n`` images of ``side`` × ``side``."""
    return n * (side // patch) ** 2


class InceptionFeatures(torch.nn.Module):
    """Inception-v3 pool features: [B,3,h,w] in [0, 1] → [B,2048] float64."""

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__()
        status = inception_status(path)
        if status != "ok":
            raise SemcomError(f"FID and KID cannot run: {status}.")
        from safetensors.torch import load_file
        from torchvision.models import inception_v3

        file = Path(path) if path is not None else default_inception_file()
        state = load_file(str(file))
        aux = any(k.startswith("AuxLogits.") for k in state)
        net = inception_v3(weights=None, aux_logits=aux, transform_input=True, init_weights=False)
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            raise SemcomError(
                f"{file} does not hold torchvision Inception-v3 weights ({str(err)[:120]})."
            ) from None
        net.fc = torch.nn.Identity()
        self.net = net.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(
            images.float().clamp(0, 1),
            size=(INCEPTION_SIZE, INCEPTION_SIZE),
            mode="bilinear",
            align_corners=False,
        )
        return self.net((x - self.mean) / self.std).double()


@lru_cache(maxsize=2)
def _network(path: str) -> InceptionFeatures:
    return InceptionFeatures(path)


def patch_features(
    images: torch.Tensor, patch: int, path: str | Path | None = None, batch: int = 32
) -> np.ndarray:
    """Inception features of every patch of ``images`` [N,3,S,S] in [0, 1]:
    [P,2048] float64."""
    file = Path(path) if path is not None else default_inception_file()
    net = _network(str(file.resolve()))
    cut = patches(images.cpu(), patch)
    return torch.cat([net(cut[i : i + batch]) for i in range(0, cut.shape[0], batch)]).numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between feature sets ``a`` [P,D] and ``b`` [Q,D] (Gaussians fitted to each)."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(root).all():
        eps = 1e-6 * np.eye(s1.shape[0])
        root = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    root = np.real(root)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


def kernel_inception_distance(
    a: np.ndarray,
    b: np.ndarray,
    subset_size: int = KID_SUBSET_SIZE,
    subsets: int = KID_SUBSETS,
    seed: int = 0,
) -> float:
    """KID between ``a`` [P,D] and ``b`` [Q,D]: the unbiased MMD² with the kernel
    (x·y/D + 1)³, the mean over ``subsets`` draws of min(subset_size, P, Q) rows each
    (without replacement within a draw; one draw when that is every row of both)."""
    m = min(subset_size, a.shape[0], b.shape[0])
    if m < KID_MIN_PATCHES:
        raise SemcomError(f"KID needs at least {KID_MIN_PATCHES} patches per set, not {m}.")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    draws = 1 if m == a.shape[0] == b.shape[0] else subsets
    values = []
    for _ in range(draws):
        x = a if m == a.shape[0] else a[rng.choice(a.shape[0], m, replace=False)]
        y = b if m == b.shape[0] else b[rng.choice(b.shape[0], m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        same = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(same - 2 * kxy.mean())
    return float(np.mean(values))
