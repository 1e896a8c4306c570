"""Running one group in one process: :class:`GroupRunner` holds the images, the codecs
(built once from the registry), their prepared operating points and the decode cache
(:class:`DecodeCache`: each distinct receiver input is decoded once), and turns a group
into store rows and reconstruction PNGs. The local executor keeps one runner; the Ray
executor one per worker."""

from __future__ import annotations

import hashlib
import io
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from experiments.analog import send_analog
from experiments.config import CodecSpec, SweepConfig
from experiments.groups import Group, GroupResult, link_seed, sweep_images
from experiments.transmission import (
    budget_uses,
    delivered,
    make_link,
    plan,
    send_plans,
    stream_report,
)
from semcom.metrics.scoring import score


@dataclass
class Timer:
    """Seconds spent per stage (codec, link, metrics, store)."""

    seconds: Counter = field(default_factory=Counter)

    def add(self, stage: str, start: float) -> None:
        self.seconds[stage] += time.perf_counter() - start


class DecodeCache:
    """Reconstructions keyed by (codec, SHA-256 of the receiver's input, seed, steps)."""

    def __init__(self) -> None:
        self.images: dict[tuple, torch.Tensor] = {}
        self.calls: Counter = Counter()
        self.lookups: Counter = Counter()

    def get(self, codec: str, content: bytes, seed: int, steps: int | None, decode: Callable):
        key = (codec, hashlib.sha256(content).hexdigest(), seed, steps)
        self.lookups[codec] += 1
        if key not in self.images:
            self.calls[codec] += 1
            self.images[key] = decode()
        return key[1][:16], self.images[key]


def _png(image: torch.Tensor) -> bytes:
    from PIL import Image

    from semcom.imageio import to_uint8

    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="PNG")
    return buf.getvalue()


class GroupRunner:
    """Runs groups in one process: holds the images, the models (loaded once, when first
    needed), the prepared operating points and the decode cache.

    The local executor keeps one; the Ray executor keeps one per worker (an actor).
    A group's rows depend on the group alone, not on what the runner ran before.
    """

    def __init__(
        self,
        config: SweepConfig,
        model=None,
        threads: int | None = None,
        weights: str | Path | None = None,
    ):
        if threads is not None:
            torch.set_num_threads(threads)
        self.config, self.weights = config, weights
        self.refs, self.truths = sweep_images(config)
        self.model = model
        self.codecs: dict[tuple, object] = {}
        self.prepared: dict[tuple, object] = {}
        self.cache = DecodeCache()
        self.timer = Timer()

    def codec(self, spec: CodecSpec):
        """The codec of ``spec`` (built once per name and options)."""
        key = codec_key(spec)
        if key not in self.codecs:
            self.codecs[key] = make_spec_codec(spec, self.weights, self.model, self.config.device)
        return self.codecs[key]

    def run(self, group: Group) -> GroupResult:
        """Plan, send, decode and score one group; returns its rows and PNGs."""
        config, spec, todo, refs = self.config, group.spec, group.todo, self.refs
        calls, seconds = Counter(self.cache.calls), Counter(self.timer.seconds)
        codec = self.codec(spec)
        _, height, width = refs.shape[1:]
        budget = budget_uses(group.budget_cpp, height, width)
        link = make_link(
            group.channel.name,
            dict(group.channel.options),
            config.frame,
            spec.harq_policy(config.harq_policy()),
            config.device,
        )
        if codec.kind == "analog":
            plans, reports, keys, recons, successes = _analog(
                config,
                spec,
                codec,
                link,
                group.snr_db,
                budget,
                todo,
                refs,
                self.cache,
                self.timer,
            )
        else:
            plans, reports, keys, recons, successes = _digital(
                config,
                spec,
                codec,
                link,
                group.snr_db,
                budget,
                todo,
                refs,
                self.prepared,
                self.cache,
                self.timer,
            )
        t0 = time.perf_counter()
        idx = [i for i, _ in todo]
        figures = score(
            refs[idx], torch.stack(recons), [self.truths[i] for i in idx], config.metrics
        )
        self.timer.add("metrics", t0)
        t0 = time.perf_counter()
        rows = _rows(
            config,
            spec,
            group.channel.label,
            group.snr_db,
            group.budget_cpp,
            budget,
            todo,
            plans,
            reports,
            keys,
            successes,
            figures,
            height * width,
        )
        h = config.hash()
        pngs = [
            (h, i, spec.label, group.channel.label, group.snr_db, group.budget_cpp, _png(img))
            for (i, t), img in zip(todo, recons, strict=True)
            if t == 0 and i < config.save_images
        ]
        self.timer.add("store", t0)
        return GroupResult(
            rows,
            pngs,
            dict(Counter(self.cache.calls) - calls),
            dict(Counter(self.timer.seconds) - seconds),
        )


def _analog(
    config: SweepConfig,
    spec: CodecSpec,
    codec,
    link,
    snr: float,
    budget: int,
    todo: Sequence[tuple[int, int]],
    refs: torch.Tensor,
    cache: DecodeCache,
    timer: Timer,
) -> tuple[list, list, list, list, list]:
    """One group of an analog codec's points, as one batch through the analog link; returns
    what :func:`_digital` returns (every point a success)."""
    t0 = time.perf_counter()
    seeds = [link_seed(config.seed, i, t) for i, t in todo]
    sent = send_analog(codec, link, refs[[i for i, _ in todo]], snr, budget, seeds)
    cache.calls[spec.label] += len(todo)
    cache.lookups[spec.label] += len(todo)
    timer.add("codec", t0)
    points = range(len(todo))
    return (
        [sent.plan(b) for b in points],
        [sent.report(b) for b in points],
        [sent.key(b) for b in points],
        list(sent.images),
        [True] * len(todo),
    )


def _digital(
    config: SweepConfig,
    spec: CodecSpec,
    codec,
    link,
    snr: float,
    budget: int,
    todo: Sequence[tuple[int, int]],
    refs: torch.Tensor,
    prepared: dict,
    cache: DecodeCache,
    timer: Timer,
) -> tuple[list, list, list, list, list]:
    """One group of a digital codec's points: encode (once per image), plan, send, decode
    (through the cache); returns (plans, stream reports, receiver keys, reconstructions,
    successes)."""
    t0 = time.perf_counter()
    ckey = codec_key(spec)
    for i in {i for i, _ in todo}:
        if (ckey, i) not in prepared:
            prepared[(ckey, i)] = codec.encode(refs[i])
    timer.add("codec", t0)
    encoded = [prepared[(ckey, i)] for i, _ in todo]
    values = objective = None
    if spec.mcs == "planned":
        from semcom.values import values_for

        if (ckey, "values") not in prepared:
            prepared[(ckey, "values")] = values_for(codec)
        values, objective = prepared[(ckey, "values")], spec.planner_objective()
    plans, made = [], {}
    for (i, _), enc in zip(todo, encoded, strict=True):
        # a group has one link, SNR and budget: a plan depends on the image, not the trial
        if i not in made or spec.mcs != "planned":
            mine = values
            if values is not None:  # what the sender knows of this image
                from experiments.planning import sender_values

                if (ckey, i, "values") not in prepared:
                    prepared[(ckey, i, "values")] = sender_values(
                        values,
                        codec,
                        enc,
                        refs[i],
                        config.decode_seed,
                        _cached_decode(cache, spec, codec, enc, config.decode_seed),
                    )
                mine = prepared[(ckey, i, "values")]
            made[i] = plan(link, enc, snr, budget, dict(spec.protection), spec.mcs, mine, objective)
        plans.append(made[i])
    t0 = time.perf_counter()
    seeds = [link_seed(config.seed, i, t) for i, t in todo]
    txs = send_plans(link, plans, snr, seeds, budget)
    timer.add("link", t0)
    t0 = time.perf_counter()
    recons, keys, successes = [], [], []
    for enc, p, tx in zip(encoded, plans, txs, strict=True):
        got = delivered(tx)
        key, img = cache.get(
            spec.label,
            codec.received_key(enc.header, got),
            config.decode_seed,
            spec.steps,
            lambda enc=enc, got=got: codec.decode(enc.header, got, config.decode_seed).clamp(0, 1),
        )
        recons.append(img)
        keys.append(key)
        successes.append(p.arrived(got))
    timer.add("codec", t0)
    reports = [
        stream_report(p, tx, enc.stream_names)
        for enc, p, tx in zip(encoded, plans, txs, strict=True)
    ]
    return plans, reports, keys, recons, successes


def _cached_decode(cache: DecodeCache, spec: CodecSpec, codec, enc, seed: int):
    """``received -> image`` of ``enc`` through the sweep's decode cache: what the sender
    decodes to plan, the receiver finds there."""

    def decode(received):
        return cache.get(
            spec.label,
            codec.received_key(enc.header, received),
            seed,
            spec.steps,
            lambda: codec.decode(enc.header, received, seed).clamp(0, 1),
        )[1]

    return decode


def _rows(
    config: SweepConfig,
    spec: CodecSpec,
    channel: str,
    snr: float,
    budget_cpp: float,
    budget: int,
    todo: Sequence[tuple[int, int]],
    plans: Sequence,
    reports: Sequence[dict],
    keys: Sequence[str],
    successes: Sequence[bool],
    figures: Sequence[dict],
    pixels: int,
) -> list[dict]:
    """The store rows of one group of points (``reports``: each point's stream report)."""
    rows = []
    for (i, t), point, report, key, ok, fig in zip(
        todo, plans, reports, keys, successes, figures, strict=True
    ):
        bits = sum(8 * len(p) for p in point.payloads.values())
        rows.append(
            {
                "config_hash": config.hash(),
                "image": i,
                "codec": spec.label,
                "channel": channel,
                "snr_db": snr,
                "budget_cpp": budget_cpp,
                "trial": t,
                "seed": link_seed(config.seed, i, t),
                "budget_uses": budget,
                "channel_uses": point.frame_uses,
                "payload_bits": bits,
                "bpp": bits / pixels,
                "success": ok,
                "not_sent": point.not_sent,
                "streams": report,
                "detail": point.detail,
                "received_key": key,
                **fig,
            }
        )
    return rows


def codec_key(spec: CodecSpec) -> tuple:
    """What a codec instance depends on: its name and options (not its protection)."""
    return (spec.name, tuple(sorted(spec.codec_options().items(), key=lambda kv: kv[0])))


def make_spec_codec(
    spec: CodecSpec, weights: str | Path | None = None, model=None, device: str = "cpu"
):
    """The codec of ``spec`` from the registry; ``weights``, ``model`` (a loaded MTGC,
    tests) and ``device`` reach the codecs that take them."""
    from semcom.registry import make_codec

    return make_codec(spec.name, spec.codec_options(), weights=weights, model=model, device=device)
