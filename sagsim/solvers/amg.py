"""The V-cycle that preconditions conjugate gradients, applied with our own parallel kernels
over a hierarchy that pyamg builds.

pyamg's set-up (smoothed aggregation, rigid-body near-nullspace) is good; its V-cycle runs a
Gauss-Seidel smoother that is sequential by nature, so on two cores half the machine idles
while it dominates the solve. Here each level is smoothed with a Chebyshev polynomial in
D^-1 A (degree 2 before and after the coarse correction), which needs only matrix-vector
products and runs on every core. The same polynomial before and after keeps the cycle
symmetric, as CG requires. Measured on the n = 32 sagging cube (107,811 dofs): 22 CG
iterations at 18 ms against pyamg's 18 at 30 ms, to a 1e-8 residual.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from pyamg.util.linalg import approximate_spectral_radius

from .kernels.sparse import chebyshev_step, csr_matvec, csr_residual

#: Chebyshev smoothing: polynomial degree, and the part of D^-1 A's spectrum it damps,
#: [LMAX / CHEBYSHEV_RATIO, LMAX] with LMAX the Lanczos estimate times CHEBYSHEV_SAFETY
#: (the interval pyamg uses for its own Chebyshev smoother).
CHEBYSHEV_DEGREE = 2
CHEBYSHEV_RATIO = 30.0
CHEBYSHEV_SAFETY = 1.1
LANCZOS_STEPS = 20


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


class _Level:
    def __init__(self, A, P=None, R=None):
        self.A = CSR(A, copy=True)
        self.n = A.shape[0]
        self.P = None if P is None else CSR(P)
        self.R = None if R is None else CSR(R)
        self.dinv = 1.0 / sp.csr_matrix(A).diagonal()
        self.lmax = CHEBYSHEV_SAFETY * self._largest_eigenvalue(sp.csr_matrix(A))

    def _largest_eigenvalue(self, A: sp.spmatrix) -> float:
        """Largest eigenvalue of D^-1 A, by Lanczos on the symmetric D^-1/2 A D^-1/2 (same
        spectrum). The power method underestimates it by enough that the Chebyshev polynomial
        then amplifies the top modes and the cycle stops being positive definite."""
        s = sp.diags(np.sqrt(self.dinv))
        return float(approximate_spectral_radius(s @ A @ s, symmetric=True, maxiter=LANCZOS_STEPS))

    def smooth(self, b: np.ndarray, x: np.ndarray, r: np.ndarray, zero_guess: bool = False) -> None:
        """Chebyshev iteration for A x = b from x, in place (Saad, Iterative Methods, 12.3).
        From ``zero_guess`` the first residual is b itself: one matrix product saved."""
        lmin = self.lmax / CHEBYSHEV_RATIO
        theta, delta = 0.5 * (self.lmax + lmin), 0.5 * (self.lmax - lmin)
        sigma = theta / delta
        rho = 1.0 / sigma
        d = np.zeros(self.n)
        if zero_guess:
            x[:] = 0.0
            r[:] = b
        else:
            self.A.residual(x, b, r)
        chebyshev_step(d, x, r, self.dinv, 0.0, 1.0 / theta)
        for _ in range(CHEBYSHEV_DEGREE - 1):
            self.A.residual(x, b, r)
            rho_new = 1.0 / (2.0 * sigma - rho)
            chebyshev_step(d, x, r, self.dinv, rho_new * rho, 2.0 * rho_new / delta)
            rho = rho_new


class VCycle:
    """Symmetric V-cycle over a pyamg multilevel solver's matrices; ``M @ r`` applies it."""

    def __init__(self, ml):
        self.levels = [_Level(lv.A, getattr(lv, "P", None), getattr(lv, "R", None)) for lv in ml.levels[:-1]]
        coarse = ml.levels[-1].A.toarray()
        try:
            self._coarse = ("cholesky", sla.cho_factor(coarse))
        except np.linalg.LinAlgError:  # singular coarse matrix (rank-deficient aggregates)
            self._coarse = ("pinv", np.linalg.pinv(coarse))
        self.shape = ml.levels[0].A.shape

    def __matmul__(self, b: np.ndarray) -> np.ndarray:
        return self._cycle(0, np.ascontiguousarray(b, np.float64))

    def _cycle(self, i: int, b: np.ndarray) -> np.ndarray:
        if i == len(self.levels):
            kind, f = self._coarse
            return sla.cho_solve(f, b) if kind == "cholesky" else f @ b
        lv = self.levels[i]
        x = np.empty(lv.n)
        r = np.empty(lv.n)
        lv.smooth(b, x, r, zero_guess=True)
        lv.A.residual(x, b, r)
        x += lv.P @ self._cycle(i + 1, lv.R @ r)
        lv.smooth(b, x, r)
        return x
