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
from typing import Any

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
    """Reconstructions keyed by (codec, SHA-256 of the receiver's input, seed, the codec
    entry's options)."""

    def __init__(self) -> None:
        self.images: dict[tuple, torch.Tensor] = {}
        self.calls: Counter = Counter()
        self.lookups: Counter = Counter()

    def get(self, codec: str, content: bytes, seed: int, options: tuple, decode: Callable):
        key = (codec, hashlib.sha256(content).hexdigest(), seed, options)
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
            self.codecs[key] = make_spec_codec(
                spec, self.weights, self.model, self.config.device, self.config.dataset.name
            )
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
        h = config.hash()
        job = Job(config, h, spec, codec, link, group.snr_db, budget, refs, self.cache, self.timer)
        sent = _analog(job, todo) if codec.kind == "analog" else _digital(job, todo, self.prepared)
        t0 = time.perf_counter()
        idx = [i for i, _ in todo]
        figures = score(
            refs[idx],
            torch.stack([p.image for p in sent]),
            [self.truths[i] for i in idx],
            config.metrics,
        )
        self.timer.add("metrics", t0)
        t0 = time.perf_counter()
        rows = [
            _row(job, group, i, t, p, fig, height * width)
            for (i, t), p, fig in zip(todo, sent, figures, strict=True)
        ]
        pngs = [
            (h, i, spec.label, group.channel.label, group.snr_db, group.budget_cpp, _png(img))
            for (i, t), img in zip(todo, (p.image for p in sent), strict=True)
            if t == 0 and i < config.save_images
        ]
        self.timer.add("store", t0)
        return GroupResult(
            rows,
            pngs,
            dict(Counter(self.cache.calls) - calls),
            dict(Counter(self.timer.seconds) - seconds),
        )


@dataclass(frozen=True)
class Job:
    """What every point of one group shares: the sweep's config and its hash (taken once a
    group, not once a row), the codec spec and instance, the link, the SNR (dB) and budget
    (channel uses), the images [N,3,H,W], and the runner's decode cache and timer."""

    config: SweepConfig
    config_hash: str
    spec: CodecSpec
    codec: Any
    link: Any
    snr: float
    budget: int
    refs: torch.Tensor
    cache: DecodeCache
    timer: Timer


@dataclass(frozen=True)
class Sent:
    """One point's transmission: its plan, stream report, the receiver-input key, the
    reconstruction [3,H,W] in [0,1] and whether every sent stream arrived."""

    plan: Any
    report: dict
    key: str
    image: torch.Tensor
    success: bool


def _analog(job: Job, todo: Sequence[tuple[int, int]]) -> list[Sent]:
    """One group of an analog codec's points, as one batch through the analog link (every
    point a success)."""
    t0 = time.perf_counter()
    seeds = [link_seed(job.config.seed, i, t) for i, t in todo]
    idx = [i for i, _ in todo]
    sent = send_analog(job.codec, job.link, job.refs[idx], job.snr, job.budget, seeds)
    job.cache.calls[job.spec.label] += len(todo)
    job.cache.lookups[job.spec.label] += len(todo)
    job.timer.add("codec", t0)
    return [
        Sent(sent.plan(b), sent.report(b), sent.key(b), sent.images[b], True)
        for b in range(len(todo))
    ]


def _digital(job: Job, todo: Sequence[tuple[int, int]], prepared: dict) -> list[Sent]:
    """One group of a digital codec's points: encode (once per image), plan, send, decode
    (through the cache)."""
    config, spec, codec, cache = job.config, job.spec, job.codec, job.cache
    seed = config.decode_seed
    t0 = time.perf_counter()
    ckey = codec_key(spec)
    for i in {i for i, _ in todo}:
        if (ckey, i) not in prepared:
            prepared[(ckey, i)] = codec.encode(job.refs[i])
    job.timer.add("codec", t0)
    encoded = [prepared[(ckey, i)] for i, _ in todo]
    values = objective = None
    if spec.mcs == "planned":
        from semcom.values import values_for

        if (ckey, "values") not in prepared:
            prepared[(ckey, "values")] = values_for(codec, config.dataset.name)
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
                        job.refs[i],
                        seed,
                        lambda got, enc=enc: _decode(cache, spec, codec, enc, seed, got)[1],
                    )
                mine = prepared[(ckey, i, "values")]
            made[i] = plan(
                job.link, enc, job.snr, job.budget, dict(spec.protection), spec.mcs, mine, objective
            )
        plans.append(made[i])
    t0 = time.perf_counter()
    seeds = [link_seed(config.seed, i, t) for i, t in todo]
    txs = send_plans(job.link, plans, job.snr, seeds, job.budget)
    job.timer.add("link", t0)
    t0 = time.perf_counter()
    out = []
    for enc, p, tx in zip(encoded, plans, txs, strict=True):
        got = delivered(tx)
        key, img = _decode(cache, spec, codec, enc, seed, got)
        out.append(Sent(p, stream_report(p, tx, enc.stream_names), key, img, p.arrived(got)))
    job.timer.add("codec", t0)
    return out


def _decode(cache: DecodeCache, spec: CodecSpec, codec, enc, seed: int, received):
    """(key, image) of ``enc`` decoded from ``received`` through the sweep's decode cache:
    the receiver's decodes, and the sender's while it plans (which the receiver then
    finds there)."""
    return cache.get(
        spec.label,
        codec.received_key(enc.header, received),
        seed,
        spec.options,
        lambda: codec.decode(enc.header, received, seed).clamp(0, 1),
    )


def _row(job: Job, group: Group, i: int, t: int, sent: Sent, figures: dict, pixels: int) -> dict:
    """The store row of point (image ``i``, trial ``t``) of ``group``."""
    point = sent.plan
    bits = sum(8 * len(p) for p in point.payloads.values())
    return {
        "config_hash": job.config_hash,
        "image": i,
        "codec": job.spec.label,
        "channel": group.channel.label,
        "snr_db": group.snr_db,
        "budget_cpp": group.budget_cpp,
        "trial": t,
        "seed": link_seed(job.config.seed, i, t),
        "budget_uses": job.budget,
        "channel_uses": point.frame_uses,
        "payload_bits": bits,
        "bpp": bits / pixels,
        "success": sent.success,
        "not_sent": point.not_sent,
        "streams": sent.report,
        "detail": point.detail,
        "received_key": sent.key,
        **figures,
    }


def codec_key(spec: CodecSpec) -> tuple:
    """What a codec instance depends on: its name and options (not its protection)."""
    return (spec.name, tuple(sorted(spec.codec_options().items(), key=lambda kv: kv[0])))


def make_spec_codec(
    spec: CodecSpec,
    weights: str | Path | None = None,
    model=None,
    device: str = "cpu",
    dataset: str | None = None,
):
    """The codec of ``spec`` from the registry; ``weights``, ``model`` (a loaded MTGC,
    tests), ``device`` and ``dataset`` (the sweep's data set, for codecs whose defaults
    depend on the images: MTGC's preset) reach the codecs that take them."""
    from semcom.registry import make_codec

    return make_codec(
        spec.name,
        spec.codec_options(),
        weights=weights,
        model=model,
        device=device,
        dataset=dataset,
    )
