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

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from experiments.config import SweepConfig
from experiments.executors import check_executor, make_executor
from experiments.groups import Group, GroupResult, link_seed, plan_groups, sweep_images
from experiments.runner import DecodeCache, GroupRunner, _png, codec_key, make_spec_codec
from experiments.store import Store
from semcom.errors import SemcomError
from semcom.metrics.scoring import check_available, semantic_status
from semcom.registry import codec_class

__all__ = [
    "DecodeCache",
    "Group",
    "GroupResult",
    "GroupRunner",
    "SweepReport",
    "codec_key",
    "codecs_identity",
    "link_seed",
    "make_spec_codec",
    "plan_groups",
    "run_sweep",
    "sweep_images",
]


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


def check_store(store: Store, config: SweepConfig, resume: bool) -> int:
    """Refuse to mix configs in one folder or to rerun finished work without ``--resume``;
    returns the points already stored."""
    h = config.hash()
    other = [x for x in store.config_hashes() if x != h]
    if other and _same_config(store, config):
        # written by older code, whose hash of the same config differed: adopt its rows
        for old in other:
            store.rehash(old, h)
        store.set_meta({"config_hash": h, "config": json.dumps(config.to_dict(), sort_keys=True)})
        other = []
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


def _same_config(store: Store, config: SweepConfig) -> bool:
    """Whether the config ``store`` recorded (its canonical dict in ``meta``) has the same
    normalised content as ``config``: the same sweep, whatever hash older code gave it."""
    from experiments.config import identity_of

    recorded = store.get_meta("config")
    if not recorded:
        return False
    try:
        return identity_of(json.loads(recorded)) == config.identity()
    except (ValueError, TypeError, KeyError, AttributeError):
        return False


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    resume: bool = False,
    model=None,
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
    ``model``: a loaded model handed to the codecs that take one instead of loading
    their own (tests hand MTGC a small one).
    ``after_group``: called with the number of groups written so far (tests interrupt
    a sweep from it).
    ``threads``: torch threads per process. ``weights``: the MTGC model folder (default:
    the preset's); a store remembers the weights' identity and refuses to be resumed
    with others.
    """
    check_executor(executor, address)
    check_weights(config, weights, handed_model=model is not None)
    check_available(config.metrics)
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
        if model is None:
            idents = codecs_identity(config, weights)
            stored = store.get_meta("codec_weights")
            was = json.loads(stored) if stored else {}
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

        session.run(config, groups, write, model, threads, weights)
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


def check_weights(config: SweepConfig, weights: str | Path | None, handed_model: bool = False):
    """``--weights`` against the sweep's codecs: it needs a codec that takes a model folder
    (``takes_weights``), must be a folder, and each such codec's ``check_weights`` hook
    (when it has one) accepts its entry's options with it (unless a model is handed in)."""
    takers = [s for s in config.codecs if getattr(codec_class(s.name), "takes_weights", False)]
    if weights is not None and not takers:
        raise SemcomError(
            "--weights is a model folder for a codec that loads one (mtgc), and this config "
            "has none."
        )
    if weights is not None and not Path(weights).is_dir():
        raise SemcomError(f"--weights {weights} is not a folder.")
    for spec in takers if not handed_model else ():
        hook = getattr(codec_class(spec.name), "check_weights", None)
        if hook is not None:
            hook(spec.codec_options(), weights)


def codecs_identity(config: SweepConfig, weights: str | Path | None) -> dict[str, str]:
    """{codec name: weights identity} of the sweep's codecs that have weights (the store
    keeps it: a resumed sweep must decode with the weights that made its rows)."""
    out = {}
    for spec in config.codecs:
        ident = make_spec_codec(spec, weights, dataset=config.dataset.name).identity
        if ident is None:
            continue
        if out.setdefault(spec.name, ident) != ident:
            raise SemcomError(
                f"a sweep runs one set of weights per codec, and two {spec.name} entries load "
                "different ones; give them the same preset and weights."
            )
    return out


def world_notice(config: SweepConfig, weights: str | Path | None = None) -> str | None:
    """The line (:func:`semcom.worlds.dataset_notice`) saying which of the sweep's codecs
    were trained on other images than its data set's, and what to expect and use
    instead; None when every codec knows them (or states no world). Loads no model."""
    from semcom.worlds import codec_label, codec_world, dataset_notice

    named: dict[str, tuple[str, str | None]] = {}
    for spec in config.codecs:
        if spec.name not in named:
            codec = make_spec_codec(spec, weights, dataset=config.dataset.name)
            named[spec.name] = (codec_label(codec, spec.name), codec_world(codec))
    return dataset_notice(list(named.values()), config.dataset.name)


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
