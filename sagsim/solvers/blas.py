"""BLAS on one thread while sagsim's solvers run.

sagsim's kernels are numba-parallel over all cores; numpy's and scipy's BLAS (OpenBLAS, MKL)
keep threads of their own. A solver that alternates the two (a parallel kernel, then a
vector norm or dot product in numpy, thousands of times) makes each pool wait for cores the
other's spinning threads hold. Measured on the 2-core development machine: FIRE statics of the
default face's springs 17.4 s with two BLAS threads, 1.3 s with one (1,407 iterations); the
FEM's static solve of the default face 11.0 s vs 9.4 s. The vectors here are far too short for
threaded BLAS to gain anything, so the solvers' entry points run with BLAS on one thread.
"""
from __future__ import annotations

import contextlib
import functools

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # a dependency of sagsim; absent on a bare GPU image that runs the spring path
    threadpool_limits = None


def blas_on_one_thread(fn):
    """Run ``fn`` with BLAS limited to one thread (numba's threads untouched); about 0.5 ms
    per call, so for whole solves, not for kernels called in a loop."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        limit = contextlib.nullcontext() if threadpool_limits is None else \
            threadpool_limits(limits=1, user_api="blas")
        with limit:
            return fn(*args, **kwargs)
    return wrapper
