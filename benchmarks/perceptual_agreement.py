"""Our LPIPS and DISTS against the reference implementations, same weights, same images.

Run: ``.venv/bin/python benchmarks/perceptual_agreement.py [--refpkgs DIR]`` after
``.venv/bin/pip install --no-deps --target /tmp/refpkgs lpips==0.1.4 DISTS-pytorch==0.1``
(``--refpkgs`` defaults to ``$SEMCOM_REFPKGS``, else ``/tmp/refpkgs``).

ImageNet backbones cannot be downloaded here, so AlexNet and VGG16 are randomly
initialised (``torch.manual_seed(0)``, torchvision's state_dict format); the learned layers
are the real ones shipped with the packages (``lpips/weights/v0.1/alex.pth``,
``DISTS_pytorch/weights.pt``). The script writes all four files into a temporary weights
directory in our layout, runs ``python -m semcom.metrics.perceptual convert`` on it, and
builds the references (``lpips.LPIPS(net="alex", version="0.1")`` on [0, 1] inputs with
``normalize=True``; ``DISTS_pytorch.DISTS`` on [0, 1] inputs) with the same backbone patched
in for their torchvision constructors, so nothing is downloaded. Pairs (128×128): 8
ShapesWorld test scenes against a noisy (even) or blurred (odd) copy, and 4 uniform-noise
pairs. It prints, per metric, max |ours - reference|, max relative difference and both
means, and exits 1 if a max |difference| exceeds ``--tol`` (default 1e-5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import torch
import torch.nn.functional as F
import torchvision

from semcom.data.shapes import ShapesWorld
from semcom.metrics import perceptual


def image_pairs(n_scenes: int = 8, n_random: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """[B,3,128,128] pairs in [0, 1]: scenes vs noisy/blurred copies, then random pairs."""
    gen = torch.Generator().manual_seed(0)
    scenes = torch.stack(
        [ShapesWorld("test", n=n_scenes, seed=0)[i].image for i in range(n_scenes)]
    )
    noisy = (scenes + 0.05 * torch.randn(scenes.shape, generator=gen)).clamp(0, 1)
    box = torch.full((3, 1, 3, 3), 1 / 9)
    blurred = F.conv2d(F.pad(scenes, (1, 1, 1, 1), mode="replicate"), box, groups=3)
    distorted = torch.where(torch.arange(n_scenes).view(-1, 1, 1, 1) % 2 == 0, noisy, blurred)
    rand_a = torch.rand((n_random, 3, 128, 128), generator=gen)
    rand_b = torch.rand((n_random, 3, 128, 128), generator=gen)
    return torch.cat([scenes, rand_a]), torch.cat([distorted, rand_b])


def write_weights(root: Path, refpkgs: Path, alex: torch.nn.Module, vgg: torch.nn.Module) -> None:
    """Our layout: random backbones + the packages' learned layers, then our converter."""
    (root / "lpips").mkdir(parents=True)
    (root / "dists").mkdir(parents=True)
    torch.save(alex.state_dict(), root / "lpips" / "alexnet.pth")
    torch.save(vgg.state_dict(), root / "dists" / "vgg16.pth")
    shutil.copy(refpkgs / "lpips" / "weights" / "v0.1" / "alex.pth", root / "lpips" / "alex.pth")
    shutil.copy(refpkgs / "DISTS_pytorch" / "weights.pt", root / "dists" / "weights.pt")
    if perceptual.main(["convert", str(root)]) != 0:
        raise SystemExit("our converter failed")


def reference_scores(
    refpkgs: Path, alex: torch.nn.Module, vgg: torch.nn.Module, x: torch.Tensor, y: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Reference LPIPS and DISTS, their torchvision constructors patched to our backbones."""
    import lpips
    import lpips.pretrained_networks as pn
    from DISTS_pytorch import DISTS_pt

    with mock.patch.object(pn, "tv", SimpleNamespace(alexnet=lambda **_: alex)):
        ref_lpips = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
    with mock.patch.object(DISTS_pt, "models", SimpleNamespace(vgg16=lambda **_: vgg)):
        ref_dists = DISTS_pt.DISTS(load_weights=False).eval()
    # The reference itself loads weights.pt from sys.prefix, saved on CUDA; load it here.
    ab = torch.load(refpkgs / "DISTS_pytorch" / "weights.pt", map_location="cpu", weights_only=True)
    ref_dists.alpha.data, ref_dists.beta.data = ab["alpha"], ab["beta"]
    with torch.no_grad():
        return {
            "lpips": ref_lpips(x, y, normalize=True).flatten().double(),
            "dists": ref_dists(x, y).flatten().double(),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refpkgs", default=os.environ.get("SEMCOM_REFPKGS", "/tmp/refpkgs"))
    parser.add_argument("--tol", type=float, default=1e-5, help="max |difference| allowed")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    refpkgs = Path(args.refpkgs).resolve()
    sys.path.insert(0, str(refpkgs))
    try:
        import DISTS_pytorch  # noqa: F401
        import lpips  # noqa: F401
    except ImportError as err:
        print(
            f"reference packages not importable from {refpkgs} ({err}); install them with "
            f"pip install --no-deps --target {refpkgs} lpips==0.1.4 DISTS-pytorch==0.1",
            file=sys.stderr,
        )
        return 2

    torch.manual_seed(0)
    alex = torchvision.models.alexnet(weights=None).eval()
    vgg = torchvision.models.vgg16(weights=None).eval()
    x, y = image_pairs()
    with tempfile.TemporaryDirectory() as tmp:
        write_weights(Path(tmp), refpkgs, alex, vgg)
        ours = {
            "lpips": perceptual.lpips(x, y, weights_dir=tmp),
            "dists": perceptual.dists(x, y, weights_dir=tmp),
        }
    ref = reference_scores(refpkgs, alex, vgg, x, y)

    print(f"\n{len(x)} pairs of {tuple(x.shape[1:])} images, random backbones (seed 0)")
    print(
        f"{'metric':6s} {'pairs':>5s} {'max|diff|':>10s} {'max rel':>10s} {'mean ours':>10s} "
        f"{'mean ref':>10s}"
    )
    worst = 0.0
    for name in ("lpips", "dists"):
        diff = (ours[name] - ref[name]).abs()
        rel = diff / ref[name].abs().clamp_min(1e-12)
        worst = max(worst, diff.max().item())
        print(
            f"{name:6s} {len(diff):5d} {diff.max().item():10.2e} {rel.max().item():10.2e} "
            f"{ours[name].mean().item():10.6f} {ref[name].mean().item():10.6f}"
        )
    verdict = "agree" if worst <= args.tol else "DISAGREE"
    print(f"{verdict}: max |ours - reference| = {worst:.2e} (tolerance {args.tol:g})")
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    raise SystemExit(main())
