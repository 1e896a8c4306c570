"""Sweeps at scale: the Ray executor, SIGKILL and resume, one writer per folder, and
byte-identical results across runs and executors."""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from experiments.config import parse_config
from experiments.store import LOCK_NAME, STORE_NAME, Store
from experiments.sweep import run_sweep
from semcom.errors import SemcomError
from tests._mtgc import single_thread, small_codec  # noqa: F401
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "name": "scale",
    "dataset": {"split": "test", "n": 2, "size": 64, "seed": 0},
    "codecs": ["mtgc", "webp", "deepjscc"],
    "channels": ["awgn", "rayleigh"],
    "snr_db": [0, 12],
    "budget_cpp": [0.1],
    "save_images": 1,
}

#: The SIGKILL test's sweep: every kind of codec, through the shipped MTGC-tiny (2 steps).
KILLED = {
    "name": "killed",
    "dataset": {"split": "test", "n": 3, "size": 64, "seed": 0},
    "codecs": ["webp", "jpeg2000", "deepjscc", {"name": "mtgc", "steps": 2}],
    "channels": ["awgn", "rayleigh"],
    "snr_db": [0, 6, 12],
    "budget_cpp": [0.1, 0.3],
    "save_images": 1,
}


def table(folder: Path, name: str) -> list[tuple]:
    with sqlite3.connect(folder / STORE_NAME) as db:
        return sorted(db.execute(f"SELECT * FROM {name}"))


def digest(folder: Path) -> str:
    store = Store(folder, create=False)
    try:
        return store.digest()
    finally:
        store.close()


@pytest.mark.slow
def test_ray_executor_writes_the_same_store_as_the_local_one(tmp_path) -> None:
    """A local Ray instance with 2 CPUs and 2 worker actors against this process."""
    cfg = parse_config(SMALL)
    local = run_sweep(cfg, tmp_path / "local", model=small_codec(), progress=False)
    on_ray = run_sweep(
        cfg,
        tmp_path / "ray",
        model=small_codec(),
        progress=False,
        executor="ray",
        workers=2,
    )
    assert local.points_written == on_ray.points_written == cfg.num_points == 24
    assert on_ray.points_by_codec == {"mtgc": 8, "webp": 8, "deepjscc": 8}
    assert table(tmp_path / "ray", "results") == table(tmp_path / "local", "results")
    assert table(tmp_path / "ray", "images") == table(tmp_path / "local", "images")
    assert digest(tmp_path / "ray") == digest(tmp_path / "local")
    assert (tmp_path / "ray" / STORE_NAME).read_bytes() == (
        tmp_path / "local" / STORE_NAME
    ).read_bytes()


@pytest.mark.slow
def test_unknown_executor_and_ray_options_without_ray_are_refused(tmp_path, capsys) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**SMALL, "codecs": ["webp"]}))
    out = str(tmp_path / "out")
    import socket

    with socket.socket() as s:  # a port nobody listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for extra, needle in (
        (["--executor", "dask"], "--executor dask is not known"),
        (["--executor", "ray", "--address", f"127.0.0.1:{port}"], "cannot reach the Ray"),
        (["--executor", "ray", "--address", "nowhere"], "not host:port"),
        (["--workers", "2"], "apply to --executor ray only"),
        (["--executor", "ray", "--workers", "0"], "at least 1"),
    ):
        code, _, err = run_cli(["sweep", str(path), "--out", out, *extra], capsys)
        assert code == 2 and needle in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_ray_queue_hands_out_every_group_once_with_codec_affinity() -> None:
    from experiments.ray_executor import _Queue
    from experiments.sweep import plan_groups

    cfg = parse_config({**SMALL, "snr_db": [0, 6, 12]})  # 3 codecs × 2 channels × 3 SNRs
    groups = plan_groups(cfg, set())
    queue = _Queue(groups)
    taken: dict[str, list] = {"w1": [], "w2": []}
    for worker in ["w1", "w2"] * len(groups):  # the two workers ask in turn
        group = queue.take(worker)
        if group is None:
            break
        taken[worker].append(group)
    assert sorted(map(repr, taken["w1"] + taken["w2"])) == sorted(map(repr, groups))
    switches = sum(
        a.spec.label != b.spec.label
        for gs in taken.values()
        for a, b in zip(gs, gs[1:], strict=False)
    )
    assert switches <= 2  # each worker moves on to another codec only when its is done
    assert taken["w1"][0].spec.label != taken["w2"][0].spec.label  # different codecs first


def _holds_lock(folder: Path) -> bool:
    """Whether another process holds the folder's sweep lock now."""
    path = folder / LOCK_NAME
    if not path.is_file():
        return False
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def _start(config: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "semcom.cli", "sweep", str(config), "--out", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [*cmd, "--resume", "--quiet"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_holds_every_point_once(tmp_path) -> None:
    """Three `semcom sweep` processes killed with SIGKILL at random moments while they
    work, then one that finishes: the store equals an uninterrupted run's, row for row."""
    import torch

    cfg = parse_config(KILLED)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the CLI does: the same rows need the same threads
    try:
        run_sweep(cfg, tmp_path / "whole", progress=False)
    finally:
        torch.set_num_threads(before)
    path, out = tmp_path / "killed.yaml", tmp_path / "killed"
    path.write_text(yaml.safe_dump(KILLED))
    rng = random.Random(8)
    counts = []
    for _ in range(3):
        proc = _start(path, out)
        while not _holds_lock(out):
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 4.0))  # a random moment of the sweep's work
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        with sqlite3.connect(out / STORE_NAME) as db:  # rolls a torn transaction back
            counts.append(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    assert counts[0] < cfg.num_points, "the first kill came after the sweep had finished"
    proc = _start(path, out)
    assert proc.wait() == 0, proc.stderr.read().decode()
    rows = table(out, "results")
    with sqlite3.connect(out / STORE_NAME) as db:
        keys = db.execute(
            "SELECT COUNT(DISTINCT image || codec || channel || snr_db || budget_cpp || trial) "
            "FROM results"
        ).fetchone()[0]
    assert len(rows) == keys == cfg.num_points
    assert rows == table(tmp_path / "whole", "results")
    assert table(out, "images") == table(tmp_path / "whole", "images")
    assert digest(out) == digest(tmp_path / "whole")
    assert (out / STORE_NAME).read_bytes() == (tmp_path / "whole" / STORE_NAME).read_bytes()
    assert len(Store(out).runs()) == 1  # killed runs log nothing; the finishing run does
    assert not (out / f"{STORE_NAME}-journal").exists()


@pytest.mark.slow
def test_a_second_sweep_into_a_busy_folder_is_refused(tmp_path, capsys) -> None:
    cfg = parse_config({**SMALL, "codecs": ["webp"], "channels": ["awgn"]})
    holder = Store(tmp_path)
    holder.lock()  # as a running sweep does
    try:
        with pytest.raises(SemcomError, match=f"another sweep \\(pid {os.getpid()}\\)"):
            run_sweep(cfg, tmp_path, progress=False)
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump({**SMALL, "codecs": ["webp"], "channels": ["awgn"]}))
        code, _, err = run_cli(["sweep", str(path), "--out", str(tmp_path), "--quiet"], capsys)
        assert code == 2 and "another sweep" in err and "--out" in err
        assert Store(tmp_path).count(cfg.hash()) == 0
    finally:
        holder.close()
    assert run_sweep(cfg, tmp_path, progress=False).points_written == 4  # lock released


@pytest.mark.slow
def test_two_runs_give_byte_identical_stores_and_exports(tmp_path, capsys) -> None:
    cfg = parse_config({**SMALL, "channels": ["tdl-a"]})
    for name in ("a", "b"):
        run_sweep(cfg, tmp_path / name, model=small_codec(), progress=False)
        code, _, err = run_cli(["export", str(tmp_path / name), "--format", "csv"], capsys)
        assert code == 0, err
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    for name in (STORE_NAME, "results.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = parse_config({**SMALL, "channels": ["tdl-a"], "seed": 1})
    run_sweep(other, tmp_path / "c", model=small_codec(), progress=False)
    assert digest(tmp_path / "c") != digest(tmp_path / "a")


def test_a_store_from_before_runs_jsonl_keeps_its_run_log(tmp_path) -> None:
    cfg = parse_config({**SMALL, "codecs": ["webp"], "channels": ["awgn"], "snr_db": [3]})
    run_sweep(cfg, tmp_path, progress=False)
    logged = Store(tmp_path).runs()
    assert len(logged) == 1 and logged[0]["points"] == 2
    (tmp_path / "runs.jsonl").unlink()
    with sqlite3.connect(tmp_path / STORE_NAME) as db:  # the old layout: a runs table
        db.execute(
            "CREATE TABLE runs (config_hash TEXT, started TEXT, finished TEXT, points INTEGER, "
            "decoder_calls TEXT, seconds TEXT)"
        )
        db.execute("INSERT INTO runs VALUES ('h', 'a', 'b', 2, '{}', '{\"link\": 1.0}')")
    store = Store(tmp_path)
    store.canonicalize()
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
    assert "runs" not in tables and {"meta", "results", "images"} <= tables
    assert store.runs()[0]["seconds"] == {"link": 1.0} and store.count(cfg.hash()) == 2
    store.close()


# -- safe loading ---------------------------------------------------------------------------


def test_config_names_and_stored_names_cannot_leave_the_output_folder(tmp_path) -> None:
    for bad in ("../escape", "a/b", ".hidden", ""):
        with pytest.raises(SemcomError, match="config name"):
            parse_config({**SMALL, "name": bad})
    from experiments.plots import plot_all

    cfg = parse_config({**SMALL, "codecs": ["webp"], "channels": ["awgn"]})
    run_sweep(cfg, tmp_path / "run", progress=False)
    with sqlite3.connect(tmp_path / "run" / STORE_NAME) as db:  # a tampered store
        db.execute("UPDATE results SET channel = '../../escape'")
    with pytest.raises(SemcomError, match="cannot be part of a file name"):
        plot_all(tmp_path / "run", tmp_path / "run" / "figures")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert not any(tmp_path.rglob("*escape*"))


def test_weights_are_read_from_safetensors_only(tmp_path) -> None:
    """Every shipped weight file is safetensors, and a model folder holding a pickled
    checkpoint instead is refused with a message saying so (nothing is unpickled)."""
    import torch
    from safetensors.torch import load_file

    from semcom.baselines.deepjscc import WEIGHTS_DIR, load

    shipped = [p for p in (ROOT / "semcom").rglob("*") if p.suffix in (".bin", ".pt", ".pth")]
    assert shipped == []
    assert list((ROOT / "semcom").rglob("*.safetensors"))
    folder = tmp_path / "deepjscc"
    folder.mkdir()
    (folder / "config.json").write_bytes((WEIGHTS_DIR / "config.json").read_bytes())
    state = load_file(str(next(WEIGHTS_DIR.glob("*.safetensors"))))
    torch.save(state, folder / "diffusion_pytorch_model.bin")
    with pytest.raises(SemcomError, match=r"\.safetensors files only"):
        load(str(folder))


@pytest.mark.slow
def test_a_ray_worker_error_is_one_sentence_and_keeps_what_is_stored(tmp_path, capsys) -> None:
    """MTGC weights that do not load: the worker's SemcomError reaches the user as the
    same one sentence (exit 2); the conventional codec's groups written before stay."""
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**SMALL, "codecs": ["webp", "mtgc"], "channels": ["awgn"]}))
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    args = ["sweep", str(path), "--out", str(out), "--quiet", "--weights", str(tmp_path / "empty")]
    code, _, err = run_cli([*args, "--executor", "ray", "--workers", "1"], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"error: {tmp_path / 'empty'} lacks mtgc.json" in err, err  # after Ray's token note
    with sqlite3.connect(out / STORE_NAME) as db:
        assert {r[0] for r in db.execute("SELECT codec FROM results")} <= {"webp"}


@pytest.mark.slow
def test_resume_with_other_mtgc_weights_is_refused(tmp_path, capsys) -> None:
    import shutil

    from semcom.mtgc.presets.tiny import WEIGHTS_DIR

    weights = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, weights)
    cfg = {**SMALL, "dataset": {"split": "test", "n": 1, "size": 64, "seed": 0}}
    cfg = {**cfg, "codecs": [{"name": "mtgc", "steps": 1}], "channels": ["awgn"], "snr_db": [12]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    args = ["sweep", str(path), "--out", str(out), "--quiet", "--weights", str(weights)]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    config = weights / "mtgc.json"
    raw = json.loads(config.read_text())
    raw["hci_quality"] = raw["hci_quality"] + 1  # another setting: other weights
    config.write_text(json.dumps(raw, indent=2))
    code, _, err = run_cli([*args, "--resume"], capsys)
    assert code == 2 and "other mtgc weights" in err
    code, _, err = run_cli(
        ["sweep", str(path), "--out", str(tmp_path / "x"), "--weights", "nope"], capsys
    )
    assert code == 2 and "is not a folder" in err and not (tmp_path / "x").exists()


def test_resume_with_other_compressai_weights_is_refused(tmp_path, monkeypatch) -> None:
    """Every codec with weights records their identity, not only MTGC: a compressai sweep
    resumed after its codec's weights changed is refused."""
    import shutil

    from experiments.config import parse_config
    from experiments.sweep import run_sweep
    from semcom.baselines import learned
    from semcom.errors import SemcomError

    hci = tmp_path / "hci"
    shutil.copytree(learned.weights_dir(), hci)
    monkeypatch.setattr(learned, "weights_dir", lambda: hci)
    cfg = {**SMALL, "dataset": {"split": "test", "n": 1, "size": 64, "seed": 0}}
    cfg = parse_config({**cfg, "codecs": ["compressai"], "channels": ["awgn"], "snr_db": [12]})
    run_sweep(cfg, tmp_path / "out", progress=False)
    (hci / "config.json").write_text((hci / "config.json").read_text() + "\n")
    with pytest.raises(SemcomError, match="other compressai weights"):
        run_sweep(cfg, tmp_path / "out", resume=True, progress=False)
