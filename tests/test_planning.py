"""The planner (experiments.planning): exact, objective-driven, and clear when it cannot plan."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import experiments.planning.stream_candidates as candidate_module
from channels.delivery import fading
from channels.mcs import MCS, NR_MCS_TABLE
from experiments.planning import (
    Objective,
    brute_force,
    candidates,
    plan_planned,
    search,
)
from experiments.planning.stream_candidates import _budget_limit as budget_limit
from experiments.transmission import make_link
from semcom.errors import SemcomError
from semcom.protocol import Encoded, Option, Stream
from semcom.values import Curve, ValueTable, subset_key

SMALL = (MCS("qpsk", 0.05), MCS("qpsk", 0.1), MCS("qpsk", 0.2), NR_MCS_TABLE[0], NR_MCS_TABLE[4])


def _encoded(rng: np.random.Generator, hci_sizes: list[int]) -> Encoded:
    return Encoded(
        b"",
        (
            Stream("caption", (Option(rng.bytes(int(rng.integers(5, 9)))),)),
            Stream("spw", (Option(rng.bytes(11)),)),
            Stream("hci", tuple(Option(rng.bytes(n)) for n in hci_sizes)),
        ),
        128,
        128,
    )


def _table(rng: np.random.Generator) -> ValueTable:
    """A random value table in which every stream that arrives adds (as in the shipped
    tables): F1 and PSNR grow with the subset; the HCI's value grows with its bits."""
    names = ("caption", "spw", "hci")
    worth = {"caption": rng.uniform(0.3, 0.8), "spw": rng.uniform(0.05, 0.5), "hci": 0.1}
    curves = {}
    for r in range(4):
        for sub in itertools.combinations(names, r):
            f1 = min(1.0, sum(worth[s] for s in sub))
            psnr = 14 + 2 * len(sub)
            if "hci" in sub:
                bits = [200.0, 400.0, 800.0]
                curves[subset_key(sub)] = Curve(
                    bits,
                    {"f1": [f1, f1 + 0.02, f1 + 0.03], "psnr": [psnr + 3, psnr + 5, psnr + 6]},
                    [10, 10, 10],
                )
            else:
                curves[subset_key(sub)] = Curve([0.0], {"f1": [f1], "psnr": [psnr]}, [10])
    return ValueTable("toy", None, names, ("hci",), curves)


@pytest.mark.parametrize("case", range(6))
def test_the_search_equals_brute_force(case, monkeypatch):
    """Exact (no pruning slack): the same value as brute force; with the default slack
    within 0.5 % of the value range."""
    rng = np.random.default_rng(case)
    channel = ("awgn", "rayleigh")[case % 2]
    link = make_link(channel)
    encoded = _encoded(rng, [int(n) for n in rng.integers(20, 110, size=3)])
    table = _table(rng)
    objective = Objective.parse(("f1", "psnr", "f1+0.02*psnr")[case % 3])
    snr = float(rng.choice([-6.0, -3.0, 0.0, 4.0]))
    budget = int(rng.choice([300, 600, 1200]))
    nodes, weights = fading(link.calibrated_as).nodes()
    limit = budget_limit(link, budget)
    best, best_value = brute_force(link, encoded, snr, budget, table, objective, SMALL)
    span = 1.0 if objective.weights == (("f1", 1.0),) else 12.0  # the table's value range
    for slack, tol in ((0.0, 1e-9), (candidate_module.SLACK, 0.005 * span)):
        monkeypatch.setattr(candidate_module, "SLACK", slack)
        cands = [
            candidates(link, s, snr, nodes, weights, limit, True, SMALL) for s in encoded.streams
        ]
        chosen, value = search(encoded.streams, cands, weights, table, objective, limit)
        assert best_value - tol <= value <= best_value + 1e-9, slack
        assert sum(c.cost for c in chosen) <= limit


def test_the_objective_decides_the_plan():
    """A constructed table: the caption carries the scene (F1), the HCI the look (PSNR).
    Maximising F1 spends the budget on the caption; maximising PSNR sends the HCI."""
    names = ("caption", "spw", "hci")
    curves = {}
    for r in range(4):
        for sub in itertools.combinations(names, r):
            f1 = 0.9 if "caption" in sub else 0.0
            psnr = 15.0 + (8.0 if "hci" in sub else 0.0)
            bits = [200.0, 800.0] if "hci" in sub else [0.0]
            curves[subset_key(sub)] = Curve(
                bits, {"f1": [f1] * len(bits), "psnr": [psnr] * len(bits)}, [10] * len(bits)
            )
    table = ValueTable("toy", None, names, ("hci",), curves)
    encoded = _encoded(np.random.default_rng(7), [40, 80])
    link = make_link("rayleigh")
    f1 = plan_planned(link, encoded, -3.0, 700, table, "f1")
    psnr = plan_planned(link, encoded, -3.0, 700, table, "psnr")
    assert "hci" not in f1.payloads and "caption" in f1.payloads
    assert "hci" in psnr.payloads
    assert f1.predicted.figures["f1"] > psnr.predicted.figures["f1"]
    assert psnr.predicted.figures["psnr"] > f1.predicted.figures["psnr"]
    assert f1.frame_uses <= 700 and psnr.frame_uses <= 700


def test_a_tie_break_keeps_the_first_field_and_improves_the_second():
    rng = np.random.default_rng(3)
    link = make_link("awgn")
    encoded = _encoded(rng, [40, 80])
    table = _table(rng)
    plain = plan_planned(link, encoded, 6.0, 1500, table, "f1")
    tied = plan_planned(link, encoded, 6.0, 1500, table, Objective.parse("f1,psnr", 0.001))
    assert tied.predicted.figures["f1"] >= plain.predicted.figures["f1"] - 0.001
    assert tied.predicted.figures["psnr"] >= plain.predicted.figures["psnr"]


@pytest.mark.parametrize("text", ["", "f1+", "2x*f1", "f1,3psnr", "f1*0.5"])
def test_bad_objectives_are_one_sentence(text):
    with pytest.raises(SemcomError):
        Objective.parse(text)


def test_an_unknown_field_is_refused():
    table = _table(np.random.default_rng(0))
    with pytest.raises(SemcomError, match="no field 'lpips'"):
        Objective.parse("lpips").check(table)


def test_objective_text_round_trips():
    for text in ("f1", "0.7*f1+0.01*psnr", "f1,psnr"):
        assert str(Objective.parse(text)) == text


def _config(entry):
    from experiments.config import parse_config

    return parse_config(
        {
            "dataset": {"name": "shapes", "split": "test", "n": 1},
            "codecs": [entry],
            "channels": ["awgn"],
            "snr_db": [0],
            "budget_cpp": [0.1],
        }
    )


def test_sweep_configs_take_planned_protection():
    spec = _config({"name": "jpeg", "mcs": "planned"}).codecs[0]
    assert (spec.mcs, spec.label, str(spec.planner_objective())) == (
        "planned",
        "jpeg@planned",
        "f1",
    )
    spec = _config({"name": "jpeg", "mcs": "planned", "objective": "f1,psnr", "tolerance": 0.01})
    assert spec.codecs[0].label == "jpeg@planned-f1_psnr"
    assert spec.codecs[0].planner_objective().tolerance == 0.01
    # a config that does not plan keeps the hash it had before planning existed
    assert "objective" not in _config({"name": "jpeg"}).codecs[0].to_dict()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "jpeg", "objective": "f1"}, "applies to mcs: planned only"),
        ({"name": "mtgc", "mcs": "planned", "protection": {"hci": "mcs4"}}, "drop it"),
        ({"name": "jpeg", "mcs": "planned", "objective": "f1+"}, "objective"),
        ({"name": "jpeg", "mcs": "planned", "tolerance": "x"}, "must be a number"),
    ],
)
def test_bad_planned_entries_are_named(entry, message):
    with pytest.raises(SemcomError, match=message):
        _config(entry)


def test_planning_with_harq_counts_the_retransmissions():
    """HARQ beyond the budget: every stream may be sent again, so at a low SNR the plan
    expects more (and may choose less protection for the same arrival); HARQ within the
    budget is refused in one sentence, in configs before the sweep starts."""
    from channels.harq import HarqPolicy

    rng = np.random.default_rng(5)
    encoded, table = _encoded(rng, [40, 80]), _table(rng)
    plain = plan_planned(make_link("rayleigh"), encoded, -6.0, 700, table, "f1")
    harq = plan_planned(make_link("rayleigh", harq=3), encoded, -6.0, 700, table, "f1")
    assert harq.predicted.figures["f1"] > plain.predicted.figures["f1"] + 0.05
    same = make_link("rayleigh", harq=HarqPolicy(max_transmissions=3, budget="same"))
    with pytest.raises(SemcomError, match="budget: extra"):
        plan_planned(same, encoded, -6.0, 700, table, "f1")
    entry = {"name": "jpeg", "mcs": "planned", "harq": {"max_transmissions": 2, "budget": "same"}}
    with pytest.raises(SemcomError, match=r"codecs\[0\].*budget: extra"):
        _config(entry)
    assert _config({**entry, "harq": 2}).codecs[0].harq_policy().max_transmissions == 2


@pytest.mark.slow
def test_the_cli_says_in_one_sentence_what_is_missing(tmp_path, capsys):
    from tests.conftest import run_cli

    code, _, err = run_cli(
        ["plan", "--codec", "mtgc", "--weights", str(tmp_path), "--snr-db", "0"], capsys
    )
    assert code == 2
    assert "has no value table" in err and "semcom evaluate --split val" in err
    assert "Traceback" not in err
    code, _, err = run_cli(["plan", "--codec", "jpeg", "--objective", "f1+"], capsys)
    assert code == 2 and "objective term" in err


@pytest.mark.slow
def test_a_planned_sweep_stores_its_predictions(tmp_path):
    """A sweep with a planned codec (the shipped AVIF value table) sends each point's plan,
    stores the predicted figures beside the measured ones, and semcom plan --check reads
    them back."""
    import json

    from experiments.config import parse_config
    from experiments.plan_check import compare
    from experiments.store import Store
    from experiments.sweep import run_sweep

    cfg = parse_config(
        {
            "name": "p",
            "dataset": {"split": "test", "n": 2, "size": 128, "seed": 0},
            "codecs": [{"name": "avif", "mcs": "planned", "objective": "psnr"}, "avif"],
            "channels": ["rayleigh"],
            "snr_db": [0.0, 9.0],
            "budget_cpp": [0.1],
            "trials": 2,
            "save_images": 0,
        }
    )
    run_sweep(cfg, tmp_path, progress=False)
    store = Store(tmp_path, create=False)
    df = store.frame()
    store.close()
    planned = df[df["codec"] == "avif@planned-psnr"]
    assert len(planned) == 8
    for _, row in planned.iterrows():
        detail = json.loads(row["detail"])
        assert detail["objective"] == "psnr"
        assert set(detail["predicted"]) >= {"psnr", "ms_ssim", "f1"}
        assert row["channel_uses"] <= row["budget_uses"]
        # the prediction lies between the lost image's value and the best the table holds
        assert 14.0 < detail["predicted"]["psnr"] < 34.0
        if row["image_crc_ok"]:  # what arrived decodes to what the sender measured
            assert row["psnr"] == pytest.approx(detail["sender_psnr"], abs=1e-6)
    table = compare(tmp_path)
    assert set(table["codec"]) == {"avif@planned-psnr"} and len(table) == 2
    assert list(table["points"]) == [4, 4]
    # against the fixed rule on the same frames (here: the same store's adaptive rows)
    from experiments.plan_compare import compare_rules, load_rows, verdicts

    rules = compare_rules(load_rows(tmp_path), [])
    assert set(rules["fixed"]) == {"avif"} and len(rules) == 2
    verdict = verdicts(rules)
    assert (verdict["diff_lo"] <= verdict["diff"]).all()
    assert (verdict["diff"] <= verdict["diff_hi"]).all()


@pytest.mark.slow
def test_transmit_plans_one_image(tmp_path, capsys):
    import json

    from semcom.data.shapes import ShapesWorld
    from semcom.imageio import save_image
    from tests.conftest import run_cli

    scene = tmp_path / "scene.png"
    save_image(ShapesWorld("test", 1, 128, 0)[0].image, scene)
    args = ["transmit", str(scene), "-o", str(tmp_path / "out.png"), "--codec", "webp"]
    args += ["--channel", "rayleigh", "--snr-db", "3", "--budget-cpp", "0.1", "--json"]
    code, out, err = run_cli([*args, "--protection", "planned", "--objective", "psnr"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["objective"] == "psnr" and "psnr" in report["predicted"]
    assert report["channel_uses"] <= report["budget_uses"]
    assert (tmp_path / "out.png").is_file()
    code, _, err = run_cli([*args, "--protection", "planned", "--mcs", "mcs4"], capsys)
    assert code == 2 and "drop --mcs" in err


@pytest.mark.slow
def test_semcom_plan_plans_a_worlds_scene_with_that_worlds_tables(capsys):
    """--dataset shapes-complex: a ShapesWorld-Complex test scene, planned from AVIF's
    table of that world (and MTGC's beside the tiny-complex weights); an unknown world is
    one sentence."""
    import json

    from tests.conftest import run_cli

    args = ["plan", "--snr-db", "0", "--budget-cpp", "0.1", "--json"]
    for codec in ("avif", "mtgc"):
        code, out, err = run_cli([*args, "--codec", codec, "--dataset", "shapes-complex"], capsys)
        assert code == 0, err
        assert 0 <= json.loads(out)["plans"][0]["predicted"]["f1"] <= 1
    code, _, err = run_cli([*args, "--codec", "avif", "--dataset", "natural"], capsys)
    assert code == 2 and "--dataset must be shapes or shapes-complex" in err
