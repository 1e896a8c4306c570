"""The sweep engine: every (image, codec, channel, SNR, budget, trial) through the link.

Order of work: for each channel, codec, SNR and budget, the images × trials not yet in the
store are planned (transmitter), sent together (:meth:`channels.Link.transmit_many`,
batched decoding), decoded (receiver) and scored, then written in one transaction.

Decode what is distinct: the receiver's input (the delivered bitstream, or a baseline's
delivered bytes) is hashed with the decoding seed and steps; each distinct input is decoded
once (:class:`DecodeCache`). At high SNR most points deliver what was sent, so MTGC decodes
about one image per (image, budget-fitted payload) instead of one per point.

Seeds: the link seed of a point depends on the config seed, the image and the trial only,
so every codec, channel, SNR and budget sees the same noise and fading draws (common
random numbers, smooth curves). The MTGC receiver samples with ``decode_seed``.

Executors: groups of points (:class:`Group`) run in this process (``local``) or as Ray
tasks on worker actors that load the models once (``ray``, :mod:`experiments.ray_executor`);
either way this process is the store's one writer, each group is written in one
transaction, and a group's rows do not depend on where or after what it ran, so both
executors, and a resumed sweep, give the same rows (:meth:`Store.digest`).

Codecs come from the registry (:mod:`semcom.registry`); nothing here names one. A digital
codec is encoded once per image (its streams and their options), planned by
:func:`experiments.transmission.plan` and decoded through the cache. An analog codec
(Deep JSCC, :mod:`experiments.analog`) is encoded, sent and decoded as one batch per
group, its one stream is never erased, and its received symbols are never the same twice,
so the decode cache only counts its calls.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

from experiments.analog import send_analog
from experiments.config import ChannelSpec, CodecSpec, SweepConfig
from experiments.executors import check_executor, make_executor
from experiments.scoring import score, semantic_status
from experiments.store import Store
from experiments.transmission import (
    budget_uses,
    delivered,
    make_link,
    plan,
    send_plans,
    stream_report,
)
from semcom.errors import SemcomError


def link_seed(seed: int, image: int, trial: int) -> int:
    """The noise/fading seed of (image, trial): shared by codecs, channels, SNRs, budgets."""
    return (seed * 1_000_003 + image * 1009 + trial) % (1 << 31)


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


@dataclass
class SweepReport:
    """What one ``run_sweep`` call did."""

    config_hash: str
    points_total: int
    points_done_before: int
    points_written: int
    decoder_calls: dict[str, int]
    points_by_codec: dict[str, int]
    seconds: dict[str, float]
    semantic: str

    @property
    def decoder_calls_per_point(self) -> float:
        return sum(self.decoder_calls.values()) / max(1, self.points_written)


def _png(image: torch.Tensor) -> bytes:
    from PIL import Image

    from semcom.imageio import to_uint8

    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="PNG")
    return buf.getvalue()


def check_store(store: Store, config: SweepConfig, resume: bool) -> int:
    """Refuse to mix configs in one folder or to rerun finished work without ``--resume``;
    returns the points already stored."""
    h = config.hash()
    other = [x for x in store.config_hashes() if x != h]
    if other:
        raise SemcomError(
            f"{store.dir} holds results of another config (hash {other[0]}); "
            "write this sweep to another --out folder."
        )
    done = store.count(h)
    if done and not resume:
        raise SemcomError(
            f"{store.dir} already holds {done} results of this config; pass --resume to "
            "continue it or choose another --out folder."
        )
    return done


@dataclass(frozen=True)
class Group:
    """One unit of work: a codec at one channel, SNR and budget, for ``todo`` = the
    (image, trial) pairs not yet stored. Runs as one batch through the link."""

    channel: ChannelSpec
    spec: CodecSpec
    snr_db: float
    budget_cpp: float
    todo: tuple[tuple[int, int], ...]


@dataclass
class GroupResult:
    """What one group produced: store rows, reconstruction PNGs, and the decoder calls and
    seconds it cost (added to the run's totals by the writer)."""

    rows: list[dict]
    pngs: list[tuple]
    calls: dict[str, int]
    seconds: dict[str, float]


def plan_groups(config: SweepConfig, done: set[tuple]) -> list[Group]:
    """The groups still to run, in the sweep's order (channel, codec, SNR, budget)."""
    units = [(i, t) for i in range(config.dataset.n) for t in range(config.trials)]
    groups = []
    for channel in config.channels:
        for spec in config.codecs:
            for snr in config.snr_db:
                for budget_cpp in config.budget_cpp:
                    todo = tuple(
                        (i, t)
                        for i, t in units
                        if (i, spec.label, channel.label, snr, budget_cpp, t) not in done
                    )
                    if todo:
                        groups.append(Group(channel, spec, snr, budget_cpp, todo))
    return groups


def sweep_images(config: SweepConfig) -> tuple[torch.Tensor, list]:
    """The sweep's reference images [N,3,H,W] float32 in [0, 1] and their ground truth."""
    from semcom.data.shapes import ShapesWorld

    ds = config.dataset
    items = [ShapesWorld(ds.split, ds.n, ds.size, ds.seed)[i] for i in range(ds.n)]
    return torch.stack([it.image for it in items]), [it.objects for it in items]


class GroupRunner:
    """Runs groups in one process: holds the images, the models (loaded once, when first
    needed), the prepared operating points and the decode cache.

    The local executor keeps one; the Ray executor keeps one per worker (an actor).
    A group's rows depend on the group alone, not on what the runner ran before.
    """

    def __init__(
        self,
        config: SweepConfig,
        mtgc_codec=None,
        threads: int | None = None,
        weights: str | Path | None = None,
    ):
        if threads is not None:
            torch.set_num_threads(threads)
        self.config, self.weights = config, weights
        self.refs, self.truths = sweep_images(config)
        self.mtgc_codec = mtgc_codec
        self.codecs: dict[tuple, object] = {}
        self.prepared: dict[tuple, object] = {}
        self.cache = DecodeCache()
        self.timer = Timer()

    def codec(self, spec: CodecSpec):
        """The codec of ``spec`` (built once per name and options)."""
        key = codec_key(spec)
        if key not in self.codecs:
            self.codecs[key] = make_spec_codec(spec, self.weights, self.mtgc_codec)
        return self.codecs[key]

    def run(self, group: Group) -> GroupResult:
        """Plan, send, decode and score one group; returns its rows and PNGs."""
        config, spec, todo, refs = self.config, group.spec, group.todo, self.refs
        calls, seconds = Counter(self.cache.calls), Counter(self.timer.seconds)
        codec = self.codec(spec)
        _, height, width = refs.shape[1:]
        budget = budget_uses(group.budget_cpp, height, width)
        link = make_link(group.channel.name, dict(group.channel.options))
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
        figures = score(refs[idx], torch.stack(recons), [self.truths[i] for i in idx])
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


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    resume: bool = False,
    mtgc_codec=None,
    progress: bool = True,
    after_group: Callable[[int], None] | None = None,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    threads: int = 1,
    weights: str | Path | None = None,
) -> SweepReport:
    """Run (or resume) ``config``, writing results to ``out``/results.sqlite.

    ``executor``: ``local`` (this process) or ``ray`` (groups as tasks on ``workers``
    Ray actors, on the cluster at ``address`` or a local one); either way this process
    is the one writer of the store, and the rows are the same.
    ``mtgc_codec``: an MTGC codec to use instead of loading the preset (tests).
    ``after_group``: called with the number of groups written so far (tests interrupt
    a sweep from it).
    ``threads``: torch threads per process. ``weights``: the MTGC model folder (default:
    the preset's); a store remembers the weights' identity and refuses to be resumed
    with others.
    """
    import json

    check_executor(executor, address)
    preset = _mtgc_preset(config)
    if weights is not None and preset is None:
        raise SemcomError("--weights applies to MTGC, and this config has no mtgc codec.")
    if weights is not None and not Path(weights).is_dir():
        raise SemcomError(f"--weights {weights} is not a folder.")
    if preset == "sd21" and weights is None and mtgc_codec is None:
        raise SemcomError("the sd21 preset loads local weights: pass --weights DIR.")
    store = Store(out)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    calls: Counter = Counter()
    seconds: Counter = Counter()
    written: Counter = Counter()
    bar = None
    session = None
    before = 0
    try:
        store.lock()
        before = check_store(store, config, resume)
        h = config.hash()
        meta = {
            "config_hash": h,
            "config": json.dumps(config.to_dict(), sort_keys=True),
            "semantic": semantic_status(),
        }
        if mtgc_codec is None:
            idents = codecs_identity(config, weights)
            stored = store.get_meta("codec_weights")
            # a store written before every codec's weights were recorded holds MTGC's alone
            legacy = store.get_meta("mtgc_weights")
            was = json.loads(stored) if stored else ({"mtgc": legacy} if legacy else {})
            changed = sorted(k for k in was if idents.get(k) != was[k])
            if before and changed:
                raise SemcomError(
                    f"{store.dir} holds results made with other {', '.join(changed)} weights "
                    f"({was[changed[0]]}, now {idents.get(changed[0])}); resume with those "
                    "weights or write to another --out folder."
                )
            if idents:
                meta["codec_weights"] = json.dumps(idents, sort_keys=True)
        store.set_meta(meta)
        groups = plan_groups(config, store.done_keys(h))
        refs, _ = sweep_images(config)
        store.write(
            [],
            [
                (h, i, "original", "", 0.0, 0.0, _png(refs[i]))
                for i in range(min(config.save_images, config.dataset.n))
            ],
        )
        session = make_executor(executor, address, workers)
        bar = _Progress(config.num_points, before, progress)
        n_groups = 0

        def write(result: GroupResult) -> None:
            nonlocal n_groups
            t0 = time.perf_counter()
            store.write(result.rows, result.pngs)
            seconds["store"] += time.perf_counter() - t0
            calls.update(result.calls)
            seconds.update(result.seconds)
            for row in result.rows:
                written[row["codec"]] += 1
            bar.advance(len(result.rows))
            n_groups += 1
            if after_group is not None:
                after_group(n_groups)

        session.run(config, groups, write, mtgc_codec, threads, weights)
        if store.count(h) == config.num_points:
            store.canonicalize()  # complete: the same bytes however it was computed
    finally:
        if bar is not None:
            bar.close()
        if session is not None:
            session.close()
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        total = sum(written.values())
        if total:
            store.add_run(config.hash(), started, finished, total, dict(calls), dict(seconds))
        store.close()
    return SweepReport(
        config_hash=config.hash(),
        points_total=config.num_points,
        points_done_before=before,
        points_written=total,
        decoder_calls=dict(calls),
        points_by_codec=dict(written),
        seconds={k: round(v, 3) for k, v in seconds.items()},
        semantic=semantic_status(),
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
    plans = [plan(link, enc, snr, budget, dict(spec.protection), spec.mcs) for enc in encoded]
    t0 = time.perf_counter()
    seeds = [link_seed(config.seed, i, t) for i, t in todo]
    txs = send_plans(link, plans, snr, seeds)
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
                "channel_uses": point.total_uses,
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


def make_spec_codec(spec: CodecSpec, weights: str | Path | None = None, model=None):
    """The codec of ``spec`` from the registry; ``weights`` and ``model`` (a loaded MTGC,
    tests) reach the codecs that take them."""
    from semcom.registry import make_codec

    return make_codec(spec.name, spec.codec_options(), weights=weights, model=model)


def _mtgc_preset(config: SweepConfig) -> str | None:
    """The one MTGC preset of the sweep (None: no MTGC entry)."""
    presets = {c.preset for c in config.codecs if "preset" in c.codec_options()}
    if len(presets) > 1:
        raise SemcomError("a sweep runs one MTGC preset; give every mtgc entry the same preset.")
    return presets.pop() if presets else None


def codecs_identity(config: SweepConfig, weights: str | Path | None) -> dict[str, str]:
    """{codec name: weights identity} of the sweep's codecs that have weights (the store
    keeps it: a resumed sweep must decode with the weights that made its rows)."""
    out = {}
    for spec in config.codecs:
        ident = make_spec_codec(spec, weights).identity
        if ident is not None:
            out[spec.name] = ident
    return out


class _Progress:
    """A rich progress bar over sweep points, with rate and ETA (silent when disabled)."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.bar = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.bar.start()
        self.task = self.bar.add_task("sweep", total=total, completed=done)

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
