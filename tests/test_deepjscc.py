"""Deep JSCC: power constraint, the analog channel against the link's, the shipped model
end to end (transmit, CLI, a tiny sweep and its figures)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from channels.analog import awgn, data_symbols, noise_variance, send_analog
from channels.models import make_channel
from experiments.config import parse_config
from experiments.plots import plot_all
from experiments.store import Store
from experiments.sweep import run_sweep
from experiments.transmission import make_link, transmit_image
from semcom.baselines.deepjscc import DeepJSCC, load
from semcom.data.shapes import ShapesWorld
from semcom.errors import SemcomError
from tests._mtgc import single_thread  # noqa: F401
from tests.conftest import run_cli

N_NOISE = 200_000  # samples per noise-variance check


def unit_symbols(n: int, seed: int) -> torch.Tensor:
    """[1, n] complex64 QPSK-like symbols of unit energy."""
    g = torch.Generator().manual_seed(seed)
    re = torch.randint(0, 2, (1, n), generator=g).float() * 2 - 1
    im = torch.randint(0, 2, (1, n), generator=g).float() * 2 - 1
    return torch.complex(re, im) / math.sqrt(2)


def variance_tolerance(no: float, n: int) -> float:
    """5 standard deviations of the mean of n values |CN(0, no)|² (std no / sqrt(n))."""
    return 5 * no / math.sqrt(n)


@pytest.mark.parametrize("budget", [0.03, 0.1, 0.3])
def test_encoder_output_has_unit_power_per_image(budget) -> None:
    model = DeepJSCC(widths=(8, 8, 8), latent_channels=40).eval()
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        x = model.encode(
            images, torch.tensor([-5.0, 5.0, 20.0]), model.budget_symbols(budget, 64, 64)
        )
    assert x.dtype == torch.complex64 and x.shape == (3, math.floor(budget * 64 * 64))
    assert torch.allclose(x.abs().square().mean(dim=1), torch.ones(3), atol=1e-5)


def test_budget_beyond_the_latent_is_refused() -> None:
    model = DeepJSCC(widths=(8, 8, 8), latent_channels=40)
    assert model.max_symbols(128, 128) == 5120
    with pytest.raises(SemcomError, match="at most"):
        model.budget_symbols(0.5, 128, 128)


@pytest.mark.parametrize("snr_db", [-5.0, 5.0, 20.0])
def test_analog_awgn_noise_variance_is_the_links(snr_db) -> None:
    no = noise_variance(snr_db)
    x = unit_symbols(N_NOISE, 0)
    y, no_eff = send_analog(
        make_channel("awgn"), x, snr_db, generator=torch.Generator().manual_seed(1)
    )
    measured = (y - x).abs().square().mean().item()
    assert abs(measured - no) < variance_tolerance(no, N_NOISE)
    assert torch.allclose(no_eff, torch.full_like(no_eff, no))


@pytest.mark.parametrize("snr_db", [-5.0, 5.0, 20.0])
def test_training_awgn_matches_the_sionna_channel(snr_db) -> None:
    no = noise_variance(snr_db)
    x = unit_symbols(N_NOISE, 0)
    y = awgn(x, torch.tensor([snr_db]), torch.Generator().manual_seed(2))
    measured = (y - x).abs().square().mean().item()
    assert abs(measured - no) < variance_tolerance(no, N_NOISE)


def test_analog_rayleigh_noise_is_no_eff_after_zero_forcing() -> None:
    x = unit_symbols(N_NOISE, 0)
    y, no_eff = send_analog(
        make_channel("rayleigh"),
        x,
        10.0,
        generator=torch.Generator().manual_seed(3),
        block_symbols=1000,
    )
    normalised = ((y - x) / no_eff.sqrt()).abs().square().mean().item()
    assert abs(normalised - 1.0) < variance_tolerance(1.0, N_NOISE)


def test_tdl_leaves_room_for_pilots() -> None:
    tdl = make_channel("tdl-a")
    n = data_symbols(tdl, 1638)
    assert 0 < n < 1638 and tdl.channel_uses(n) <= 1638 < tdl.channel_uses(n + 1)
    assert data_symbols(make_channel("awgn"), 1638) == 1638


@pytest.fixture(scope="module")
def scene() -> torch.Tensor:
    return ShapesWorld("test", n=1, seed=0)[0].image


def send(scene, seed: int, channel: str = "awgn", snr_db: float = 10.0):
    return transmit_image(
        scene, codec="deepjscc", link=make_link(channel), snr_db=snr_db, budget_cpp=0.1, seed=seed
    )


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_same_seed_same_image_other_seed_other_image(scene, channel) -> None:
    a, b, c = send(scene, 0, channel), send(scene, 0, channel), send(scene, 1, channel)
    assert torch.equal(a.image, b.image)
    assert not torch.equal(a.image, c.image)
    assert a.success and a.channel_uses == a.budget_uses == 1638
    assert a.streams["analog"]["crc_ok"] is None


def test_shipped_model_improves_with_snr(scene) -> None:
    psnr = [send(scene, 0, snr_db=s).figures["psnr"] for s in (-5.0, 20.0)]
    assert psnr[1] > psnr[0] + 2
    assert load().config.latent_channels * 16 * 16 // 2 >= 4915  # holds the 0.3 cpp budget


@pytest.mark.slow
def test_cli_transmit_deepjscc(scene, tmp_path, capsys) -> None:
    from semcom.imageio import save_image

    src, out = tmp_path / "in.png", tmp_path / "out.png"
    save_image(scene, src)
    args = ["transmit", str(src), "-o", str(out), "--codec", "deepjscc", "--snr-db", "8"]
    code, stdout, _ = run_cli([*args, "--budget-cpp", "0.03", "--json"], capsys)
    assert code == 0 and out.is_file()
    report = json.loads(stdout)
    assert report["success"] and report["channel_uses"] == 491
    code, _, err = run_cli([*args, "--budget-cpp", "0.03", "--mcs", "mcs9"], capsys)
    assert code == 2 and "no --mcs" in err


def test_config_rejects_an_mcs_for_deepjscc() -> None:
    base = {"codecs": [{"name": "deepjscc", "mcs": "mcs9"}], "channels": ["awgn"]}
    with pytest.raises(SemcomError, match="takes no MCS"):
        parse_config({**base, "snr_db": [0], "budget_cpp": [0.1]})


@pytest.mark.slow
def test_tiny_sweep_with_deepjscc_and_its_figures(tmp_path) -> None:
    cfg = parse_config(
        {
            "name": "jscc",
            "dataset": {"split": "test", "n": 2, "size": 64, "seed": 0},
            "codecs": ["deepjscc", "webp"],
            "channels": ["awgn", "rayleigh"],
            "snr_db": [0, 12],
            "budget_cpp": [0.1, 0.4],
            "save_images": 1,
        }
    )
    report = run_sweep(cfg, tmp_path / "sweep", progress=False)
    assert report.points_written == cfg.num_points == 32
    df = Store(tmp_path / "sweep", create=False).frame()
    jscc = df[df["codec"] == "deepjscc"]
    assert jscc["success"].astype(bool).all() and jscc["psnr"].notna().all()
    small = jscc[jscc["budget_cpp"] == 0.1]
    assert (small["analog_channel_uses"] == small["budget_uses"]).all()
    assert (jscc["channel_uses"] <= jscc["budget_uses"]).all()  # 0.4 cpp: the latent's 0.3125
    names = {p.name for p in plot_all(tmp_path / "sweep", tmp_path / "fig")}
    assert {"vs_snr_awgn.png", "erasure_rayleigh.pdf", "grid_awgn.png"} <= names
