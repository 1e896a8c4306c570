"""A third-party codec, channel and metric, installed through entry points, in a sweep, a
plot, `semcom evaluate` and `semcom list codecs|channels|metrics`, with no edit to
semcom: the plug-in
(tests/plugins/semcom_toy.py) is made visible as an installed distribution (a .dist-info
folder with its entry points)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from channels import registry as channel_registry
from semcom import registry
from semcom.metrics import registry as metric_registry
from tests.conftest import run_cli

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture
def toy_installed(tmp_path, monkeypatch):
    info = tmp_path / "semcom_toy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: semcom-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[semcom.codecs]\ntoy = semcom_toy:ToyCodec\n\n"
        "[semcom.channels]\ntoy-phase = semcom_toy:ToyChannel\n\n"
        "[semcom.metrics]\ntoy-mae = semcom_toy:ToyMetric\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(PLUGINS))
    registry.refresh()
    channel_registry.refresh()
    metric_registry.refresh()
    yield
    sys.modules.pop("semcom_toy", None)
    monkeypatch.undo()
    registry.refresh()
    channel_registry.refresh()
    metric_registry.refresh()


@pytest.mark.slow
def test_the_plugin_is_listed(toy_installed, capsys) -> None:
    import json

    assert "toy" in registry.codec_names()
    code, out, _ = run_cli(["list", "codecs", "--json"], capsys)
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["toy"]["streams"] == ["coarse", "fine"]
    assert rows["toy"]["source"] == "semcom_toy:ToyCodec" and rows["webp"]["kind"] == "digital"


@pytest.mark.slow
def test_the_plugin_runs_in_a_sweep_and_a_plot(toy_installed, tmp_path) -> None:
    from experiments.config import parse_config
    from experiments.plots import plot_all
    from experiments.store import Store
    from experiments.sweep import run_sweep

    cfg = parse_config(
        {
            "name": "toy",
            "dataset": {"split": "test", "n": 2, "size": 64},
            "codecs": [{"name": "toy", "levels": 64}, "webp"],
            "channels": ["awgn"],
            "snr_db": [-6, 20],
            "budget_cpp": [0.16, 0.21, 0.5],
        }
    )
    assert cfg.codecs[0].options == (("levels", 64),)
    report = run_sweep(cfg, tmp_path / "s", progress=False)
    assert report.points_by_codec == {"toy": 12, "webp": 12}
    import json

    store = Store(tmp_path / "s")
    df = store.frame()
    store.close()
    toy = df[(df["codec"] == "toy") & (df["image"] == 0)].set_index(["snr_db", "budget_cpp"])
    # At 20 dB the coarse stream takes 600 channel uses at QPSK 1/3 (CRC16) and the fine
    # one 212 with its 6-bit option at the adaptive MCS. 0.16 cpp = 655 uses: coarse only.
    short = toy.loc[(20.0, 0.16)]
    assert short["coarse_sent"] and json.loads(short["not_sent"]) == ["fine"]
    assert short["coarse_mcs"] == "QPSK 1/3" and short["coarse_crc_ok"]
    # 0.21 cpp = 860 uses: the fine stream's second option (6 bits) fits what is left
    mid = toy.loc[(20.0, 0.21)]
    assert mid["success"] and json.loads(mid["detail"]) == {"fine_bits": 6}
    assert mid["channel_uses"] == 600 + 212
    # 0.5 cpp at 20 dB: both arrive, the fine stream with its 8-bit option, and the image is
    # the 8×8 block means (PSNR well above the coarse-only one)
    full = toy.loc[(20.0, 0.5)]
    assert full["success"] and json.loads(full["detail"]) == {"fine_bits": 8}
    assert full["payload_bits"] == 8 * (48 + 192) and full["psnr"] > short["psnr"]
    paths = plot_all(tmp_path / "s", tmp_path / "figs")
    assert any(p.name == "vs_snr_awgn.png" for p in paths)


def test_the_plugin_validates_its_own_options(toy_installed) -> None:
    from experiments.config import parse_config
    from semcom.errors import SemcomError

    base = {"channels": ["awgn"], "snr_db": [0], "budget_cpp": [0.1]}
    with pytest.raises(SemcomError, match="levels must be an integer"):
        parse_config({**base, "codecs": [{"name": "toy", "levels": 1000}]})
    with pytest.raises(SemcomError, match="unknown key 'hci'"):
        parse_config({**base, "codecs": [{"name": "toy", "protection": {"hci": "mcs3"}}]})


def test_an_uninstalled_codec_is_a_clear_error() -> None:
    from semcom.errors import SemcomError

    with pytest.raises(SemcomError, match="unknown codec 'toy'"):
        registry.make_codec("toy")


def test_no_registered_codecs_says_how_to_repair(monkeypatch) -> None:
    """An install whose entry points are missing (e.g. shadowed by a stale egg-info) gets
    one sentence saying what to do, not an empty list of choices."""
    from semcom.errors import SemcomError

    monkeypatch.setattr(registry.CODECS, "entry_points", lambda: {})
    with pytest.raises(SemcomError, match="reinstall semcom"):
        registry.codec_names()


@pytest.mark.slow
def test_the_plugin_channel_is_listed_and_runs_with_its_options(toy_installed, tmp_path, capsys):
    """The toy channel (a fixed phase rotation, AWGN thresholds) under two labels with
    different options beside AWGN: the same noise draws, so after its ideal equalisation
    every row equals AWGN's; a bad option is one sentence from the channel itself."""
    import json

    from experiments.config import parse_config
    from experiments.plots import plot_all
    from experiments.store import Store
    from experiments.sweep import run_sweep
    from semcom.errors import SemcomError

    code, out, _ = run_cli(["list", "channels", "--json"], capsys)
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["toy-phase"]["options"] == ["phase_deg"]
    assert rows["toy-phase"]["thresholds"] == "from awgn"
    assert rows["rayleigh"]["options"] == ["coherence", "antennas", "detector"]
    assert rows["tdl-a"]["thresholds"].startswith("calibrated (1x1, ")  # and its MIMO tables
    assert rows["cdl-c"]["thresholds"].startswith("calibrated")

    cfg = parse_config(
        {
            "name": "toych",
            "dataset": {"split": "test", "n": 2, "size": 64},
            "codecs": ["toy"],
            "channels": [
                "awgn",
                {"name": "toy-phase", "label": "phase30"},
                {"name": "toy-phase", "label": "phase90", "phase_deg": 90},
            ],
            "snr_db": [0, 20],
            "budget_cpp": [0.5],
        }
    )
    assert cfg.channels[2].options == (("phase_deg", 90),)
    assert cfg.to_dict()["channels"][0] == "awgn"  # option-less entries keep old hashes
    run_sweep(cfg, tmp_path / "s", progress=False)
    store = Store(tmp_path / "s")
    df = store.frame()
    store.close()
    assert sorted(set(df["channel"])) == ["awgn", "phase30", "phase90"]
    cols = ["image", "snr_db", "success", "payload_bits", "channel_uses"]
    by = {c: df[df["channel"] == c].sort_values(["image", "snr_db"])[cols].to_numpy().tolist()
          for c in ("awgn", "phase30", "phase90")}  # fmt: skip
    assert by["phase30"] == by["awgn"] and by["phase90"] == by["awgn"]
    paths = plot_all(tmp_path / "s", tmp_path / "figs")
    assert any(p.name == "vs_snr_phase90.png" for p in paths)

    base = {"codecs": ["toy"], "snr_db": [0], "budget_cpp": [0.1]}
    with pytest.raises(SemcomError, match="phase_deg must be a number"):
        parse_config({**base, "channels": [{"name": "toy-phase", "label": "x", "phase_deg": 999}]})
    with pytest.raises(SemcomError, match="give it a label"):
        parse_config({**base, "channels": [{"name": "toy-phase", "phase_deg": 10}]})
    with pytest.raises(SemcomError, match="lists awgn twice"):
        parse_config({**base, "channels": ["awgn", "awgn"]})
    with pytest.raises(SemcomError, match="bad option for channel 'rayleigh'"):
        parse_config({**base, "channels": [{"name": "rayleigh", "label": "r", "fade": 1}]})


@pytest.mark.slow
def test_the_plugin_metric_is_scored_stored_plotted_and_evaluated(toy_installed, tmp_path, capsys):
    """A metric from a plug-in: listed, validated in a config (and part of its hash),
    stored without a store migration, exported, plotted, and scored by semcom evaluate."""
    import json

    from experiments.config import parse_config
    from experiments.evaluation import EvalConfig, evaluate, format_table
    from experiments.plots import panels_of, plot_all
    from experiments.store import Store
    from experiments.sweep import run_sweep
    from semcom.errors import SemcomError

    code, out, _ = run_cli(["list", "metrics", "--json"], capsys)
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["toy-mae"]["fields"] == ["mae", "dark"]
    assert rows["toy-mae"]["available"] == "yes" and rows["semantic"]["source"].startswith("semcom")

    base = {
        "name": "toym",
        "dataset": {"split": "test", "n": 2, "size": 64},
        "codecs": ["toy"],
        "channels": ["awgn"],
        "snr_db": [20],
        "budget_cpp": [0.5],
    }
    default = parse_config(base)
    cfg = parse_config({**base, "metrics": ["pixel", "semantic", "toy-mae"]})
    assert "metrics" not in default.to_dict() and cfg.hash() != default.hash()
    assert parse_config({**base, "metrics": ["pixel", "semantic"]}).hash() == default.hash()
    with pytest.raises(SemcomError, match="unknown metric 'nope'"):
        parse_config({**base, "metrics": ["pixel", "nope"]})
    with pytest.raises(SemcomError, match="listed twice"):
        parse_config({**base, "metrics": ["pixel", "pixel"]})

    run_sweep(cfg, tmp_path / "s", progress=False)
    store = Store(tmp_path / "s")
    df = store.frame()
    # strict object F1 first, the metrics' panel fields (the plug-in's included), bits sent
    assert [f.name for f in panels_of(store, df)] == [
        "object_f1", "psnr", "ms_ssim", "attribute_accuracy", "hallucination_rate", "mae", "bpp"
    ]  # fmt: skip
    store.close()
    # the toy codec's receiver shows block means: its MAE is that of the decoded image
    assert df["mae"].between(0.0, 0.5).all() and df["dark"].between(0.0, 1.0).all()
    assert set(df.columns) >= {"psnr", "attribute_accuracy", "mae", "dark"}
    assert "figures" not in df.columns
    paths = plot_all(tmp_path / "s", tmp_path / "figs")
    assert any(p.name == "vs_snr_awgn.png" for p in paths)

    summaries, results, _ = evaluate(
        EvalConfig(codecs=("webp",), n=2, bootstrap=10, metrics=("toy-mae",))
    )
    assert summaries[0]["extra_fields"] == ["dark", "mae"]
    mae = results["webp"].extra["mae"]
    assert summaries[0]["mae"] == pytest.approx(sum(mae) / 2)
    assert "mean abs. error" in format_table(summaries)
    with pytest.raises(SemcomError, match="always scored"):
        EvalConfig(codecs=("webp",), metrics=("pixel",))

    from semcom.imageio import save_image

    src = tmp_path / "in.png"
    save_image(results["webp"].images[0], src)
    args = ["transmit", str(src), "-o", str(tmp_path / "o.png"), "--codec", "webp"]
    code, out, err = run_cli([*args, "--snr-db", "20", "--budget-cpp", "0.5", "--json",
                              "--metric", "toy-mae"], capsys)  # fmt: skip
    assert code == 0, err
    assert set(json.loads(out)["figures"]["figures"]) == {"mae", "dark"}


def test_the_plugin_codec_runs_in_evaluate_at_mtgcs_rate(toy_installed) -> None:
    """`semcom evaluate` matches a plug-in codec to MTGC's bits with the planner's rule on
    bits: below the target only the coarse stream fits (48 bytes); the smallest plan above
    it adds the fine stream's 6-bit option (144 bytes)."""
    from experiments.evaluation import EvalConfig, evaluate
    from semcom.errors import SemcomError

    base = dict(codecs=("toy",), n=2, bootstrap=10)
    below, results, _ = evaluate(EvalConfig(**base, match="below"))
    assert results["toy"].bits == [8 * 48, 8 * 48]
    above, results, _ = evaluate(EvalConfig(**base, match="above"))
    assert results["toy"].bits == [8 * (48 + 144)] * 2
    assert above[0]["psnr"] > below[0]["psnr"]
    interpolated, _, _ = evaluate(EvalConfig(**base, match="interpolate"))
    assert below[0]["bpp"] <= interpolated[0]["bpp"] <= above[0]["bpp"]
    with pytest.raises(SemcomError, match="analog codec"):
        EvalConfig(codecs=("deepjscc",))
