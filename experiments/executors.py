"""Sweep executors: who runs a sweep's groups. One protocol, two implementations.

An executor takes the planned groups and hands each :class:`~experiments.groups.GroupResult`
to ``write`` in the calling process (the store's one writer), in any order: a group's rows
depend on the group alone. ``local`` runs them here, one after another; ``ray`` runs them
on Ray actors (:mod:`experiments.ray_executor`). :func:`make_executor` builds one by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from semcom.errors import SemcomError

if TYPE_CHECKING:
    from experiments.config import SweepConfig
    from experiments.groups import Group, GroupResult

#: Executor names ``semcom sweep --executor`` accepts.
EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs groups and hands their results to ``write`` in this process."""

    def run(
        self,
        config: SweepConfig,
        groups: Sequence[Group],
        write: Callable[[GroupResult], None],
        model: object | None = None,
        threads: int = 1,
        weights: str | Path | None = None,
    ) -> None: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Every group in this process, in order, on one :class:`~experiments.runner.GroupRunner`
    (models load once; ``threads`` is left as the caller set it)."""

    def run(
        self,
        config: SweepConfig,
        groups: Sequence[Group],
        write: Callable[[GroupResult], None],
        model: object | None = None,
        threads: int = 1,
        weights: str | Path | None = None,
    ) -> None:
        from experiments.runner import GroupRunner

        if not groups:
            return
        runner = GroupRunner(config, model, weights=weights)
        for group in groups:
            write(runner.run(group))

    def close(self) -> None:
        pass


def check_executor(name: str, address: str | None = None) -> None:
    """Refuse an unknown executor, or a Ray one that cannot start, before any work."""
    if name not in EXECUTORS:
        raise SemcomError(f"--executor {name} is not known; choose {' or '.join(EXECUTORS)}.")
    if name == "ray":
        from experiments.ray_executor import RayExecutor

        RayExecutor.check(address)


def make_executor(name: str, address: str | None = None, workers: int | None = None) -> Executor:
    """The executor called ``name`` (checked with :func:`check_executor` first)."""
    check_executor(name, address)
    if name == "ray":
        from experiments.ray_executor import RayExecutor

        return RayExecutor(address, workers)
    return LocalExecutor()
