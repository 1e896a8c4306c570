"""Sweeps: a tiny sweep end to end, resume, the decode cache, config validation, export."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
import yaml

from experiments.config import load_config, parse_config
from experiments.store import Store
from experiments.sweep import run_sweep
from semcom.errors import SemcomError
from tests._mtgc import single_thread, small_codec  # noqa: F401
from tests.conftest import run_cli

BASE = {
    "name": "t",
    "dataset": {"split": "test", "n": 2, "size": 64, "seed": 0},
    "codecs": ["mtgc", "webp"],
    "channels": ["awgn", "rayleigh"],
    "snr_db": [0, 12],
    "budget_cpp": [0.1, 0.4],
    "trials": 1,
    "save_images": 1,
}


def config(**changes):
    return parse_config({**BASE, **changes})


def rows(folder) -> list[tuple]:
    with sqlite3.connect(folder / "results.sqlite") as db:
        return sorted(db.execute("SELECT * FROM results"))


def test_tiny_sweep_writes_one_row_per_point(tmp_path) -> None:
    cfg = config()
    report = run_sweep(cfg, tmp_path, model=small_codec(), progress=False)
    assert report.points_written == cfg.num_points == 32
    df = Store(tmp_path, create=False).frame()
    assert len(df) == 32
    assert set(df["codec"]) == {"mtgc", "webp"} and set(df["channel"]) == {"awgn", "rayleigh"}
    assert df["psnr"].notna().all() and df["ms_ssim"].notna().all()
    assert (df["channel_uses"] <= df["budget_uses"]).all()
    for col in ("caption_crc_ok", "spw_mcs", "hci_channel_uses", "image_crc_ok"):
        assert col in df.columns
    lost = df[(df["codec"] == "webp") & ~df["success"].astype(bool)]
    assert (lost["image_crc_ok"] != True).all()  # noqa: E712 - NaN or False


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_store(tmp_path) -> None:
    cfg = config()
    full, cut = tmp_path / "full", tmp_path / "cut"
    run_sweep(cfg, full, model=small_codec(), progress=False)

    def interrupt(groups: int) -> None:
        if groups == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, cut, model=small_codec(), progress=False, after_group=interrupt)
    partial = len(rows(cut))
    assert 0 < partial < cfg.num_points
    report = run_sweep(cfg, cut, resume=True, model=small_codec(), progress=False)
    assert report.points_done_before == partial
    assert report.points_written == cfg.num_points - partial
    assert rows(cut) == rows(full)


def test_cache_halves_decoder_calls_at_high_snr(tmp_path) -> None:
    cfg = config(
        channels=["awgn"], snr_db=[20, 24, 28], budget_cpp=[0.4], trials=2, codecs=["mtgc"]
    )
    report = run_sweep(cfg, tmp_path, model=small_codec(), progress=False)
    assert report.points_written == 12
    assert report.decoder_calls["mtgc"] <= report.points_written / 2


def test_rerun_without_resume_and_other_config_are_refused(tmp_path) -> None:
    cfg = config(codecs=["webp"], channels=["awgn"], snr_db=[10])
    run_sweep(cfg, tmp_path, progress=False)
    with pytest.raises(SemcomError, match="--resume"):
        run_sweep(cfg, tmp_path, progress=False)
    with pytest.raises(SemcomError, match="another config"):
        run_sweep(config(codecs=["jpeg"], channels=["awgn"], snr_db=[10]), tmp_path, progress=False)
    assert run_sweep(cfg, tmp_path, resume=True, progress=False).points_written == 0


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"snr": [1]}, "unknown key 'snr'"),
        ({"codecs": ["bpg"]}, "codecs[0].name"),
        ({"codecs": [{"name": "webp", "mcs": "qam7:1/2"}]}, "codecs[0].mcs"),
        ({"codecs": [{"name": "webp", "steps": 3}]}, "not an option of webp"),
        ({"codecs": [{"name": "mtgc", "protection": {"image": "mcs2"}}]}, "unknown key 'image'"),
        ({"codecs": [{"name": "mtgc", "protection": {"spw": "sturdy"}}]}, "codecs[0].protection"),
        ({"channels": ["mars"]}, "'mars' is not a channel"),
        ({"snr_db": ["high"]}, "snr_db"),
        ({"budget_cpp": [0.1, -1]}, "budget_cpp"),
        ({"trials": 0}, "trials"),
        ({"dataset": {"split": "dev"}}, "dataset.split"),
        ({"dataset": {"n": 2, "colour": 1}}, "unknown key 'colour'"),
        ({"dataset": {"seed": 90210}}, "dataset.seed"),
        ({"dataset": {"n": 2**25}}, "dataset.n"),
        ({"codecs": [{"name": "mtgc", "init_strength": 2}]}, "init_strength must lie in"),
        ({"codecs": [{"name": "mtgc", "hci_lowpass": -1}]}, "hci_lowpass must be 0"),
    ],
)
def test_malformed_config_names_the_problem(change, needle) -> None:
    with pytest.raises(SemcomError) as err:
        config(**change)
    assert needle in str(err.value)


def test_missing_key_and_bad_yaml_are_one_sentence(tmp_path) -> None:
    cfg = {k: v for k, v in BASE.items() if k != "codecs"}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(SemcomError, match="codecs: is missing"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("codecs: [webp\nchannels: awgn\n")
    with pytest.raises(SemcomError, match="not valid YAML"):
        load_config(tmp_path / "b.yaml")
    (tmp_path / "c.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(SemcomError, match="not valid YAML"):
        load_config(tmp_path / "c.yaml")


def test_config_hash_changes_with_what_changes_results() -> None:
    assert config().hash() == config().hash()
    assert config().hash() != config(trials=2).hash()


def test_codec_labels_tell_two_protections_of_one_codec_apart(tmp_path) -> None:
    robust = {"name": "webp", "label": "webp-robust", "protection": {"image": "qpsk:1/5"}}
    cfg = config(codecs=["webp", robust], channels=["awgn"], snr_db=[0], budget_cpp=[0.4])
    assert [c.label for c in cfg.codecs] == ["webp", "webp-robust"]
    assert "own_label" not in cfg.codecs[0].to_dict()  # configs without labels keep their hash
    run_sweep(cfg, tmp_path / "run", progress=False)
    store = Store(tmp_path / "run", create=False)
    df = store.frame()
    store.close()
    assert sorted(df["codec"].unique()) == ["webp", "webp-robust"]
    uses = df.groupby("codec")["image_channel_uses"].first()
    assert uses["webp-robust"] > 0 and uses["webp"] > 0
    with pytest.raises(SemcomError, match="another label"):
        config(codecs=["webp", {"name": "webp", "protection": {"image": "qpsk:1/5"}}])
    sturdy = config(codecs=[{"name": "webp", "protection": {"image": "Robust"}}])
    assert sturdy.codecs[0].protection == (("image", "robust"),)
    with pytest.raises(SemcomError, match=r"codecs\[0\]\.harq"):
        config(codecs=[{"name": "webp", "harq": 0}])
    with pytest.raises(SemcomError, match="label"):
        config(codecs=[{"name": "webp", "label": "a b"}])


def test_a_codec_entry_may_bring_its_own_harq(tmp_path) -> None:
    # at 0 dB over Rayleigh some first transmissions fail; only the HARQ entry resends
    harq = {"name": "webp", "label": "webp-harq", "harq": 3}
    cfg = config(
        codecs=["webp", harq], channels=["rayleigh"], snr_db=[0], budget_cpp=[0.4], trials=4
    )
    assert cfg.codecs[1].harq_policy().max_transmissions == 3
    assert cfg.codecs[0].harq_policy() is None
    swept = config(harq=2, codecs=["webp", {"name": "webp", "label": "w1", "harq": 1}])
    assert swept.codecs[0].harq_policy(swept.harq_policy()).max_transmissions == 2
    assert swept.codecs[1].harq_policy(swept.harq_policy()) is None  # 1 = none, overriding
    run_sweep(cfg, tmp_path / "run", progress=False)
    from experiments.plots import CPP_SPENT, add_spent, panels_of

    store = Store(tmp_path / "run", create=False)
    df = add_spent(store, store.frame())
    assert CPP_SPENT in panels_of(store, df)  # the figures show what HARQ spent
    store.close()
    plain, resent = (
        df[df["codec"] == c].sort_values(["image", "trial"]) for c in ("webp", "webp-harq")
    )
    assert (plain["image_transmissions"].fillna(1) == 1).all()
    assert resent["image_transmissions"].max() > 1
    # the first transmission is the same draw: HARQ only adds deliveries
    assert (resent["success"].to_numpy() >= plain["success"].to_numpy()).all()
    assert resent["success"].sum() > plain["success"].sum()
    # channel uses per pixel spent: the planned frame without HARQ, more with resends
    assert (plain["cpp_spent"] == plain["channel_uses"] / 64**2).all()
    more = resent["image_transmissions"] > 1
    assert (resent.loc[more, "cpp_spent"] > resent.loc[more, "channel_uses"] / 64**2).all()


@pytest.mark.slow
def test_cli_sweep_export_and_errors(tmp_path, capsys) -> None:
    cfg = {**BASE, "codecs": ["webp", {"name": "jpegxl", "mcs": "mcs4"}], "channels": ["awgn"]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    code, stdout, err = run_cli(["sweep", str(path), "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    assert "decoder calls" in stdout and "jpegxl@mcs4" in stdout
    for fmt in ("csv", "parquet"):
        code, stdout, err = run_cli(["export", str(out), "--format", fmt], capsys)
        assert code == 0, err
        assert (out / f"results.{fmt}").is_file()
    import pandas as pd

    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 16 and "image_mcs" in df.columns
    code, stdout, err = run_cli(["export", str(out), "--format", "markdown"], capsys)
    assert code == 0, err
    tables = (out / "tables.md").read_text()
    assert "### awgn, 0.1 cpp: object F1" in tables and "| jpegxl@mcs4 |" in tables
    # equal stores export byte-identical files (docs/experiments.md): a copy of the store
    # exported again gives the same CSV and Parquet bytes
    twin = tmp_path / "twin"
    twin.mkdir()
    shutil.copy(out / "results.sqlite", twin / "results.sqlite")
    for fmt in ("csv", "parquet"):
        code, _, err = run_cli(["export", str(twin), "--format", fmt], capsys)
        assert code == 0, err
        assert (twin / f"results.{fmt}").read_bytes() == (out / f"results.{fmt}").read_bytes()
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**cfg, "budgets": [1]}))
    code, _, err = run_cli(["sweep", str(tmp_path / "bad.yaml"), "--out", str(out)], capsys)
    assert code == 2 and "budgets" in err and "Traceback" not in err
    code, _, err = run_cli(["export", str(tmp_path), "--format", "xls"], capsys)
    assert code == 2
    # two folders' rows together, one codec's only
    joined = tmp_path / "joined.csv"
    args = ["export", str(out), "--with", str(twin), "--codec", "webp", "-o", str(joined)]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    rows = pd.read_csv(joined)
    assert set(rows["codec"]) == {"webp"} and len(rows) == 2 * (len(df) // 2)
    code, _, err = run_cli(["export", str(out), "--codec", "nope"], capsys)
    assert code == 2 and "'nope'" in err
    nowhere = tmp_path / "missing" / "r.csv"  # was a traceback
    code, _, err = run_cli(["export", str(out), "-o", str(nowhere)], capsys)
    assert code == 2 and "does not exist" in err and "Traceback" not in err


def test_tdl_sweep_is_reproducible_whatever_ran_before(tmp_path) -> None:
    import sionna.phy

    from channels.link import Link

    cfg = config(codecs=["webp"], channels=["tdl-a"], snr_db=[0, 8], budget_cpp=[0.4])
    run_sweep(cfg, tmp_path / "a", progress=False)
    sionna.phy.config.seed = 123  # other work in the process moves Sionna's generator
    Link("tdl-a").transmit({"x": bytes(500)}, 5.0, None, "qpsk:1/2", seed=3)

    def interrupt(groups: int) -> None:
        if groups == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, tmp_path / "b", progress=False, after_group=interrupt)
    run_sweep(cfg, tmp_path / "b", resume=True, progress=False)
    assert rows(tmp_path / "a") == rows(tmp_path / "b")


def test_every_shipped_sweep_config_loads():
    """The configs under experiments/configs (the default and the README's figures) are valid."""
    from pathlib import Path

    folder = Path(__file__).parents[1] / "experiments" / "configs"
    configs = sorted(folder.glob("*.yaml"))
    assert {p.name for p in configs} >= {"default.yaml", "paper.yaml"}
    for path in configs:
        cfg = load_config(path)
        assert cfg.codecs, path
    paper = load_config(folder / "paper.yaml")  # enough data for the paper's intervals
    assert paper.dataset.n >= 50 and paper.trials >= 3 and paper.frame == "shared"
