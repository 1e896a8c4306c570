"""The fuzzing run (:func:`run`): inputs per target, the worker's answers counted into
per-target statistics and findings, and the Markdown table."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fuzzing.mutations import make_input
from fuzzing.targets import REGISTRY_PREFIX, REGISTRY_SHARE, SELFTESTS, TARGETS, all_targets
from fuzzing.worker import Worker


# -- the parent: worker control, bookkeeping, report -----------------------------------------
@dataclass
class TargetStats:
    """One target's tally."""

    target: str
    inputs: int = 0
    ok: int = 0
    clean: int = 0
    errors: int = 0
    crashes: int = 0
    hangs: int = 0
    mem_jumps: int = 0
    max_seconds: float = 0.0
    total_seconds: float = 0.0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    peak_mb: float = 0.0
    restarts: int = 0

    @property
    def findings(self) -> int:
        return self.errors + self.crashes + self.hangs + self.mem_jumps


@dataclass
class Finding:
    """A reproducer: the target, what happened and the input."""

    target: str
    kind: str
    detail: str
    input_hex: str
    index: int


@dataclass
class Report:
    """Everything one run measured."""

    config: dict
    stats: list[TargetStats] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    wall_seconds: float = 0.0


def target_counts(n: int, targets: Sequence[str]) -> dict[str, int]:
    """Inputs per target: ``n`` split by the targets' shares (at least one each)."""

    def share(t: str) -> float:
        if t in TARGETS:
            return TARGETS[t][0]
        return REGISTRY_SHARE if t.startswith(REGISTRY_PREFIX) else 0.05

    shares = {t: share(t) for t in targets}
    total = sum(shares.values())
    return {t: max(1, round(n * shares[t] / total)) for t in targets}


def run(
    n: int,
    seed: int = 0,
    targets: Sequence[str] | None = None,
    timeout: float = 5.0,
    mem_limit_gb: float = 6.0,
    mem_jump_mb: float = 256.0,
    max_failures: int = 25,
    log: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Fuzz ``targets`` (default all) with about ``n`` inputs in total."""
    known = all_targets()
    targets = list(targets or known)
    unknown = set(targets) - set(known) - set(SELFTESTS)
    if unknown:
        raise SystemExit(f"unknown targets {sorted(unknown)}; choose from {known}")
    report = Report(
        config={"n": n, "seed": seed, "targets": targets, "timeout_s": timeout,
                "mem_limit_gb": mem_limit_gb, "mem_jump_mb": mem_jump_mb}
    )  # fmt: skip
    t_start = time.perf_counter()
    needs_decoders = any(t not in SELFTESTS for t in targets)
    worker = Worker(seed, mem_limit_gb, log)
    seeds = worker.seeds() if needs_decoders else {}
    warmup = 20
    for target, count in target_counts(n, targets).items():
        st = TargetStats(target)
        report.stats.append(st)
        rng = np.random.default_rng([seed, zlib.crc32(target.encode())])
        baseline_peak = None
        for i in range(count):
            data = make_input(target, rng, seeds)
            measure = i + 1 in (min(warmup, count), count)
            answer = worker.ask(target, data, timeout, measure)
            st.inputs += 1
            if isinstance(answer, str):
                kind = "hang" if answer == "hang" else "crash"
                st.hangs += kind == "hang"
                st.crashes += kind == "crash"
                report.findings.append(Finding(target, kind, answer, data.hex(), i))
                worker.kill()
                worker = Worker(seed, mem_limit_gb, log)
                if needs_decoders:
                    worker.seeds()
                st.restarts += 1
                baseline_peak = None
                if st.crashes + st.hangs + st.errors >= max_failures:
                    break
                continue
            status = answer["status"]
            st.ok += status == "ok"
            st.clean += status == "clean"
            if status == "error":
                st.errors += 1
                report.findings.append(Finding(target, "error", answer["detail"], data.hex(), i))
            st.max_seconds = max(st.max_seconds, answer["seconds"])
            st.total_seconds += answer["seconds"]
            st.rss_end_mb = answer["rss"] if measure else st.rss_end_mb
            st.peak_mb = max(st.peak_mb, answer["peak"])
            if i + 1 == min(warmup, count):
                st.rss_start_mb = answer["rss"]
            jump = answer["peak"] - (baseline_peak or answer["peak"])
            if i >= warmup and jump > mem_jump_mb:
                st.mem_jumps += 1
                detail = f"peak RSS {baseline_peak:.0f} -> {answer['peak']:.0f} MB"
                report.findings.append(Finding(target, "memory", detail, data.hex(), i))
            baseline_peak = answer["peak"]
            if st.findings >= max_failures:
                break
            if progress:
                progress(target, i + 1, count)
    worker.close()
    report.wall_seconds = time.perf_counter() - t_start
    return report


def table(report: Report) -> str:
    """The per-target table, as Markdown."""
    head = (
        "| target | inputs | ok decodes | clean errors | crashes | hangs | other findings "
        "| max s/input | mean ms/input | RSS start/end/peak MB |"
    )
    rows = [head, "|" + "---|" * 10]
    for s in report.stats:
        mean_ms = 1000 * s.total_seconds / max(1, s.inputs - s.crashes - s.hangs)
        rows.append(
            f"| {s.target} | {s.inputs} | {s.ok} | {s.clean} | {s.crashes} | {s.hangs} "
            f"| {s.errors + s.mem_jumps} | {s.max_seconds:.3f} | {mean_ms:.1f} "
            f"| {s.rss_start_mb:.0f} / {s.rss_end_mb:.0f} / {s.peak_mb:.0f} |"
        )
    tot = [sum(getattr(s, k) for s in report.stats) for k in ("inputs", "ok", "clean")]
    bad = [sum(getattr(s, k) for s in report.stats) for k in ("crashes", "hangs")]
    other = sum(s.errors + s.mem_jumps for s in report.stats)
    worst = max((s.max_seconds for s in report.stats), default=0.0)
    rows.append(
        f"| **total** | {tot[0]} | {tot[1]} | {tot[2]} | {bad[0]} | {bad[1]} | {other} "
        f"| {worst:.3f} | | |"
    )
    return "\n".join(rows)
