"""One frame per transmission: every stream of an image on consecutive resources of one slot.

In a shared frame (the :class:`~channels.link.Link` default, ``frame="shared"``) the streams
of one transmission are encoded and mapped each with its own MCS, placed one after another
in one frame, and sent through **one** channel realisation: one draw of the frame's
generator (fixed by the transmission's seed alone, not by stream names) gives the fading
and the noise. Flat Rayleigh keeps one coefficient for the whole frame; a TDL frame is one
OFDM grid with one set of pilots. Two codecs sent with the same seed see the same fading
coefficient whatever their streams (common random numbers across codecs). The old
behaviour, each stream in its own frame with its own generator fixed by (seed, stream
name), is ``frame="per-stream"``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import torch

from channels.checks import check_snr
from channels.errors import LinkError

#: The frame layouts a Link offers.
FRAMES: tuple[str, ...] = ("shared", "per-stream")


def check_frame(frame: str) -> str:
    """Validate a frame layout name; returns it."""
    if frame not in FRAMES:
        raise LinkError(f"frame {frame!r} is not known; choose {' or '.join(FRAMES)}.")
    return frame


def stream_generator(seed: int, name: str) -> torch.Generator:
    """The generator of one stream: fixed by ``seed`` and the stream's name.

    Generators live on the CPU whatever the link's device: the channel models draw from
    them there and move the draws (:func:`draw_normal`), so a transmission's fades and
    noise are the same numbers on a GPU as on the CPU."""
    g = torch.Generator()
    g.manual_seed((int(seed) * 1_000_003 + zlib.crc32(name.encode())) % (1 << 62))
    return g


def draw_normal(
    shape: Sequence[int], generator: torch.Generator, dtype: torch.dtype, device
) -> torch.Tensor:
    """Standard normal draws of ``shape`` from ``generator`` where it lives (the CPU),
    moved to ``device``: the same numbers on every device."""
    return torch.randn(tuple(shape), generator=generator, dtype=dtype).to(device)


def frame_generator(seed: int, attempt: int = 0) -> torch.Generator:
    """The generator of one shared frame (on the CPU, as :func:`stream_generator`'s): fixed
    by the transmission's ``seed`` alone (and, for a HARQ retransmission, its ``attempt``
    number)."""
    g = torch.Generator()
    g.manual_seed((int(seed) * 2_654_435_761 + int(attempt) * 40_503 + 0x5F4A3E) % (1 << 62))
    return g


def frame_uses(channel, symbols: Sequence[int], frame: str) -> int:
    """Channel uses of one transmission whose streams carry ``symbols`` data symbols each:
    one frame for all (shared; with N MIMO layers each stream starts on a new channel use)
    or one frame per stream."""
    if frame == "shared":
        return channel.channel_uses(sum(_aligned(int(n), channel) for n in symbols))
    return sum(channel.channel_uses(int(n)) for n in symbols)


def _aligned(num_symbols: int, channel) -> int:
    """``num_symbols`` rounded up to whole channel uses of ``channel``'s layers."""
    layers = getattr(channel, "layers", 1)
    return -(-num_symbols // layers) * layers


@torch.no_grad()
def send_frame(
    link,
    payload_bits: Mapping[str, torch.Tensor],
    mcs: Mapping[str, object],
    snr_db: float,
    seed: int,
    *,
    attempt: int = 0,
    rv: int = 0,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Send the streams of one transmission in one frame.

    Args:
        link: the :class:`~channels.link.Link` (its codecs, modems and channel).
        payload_bits: stream name -> bits [1, A] float32, in frame order.
        mcs: stream name -> its MCS.
        snr_db: Es/N0 in dB.
        seed: the transmission's seed (fixes fading and noise of the whole frame).
        attempt: 0 for the first transmission, n for the n-th HARQ retransmission (a new
            channel realisation).
        rv: the redundancy version every stream of the frame carries.

    Returns stream name -> (code bits [1, G], LLRs [1, G]), as :meth:`Link.send` gives them.
    """
    parts = []
    for name, bits in payload_bits.items():
        enc, _ = link.fec(bits.shape[-1], mcs[name])
        lay = enc.layout
        mapper, demapper = link.modem(lay.bits_per_symbol)
        padded = torch.nn.functional.pad(bits, (0, lay.payload_bits - bits.shape[-1]))
        code = enc(padded.to(link.device, torch.float32), rv=rv)
        sym = mapper(code)
        # with MIMO layers, each stream starts on a new channel use (zero symbols pad it)
        pad = _aligned(sym.shape[-1], link.channel) - sym.shape[-1]
        sym = torch.nn.functional.pad(sym, (0, pad))
        parts.append((name, code, sym, demapper))
    x = torch.cat([p[2] for p in parts], dim=-1)
    no = 10.0 ** (-check_snr(snr_db) / 10.0)
    llrs = link.channel.detect(
        x,
        no,
        generator=frame_generator(seed, attempt),
        segments=[(p[2].shape[-1], p[3]) for p in parts],
    )
    return {
        name: (code, llr[:, : code.shape[-1]])
        for (name, code, _, _), llr in zip(parts, llrs, strict=True)
    }
