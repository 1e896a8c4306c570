"""benchmarks/gpu.py on its CPU path (sd21 at toy scale, the sweep twice on the CPU):
every measurement runs and the JSON holds them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_benchmark_runs_on_the_cpu_and_writes_its_figures(tmp_path) -> None:
    out = tmp_path / "gpu.json"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "benchmarks/gpu.py", "--quick", "--images", "2", "--repeats", "1"]
    proc = subprocess.run(
        [*cmd, "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["meta"]["gpu"] is None
    records = data["results"]
    assert [r for r in records if "error" in r] == []
    kinds = {r["what"] for r in records}
    assert kinds == {
        *("sd21 build", "sd21 load", "sd21 encode", "sd21 decode", "sd21 train"),
        *("encode", "decode", "agreement", "ldpc", "link", "sweep"),
    }
    assert {r["device"] for r in records} == {"cpu"}
    # the sd21 classes at toy scale on the CPU path: 64×64 scenes, batch 1 and 2
    sd21 = [r for r in records if r["what"] == "sd21 decode"]
    assert {(r["scale"], r["size"], r["batch"]) for r in sd21} == {("toy", 64, 1), ("toy", 64, 2)}
    assert all(r["s_per_image"] > 0 and r["unet_evals"] == 20 for r in sd21)
    # every part of semcom train --preset sd21 ran its steps on the same model
    trained = [r for r in records if r["what"] == "sd21 train"]
    assert [r["part"] for r in trained] == ["hci", "controlnet", "tascm", "joint"]
    assert all(r["steps"] == 2 and r["batch"] == 2 and r["seconds"] > 0 for r in trained)
    decode = [r for r in records if r["what"] == "decode"]
    assert {r["batch"] for r in decode} == {1, 2} and all(r["s_per_image"] > 0 for r in decode)
    ldpc = [r for r in records if r["what"] == "ldpc"]
    # early stop and the fixed 20 iterations decode the same LLRs to the same bits
    assert sorted(r["early_stop"] for r in ldpc) == [False, True]
    assert all(r["same_bits"] for r in ldpc) and all(r["kbit_per_s"] > 0 for r in ldpc)
    (link,) = [r for r in records if r["what"] == "link"]
    assert 0 < link["streams_delivered"] <= 3 * link["items"] and link["same_deliveries"]
    # half precision (bfloat16 on the CPU) writes the same bits and decodes within rounding
    (agree,) = [r for r in records if r["what"] == "agreement"]
    assert agree["dtype"] == "bfloat16" and agree["same_bitstreams"] and agree["images"] == 2
    assert agree["min_psnr_db"] > 40 and agree["max_abs_diff"] < 0.1
    # without a GPU the sweep runs twice on the CPU: the repeat agrees row for row
    first, repeat = [r for r in records if r["what"] == "sweep"]
    assert first["points"] == repeat["points"] == first["points_asked"] == 4
    assert repeat["same_link_rows"] == repeat["same_semantic_rows"] == 4
    assert repeat["max_psnr_diff_db"] == 0.0
    assert "decode" in proc.stdout and "kbit/s" in proc.stdout
