"""The worker subprocess that runs the decoders (:func:`worker_main`) and the parent's
handle on it (:class:`Worker`: start, ask with a timeout, kill)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from fuzzing.frames import _frame, _peak_mb, _recv, _rss_mb, _send, _write_all
from fuzzing.targets import SEEDS_REQUEST, SELFTESTS, Decoders

#: The repository root (the worker imports semcom from there) and the fuzzer script
#: the worker runs (``fuzz.py --worker``).
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parents[1] / "fuzz.py"


def worker_main(seed: int, mem_limit_gb: float) -> None:
    """Serve decode requests on fd 0/1 (frames); library output goes to stderr."""
    import resource
    import warnings

    warnings.simplefilter("ignore")
    out_fd = os.dup(1)
    os.dup2(2, 1)
    if mem_limit_gb > 0:
        limit = int(mem_limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from semcom.errors import SemcomError

    decoders: Decoders | None = None
    _send(out_fd, {"ready": True})
    while True:
        try:
            target, data, measure = _recv(0)  # type: ignore[misc]
        except EOFError:
            return
        if target == SEEDS_REQUEST:
            decoders = decoders or Decoders(seed)
            _send(out_fd, {"seeds": decoders.seeds()})
            continue
        t0 = time.perf_counter()
        try:
            if target in SELFTESTS:
                _selftest(target)
            else:
                decoders = decoders or Decoders(seed)
                decoders.run(target, data)
            status, detail = "ok", ""
        except SemcomError as err:
            status, detail = "clean", str(err)[:200]
            if _out_of_memory(err):
                status, detail = "error", f"out of memory, reported as: {detail}"
        except BaseException as err:  # noqa: BLE001 - every other exception is a finding
            status, detail = "error", f"{type(err).__name__}: {str(err)[:300]}"
        _send(
            out_fd,
            {
                "status": status,
                "detail": detail,
                "seconds": time.perf_counter() - t0,
                "rss": _rss_mb() if measure else None,
                "peak": _peak_mb(),
            },
        )


def _out_of_memory(err: BaseException) -> bool:
    """Whether a MemoryError is anywhere in ``err``'s cause chain (a clean error that
    hides a failed allocation: without the worker's memory cap it would have succeeded)."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        if isinstance(e, MemoryError):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _selftest(target: str) -> None:
    """Misbehaving decoders that check the harness itself (tests/test_fuzz_decoders.py)."""
    if target == "selftest-abort":
        os.abort()
    if target == "selftest-hang":
        time.sleep(3600)
    if target == "selftest-raise":
        raise KeyError("an uncaught exception")


class Worker:
    """The decoding subprocess: start, request with a timeout, kill."""

    def __init__(self, seed: int, mem_limit_gb: float, log: Path | None) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self._log = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--worker", "--seed", str(seed)]
            + ["--mem-limit-gb", str(mem_limit_gb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=ROOT,
        )
        if not isinstance(self._answer(600.0), dict):
            raise RuntimeError(f"the fuzz worker did not start (exit {self.proc.poll()}).")

    def seeds(self) -> dict[str, list[bytes]]:
        """Load the decoders (slow: the tiny preset) and return the seed inputs."""
        answer = self.ask(SEEDS_REQUEST, b"", 900.0)
        if not isinstance(answer, dict) or "seeds" not in answer:
            raise RuntimeError(f"the fuzz worker could not load the decoders ({answer}).")
        return answer["seeds"]

    def _answer(self, timeout: float) -> object | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return None
        try:
            return _recv(fd)
        except EOFError:
            return "died"

    def ask(self, target: str, data: bytes, timeout: float, measure: bool = False) -> dict | str:
        """The worker's answer, or "hang" / "crash: <how>"; ``measure`` asks for its RSS."""
        assert self.proc.stdin is not None
        try:
            _write_all(self.proc.stdin.fileno(), _frame((target, data, measure)))
        except (BrokenPipeError, OSError):
            return f"crash: {self._exit()}"
        answer = self._answer(timeout)
        if answer is None:
            self.kill()
            return "hang"
        if answer == "died":
            return f"crash: {self._exit()}"
        return answer  # type: ignore[return-value]

    def _exit(self) -> str:
        code = self.proc.wait(timeout=30)
        return f"signal {-code}" if code < 0 else f"exit status {code}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        if self._log is not subprocess.DEVNULL:
            self._log.close()
