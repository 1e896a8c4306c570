"""``--device``: one resolver for every command; CUDA refused clearly where there is none."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_cli

from semcom.devices import half_dtype, resolve_device
from semcom.errors import SemcomError


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
    assert resolve_device("auto") == "cuda" and resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(SemcomError, match="has 1 CUDA GPU"):
        resolve_device("cuda:1")
    assert half_dtype("cuda:0") == torch.float16 and half_dtype("cpu") == torch.bfloat16


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
