"""The Ray executor: a sweep's groups as tasks on Ray actors, one writer.

Each worker is an actor holding a :class:`~experiments.runner.GroupRunner`, so the models
load once per worker, not once per task, and it is handed groups of one codec while
there are any (:class:`_Queue`), so its decode cache keeps paying. The driver keeps
every worker busy with one group at a time (plus one queued, so a worker never waits for
the driver), and writes each result into the store as it arrives: this process stays
the store's only writer.

``address``: the cluster to join (``ray.init(address=...)``; ``auto`` finds a running
one). Without it a local Ray instance with ``workers`` CPUs is started and stopped again
(token authentication left on, as Ray 2.60 sets it). Nodes of a remote cluster need
semcom installed (``pip install -e .``) in the same Python as the driver.

A lost node (or a worker actor that dies) loses no work: the groups its worker held go
back to the front of the queue and the surviving workers run them; a group's rows do not
depend on the worker, so the results are those of an uninterrupted run. Only when every
worker is gone does the sweep stop (finished groups stay stored; ``--resume`` continues).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from experiments.config import SweepConfig
from experiments.groups import Group, GroupResult
from experiments.runner import GroupRunner
from semcom.errors import SemcomError

QUEUED_PER_WORKER = 2


class SweepWorker:
    """Actor body: one :class:`GroupRunner` per worker process (one torch thread by
    default, since each worker is one Ray CPU)."""

    def __init__(self, config: SweepConfig, threads: int, weights: str | None) -> None:
        import warnings

        warnings.filterwarnings("ignore")
        self.runner = GroupRunner(config, threads=threads, weights=weights)

    def run(self, group: Group) -> GroupResult:
        return self.runner.run(group)


def gpu_share(config: SweepConfig, ray, workers: int) -> float:
    """GPUs per worker actor: the cluster's GPUs shared by the workers when the sweep runs
    on CUDA (``device: cuda``), else 0 (CPU workers)."""
    if not config.device.startswith("cuda"):
        return 0.0
    gpus = float(ray.cluster_resources().get("GPU", 0))
    if gpus <= 0:
        raise SemcomError(
            "the sweep's device is cuda, but the Ray cluster has no GPU; run it with "
            "--device cpu or on a cluster with GPUs."
        )
    return min(1.0, gpus / workers)


def _reachable(address: str) -> None:
    """Refuse quickly when ``host:port`` does not accept connections (Ray itself would
    retry for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise SemcomError(f"--address {address} is not host:port (or auto).")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise SemcomError(
            f"cannot reach the Ray cluster at {address} ({err.strerror or err}); start one "
            "with `ray start --head` there, or leave --address out to start a local one."
        ) from None


class RayExecutor:
    """A Ray session for one sweep: joins the cluster at ``address`` (``auto``: the
    running one) or starts a local instance with ``workers`` CPUs; stopped by
    :meth:`close` if it started it."""

    @staticmethod
    def check(address: str | None) -> None:
        """Fail fast, before anything is written: Ray missing, or the cluster unreachable."""
        try:
            import ray  # noqa: F401
        except ImportError:
            raise SemcomError(
                "--executor ray needs Ray: pip install 'ray>=2.40' (or pip install -e '.[ray]')."
            ) from None
        if address and address != "auto":
            _reachable(address)

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        import ray

        self.ray, self.workers, self.started = ray, workers, False
        if ray.is_initialized():
            return
        kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        try:
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=workers or os.cpu_count() or 1, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise SemcomError(f"could not start or reach {where} ({err}).") from None
        self.started = True

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False

    def run(
        self,
        config: SweepConfig,
        groups: Sequence[Group],
        write: Callable[[GroupResult], None],
        model=None,
        threads: int = 1,
        weights: str | Path | None = None,
    ) -> None:
        """Run ``groups`` on worker actors and hand each result to ``write`` (in this
        process) as it arrives. Workers: ``workers``, default the cluster's CPUs.
        ``model`` (tests) reaches the workers as a ``weights`` folder it is saved
        into (safetensors, no pickles); a weights folder is read by every worker, so on a
        cluster every node must see it at the same path."""
        import tempfile

        if not groups:
            return
        ray = self.ray
        n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        n = min(n, len(groups))
        with tempfile.TemporaryDirectory(prefix="semcom-mtgc-") as tmp:
            if model is not None:
                model.save_pretrained(tmp)
                weights = tmp
            actor = ray.remote(num_cpus=1, num_gpus=gpu_share(config, ray, n))(SweepWorker)
            wdir = None if weights is None else str(Path(weights).resolve())
            pool = [actor.remote(config, threads, wdir) for _ in range(n)]
            queue = _Queue(groups)
            running: dict = {}  # task -> (worker, group)
            alive = list(pool)

            def submit(worker) -> None:
                group = queue.take(worker)
                if group is not None:
                    running[worker.run.remote(group)] = (worker, group)

            for w in pool:
                for _ in range(QUEUED_PER_WORKER):
                    submit(w)
            try:
                while running:
                    [ready], _ = ray.wait(list(running), num_returns=1)
                    worker, group = running.pop(ready)
                    try:
                        result = _result(ray, ready)
                    except _WorkerLost:
                        # its node is gone: the group goes back to the queue for the others
                        queue.put_back(group)
                        if worker in alive:
                            alive.remove(worker)
                            queue.forget(worker)
                        if not alive:
                            raise SemcomError(
                                "every Ray worker died; finished groups are stored, rerun "
                                "with --resume to continue."
                            ) from None
                        # one more task for the least busy survivor: while groups are
                        # pending some task is in flight, so each completion takes the next
                        idle = min(alive, key=lambda w: sum(v is w for v, _ in running.values()))
                        submit(idle)
                        continue
                    write(result)
                    submit(worker)
            finally:
                for w in pool:
                    ray.kill(w)


class _Queue:
    """Pending groups, handed out with codec affinity: a worker gets more groups of the
    codec it ran last (its decode cache and prepared operating points hold that codec's
    work, e.g. MTGC bitstreams delivered intact at every high SNR and on every channel);
    a worker whose codec is done takes the codec with the most pending groups that no
    other worker is on. Which worker runs a group does not change its rows."""

    def __init__(self, groups: Sequence[Group]) -> None:
        self.pending: dict[str, list[Group]] = {}
        for g in groups:
            self.pending.setdefault(g.spec.label, []).append(g)
        self.codec_of: dict = {}

    def take(self, worker) -> Group | None:
        codec = self.codec_of.get(worker)
        if not self.pending.get(codec):
            busy = set(self.codec_of.values()) - {codec}
            left = [c for c, gs in self.pending.items() if gs]
            if not left:
                return None
            codec = max(left, key=lambda c: (c not in busy, len(self.pending[c])))
            self.codec_of[worker] = codec
        return self.pending[codec].pop(0)

    def put_back(self, group: Group) -> None:
        """A group whose worker died: first in line again."""
        self.pending.setdefault(group.spec.label, []).insert(0, group)

    def forget(self, worker) -> None:
        """A dead worker holds no codec any more."""
        self.codec_of.pop(worker, None)


class _WorkerLost(Exception):
    """The actor that held a group died (its node left the cluster, or it was killed)."""


def _result(ray, ref) -> GroupResult:
    """The group result behind ``ref``; a dead actor as :class:`_WorkerLost`, a task's
    error as a clear one."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayActorError:
        raise _WorkerLost() from None
    except ray.exceptions.RayTaskError as err:
        cause = err.as_instanceof_cause()
        if isinstance(cause, SemcomError):
            last = str(cause).strip().splitlines()[-1]
            raise SemcomError(re.sub(r"^[\w.]*SemcomError: ", "", last)) from None
        raise cause from None
