"""A small run of the decoder fuzzer (benchmarks/fuzz.py): no crash, hang or leak.

The harness runs the decoders in a worker subprocess and detects hangs by its own
timeout, so these tests assert counts, never wall time. The full run and its figures:
docs/fuzzing.md.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from semcom.mtgc.container import Bitstream

N_INPUTS = 420
SEED = 7


def _load_harness() -> ModuleType:
    # Loaded by path: tests/fuzz.py already owns the module name ``fuzz``.
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz.py"
    spec = importlib.util.spec_from_file_location("fuzz_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_harness"] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


@pytest.fixture(scope="module")
def report():
    return harness.run(N_INPUTS, seed=SEED, timeout=5.0)


def _findings(report) -> str:
    return "\n".join(f"{f.target} #{f.index} {f.kind}: {f.detail}" for f in report.findings)


@pytest.mark.slow
def test_every_decoder_is_fuzzed(report) -> None:
    targets = harness.all_targets()
    counts = harness.target_counts(N_INPUTS, targets)
    assert [s.target for s in report.stats] == targets
    # every digital codec of the registry is a target, through the codec protocol
    assert {"codec:mtgc", "codec:webp", "codec:compressai"} <= set(targets)
    assert "codec:deepjscc" not in targets  # analog: no bytes to mutate
    assert {s.target: s.inputs for s in report.stats} == counts
    assert sum(counts.values()) >= 400


def test_no_decoder_crashes_hangs_or_raises_a_foreign_error(report) -> None:
    assert report.findings == [], _findings(report)
    for s in report.stats:
        assert (s.crashes, s.hangs, s.errors, s.restarts) == (0, 0, 0, 0), s
        assert s.ok + s.clean == s.inputs, s


def test_inputs_reach_both_outcomes(report) -> None:
    # Mutations that never decode (or never fail) would test nothing.
    for s in report.stats:
        # the receivers (the link's and the codec protocol's) fall back instead of failing
        if s.target != "receiver" and not s.target.startswith(harness.REGISTRY_PREFIX):
            assert s.clean > 0, s
        if s.inputs >= 30:
            assert s.ok > 0, s
    ok = sum(s.ok for s in report.stats)
    assert 0.2 < ok / sum(s.inputs for s in report.stats) < 0.8


def test_worker_memory_stays_bounded(report) -> None:
    for s in report.stats:
        assert s.mem_jumps == 0, s
        assert s.rss_end_mb - s.rss_start_mb < 128, s
    assert max(s.peak_mb for s in report.stats) < 4096


def test_harness_reports_aborts_hangs_and_foreign_exceptions() -> None:
    got = harness.run(3, targets=list(harness.SELFTESTS), timeout=1.0)
    by_target = {s.target: s for s in got.stats}
    assert by_target["selftest-abort"].crashes == 1
    assert by_target["selftest-hang"].hangs == 1
    assert by_target["selftest-raise"].errors == 1
    kinds = {(f.target, f.kind) for f in got.findings}
    assert kinds == {
        ("selftest-abort", "crash"),
        ("selftest-hang", "hang"),
        ("selftest-raise", "error"),
    }
    assert all(bytes.fromhex(f.input_hex) for f in got.findings)  # reproducers are kept


def test_structure_aware_containers_always_carry_a_valid_crc() -> None:
    seed = Bitstream("tiny", 0x12345678, 128, 128, {"caption": b"\x10", "hci": b"\x88" * 9})
    rng = np.random.default_rng(0)
    for _ in range(300):
        data = harness.mutate_container(seed.to_bytes(), rng, [seed.to_bytes()])
        (crc,) = struct.unpack(">I", data[-4:])
        assert zlib.crc32(data[:-4]) == crc


def test_receiver_inputs_round_trip() -> None:
    delivered = {"caption": b"abc", "hci": None, "spw": b"", "image": b"\x00" * 3}
    assert harness.unpack_delivered(harness.pack_delivered(0, delivered)) == (0, delivered)
    assert harness.unpack_delivered(harness.pack_delivered(3, {})) == (3, {})
