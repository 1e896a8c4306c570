"""The Ray executor: a sweep's groups as tasks on Ray actors, one writer.

Each worker is an actor holding a :class:`~experiments.sweep.GroupRunner`, so the models
load once per worker, not once per task. The driver keeps every worker busy with one
group at a time (plus one queued, so a worker never waits for the driver), and writes
each result into the store as it arrives: this process stays the store's only writer.

``address``: the cluster to join (``ray.init(address=...)``; ``auto`` finds a running
one). Without it a local Ray instance with ``workers`` CPUs is started and stopped again
(token authentication left on, as Ray 2.60 sets it). Nodes of a remote cluster need
semcom installed (``pip install -e .``) in the same Python as the driver.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from experiments.config import SweepConfig
from experiments.sweep import Group, GroupResult, GroupRunner
from semcom.errors import SemcomError

QUEUED_PER_WORKER = 2


class SweepWorker:
    """Actor body: one :class:`GroupRunner` per worker process (one torch thread by
    default, since each worker is one Ray CPU)."""

    def __init__(self, config: SweepConfig, mtgc_dir: str | None, threads: int) -> None:
        import warnings

        warnings.filterwarnings("ignore")
        codec = None
        if mtgc_dir is not None:
            from semcom.codec import MTGC

            codec = MTGC.from_pretrained(mtgc_dir)
        self.runner = GroupRunner(config, codec, threads=threads)

    def run(self, group: Group) -> GroupResult:
        return self.runner.run(group)


def _init_ray(address: str | None, workers: int | None):
    try:
        import ray
    except ImportError:
        raise SemcomError(
            "--executor ray needs Ray: pip install 'ray>=2.40' (or pip install -e '.[ray]')."
        ) from None
    if ray.is_initialized():
        return ray, False
    kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise SemcomError(f"could not start or reach {where} ({err}).") from None
    return ray, True


def run_on_ray(
    config: SweepConfig,
    groups: Sequence[Group],
    write: Callable[[GroupResult], None],
    mtgc_codec=None,
    address: str | None = None,
    workers: int | None = None,
    threads: int = 1,
) -> None:
    """Run ``groups`` on Ray actors and hand each result to ``write`` (in this process)
    as it arrives. ``workers``: actors (default: the cluster's CPUs). ``mtgc_codec``
    (tests) reaches the workers as a saved model folder (safetensors, no pickles), which
    only a single-machine cluster can read."""
    import tempfile

    if not groups:
        return
    ray, started = _init_ray(address, workers)
    tmp = tempfile.TemporaryDirectory(prefix="semcom-mtgc-")
    try:
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        n = min(n, len(groups))
        actor = ray.remote(num_cpus=1)(SweepWorker)
        mtgc_dir = None
        if mtgc_codec is not None:
            mtgc_codec.save_pretrained(tmp.name)
            mtgc_dir = tmp.name
        pool = [actor.remote(config, mtgc_dir, threads) for _ in range(n)]
        queue = list(reversed(groups))
        running: dict = {}

        def submit(worker) -> None:
            if queue:
                running[worker.run.remote(queue.pop())] = worker

        for w in pool:
            for _ in range(QUEUED_PER_WORKER):
                submit(w)
        while running:
            [ready], _ = ray.wait(list(running), num_returns=1)
            worker = running.pop(ready)
            try:
                result = ray.get(ready)
            except ray.exceptions.RayActorError as err:
                raise SemcomError(
                    f"a Ray worker died ({type(err).__name__}); finished groups are stored, "
                    "rerun with --resume to continue."
                ) from None
            except ray.exceptions.RayTaskError as err:
                cause = err.as_instanceof_cause()
                if isinstance(cause, SemcomError):
                    raise SemcomError(str(cause).splitlines()[-1]) from None
                raise cause from None
            write(result)
            submit(worker)
    finally:
        if started:
            ray.shutdown()
        tmp.cleanup()
