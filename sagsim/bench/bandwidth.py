"""The memory bandwidth every kernel is held to: a STREAM-like triad on all threads."""
from __future__ import annotations

import time

import numpy as np
from numba import njit, prange


@njit(parallel=True)
def _triad(a, b, c, s):
    for i in prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


def triad_bandwidth(n: int = 1 << 24, repeats: int = 15) -> float:
    """STREAM-like triad a = b + s c over 3 x 128 MB, all threads; median bytes/s (3 arrays
    counted, as STREAM does)."""
    a, b, c = np.zeros(n), np.ones(n), np.ones(n)
    _triad(a, b, c, 2.0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        _triad(a, b, c, 2.0)
        times.append(time.perf_counter() - t)
    return 24.0 * n / float(np.median(times))
