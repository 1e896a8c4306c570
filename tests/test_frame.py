"""One frame per transmission: the streams of an image share one channel realisation."""

from __future__ import annotations

import pytest
import torch

from channels import Link
from channels.errors import LinkError
from channels.frame import FRAMES, send_frame
from channels.link import bytes_to_bits
from channels.mcs import parse_mcs
from channels.models import ChannelModel

PAYLOADS = {"caption": bytes(range(12)), "spw": bytes(range(40, 51)), "hci": bytes(range(60))}
MCS = {n: parse_mcs("qpsk:1/3") for n in ("caption", "spw")} | {"hci": parse_mcs("qam16:1/2")}


class Recording(torch.nn.Module):
    """Wraps a channel model and records the fading coefficient each symbol saw."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.name, self.seen = inner, inner.name, []

    def channel_uses(self, n):
        return self.inner.channel_uses(n)

    detect = ChannelModel.detect  # equalise through __call__ below, then demap

    def __call__(self, x, no, *, generator, block_symbols=None):
        # noiseless probe with ones: y / x is what the receiver equalised by, 1/h's magnitude
        # comes back in no_eff = no / |h|^2
        y, no_eff = self.inner(x, no, generator=generator, block_symbols=block_symbols)
        self.seen.append((no / no_eff).flatten())
        return y, no_eff


def _frames_of(link: Link, seed: int) -> dict[str, torch.Tensor]:
    """|h|^2 per symbol of each stream of one transmission."""
    rec = Recording(link.channel)
    link.channel = rec
    bits = {n: torch.from_numpy(bytes_to_bits(p))[None] for n, p in PAYLOADS.items()}
    send_frame(link, bits, MCS, 10.0, seed)
    gains, start = {}, 0
    for name in PAYLOADS:
        enc, _ = link.fec(8 * len(PAYLOADS[name]), MCS[name])
        n = enc.layout.num_symbols
        gains[name] = rec.seen[0][start : start + n]
        start += n
    return gains


def test_streams_of_one_transmission_see_the_same_rayleigh_coefficient():
    gains = _frames_of(Link("rayleigh"), seed=3)
    first = gains["caption"][0]
    for name, g in gains.items():
        assert torch.allclose(g, first), name  # one |h|^2 for the whole frame
    other = _frames_of(Link("rayleigh"), seed=4)["caption"][0]
    assert not torch.isclose(other, first)  # another seed, another fade


def _recorded(link: Link, payloads: dict, seed: int) -> list[torch.Tensor]:
    """|h|^2 per symbol of every channel call one transmission makes."""
    rec = Recording(link.channel)
    link.channel = rec
    link.transmit(payloads, 10.0, protection="qpsk:1/2", seed=seed)
    link.channel = rec.inner
    return rec.seen


def test_two_codecs_with_one_seed_see_the_same_fade():
    link = Link("rayleigh")
    (mtgc,) = _recorded(link, PAYLOADS, seed=11)
    (webp,) = _recorded(link, {"image": bytes(range(200))}, seed=11)
    assert torch.allclose(mtgc, mtgc[0]) and torch.allclose(webp, webp[0])
    assert torch.isclose(mtgc[0], webp[0])
    (other,) = _recorded(link, {"image": bytes(range(200))}, seed=12)
    assert not torch.isclose(other[0], webp[0])


def test_per_stream_frames_fade_independently():
    link = Link("rayleigh", frame="per-stream")
    calls = _recorded(link, PAYLOADS, seed=11)
    assert len(calls) == 3  # one frame (and one fade) per stream
    firsts = torch.stack([c[0] for c in calls])
    assert len(set(firsts.tolist())) == 3


def test_shared_tdl_frame_has_one_set_of_pilots():
    shared, apart = Link("tdl-a"), Link("tdl-a", frame="per-stream")
    a = shared.transmit(PAYLOADS, 20.0, protection=dict(MCS), seed=0)
    b = apart.transmit(PAYLOADS, 20.0, protection=dict(MCS), seed=0)
    symbols = [s.stats.data_symbols for s in a.streams.values()]
    assert a.channel_uses == shared.channel.channel_uses(sum(symbols))
    assert b.channel_uses == sum(shared.channel.channel_uses(n) for n in symbols)
    assert a.channel_uses < b.channel_uses
    assert a.received() == PAYLOADS and b.received() == PAYLOADS
    with pytest.raises(LinkError, match="budget"):
        shared.transmit(PAYLOADS, 20.0, a.channel_uses - 1, protection=dict(MCS))


def test_shared_frames_are_deterministic_and_batched_like_single_ones():
    link = Link("tdl-c")
    items = [PAYLOADS, {"image": bytes(range(90))}, PAYLOADS]
    many = link.transmit_many(items, 6.0, protection="qpsk:1/2", seeds=[5, 6, 7])
    for item, seed, t in zip(items, [5, 6, 7], many, strict=True):
        one = link.transmit(item, 6.0, protection="qpsk:1/2", seed=seed)
        assert one.to_dict() == t.to_dict() and one.received() == t.received()


def test_unknown_frame_layout_is_a_clear_error():
    assert FRAMES == ("shared", "per-stream")
    with pytest.raises(LinkError, match="choose shared or per-stream"):
        Link("awgn", frame="joint")


def test_sweep_configs_name_the_frame_layout():
    from experiments.config import parse_config
    from semcom.errors import SemcomError

    base = {"codecs": ["webp"], "channels": ["rayleigh"], "snr_db": [0], "budget_cpp": [0.1]}
    shared, apart = parse_config(base), parse_config({**base, "frame": "per-stream"})
    assert shared.frame == "shared" and apart.frame == "per-stream"
    assert shared.hash() != apart.hash()
    with pytest.raises(SemcomError, match="frame"):
        parse_config({**base, "frame": "joint"})


def test_channel_draws_come_from_cpu_generators_whatever_the_device():
    """Generators live on the CPU and the models draw there (then move the draws), so a
    transmission's noise and fades are the same numbers on every device. On the CPU the
    noise is exactly Sionna's AWGN from the same generator."""
    from sionna.phy.channel import AWGN

    from channels.frame import draw_normal, frame_generator, stream_generator
    from channels.models import make_channel

    assert stream_generator(3, "caption").device.type == "cpu"
    assert frame_generator(3, attempt=1).device.type == "cpu"
    x = torch.complex(torch.randn(2, 64), torch.randn(2, 64))
    ours = make_channel("awgn")(x, 0.3, generator=frame_generator(7))[0]

    class Reference(AWGN):
        torch_rng = frame_generator(7)

    torch.testing.assert_close(ours, Reference()(x, 0.3), atol=0, rtol=0)
    g1, g2 = frame_generator(5), frame_generator(5)
    assert torch.equal(
        draw_normal((3, 4), g1, torch.float32, "cpu"), torch.randn(3, 4, generator=g2)
    )
    # the Rayleigh fade and the TDL response are drawn from the CPU generator as well
    for name in ("rayleigh", "tdl-a"):
        channel = make_channel(name)
        a = channel(x, 0.1, generator=frame_generator(9))[0]
        b = channel(x, 0.1, generator=frame_generator(9))[0]
        assert torch.equal(a, b)
