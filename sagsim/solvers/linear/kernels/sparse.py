"""Sparse kernels for the multigrid preconditioner: CSR products and the fused vector updates
of a Chebyshev smoother, parallel over rows (no two threads write the same entry)."""
from __future__ import annotations

from numba import njit, prange


@njit(cache=True, parallel=True)
def csr_matvec(indptr, indices, data, x, y):
    """y = A x."""
    for i in prange(indptr.shape[0] - 1):
        s = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * x[indices[p]]
        y[i] = s


@njit(cache=True, parallel=True)
def csr_residual(indptr, indices, data, x, b, r):
    """r = b - A x."""
    for i in prange(indptr.shape[0] - 1):
        s = b[i]
        for p in range(indptr[i], indptr[i + 1]):
            s -= data[p] * x[indices[p]]
        r[i] = s


@njit(cache=True, parallel=True)
def chebyshev_step(d, x, r, dinv, c_d, c_r):
    """d = c_d d + c_r D^-1 r; x += d (one step of the Chebyshev recurrence)."""
    for i in prange(d.shape[0]):
        d[i] = c_d * d[i] + c_r * dinv[i] * r[i]
        x[i] += d[i]
