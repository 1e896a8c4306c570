"""semcom transmit: budgets fitted exactly, unequal protection, failures scored as fallbacks."""

from __future__ import annotations

import json

import pytest
import torch

from channels.link import Link
from channels.mcs import parse_mcs
from experiments.transmission import (
    Protect,
    max_payload_bits,
    plan,
    stream_uses,
    transmit_image,
)
from semcom.baselines import fallback_image, operating_points
from semcom.codecs.conventional import IMAGE_STREAM
from semcom.data.shapes import ShapesWorld
from semcom.protocol import Encoded, Option, Stream
from semcom.registry import make_codec
from tests._mtgc import scene_image, single_thread, small_codec  # noqa: F401
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def scene() -> torch.Tensor:
    return ShapesWorld("test", 1, 64, 0)[0].image


@pytest.mark.parametrize("channel", ["awgn", "tdl-a"])
def test_stream_uses_matches_the_link_count(channel: str) -> None:
    link = Link(channel)
    mcs = parse_mcs("qam16:1/2")
    for bits in (8, 400, 1344):
        assert stream_uses(link, bits, mcs) == link.channel_uses(bits, mcs)


@pytest.mark.parametrize("channel", ["awgn", "rayleigh", "tdl-a"])
def test_max_payload_bits_is_the_largest_that_fits(channel: str) -> None:
    link = Link(channel)
    mcs = parse_mcs("mcs9")
    for uses in (200, 777, 3000):
        bits = max_payload_bits(link, mcs, uses)
        assert bits % 8 == 0 and bits > 0
        assert stream_uses(link, bits, mcs) <= uses < stream_uses(link, bits + 8, mcs)


def test_max_payload_bits_is_zero_when_nothing_fits() -> None:
    assert max_payload_bits(Link("awgn"), parse_mcs("qpsk:1/3"), 10) == 0


def test_baseline_plan_takes_the_best_point_that_fits(scene) -> None:
    link = Link("awgn")
    points = operating_points(scene, "webp")
    encoded = make_codec("webp").encode(scene)
    chosen = plan(link, encoded, 10.0, 600, {IMAGE_STREAM: "qpsk:1/2"})
    assert chosen.frame_uses <= 600
    bits = 8 * len(chosen.payloads[IMAGE_STREAM])
    max_bits = max_payload_bits(link, parse_mcs("qpsk:1/2"), 600)
    best = min((v for v in points if v.bits <= max_bits), key=lambda v: (-v.psnr, v.bits))
    assert bits == best.bits and chosen.detail["sender_psnr"] == best.psnr


def test_baseline_sends_nothing_when_no_point_fits(scene) -> None:
    encoded = make_codec("jpeg").encode(scene)
    chosen = plan(Link("awgn"), encoded, 10.0, 50, {IMAGE_STREAM: "qpsk:1/3"})
    assert chosen.payloads == {} and chosen.not_sent == [IMAGE_STREAM]


def test_the_planner_keeps_priority_order_and_takes_the_first_option_that_fits() -> None:
    """Streams in order; each sends its first fitting option; an option that does not fit
    is skipped for a smaller one, and a stream with none left is not sent."""
    link = Link("awgn")
    big, small = Option(bytes(400), {"which": "big"}), Option(bytes(40), {"which": "small"})
    encoded = Encoded(
        b"",
        (
            Stream("first", (Option(bytes(20)),), "qpsk:1/3"),
            Stream("second", (big, small), "qpsk:1/3"),
            Stream("third", (Option(bytes(300)),), "qpsk:1/3"),
        ),
        8,
        8,
    )
    mcs = parse_mcs("qpsk:1/3")
    need = stream_uses(link, 160, mcs) + stream_uses(link, 320, mcs)
    chosen = plan(link, encoded, 10.0, need, {})
    assert list(chosen.payloads) == ["first", "second"] and chosen.not_sent == ["third"]
    assert chosen.payloads["second"] == small.payload and chosen.detail == {"which": "small"}
    assert chosen.frame_uses == need
    # a tighter budget drops the later streams first
    tight = plan(link, encoded, 10.0, stream_uses(link, 160, mcs), {})
    assert list(tight.payloads) == ["first"] and tight.not_sent == ["second", "third"]


def test_baseline_delivered_at_high_snr_matches_the_sender(scene) -> None:
    out = transmit_image(scene, codec="webp", link=Link("awgn"), snr_db=20, budget_cpp=0.5)
    assert out.success and out.streams[IMAGE_STREAM]["crc_ok"]
    assert out.channel_uses <= out.budget_uses
    assert out.figures["psnr"] == pytest.approx(out.detail["sender_psnr"], abs=1e-3)


def test_baseline_lost_image_is_the_mean_image(scene) -> None:
    out = transmit_image(
        scene,
        codec="webp",
        link=Link("awgn"),
        snr_db=-5,
        budget_cpp=0.5,
        protect=Protect("qam64:0.8"),
    )
    assert not out.success and not out.streams[IMAGE_STREAM]["crc_ok"]
    assert torch.equal(out.image, fallback_image(*out.image.shape[-2:]))


def test_mtgc_streams_get_their_own_protection(scene) -> None:
    torch.manual_seed(0)
    out = transmit_image(
        scene,
        codec=make_codec("mtgc", model=small_codec()),
        link=Link("awgn"),
        snr_db=15,
        budget_cpp=1.0,
    )
    # caption and SPWs "robust": the adaptive choice 3 dB lower; the HCI adaptive
    for name in ("caption", "spw"):
        st = out.streams[name]
        robust = Link("awgn").resolve("robust", 12.0 + 3.0, st["bits"])[0]
        assert st["adaptive"] and st["mcs"] == str(robust)
        assert robust == Link("awgn").resolve("adaptive", 12.0, st["bits"])[0]
    assert out.streams["hci"]["adaptive"] and out.streams["hci"]["mcs"] != out.streams["spw"]["mcs"]
    assert out.success and out.image.shape == scene.shape


def test_mtgc_erased_hci_falls_back(scene) -> None:
    out = transmit_image(
        scene,
        codec=make_codec("mtgc", model=small_codec()),
        link=Link("awgn"),
        snr_db=2,
        budget_cpp=1.0,
        protect=Protect("qam64:0.8"),
    )
    assert out.streams["caption"]["crc_ok"] and out.streams["spw"]["crc_ok"]
    assert out.streams["hci"]["sent"] and not out.streams["hci"]["crc_ok"]
    assert not out.success and torch.isfinite(out.image).all()


def test_mtgc_short_budget_drops_hci_first(scene) -> None:
    out = transmit_image(
        scene,
        codec=make_codec("mtgc", model=small_codec()),
        link=Link("awgn"),
        snr_db=10,
        budget_cpp=0.07,
        protect=Protect(streams={"caption": "qpsk:1/3", "spw": "qpsk:1/3"}),
    )
    assert out.streams["caption"]["sent"] and out.streams["spw"]["sent"]
    assert not out.streams["hci"]["sent"] and out.detail["not_sent"] == ["hci"]


def test_cli_transmit_writes_the_image_and_json(tmp_path, capsys) -> None:
    from semcom.imageio import load_image, save_image

    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    save_image(scene_image(0)[0], src)
    code, out, err = run_cli(
        [
            "transmit",
            str(src),
            "-o",
            str(dst),
            "--codec",
            "webp",
            "--channel",
            "rayleigh",
            "--channel-option",
            "coherence=1",
            "--snr-db",
            "12",
            "--budget-cpp",
            "0.5",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["streams"]["image"]["sent"] and "psnr" in report["figures"]
    assert load_image(dst).shape == (3, 64, 64)
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--codec", "bpg"], "unknown codec"),
        (["--budget-cpp", "-1"], "budget"),
        (["--mcs", "qam7:1/2"], "modulation"),
        (["--channel", "mars"], "mars"),
        (["--channel", "rayleigh", "--channel-option", "coherence=0"], "coherence must be"),
        (["--channel-option", "coherence"], "KEY=VALUE"),
        (["--channel-option", "fade=2"], "bad option for channel 'awgn'"),
        (["--metric", "nope"], "unknown metric 'nope'"),
    ],
)
def test_cli_transmit_bad_values_are_one_sentence(tmp_path, capsys, args, needle) -> None:
    from semcom.imageio import save_image

    src = tmp_path / "in.png"
    save_image(scene_image(0)[0], src)
    base = {"--codec": "webp", "--budget-cpp": "0.5", "--mcs": "adaptive", "--channel": "awgn"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for kv in base.items() for x in kv]
    code, _, err = run_cli(
        ["transmit", str(src), "-o", str(tmp_path / "o.png"), "--snr-db", "5", *flat], capsys
    )
    assert code == 2 and needle in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_transmit_refuses_a_metric_without_its_weights(tmp_path, capsys, monkeypatch) -> None:
    from semcom.imageio import save_image

    monkeypatch.setenv("SEMCOM_PERCEPTUAL_WEIGHTS", str(tmp_path / "none"))
    src = tmp_path / "in.png"
    save_image(scene_image(0)[0], src)
    args = ["transmit", str(src), "-o", str(tmp_path / "o.png"), "--codec", "webp"]
    args += ["--snr-db", "5", "--budget-cpp", "0.5", "--metric", "lpips"]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "lpips is not available here" in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()
