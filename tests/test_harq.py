"""HARQ per stream: failed streams are sent again and soft-combined until the CRC passes."""

from __future__ import annotations

import pytest
import torch
from sionna.phy.mapping import Demapper, Mapper

from channels import Link
from channels.coding import TransportBlockDecoder, TransportBlockEncoder
from channels.errors import LinkError
from channels.harq import HarqPolicy
from channels.mcs import MCS, parse_mcs
from channels.models import make_channel

PAYLOADS = {"caption": bytes(range(12)), "spw": bytes(range(40, 51)), "hci": bytes(range(120))}
PROTECT = {"caption": "qpsk:1/3", "spw": "qpsk:1/3", "hci": "qam16:1/2"}


def _llrs(enc, bits, rv: int, snr_db: float, seed: int) -> torch.Tensor:
    mapper, demapper = Mapper("qam", 4), Demapper("app", "qam", 4)
    y, no = make_channel("awgn")(
        mapper(enc(bits, rv=rv)),
        10 ** (-snr_db / 10),
        generator=torch.Generator().manual_seed(seed),
    )
    return demapper(y, no)


def test_incremental_redundancy_and_chase_recover_what_one_transmission_loses():
    torch.manual_seed(0)
    enc = TransportBlockEncoder(1000, parse_mcs("qam16:1/2"))
    dec = TransportBlockDecoder(enc)
    bits = torch.randint(0, 2, (16, 1000)).float()
    first, second, again = (_llrs(enc, bits, rv, 5.0, s) for rv, s in ((0, 1), (2, 2), (0, 3)))
    assert dec(first).tb_ok.float().mean() <= 0.25  # 16-QAM 1/2 needs ~6 dB alone
    for llr, rv in (
        (torch.stack([first, second], 1), [0, 2]),
        (torch.stack([first, again], 1), [0, 0]),
    ):
        out = dec(llr, rv=rv)
        assert out.tb_ok.all() and torch.equal(out.bits, bits)
    with pytest.raises(ValueError, match="transmissions"):
        dec(first, rv=[0, 2])


@pytest.mark.slow
def test_incremental_redundancy_beats_chase_at_the_same_snr():
    # 16-QAM 3/4 at 5 dB: one transmission never decodes; a second one that repeats the
    # same coded bits (Chase) gains 3 dB of SNR, one with new parity bits (IR, rv 2)
    # lowers the code rate as well
    torch.manual_seed(0)
    enc = TransportBlockEncoder(1000, parse_mcs("qam16:3/4"))
    dec = TransportBlockDecoder(enc)
    n = 64
    bits = torch.randint(0, 2, (n, 1000)).float()
    first, second, again = (_llrs(enc, bits, rv, 5.0, s) for rv, s in ((0, 1), (2, 2), (0, 3)))
    ir = dec(torch.stack([first, second], 1), rv=[0, 2]).tb_ok.float().mean().item()
    chase = dec(torch.stack([first, again], 1), rv=[0, 0]).tb_ok.float().mean().item()
    assert dec(first).tb_ok.float().mean().item() == 0.0
    # measured 1.0 against 0.0; the margin is far beyond 5 binomial sigmas of 64 blocks
    assert ir - chase >= 0.5


def test_harq_only_adds_to_what_the_first_transmission_delivered():
    plain, harq = Link("rayleigh"), Link("rayleigh", harq=4)
    more = 0
    for seed in range(12):
        a = plain.transmit(PAYLOADS, 4.0, protection=PROTECT, seed=seed)
        b = harq.transmit(PAYLOADS, 4.0, protection=PROTECT, seed=seed)
        for name, sa in a.streams.items():
            sb = b.streams[name]
            assert sb.payload is None or sb.payload == PAYLOADS[name]
            if sa.stats.crc_ok:  # the first transmission is the same draw
                assert sb.stats == sa.stats and sb.stats.transmissions == 1
            else:
                assert 2 <= sb.stats.transmissions <= 4
                assert sb.stats.channel_uses == sb.stats.transmissions * sa.stats.channel_uses
                more += sb.stats.crc_ok
        spent = sum(s.stats.channel_uses for s in b.streams.values())
        assert b.channel_uses == spent >= a.channel_uses  # Rayleigh/AWGN: no pilots
    assert more > 0  # retransmissions delivered streams the first one lost


def test_within_the_budget_no_retransmission_fits_a_full_budget():
    link = Link("awgn", harq={"max_transmissions": 4, "budget": "same"})
    first = Link("awgn").transmit(PAYLOADS, -2.0, protection=PROTECT, seed=0)
    assert not all(s.stats.crc_ok for s in first.streams.values())
    tight = link.transmit(PAYLOADS, -2.0, first.channel_uses, protection=PROTECT, seed=0)
    assert tight.channel_uses == first.channel_uses
    assert all(s.stats.transmissions == 1 for s in tight.streams.values())
    roomy = link.transmit(PAYLOADS, -2.0, 10 * first.channel_uses, protection=PROTECT, seed=0)
    assert first.channel_uses < roomy.channel_uses <= 10 * first.channel_uses
    assert max(s.stats.transmissions for s in roomy.streams.values()) > 1


def test_per_stream_frames_retransmit_too_and_results_repeat():
    link = Link("tdl-a", frame="per-stream", harq={"max_transmissions": 3, "combining": "chase"})
    a = link.transmit(PAYLOADS, 3.0, protection=PROTECT, seed=5)
    b = link.transmit(PAYLOADS, 3.0, protection=PROTECT, seed=5)
    assert a.to_dict() == b.to_dict() and a.received() == b.received()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (0, "1 to 16"),
        ({"rv_order": [0, 5]}, "redundancy versions"),
        ({"combining": "mrc"}, "ir or chase"),
        ({"budget": "more"}, "extra or same"),
        ({"retries": 2}, "unknown HARQ setting"),
        ("4", "not a number"),
    ],
)
def test_bad_policies_are_clear_errors(value, match):
    with pytest.raises(LinkError, match=match):
        Link("awgn", harq=value)


def test_policy_parsing():
    assert HarqPolicy.parse(None) is None and HarqPolicy.parse(1) is None
    assert HarqPolicy.parse(3) == HarqPolicy(max_transmissions=3)
    assert [HarqPolicy().rv(k) for k in range(5)] == [0, 2, 3, 1, 0]
    assert HarqPolicy(combining="chase").rv(2) == 0


def test_sweep_configs_and_transmit_take_harq(tmp_path, capsys):
    from experiments.config import parse_config
    from semcom.errors import SemcomError

    base = {"codecs": ["webp"], "channels": ["awgn"], "snr_db": [0], "budget_cpp": [0.1]}
    plain, four = parse_config(base), parse_config({**base, "harq": 4})
    assert plain.harq is None and plain.harq_policy() is None and "harq" not in plain.to_dict()
    assert four.harq_policy() == HarqPolicy(max_transmissions=4) and four.hash() != plain.hash()
    chase = parse_config({**base, "harq": {"max_transmissions": 2, "combining": "chase"}})
    assert chase.harq_policy().combining == "chase"
    with pytest.raises(SemcomError, match="harq"):
        parse_config({**base, "harq": {"combining": "mrc"}})


def test_within_the_budget_the_first_streams_are_resent_first():
    """MTGC's order (caption, SPWs, HCI): when the retransmission frame does not fit what
    is left of the budget, the last streams stay out."""
    link = Link("awgn", harq={"max_transmissions": 2, "budget": "same"})
    first = Link("awgn").transmit(PAYLOADS, -6.0, protection=PROTECT, seed=1)
    assert not any(s.stats.crc_ok for s in first.streams.values())
    room = first.channel_uses + sum(first.streams[n].stats.data_symbols for n in ("caption", "spw"))
    t = link.transmit(PAYLOADS, -6.0, room, protection=PROTECT, seed=1)
    got = {n: s.stats.transmissions for n, s in t.streams.items()}
    assert got == {"caption": 2, "spw": 2, "hci": 1}
    assert t.channel_uses == room


@pytest.mark.slow
def test_link_curves_report_residual_bler_after_harq(capsys):
    from channels.curves import coded_curve
    from tests.conftest import run_cli

    mcs = parse_mcs("qam16:1/2")
    plain = coded_curve(Link("awgn"), mcs, [4.5], 512, 24, seed=0)[0]
    harq = coded_curve(Link("awgn", harq=3), mcs, [4.5], 512, 24, seed=0)[0]
    assert harq.bler_first == plain.bler > 0.5  # the same first draw
    assert harq.bler < plain.bler and 1 < harq.transmissions <= 3
    assert plain.transmissions is None
    code, out, err = run_cli(
        [
            "link",
            "--snr-db",
            "4.5",
            "--mcs",
            "qam16:1/2",
            "--bits",
            "256",
            "--blocks",
            "8",
            "--harq",
            "2",
        ],
        capsys,
    )
    assert code == 0, err
    assert "tx/block" in out


def test_a_sweep_transmission_keeps_harq_within_the_budget_when_asked():
    """Through the planner (as sweeps and `semcom transmit` send): `budget: same` never
    spends past the image's budget; `extra` resends beyond it."""
    from experiments.transmission import Protect, transmit_image
    from semcom.data.shapes import ShapesWorld

    scene = ShapesWorld("test", n=1, seed=0)[0].image
    kwargs = {"codec": "webp", "snr_db": 2.0, "budget_cpp": 0.3, "protect": Protect("qam16:1/2")}
    first = transmit_image(scene, link=Link("awgn"), **kwargs)
    assert not first.success  # 16-QAM 1/2 at 2 dB: lost
    same = transmit_image(scene, link=Link("awgn", harq={"budget": "same"}), **kwargs)
    extra = transmit_image(scene, link=Link("awgn", harq=3), **kwargs)
    spent_same, spent_extra = (
        sum(s["channel_uses"] for s in o.streams.values()) for o in (same, extra)
    )
    assert spent_same <= same.budget_uses < spent_extra
    assert extra.streams["image"]["transmissions"] > 1
    assert same.streams["image"]["transmissions"] == 1  # the first fills the budget


def test_per_stream_retransmissions_charge_each_stream_its_own_frame():
    link = Link("tdl-a", frame="per-stream", harq=3)
    plain = Link("tdl-a", frame="per-stream").transmit(PAYLOADS, 0.0, protection=PROTECT, seed=2)
    t = link.transmit(PAYLOADS, 0.0, protection=PROTECT, seed=2)
    resent = [n for n, s in t.streams.items() if s.stats.transmissions > 1]
    assert resent
    for name in resent:
        own = plain.streams[name].stats.channel_uses
        assert t.streams[name].stats.channel_uses == t.streams[name].stats.transmissions * own
    assert t.channel_uses == sum(s.stats.channel_uses for s in t.streams.values())


def test_the_first_transmission_is_version_zero():
    with pytest.raises(LinkError, match="start with 0"):
        Link("awgn", harq={"rv_order": [2, 0, 3, 1]})
    with pytest.raises(LinkError, match="1 to 16"):
        Link("awgn", harq={"max_transmissions": True})
    with pytest.raises(LinkError, match="rv_order"):
        Link("awgn", harq={"rv_order": 5})


def test_incremental_redundancy_on_the_pruned_graph_decides_as_sionnas_harq_mode():
    """Two transmissions (rv 0 and 2) of 16-QAM 1/2 leave the end of the circular buffer
    unreceived: decoding the buffer on the graph pruned there gives exactly the bits,
    CRCs and iterations of Sionna's harq_mode decoder; three cover it all (whole graph)."""
    link = Link("awgn")
    mcs = MCS("qam16", 0.5)
    g = torch.Generator().manual_seed(5)
    payload = torch.randint(0, 2, (24, 1024), generator=g).float()
    llr = torch.stack([link.send(payload, mcs, 4.0, g, rv=r)[1] for r in (0, 2)], dim=1)
    _, dec = link.fec(1024, mcs)
    assert dec._prunable([0, 2]) and not dec._prunable([0, 2, 3])
    dec.pruned_ir = True
    pruned = dec(llr, rv=[0, 2])
    dec.pruned_ir = False
    whole = dec(llr, rv=[0, 2])
    dec.pruned_ir = True
    assert torch.equal(pruned.bits, whole.bits) and torch.equal(pruned.tb_ok, whole.tb_ok)
    assert torch.equal(pruned.iterations, whole.iterations)
    assert bool(pruned.tb_ok.any())
