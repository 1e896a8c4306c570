"""semcom plot: every figure of a sweep, PNG and PDF, from the store."""

from __future__ import annotations

import pytest
import yaml

from experiments.config import parse_config
from experiments.plots import mean_ci, plot_all, wilson
from experiments.sweep import run_sweep
from tests._mtgc import single_thread, small_codec  # noqa: F401
from tests.conftest import run_cli

CONFIG = {
    "name": "plots",
    "dataset": {"split": "test", "n": 2, "size": 64, "seed": 1},
    "codecs": ["mtgc", "webp", {"name": "webp", "mcs": "mcs9"}],
    "channels": ["awgn"],
    "snr_db": [0, 10, 20],
    "budget_cpp": [0.1, 0.4],
    "save_images": 1,
}


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    run_sweep(parse_config(CONFIG), out, model=small_codec(), progress=False)
    return out


@pytest.mark.slow
def test_plot_writes_every_figure_as_png_and_pdf(sweep_dir, tmp_path) -> None:
    paths = plot_all(sweep_dir, tmp_path)
    names = {p.name for p in paths}
    for stem in ("vs_snr_awgn", "vs_budget_awgn", "erasure_awgn", "grid_awgn"):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
    for p in paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if p.suffix == ".png" else head.startswith(b"%PDF")


@pytest.mark.slow
def test_plot_cli_and_errors(sweep_dir, tmp_path, capsys) -> None:
    code, out, err = run_cli(["plot", str(sweep_dir), "--out", str(tmp_path / "f")], capsys)
    assert code == 0, err
    assert "grid_awgn.pdf" in out
    code, _, err = run_cli(["plot", str(sweep_dir), "--budget-cpp", "0.3"], capsys)
    assert code == 2 and "0.3" in err
    code, _, err = run_cli(["plot", str(tmp_path / "nothing")], capsys)
    assert code == 2 and "no sweep results" in err


def test_confidence_intervals() -> None:
    m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and lo < 2.0 < hi
    assert mean_ci([5.0]) == (5.0, 5.0, 5.0)
    p, lo, hi = wilson(0, 10)
    assert p == 0.0 and lo == 0.0 and 0.2 < hi < 0.35


def test_config_file_round_trip(tmp_path) -> None:
    from experiments.config import load_config

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    assert load_config(tmp_path / "c.yaml") == parse_config(CONFIG)


def test_panels_lead_with_strict_object_f1_pooled_over_images(sweep_dir) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.plots import OBJECT_F1, _lines, panels_of
    from experiments.store import Store

    store = Store(sweep_dir, create=False)
    try:
        df = store.frame()
        names = [f.name for f in panels_of(store, df)]
    finally:
        store.close()
    assert names[0] == "object_f1" and names[-1] == "bpp" and "psnr" in names
    d = df[df["budget_cpp"] == 0.4].fillna({"exact": 0, "objects_true": 0, "objects_read": 0})
    fig, ax = plt.subplots()
    _lines(ax, d, "snr_db", OBJECT_F1, ["webp"])
    xs, ys = ax.lines[0].get_data()
    for x, y in zip(xs, ys, strict=True):
        g = d[(d["codec"] == "webp") & (d["snr_db"] == x)]
        total = g["objects_true"].sum() + g["objects_read"].sum()
        assert y == pytest.approx(2 * g["exact"].sum() / max(total, 1))
    plt.close(fig)
