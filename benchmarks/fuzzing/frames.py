"""Length-prefixed pickle frames between the fuzzer and its worker, and the worker's
memory figures."""

from __future__ import annotations

import os
import pickle
import struct


# -- frames between parent and worker --------------------------------------------------------
def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack(">I", len(data)) + data


def _send(fd: int, obj: object) -> None:
    _write_all(fd, _frame(obj))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return bytes(out)


def _recv(fd: int) -> object:
    (n,) = struct.unpack(">I", _read_exact(fd, 4))
    return pickle.loads(_read_exact(fd, n))


# -- the worker: decoders, seeds, checks -----------------------------------------------------
def _rss_mb() -> float:
    """Resident memory in MB, after handing freed heap pages back to the system (glibc
    keeps freed large buffers otherwise, which would read as growth)."""
    _trim()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _trim() -> None:
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
