"""A sweep on a Ray cluster of three nodes on this machine, one of which leaves while
groups are in flight: every point is stored once, with a one-process run's digest."""

from __future__ import annotations

import pytest

from experiments.config import parse_config
from experiments.store import Store
from experiments.sweep import run_sweep

SWEEP = {
    "name": "cluster",
    "dataset": {"split": "test", "n": 2, "size": 64, "seed": 0},
    "codecs": ["webp", "jpeg", "jpeg2000"],
    "channels": ["awgn", "rayleigh"],
    "snr_db": [0, 6, 12],
    "budget_cpp": [0.1],
    "save_images": 1,
}


def _digest(folder) -> tuple[str, int, int]:
    store = Store(folder, create=False)
    try:
        h = store.latest_hash()
        keys = store.done_keys(h)
        return store.digest(), store.count(h), len(keys)
    finally:
        store.close()


@pytest.mark.slow
def test_a_lost_node_loses_no_point(tmp_path, monkeypatch) -> None:
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    import experiments.ray_executor as executor

    requeued = []
    put_back = executor._Queue.put_back

    def counted(self, group):
        requeued.append(group)
        return put_back(self, group)

    monkeypatch.setattr(executor._Queue, "put_back", counted)

    cfg = parse_config(SWEEP)
    run_sweep(cfg, tmp_path / "one", progress=False)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        leaving = cluster.add_node(num_cpus=1)
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        removed = []

        def lose_a_node(written: int) -> None:
            if written == 2 and not removed:  # groups are in flight on every worker
                cluster.remove_node(leaving, allow_graceful=False)
                removed.append(written)

        report = run_sweep(
            cfg,
            tmp_path / "cluster",
            progress=False,
            executor="ray",
            address=cluster.address,
            workers=3,
            after_group=lose_a_node,
        )
        assert removed, "the node was never removed"
        assert requeued, "no group was in flight on the lost node"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    assert report.points_written == cfg.num_points
    digest, rows, keys = _digest(tmp_path / "cluster")
    assert rows == keys == cfg.num_points  # every point once
    assert digest == _digest(tmp_path / "one")[0]
