"""Conjugate gradients for the back ends that iterate: AMG's V-cycle or a kept direct
factorisation as the preconditioner, the matrix's products on sagsim's numba kernels."""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from .kernels.sparse import csr_matvec, csr_residual


class CSR:
    """A CSR matrix whose product runs on the numba kernel (``A @ x``). ``copy``: take a
    snapshot of the values (a preconditioner must stay the operator it was built as, while the
    caller's matrix buffer is refilled every Newton iteration)."""

    def __init__(self, A: sp.spmatrix, copy: bool = False):
        A = sp.csr_matrix(A)
        A.sort_indices()
        self.shape = A.shape
        self.indptr, self.indices = A.indptr, A.indices
        self.data = np.array(A.data, np.float64, copy=True) if copy else np.ascontiguousarray(A.data, np.float64)

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        y = np.empty(self.shape[0])
        csr_matvec(self.indptr, self.indices, self.data, np.ascontiguousarray(x, np.float64), y)
        return y

    def residual(self, x: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        csr_residual(self.indptr, self.indices, self.data, x, b, out)
        return out


#: how pcg's reason begins when it met p.Ap <= 0: a proof that A is not positive definite
NEGATIVE_CURVATURE = "found negative curvature"


def pcg(A, b, M, rtol, maxiter, bnorm, patience=None):
    """Preconditioned CG from x0 = 0, stopping on the true relative residual ``<= rtol``.

    Breakdowns that prove the matrix (or, for an SPD matrix impossible, the symmetric V-cycle)
    is not positive definite are reported as such. ``patience`` (iterations, digits per
    iteration): give up when, after that many iterations, the residual has fallen by fewer
    digits per iteration than that. Returns (x, iterations, measured relative residual,
    failure reason or "")."""
    x = np.zeros(b.shape[0])
    r = b.copy()
    tol = rtol * bnorm
    it = 0
    while True:  # one pass per (re)start; a restart happens only if the residual drifted
        z = M @ r
        rz = float(r @ z)
        p = z.copy()
        rnorm = float(np.linalg.norm(r))
        while rnorm > tol and it < maxiter:
            if not rz > 0.0:
                return x, it, rnorm / bnorm, (
                    f"preconditioner not positive definite at iteration {it} (r.Mr = {rz:.3g}): matrix not SPD"
                )
            Ap = A @ p
            pAp = float(p @ Ap)
            if not pAp > 0.0:
                return x, it, rnorm / bnorm, (
                    f"{NEGATIVE_CURVATURE} (p.Ap = {pAp:.3g}) at iteration {it}: matrix not SPD"
                )
            alpha = rz / pAp
            x += alpha * p
            r -= alpha * Ap
            it += 1
            rnorm = float(np.linalg.norm(r))
            if not np.isfinite(rnorm):
                return x, it, np.inf, f"diverged (non-finite residual) at iteration {it}"
            if rnorm <= tol:
                break
            if patience is not None and it == patience[0] and -math.log10(rnorm / bnorm) < patience[1] * it:
                return x, it, rnorm / bnorm, (f"converges too slowly ({-math.log10(rnorm / bnorm) / it:.3f} digits "
                                              f"per iteration over the first {it})")
            z = M @ r
            rz_new = float(r @ z)
            p *= rz_new / rz
            p += z
            rz = rz_new
        r = b - A @ x  # true residual
        rnorm = float(np.linalg.norm(r))
        if rnorm <= tol or it >= maxiter:
            break
    res = rnorm / bnorm
    if not res <= rtol:
        return x, it, res, f"did not converge in {maxiter} iterations (relative residual {res:.1e})"
    return x, it, res, ""
