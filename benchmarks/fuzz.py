"""Fuzz every decoder of the receiver with mutated .mtgc files and raw stream payloads.

    python benchmarks/fuzz.py [--n 12000] [--seed 0] [--targets caption hci ...]
                              [--timeout 5] [--json fuzz.json]

Valid seed inputs come from encoding ShapesWorld test scenes with the real codecs (the
shipped MTGC-tiny preset, the conventional and compressai baselines). Each input is a
seed mutated by byte-level operators (bit flips, truncation, insertion, deletion,
overwrites, interesting values, chunk duplication, splicing, extension), by
structure-aware ones (a well-formed .mtgc container with a correct CRC32 carrying garbage
or mutated stream bodies, or mutated header fields; huge varint section lengths; stream
payloads that keep their header but carry garbage; garbage behind a valid image-codec
header) or is random bytes. Raw stream payloads are fed straight to the stream decoders,
as if the link's CRC had passed on garbage.

The decoders run in a worker subprocess (address space capped at ``--mem-limit-gb``), so
the parent sees every crash (a signal, an abort, an uncaught exception that is not a
:class:`~semcom.errors.SemcomError`, an output of the wrong shape or range), every hang
(no answer within ``--timeout`` seconds: the worker is killed and restarted) and the
worker's memory (RSS after warm-up and at the end of each target, peak RSS, and any input
that raises the peak by more than ``--mem-jump-mb``). A finding's input bytes go into the
JSON report (hex) as its reproducer. Exit status 1 when anything was found.

The harness lives in ``benchmarks/fuzzing/``: ``targets.py`` (what is fuzzed, the
decoders and their seed inputs), ``mutations.py``, ``worker.py`` (the decoding subprocess
and its handle), ``report.py`` (the run, statistics, findings, table), ``frames.py``.

Targets (``--targets``; default all): see :data:`TARGETS`, plus one ``codec:NAME`` per
digital codec in the codec registry (semcom's own and any installed plug-in,
:func:`all_targets`): its receiver (``decode(header, received, seed)``) gets one stream's
payload mutated and the others valid, through the codec protocol the link uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

# the fuzzer's modules live beside this script (benchmarks/fuzzing/); tests load this file
# by path, so its folder is put on the import path here
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzzing.mutations import (  # noqa: E402
    make_input,
    mutate_bytes,
    mutate_container,
    mutate_dimensions,
    mutate_payload,
)
from fuzzing.report import Finding, Report, TargetStats, run, table, target_counts  # noqa: E402
from fuzzing.targets import (  # noqa: E402
    BASELINES,
    REGISTRY_PREFIX,
    SELFTESTS,
    TARGETS,
    Decoders,
    all_targets,
    pack_delivered,
    registry_targets,
    unpack_delivered,
)
from fuzzing.worker import Worker, worker_main  # noqa: E402

__all__ = [
    "BASELINES",
    "REGISTRY_PREFIX",
    "SELFTESTS",
    "TARGETS",
    "Decoders",
    "Finding",
    "Report",
    "TargetStats",
    "Worker",
    "all_targets",
    "main",
    "make_input",
    "mutate_bytes",
    "mutate_container",
    "mutate_dimensions",
    "mutate_payload",
    "pack_delivered",
    "registry_targets",
    "run",
    "table",
    "target_counts",
    "unpack_delivered",
    "worker_main",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12000, help="inputs in total")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", nargs="+", choices=[*all_targets(), *SELFTESTS], default=None)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per input")
    parser.add_argument("--mem-limit-gb", type=float, default=6.0, help="worker address space")
    parser.add_argument("--mem-jump-mb", type=float, default=256.0)
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--log", type=Path, default=None, help="worker stderr goes here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.seed, args.mem_limit_gb)
        return 0

    def progress(target: str, i: int, count: int) -> None:
        if i % 500 == 0 or i == count:
            print(f"  {target}: {i}/{count}", file=sys.stderr, flush=True)

    report = run(
        args.n,
        args.seed,
        args.targets,
        args.timeout,
        args.mem_limit_gb,
        args.mem_jump_mb,
        log=args.log,
        progress=progress,
    )
    print(table(report))
    print(f"\n{len(report.findings)} findings; wall time {report.wall_seconds:.0f} s")
    for f in report.findings[:20]:
        print(f"  {f.target} #{f.index} {f.kind}: {f.detail}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "config": report.config,
                    "wall_seconds": report.wall_seconds,
                    "stats": [asdict(s) for s in report.stats],
                    "findings": [asdict(f) for f in report.findings],
                },
                indent=1,
            )
        )
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
