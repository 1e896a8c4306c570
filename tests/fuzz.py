"""Random and mutated byte strings for parser tests (hypothesis when it is installed)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def mutations(seeds: list[bytes], n: int, seed: int = 0) -> Iterator[bytes]:
    """n byte strings: random ones, and valid ones with bits flipped, bytes inserted,
    deleted or overwritten, truncated or extended."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        kind = i % 6
        if kind == 0 or not seeds:
            yield rng.integers(0, 256, int(rng.integers(0, 80)), dtype=np.uint8).tobytes()
            continue
        data = bytearray(seeds[int(rng.integers(len(seeds)))])
        if kind == 1 and data:
            for _ in range(int(rng.integers(1, 4))):
                j = int(rng.integers(len(data)))
                data[j] ^= 1 << int(rng.integers(8))
        elif kind == 2:
            data = data[: int(rng.integers(0, len(data) + 1))]
        elif kind == 3:
            j = int(rng.integers(0, len(data) + 1))
            extra = rng.integers(0, 256, int(rng.integers(1, 6)), dtype=np.uint8).tobytes()
            data = data[:j] + extra + data[j:]
        elif kind == 4 and data:
            j = int(rng.integers(len(data)))
            del data[j : j + int(rng.integers(1, 4))]
        elif data:
            j = int(rng.integers(len(data)))
            data[j] = int(rng.integers(256))
        yield bytes(data)
