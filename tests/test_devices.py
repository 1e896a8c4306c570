"""``--device``: one resolver for every command; CUDA refused clearly where there is none."""

from __future__ import annotations

import json

import pytest
import torch

from semcom.devices import half_dtype, resolve_device
from semcom.errors import SemcomError
from tests.conftest import run_cli


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_names_resolve_and_cuda_without_a_gpu_is_refused(no_gpu, monkeypatch):
    assert resolve_device("cpu") == "cpu" and resolve_device(" CPU ") == "cpu"
    assert resolve_device("auto") == "cpu"
    for name in ("cuda", "cuda:0"):
        with pytest.raises(SemcomError, match=f"--device {name} was asked for, but no CUDA"):
            resolve_device(name)
    with pytest.raises(SemcomError, match="must be cpu, cuda, cuda:N or auto, not 'tpu'"):
        resolve_device("tpu")
    # with one GPU present: auto picks it, a second one does not exist
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    # Sionna takes cuda:N only: a bare cuda names torch's current GPU
    assert resolve_device("auto") == resolve_device("cuda") == resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(SemcomError, match="has 1 CUDA GPU"):
        resolve_device("cuda:1")
    assert half_dtype("cuda:0") == torch.float16 and half_dtype("cpu") == torch.bfloat16


@pytest.mark.slow
def test_link_runs_on_the_device_named_and_refuses_cuda_in_one_sentence(no_gpu, capsys):
    args = ["link", "--channel", "awgn", "--mcs", "mcs4", "--snr-db", "2"]
    args += ["--bits", "64", "--blocks", "4", "--json"]

    def counts(out: str) -> list:
        timing = ("seconds", "info_kbps")
        return [
            {k: v for k, v in p.items() if k not in timing}
            for c in json.loads(out)["curves"]
            for p in c["points"]
        ]

    code, out, _ = run_cli([*args, "--device", "cpu"], capsys)
    assert code == 0
    ref = counts(out)
    assert ref[0]["blocks"] == 4 and ref[0]["pre_fec_ber"] > 0
    code, out, _ = run_cli([*args, "--device", "auto"], capsys)
    assert code == 0 and counts(out) == ref
    code, _, err = run_cli([*args, "--device", "cuda"], capsys)
    assert code == 2 and err.count("\n") == 1 and "no CUDA GPU is available" in err


def test_decode_refuses_cuda_without_a_gpu(no_gpu, capsys, tmp_path):
    path = tmp_path / "x.mtgc"
    path.write_bytes(b"not a container")
    code, _, err = run_cli(
        ["decode", str(path), "-o", str(tmp_path / "y.png"), "--device", "cuda"], capsys
    )
    assert code == 2 and err.count("\n") == 1


def _config(**extra):
    from experiments.config import parse_config

    base = {
        "dataset": {"n": 1},
        "codecs": ["webp"],
        "channels": ["awgn"],
        "snr_db": [3],
        "budget_cpp": [0.1],
    }
    return parse_config({**base, **extra})


def test_sweep_config_device_resolves_and_keeps_cpu_hashes(no_gpu, monkeypatch):
    plain = _config()
    assert plain.device == "cpu" and "device" not in plain.to_dict()
    assert _config(device="auto").hash() == plain.hash() == _config(device="cpu").hash()
    with pytest.raises(SemcomError, match="config device: .*no CUDA GPU"):
        _config(device="cuda")
    with pytest.raises(SemcomError, match="config device: must be cpu, cuda"):
        _config(device=3)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    gpu, second = _config(device="cuda"), _config(device="cuda:1")
    assert gpu.device == "cuda:0" and second.device == "cuda:1"
    # GPU rows are kept apart from CPU rows, whichever GPU made them
    assert gpu.to_dict()["device"] == "cuda" and gpu.hash() == second.hash() != plain.hash()


def test_ray_workers_share_the_gpus_only_for_a_cuda_sweep(no_gpu, monkeypatch):
    from experiments.ray_executor import gpu_share

    class Cluster:
        def __init__(self, gpus):
            self.gpus = gpus

        def cluster_resources(self):
            return {"CPU": 8.0, "GPU": self.gpus}

    assert gpu_share(_config(), Cluster(2), 4) == 0.0
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    gpu = _config(device="cuda")
    assert gpu_share(gpu, Cluster(1), 4) == 0.25
    assert gpu_share(gpu, Cluster(8), 2) == 1.0
    with pytest.raises(SemcomError, match="has no GPU"):
        gpu_share(gpu, Cluster(0), 2)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["transmit", "sweep", "evaluate", "train", "train-sd21"])
def test_every_model_command_refuses_cuda_without_a_gpu(command, no_gpu, capsys, tmp_path):
    from PIL import Image

    image = tmp_path / "x.png"
    Image.new("RGB", (64, 64)).save(image)
    config = tmp_path / "s.yaml"
    config.write_text(
        "dataset: {n: 1}\ncodecs: [webp]\nchannels: [awgn]\nsnr_db: [3]\nbudget_cpp: [0.1]\n"
    )
    args = {
        "transmit": [
            str(image),
            "-o",
            str(tmp_path / "y.png"),
            "--snr-db",
            "3",
            "--budget-cpp",
            "0.1",
        ],
        "sweep": [str(config), "--out", str(tmp_path / "run")],
        "evaluate": ["--n", "1", "--codec", "webp"],
        "train": ["--work", str(tmp_path / "run")],
        "train-sd21": ["--preset", "sd21", "--data", str(tmp_path), "--out", str(tmp_path / "m")],
    }[command]
    name = command.split("-")[0]
    code, _, err = run_cli([name, *args, "--device", "cuda"], capsys)
    assert code == 2 and err.count("\n") == 1 and "no CUDA GPU is available" in err, err
    assert not (tmp_path / "y.png").exists() and not (tmp_path / "run").exists()
    assert not (tmp_path / "m").exists()


def test_codecs_take_the_device_from_their_context():
    """The registry hands ``device`` to every codec; models load there and images come
    back on the CPU."""
    from experiments.analog import send_analog
    from experiments.transmission import make_link
    from semcom.registry import make_codec

    mtgc = make_codec("mtgc", {}, device="cpu")
    assert mtgc.device == "cpu" and make_codec("webp", {}, device="cpu").name == "webp"
    deep = make_codec("deepjscc", {}, device="cpu")
    link = make_link("awgn", device="cpu")
    sent = send_analog(deep, link, torch.rand(1, 3, 64, 64), 5.0, 200, [0])
    assert sent.images.device.type == "cpu" and sent.images.shape == (1, 3, 64, 64)


def test_half_precision_sends_the_same_bits_and_decodes_within_rounding():
    """MTGC's ``half`` option (bfloat16 on this CPU, float16 on a GPU: the same code path)
    gives the same bitstreams and decodes within rounding of float32 (measured on 16
    validation scenes: ≥ 57.5 dB between the two, at most 0.021 apart per pixel)."""
    from semcom.data.shapes import ShapesWorld
    from semcom.registry import make_codec

    data = ShapesWorld("val", n=2, seed=0)
    full, half = make_codec("mtgc", {}), make_codec("mtgc", {"half": True})
    assert half.model.mgdd.dtype == torch.bfloat16 and full.model.mgdd.dtype == torch.float32
    for i in range(2):
        a, b = full.encode(data[i].image), half.encode(data[i].image)
        assert a.header == b.header
        assert [o.payload for s in a.streams for o in s.options] == [
            o.payload for s in b.streams for o in s.options
        ]
        got = {s.name: s.options[0].payload for s in a.streams}
        x, y = full.decode(a.header, got, 0), half.decode(b.header, got, 0)
        assert x.dtype == y.dtype == torch.float32
        mse = float(((x - y) ** 2).mean())
        assert 10 * torch.log10(torch.tensor(1 / mse)) > 40 and float((x - y).abs().max()) < 0.1
    with pytest.raises(SemcomError, match="half must be true or false"):
        make_codec("mtgc", {"half": "yes"})


@pytest.mark.slow
def test_half_is_refused_for_a_codec_without_networks(capsys, tmp_path):
    from PIL import Image

    image = tmp_path / "x.png"
    Image.new("RGB", (64, 64)).save(image)
    out = tmp_path / "y.png"
    args = [str(image), "-o", str(out), "--snr-db", "3", "--budget-cpp", "0.1", "--codec", "webp"]
    code, _, err = run_cli(["transmit", *args, "--half"], capsys)
    assert code == 2 and "--half applies to codecs with networks" in err and not out.exists()
    code, _, err = run_cli(["evaluate", "--reference", "webp", "--codec", "webp", "--half"], capsys)
    assert code == 2 and "--half applies to a reference with networks" in err


def test_a_cpu_link_ignores_sionnas_default_device(monkeypatch):
    """On a GPU machine Sionna's default device is the GPU; a CPU link must not put any
    part there. Emulated on the CPU: Sionna's default becomes the ``meta`` device, and
    every channel still delivers exactly what it delivers with the default on the CPU."""
    from sionna.phy import config

    from channels.devices import canonical_device, sionna_device
    from channels.link import Link

    items = [{"caption": bytes(range(i, i + 12)), "hci": bytes(200)} for i in range(2)]

    def deliveries(channel: str, **options) -> list:
        link = Link(channel, device="cpu", channel_options=options)
        sent = link.transmit_many(items, 3.0, seeds=range(len(items)))
        return [sorted(t.received().items()) for t in sent]

    cases = [("awgn", {}), ("rayleigh", {}), ("tdl-a", {}), ("tdl-a", {"antennas": 2})]
    cases.append(("cdl-a", {}))
    expected = [deliveries(name, **opts) for name, opts in cases]
    monkeypatch.setattr(type(config), "available_devices", property(lambda _: ["cpu", "meta"]))
    monkeypatch.setattr(config, "_device", "meta")
    assert [deliveries(name, **opts) for name, opts in cases] == expected
    assert config.device == "meta"  # restored after each call
    # a link on another device (on a GPU machine: cuda:0) keeps its channel draws on the
    # CPU; Sionna refuses a child on another device unless it is held apart
    for name in ("tdl-a", "cdl-a"):
        tdl = Link(name, device="meta").channel
        assert tdl.device == "meta" and tdl._channel_model.device == "cpu"
    with sionna_device(torch.device("cpu")) as name:
        assert name == "cpu" == config.device
    assert canonical_device(None) == "cpu" and canonical_device(torch.device("cpu")) == "cpu"


def test_the_tiny_recipe_stays_on_the_cpu(monkeypatch, capsys, tmp_path):
    """With a GPU present, ``semcom train --device cuda`` trains sd21 only: the tiny
    recipe's weights come from 2 CPU cores and time budgets a GPU would change."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    code, _, err = run_cli(["train", "--work", str(tmp_path / "w"), "--device", "cuda"], capsys)
    assert code == 2 and "tiny recipe trains on the CPU" in err and "--preset sd21" in err
    assert not (tmp_path / "w").exists()
