"""Results that stay checkable as the code grows: a config's identity is its normalised
content, the results digest hashes results (not the config hash), the outcome digest
ignores last-digit float differences, and a store written by older code is still found."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import field, fields, make_dataclass, replace
from pathlib import Path

import pytest

import experiments.config as config_module
from experiments.config import CodecSpec, SweepConfig, identity_of, load_config, parse_config
from experiments.store import STORE_NAME, Store
from experiments.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "name": "identity",
    "dataset": {"split": "test", "n": 2, "size": 64, "seed": 0},
    "codecs": ["webp", {"name": "jpeg", "mcs": "qpsk:1/3"}],
    "channels": ["awgn", "rayleigh"],
    "snr_db": [0, 9],
    "budget_cpp": [0.1],
    "save_images": 1,
}


def _grown(cls, name: str, default):
    """``cls`` with one more field ``name`` (default ``default``), as a later schema."""
    return make_dataclass(
        cls.__name__, [(name, type(default), field(default=default))], bases=(cls,), frozen=True
    )


def test_a_new_field_with_a_default_changes_no_config_hash(monkeypatch) -> None:
    cfg = load_config(ROOT / "experiments/configs/paper.yaml")
    before = cfg.hash()
    Grown = _grown(SweepConfig, "new_knob", 7)
    monkeypatch.setattr(config_module, "SweepConfig", Grown)
    grown = Grown(**{f.name: getattr(cfg, f.name) for f in fields(SweepConfig)})
    assert grown.to_dict()["new_knob"] == 7 and grown.hash() == before
    assert replace(grown, new_knob=8).hash() != before  # set, it is part of the identity
    GrownSpec = _grown(CodecSpec, "new_option", "off")
    monkeypatch.setattr(config_module, "CodecSpec", GrownSpec)
    codecs = tuple(
        GrownSpec(**{f.name: getattr(c, f.name) for f in fields(CodecSpec)}) for c in cfg.codecs
    )
    assert replace(cfg, codecs=codecs).hash() == before


def test_defaults_written_out_or_left_out_are_one_config() -> None:
    short = parse_config(TINY)
    spelled = parse_config(
        {**TINY, "trials": 1, "seed": 0, "decode_seed": 0, "frame": "shared", "device": "cpu"}
    )
    assert short.hash() == spelled.hash()
    assert short.hash() != parse_config({**TINY, "trials": 2}).hash()
    # an older store's canonical dict, with fields that now hold their defaults spelled out
    old = {**short.to_dict(), "metrics": ["pixel", "semantic"], "harq": None}
    assert identity_of(old) == short.identity()


def test_a_store_written_by_older_code_is_found_and_keeps_its_digest(tmp_path) -> None:
    cfg = parse_config(TINY)
    run_sweep(cfg, tmp_path, progress=False)
    store = Store(tmp_path, create=False)
    digest, outcomes, count = store.digest(), store.outcome_digest(), store.count(cfg.hash())
    store.close()
    # as older code left it: the same rows under the hash it gave this config, half done
    with sqlite3.connect(tmp_path / STORE_NAME) as db:
        for table in ("results", "images"):
            db.execute(f"UPDATE {table} SET config_hash = 'oldhash0oldhash0'")
        db.execute("DELETE FROM results WHERE image = 1")
        db.execute("UPDATE meta SET value = 'oldhash0oldhash0' WHERE key = 'config_hash'")
    report = run_sweep(cfg, tmp_path, resume=True, progress=False)
    assert report.points_written == count // 2  # only the deleted half is computed again
    store = Store(tmp_path, create=False)
    assert store.config_hashes() == [cfg.hash()] and store.count(cfg.hash()) == count
    assert store.digest() == digest and store.outcome_digest() == outcomes
    store.close()


def test_the_outcome_digest_ignores_last_digits_the_results_digest_does_not(tmp_path) -> None:
    cfg = parse_config({**TINY, "codecs": ["webp"], "channels": ["awgn"]})
    run_sweep(cfg, tmp_path, progress=False)

    def digests() -> tuple[str, str]:
        store = Store(tmp_path, create=False)
        try:
            return store.digest(), store.outcome_digest()
        finally:
            store.close()

    exact, outcome = digests()
    with sqlite3.connect(tmp_path / STORE_NAME) as db:
        db.execute("UPDATE results SET psnr = psnr + 1e-9, ms_ssim = ms_ssim - 1e-9")
        streams = db.execute("SELECT streams FROM results WHERE image = 0").fetchone()[0]
    moved, same = digests()
    assert moved != exact and same == outcome
    with sqlite3.connect(tmp_path / STORE_NAME) as db:  # a delivery that differs
        flipped = json.loads(streams)
        flipped["image"]["crc_ok"] = not flipped["image"]["crc_ok"]
        db.execute(
            "UPDATE results SET streams = ? WHERE image = 0 AND snr_db = 0",
            (json.dumps(flipped),),
        )
    assert digests()[1] != outcome


def test_a_sweep_prints_both_digests(tmp_path, capsys) -> None:
    import yaml

    from tests.conftest import run_cli

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**TINY, "codecs": ["webp"], "channels": ["awgn"]}))
    code, out, err = run_cli(["sweep", str(path), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 0, err
    store = Store(tmp_path / "o", create=False)
    assert f"results digest: {store.digest()}" in out
    assert f"outcome digest: {store.outcome_digest()}" in out
    store.close()


@pytest.mark.parametrize("name", ["default", "paper", "robust", "harq", "planned"])
def test_shipped_configs_have_stable_identities(name) -> None:
    """Every shipped config's identity survives a round trip through its canonical dict."""
    cfg = load_config(ROOT / f"experiments/configs/{name}.yaml")
    assert identity_of(json.loads(json.dumps(cfg.to_dict()))) == cfg.identity()


@pytest.mark.slow
def test_the_checked_digests_in_the_docs_still_come_out(tmp_path) -> None:
    """docs/experiments.md quotes digest-check.yaml's digests; its outcome digest must be
    what this code gives (the exact digest may differ on another CPU's numerics)."""
    import re

    text = (ROOT / "docs/experiments.md").read_text()
    quoted = re.search(r"outcome digest `([0-9a-f]{64})`\n  on the development machine", text)
    assert quoted, "docs/experiments.md no longer quotes digest-check.yaml's outcome digest"
    cfg = load_config(ROOT / "experiments/configs/digest-check.yaml")
    run_sweep(cfg, tmp_path, progress=False)
    store = Store(tmp_path, create=False)
    try:
        assert store.outcome_digest() == quoted.group(1)
    finally:
        store.close()
