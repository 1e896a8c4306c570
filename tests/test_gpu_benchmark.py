"""benchmarks/gpu.py on its CPU path: every measurement runs and the JSON holds them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
    kinds = {(r["what"], r["device"]) for r in records}
    assert kinds == {("encode", "cpu"), ("decode", "cpu"), ("ldpc", "cpu"), ("link", "cpu")}
    decode = [r for r in records if r["what"] == "decode"]
    assert {r["batch"] for r in decode} == {1, 2} and all(r["s_per_image"] > 0 for r in decode)
    ldpc = [r for r in records if r["what"] == "ldpc"]
    # early stop and the fixed 20 iterations decode the same LLRs to the same bits
    assert sorted(r["early_stop"] for r in ldpc) == [False, True]
    assert all(r["same_bits"] for r in ldpc) and all(r["kbit_per_s"] > 0 for r in ldpc)
    (link,) = [r for r in records if r["what"] == "link"]
    assert 0 < link["streams_delivered"] <= 3 * link["items"] and link["same_deliveries"]
    assert "decode" in proc.stdout and "kbit/s" in proc.stdout
