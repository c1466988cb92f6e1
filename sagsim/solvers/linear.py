"""Sparse SPD solves ``K du = -R`` for the quasi-static Newton solver.

The systems come from 3D hyperelasticity: 3 dofs per node, interleaved (``dof = 3*node + c``),
constrained dofs already replaced by identity rows and columns, so the matrix is symmetric
positive definite. Newton calls the solve many times in a row with the same sparsity pattern
and slowly changing values, so :class:`LinearSolver` keeps what it can between calls:

* ``"cholmod"`` (scikit-sparse, optional): the symbolic analysis (ordering, supernodes) is
  done once per pattern; later calls only refactor numerically (``cholesky_inplace``).
* ``"pardiso"`` (pypardiso / MKL, optional): phase 11 (analysis) once per pattern, phase 22
  (numerical factorisation) per new matrix, phase 33 (solve).
* ``"splu"`` (SciPy's SuperLU, always there): a full factorisation per new matrix, in
  symmetric mode without pivoting, so the signs of the pivots tell whether the matrix is SPD.
* ``"amg-cg"`` (pyamg, always there): conjugate gradients preconditioned by one V-cycle of
  smoothed-aggregation AMG, with the 6 rigid-body modes as near-nullspace. The hierarchy is
  reused across calls while it keeps working (see :class:`LinearSolver`).

A direct back end reuses its numerical factorisation when it is handed exactly the same matrix
again (modified Newton), reporting ``setup_s == 0``.

``"auto"`` picks the best available direct back end up to a size threshold (measured on the
development machine, numbers next to ``AUTO_DIRECT_MAX_DOFS``) and ``"amg-cg"`` above it. The
back end actually used is in :attr:`SolveInfo.method` and :attr:`LinearSolver.method`, and
each solve is logged at INFO on the ``"sagsim.linear"`` logger.

Every failure (matrix not SPD, singular, no convergence) raises
:class:`sagsim.errors.LinearSolverError` with a one-line message naming the back end, the
number of dofs and what went wrong.
"""
from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sagsim.errors import LinearSolverError

from .amg import CSR, VCycle

log = logging.getLogger("sagsim.linear")

__all__ = [
    "SolveInfo",
    "LinearSolver",
    "solve",
    "available_methods",
    "rigid_body_modes",
    "AUTO_DIRECT_MAX_DOFS",
]

DIRECT_METHODS = ("cholmod", "pardiso", "splu")
ITERATIVE_METHODS = ("amg-cg",)
ALL_METHODS = DIRECT_METHODS + ITERATIVE_METHODS

# "auto": the largest system (in dofs) solved by each direct back end; above it "amg-cg".
# The direct back end is the first available of cholmod, pardiso, splu.
#
# Measured on the development machine (2 cores, one of them busy with another job, BLAS/MKL
# limited to 1 thread), linear elasticity of the unit cube (cube_tets(n), P1, E = 1, face z = 0
# clamped), rtol 1e-10. Seconds per Newton step once set up: a second call with the same
# pattern and 5% changed values (refactorisation for the direct back ends, reused hierarchy
# for amg-cg), first call in brackets; amg-cg for nu = 0.3 / 0.45 / 0.49 (CG iterations):
#
#   n  dofs    splu           cholmod      pardiso      amg-cg nu=0.3    nu=0.45     nu=0.49
#   8    2187  0.02 (0.02)    0.013 (0.02) 0.005 (0.11) 0.005 (11)  0.007 (20)  0.014 (39)
#  10    3993  0.07 (0.07)    0.02  (0.05) 0.012 (0.13) 0.008 (12)  0.015 (19)  0.025 (37)
#  12    6591  0.2-0.5 (0.2)  0.04  (0.09) 0.03  (0.2)  0.018 (12)  0.034 (20)  0.048 (41)
#  16   14739  1.0  (1.0)     0.15  (0.3)  0.11  (0.3)  0.040 (12)  0.070 (19)  0.16  (39)
#  20   27783  6.5  (6.7)     0.4-0.6 (0.7) 0.4-0.8 (0.8) 0.25 (13)  0.19  (20)  0.55  (40)
#  24   46875  19   (20-35)   1.1   (1.6)  1.0-1.9 (1.5) 0.23 (15)  0.40  (24)  0.83  (47)
#  32  107811  --   (169, 10 GB) 4.6-5.4 (6.5-8.5) 5.1-7.8 (6.4-7.1) 0.40 (14) 0.61 (24) 1.18 (48)
#
# (amg-cg set-up, paid on the first call and on rebuilds: 0.03 s at n=8, 0.25 s at n=16,
# 1.3 s at n=24, 2-3 s at n=32.) By time alone AMG wins per step from ~2k dofs against splu
# and from ~15k (nu=0.3) to ~30k (nu=0.49) against cholmod/pardiso. The thresholds lean to the
# direct solvers, which cannot fail to converge on a badly conditioned tangent: up to 5k dofs
# splu costs < 0.1 s a step, up to 40k cholmod/pardiso cost < 1 s a step.
# cholmod was measured with Debian's OpenBLAS (libopenblas0-pthread) behind libblas.so.3; with
# the reference BLAS that libsuitesparse-dev pulls in alone it was 7-10x slower (n=24: 9-11 s).
# With the inexact Newton tolerances of fem.py and the parallel V-cycle, amg-cg gains further:
# in `sagsim bench fem` (n = 16, 14,739 dofs, 20 Newton solves) cholmod took 3.9-4.7 s and
# amg-cg 0.88 s; at n = 8 (2,187 dofs) cholmod 0.32 s.
AUTO_DIRECT_MAX_DOFS = {"cholmod": 10_000, "pardiso": 10_000, "splu": 5_000}

# When amg-cg fails to converge under "auto", the largest system a direct back end may take
# over (splu: ~30 s and a few GB at 47k dofs in the table above; the others ~5 s at 108k).
FALLBACK_DIRECT_MAX_DOFS = {"cholmod": 250_000, "pardiso": 250_000, "splu": 30_000}

# Smoothed aggregation set-up for 3D elasticity (P1 tets, interleaved dofs), tuned on the unit
# cube at n = 24 and 32: an energy-minimising prolongator (4 CG steps, local weighting) cuts
# the CG iterations by 35-40% against pyamg's default Jacobi-smoothed one (n=32: 25 -> 16 at
# nu=0.3, 41 -> 24 at 0.45, 81 -> 49 at 0.49) for about twice the set-up, which the reuse across
# Newton steps pays back. Measured and not taken: 3x3 BSR blocks (fewer iterations at nu=0.49
# but 2x slower block smoothing), strength theta 0.01-0.05 (complexity up to 3.4 for a few
# iterations less), evolution strength (set-up 4x), Jacobi smoothing (2.5x the iterations),
# zeroing the rigid modes on clamped dofs (no change). pyamg only builds the hierarchy: the
# V-cycle is amg.VCycle (parallel Chebyshev smoothing), so pyamg's smoother options are unused.
# A plain Python PCG (below) is as fast as SciPy's cg and pyamg's (within 5%) and lets us tell
# a breakdown (matrix not SPD) from slow convergence.
AMG_OPTIONS = dict(
    strength=("symmetric", {"theta": 0.0}),
    aggregate="standard",
    smooth=("energy", {"krylov": "cg", "maxiter": 4, "degree": 1, "weighting": "local"}),
    max_coarse=500,
)
# Rebuild the hierarchy on the next call once CG gains fewer than this fraction of the digits
# per iteration it gained right after the last rebuild. A rate, not an iteration count: an
# inexact Newton solver asks for 1e-2 one call and 1e-10 the next, so counts swing 3x with
# the tolerance while the hierarchy is as good as ever (counting rebuilt it 12 times in 20
# solves of the n = 32 cube; the rate rebuilds it when the tangent has really moved).
AMG_REBUILD_RATE = 0.5

# A direct solve whose measured relative residual stays above max(rtol, this) after
# iterative refinement is reported as a failure (the matrix is numerically singular).
_DIRECT_RESIDUAL_FAIL = 1e-6
_DIRECT_REFINE_STEPS = 2


@dataclass
class SolveInfo:
    method: str  # back end actually used, e.g. "splu", "cholmod", "pardiso", "amg-cg"
    iterations: int  # Krylov iterations (0 for direct)
    setup_s: float  # factorisation / preconditioner set-up time of this call (0 if reused)
    solve_s: float
    residual: float  # ||b - A x|| / ||b||, measured


# --------------------------------------------------------------------------------------------
# availability of the optional back ends


_AVAILABLE: dict[str, bool] = {}


def _have(method: str) -> bool:
    if method not in _AVAILABLE:
        ok = True
        if method == "cholmod":
            try:
                import sksparse.cholmod  # noqa: F401
            except Exception:  # ImportError, or a broken SuiteSparse shared library
                ok = False
        elif method == "pardiso":
            try:
                from pypardiso import PyPardisoSolver

                PyPardisoSolver()  # loads mkl_rt, which can fail after a successful import
            except Exception:
                ok = False
        elif method not in ALL_METHODS:
            ok = False
        _AVAILABLE[method] = ok
    return _AVAILABLE[method]


def available_methods() -> list[str]:
    """The back ends that can run here, direct ones first in the order "auto" prefers them."""
    return [m for m in ALL_METHODS if _have(m)]


# --------------------------------------------------------------------------------------------
# helpers


def rigid_body_modes(coords: np.ndarray) -> np.ndarray:
    """The 6 rigid-body modes (3 translations, 3 rotations) of nodes ``coords`` (N, 3) as a
    (3N, 6) array in interleaved dof order. Rotations are about the centroid and scaled by the
    size of the cloud so that all columns have comparable norms."""
    x = np.asarray(coords, dtype=np.float64)
    c = x - x.mean(axis=0)
    scale = float(np.abs(c).max()) or 1.0
    c = c / scale
    n = x.shape[0]
    B = np.zeros((3 * n, 6))
    for k in range(3):
        B[k::3, k] = 1.0
    cx, cy, cz = c[:, 0], c[:, 1], c[:, 2]
    B[0::3, 3], B[1::3, 3] = -cy, cx  # about z
    B[1::3, 4], B[2::3, 4] = -cz, cy  # about x
    B[0::3, 5], B[2::3, 5] = cz, -cx  # about y
    return B


def _translation_modes(ndofs: int) -> np.ndarray:
    B = np.zeros((ndofs, 3))
    for k in range(3):
        B[k::3, k] = 1.0
    return B


def _as_csr(A) -> sp.csr_matrix:
    if not sp.issparse(A):
        raise TypeError(f"LinearSolver.solve: A must be a scipy sparse matrix, got {type(A).__name__}")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"LinearSolver.solve: A must be square, got shape {A.shape}")
    A = sp.csr_matrix(A, dtype=np.float64)  # no copy when it is already csr float64
    if A.indices.dtype != np.int32 and A.nnz < 2**31 - 1:
        # pyamg's kernels (energy smoothing) and PARDISO take 32-bit indices only
        A = sp.csr_matrix((A.data, A.indices.astype(np.int32), A.indptr.astype(np.int32)), shape=A.shape)
    if not A.has_sorted_indices:
        A = A.copy()
        A.sort_indices()
    return A


def _rel_residual(A, x, b, bnorm) -> float:
    r = b - A @ x
    return float(np.linalg.norm(r) / bnorm)


# --------------------------------------------------------------------------------------------
# back ends: each keeps its own state for one sparsity pattern


class _Backend:
    name = ""
    direct = True

    def __init__(self, owner: LinearSolver):
        self.owner = owner

    def fail(self, n: int, what: str) -> LinearSolverError:
        what = " ".join(str(what).split())  # one line, whatever a library put in its message
        if len(what) > 200:
            what = what[:197] + "..."
        return LinearSolverError(f"{self.name} {what} on {n} dofs")

    def release(self) -> None:  # free memory held for the previous pattern
        pass


class _DirectBackend(_Backend):
    """Common part: factorise when the values change, solve, refine, check."""

    def __init__(self, owner):
        super().__init__(owner)
        self._data = None  # values of the factorised matrix

    def solve(self, A, b, bnorm):
        n = A.shape[0]
        setup = 0.0
        if not (self.owner.reuse and self._data is not None and np.array_equal(self._data, A.data)):
            self._data = None
            t0 = time.perf_counter()
            self.factor(A)
            setup = time.perf_counter() - t0
            self._data = A.data.copy() if self.owner.reuse else None
        t0 = time.perf_counter()
        x = self.apply(b)
        res = _rel_residual(A, x, b, bnorm) if np.all(np.isfinite(x)) else np.inf
        steps = 0
        while np.isfinite(res) and res > self.owner.rtol and steps < _DIRECT_REFINE_STEPS:
            x_new = x + self.apply(b - A @ x)
            res_new = _rel_residual(A, x_new, b, bnorm)
            steps += 1
            if not res_new < res:
                break
            x, res = x_new, res_new
        solve_s = time.perf_counter() - t0
        if not np.isfinite(res) or res > max(self.owner.rtol, _DIRECT_RESIDUAL_FAIL):
            self._data = None
            raise self.fail(n, f"gave an inaccurate solution (relative residual {res:.1e}): matrix numerically singular")
        return x, 0, setup, solve_s, res


class _Splu(_DirectBackend):
    name = "splu"

    # SuperLU in symmetric mode: the ordering is applied to rows and columns alike and, with
    # diag_pivot_thresh=0, the diagonal is always the pivot, so A = L U with U = D L^T and A is
    # SPD exactly when every pivot (diagonal of U) is > 0. COLAMD gave 40% less fill and a 3-7x
    # faster factorisation than MMD_AT_PLUS_A on the elasticity cube (n=16, 14.7k dofs: fill 30
    # vs 50, 1.0-1.1 s vs 3.8-7.9 s); spsolve (a new factorisation every call, no refinement
    # possible) took 9.5 s there with MMD_AT_PLUS_A.
    def factor(self, A):
        n = A.shape[0]
        self.lu = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
                lu = spla.splu(
                    A.tocsc(),
                    permc_spec="COLAMD",
                    diag_pivot_thresh=0.0,
                    options=dict(SymmetricMode=True),
                )
        except RuntimeError as e:  # "Factor is exactly singular"
            raise self.fail(n, f"factorisation failed ({e}): matrix singular") from None
        if not np.array_equal(lu.perm_r, lu.perm_c):
            raise self.fail(n, "needed off-diagonal pivoting: matrix not SPD")
        d = lu.U.diagonal()
        bad = np.flatnonzero(~(d > 0.0))
        if bad.size:
            raise self.fail(n, f"found {bad.size} non-positive pivot(s) (min {d.min():.3g}): matrix not SPD")
        self.lu = lu

    def apply(self, b):
        return self.lu.solve(b)

    def release(self):
        self.lu = None


class _Cholmod(_DirectBackend):
    name = "cholmod"

    def __init__(self, owner):
        super().__init__(owner)
        self.factor_ = None

    def factor(self, A):
        from sksparse.cholmod import CholmodError, cholesky

        n = A.shape[0]
        At = A.T  # CSC view of A^T == A: no copy and no conversion warning
        try:
            if self.factor_ is None:
                # supernodal LL^T: raises on a matrix that is not positive definite (the
                # simplicial LDL^T that "auto" picks for small matrices does not).
                self.factor_ = cholesky(At, mode="supernodal")
            else:
                self.factor_.cholesky_inplace(At)  # reuses the symbolic analysis
        except CholmodError as e:
            self.factor_ = None
            msg = str(e).split(":")[-1].strip() or type(e).__name__
            raise self.fail(n, f"factorisation failed ({msg}): matrix not SPD") from None

    def apply(self, b):
        return self.factor_(b)

    def release(self):
        self.factor_ = None


class _Pardiso(_DirectBackend):
    name = "pardiso"

    def __init__(self, owner):
        super().__init__(owner)
        self.ps = None
        self.U = None

    def _call(self, phase, U, b):
        self.ps.set_phase(phase)
        return self.ps._call_pardiso(U, b)

    def factor(self, A):
        from pypardiso import PyPardisoSolver
        from pypardiso.pardiso_wrapper import PyPardisoError

        n = A.shape[0]
        U = sp.triu(A, format="csr")  # mtype 2 (real SPD) reads the upper triangle
        U.sort_indices()
        dummy = np.zeros(n)
        try:
            if self.ps is None:
                self.ps = PyPardisoSolver(mtype=2)
                self._call(11, U, dummy)  # analysis + ordering, once per pattern
            self._call(22, U, dummy)  # numerical factorisation
        except PyPardisoError as e:
            code = getattr(e, "value", "?")
            self.release()
            what = "matrix not SPD" if code == -4 else "factorisation failed"
            raise self.fail(n, f"error {code} in factorisation: {what}") from None
        self.U = U

    def apply(self, b):
        return self._call(33, self.U, np.asarray(b, dtype=np.float64))

    def __del__(self):
        self.release()

    def release(self):
        if getattr(self, "ps", None) is not None:
            try:
                self.ps.free_memory(everything=True)
            except Exception:
                pass
        self.ps = None
        self.U = None
        self._data = None


class _AmgCg(_Backend):
    name = "amg-cg"
    direct = False

    def __init__(self, owner):
        super().__init__(owner)
        self.ml = None
        self.M = None
        self.base_rate = None  # digits gained per CG iteration right after the last rebuild
        self.stale = False

    def _build(self, A):
        import pyamg

        n = A.shape[0]
        coords = self.owner.coords
        if coords is not None:
            B = rigid_body_modes(coords)
        else:
            log.info("amg-cg: no coords given, near-nullspace = the 3 translations only")
            B = _translation_modes(n)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
                self.ml = ml = pyamg.smoothed_aggregation_solver(A, B=B, **AMG_OPTIONS)
                # pyamg builds the hierarchy; our parallel V-cycle applies it (see amg.py)
                self.M = VCycle(ml)
        except Exception as e:  # pyamg raises plain ValueError/LinAlgError on bad input
            self.ml = self.M = None
            raise self.fail(n, f"AMG set-up failed ({type(e).__name__}: {e})") from None
        self.base_rate = None
        self.stale = False

    def solve(self, A, b, bnorm):
        n = A.shape[0]
        o = self.owner
        setup = 0.0
        rebuilt = False
        if self.ml is None or self.stale or not o.reuse:
            t0 = time.perf_counter()
            self._build(A)
            setup += time.perf_counter() - t0
            rebuilt = True
        t0 = time.perf_counter()
        Af = CSR(A)
        x, it, res, why = _pcg(Af, b, self.M, o.rtol, o.maxiter, bnorm)
        solve_s = time.perf_counter() - t0
        fresh_it = it
        if why and not rebuilt:
            # the reused hierarchy may be too old for this matrix: rebuild once and retry
            log.info("amg-cg: reused hierarchy failed (%s) on %d dofs, rebuilding", why, n)
            t0 = time.perf_counter()
            self._build(A)
            setup += time.perf_counter() - t0
            rebuilt = True
            t0 = time.perf_counter()
            x, it2, res, why = _pcg(Af, b, self.M, o.rtol, o.maxiter, bnorm)
            solve_s += time.perf_counter() - t0
            it += it2
            fresh_it = it2
        if why:
            self.ml = self.M = None
            raise self.fail(n, why)
        rate = -math.log10(max(res, 1e-300)) / max(fresh_it, 1)
        if rebuilt or self.base_rate is None:
            self.base_rate = rate
        elif rate < AMG_REBUILD_RATE * self.base_rate:
            self.stale = True  # rebuild on the next call
        return x, it, setup, solve_s, res

    def release(self):
        self.ml = self.M = None


def _pcg(A, b, M, rtol, maxiter, bnorm):
    """Preconditioned CG from x0 = 0, stopping on the true relative residual ``<= rtol``.

    Breakdowns that prove the matrix (or, for an SPD matrix impossible, the symmetric V-cycle)
    is not positive definite are reported as such. Returns (x, iterations, measured relative
    residual, failure reason or "")."""
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
                    f"found negative curvature (p.Ap = {pAp:.3g}) at iteration {it}: matrix not SPD"
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


_BACKENDS = {"splu": _Splu, "cholmod": _Cholmod, "pardiso": _Pardiso, "amg-cg": _AmgCg}


# --------------------------------------------------------------------------------------------
# public API


class LinearSolver:
    """Solves a sequence of SPD systems with the same sparsity pattern, keeping the symbolic
    analysis, the factorisation or the AMG hierarchy between calls where it can.

    Parameters
    ----------
    method : "auto" or one of :func:`available_methods`.
    coords : (N, 3) node coordinates; the 6 rigid-body modes built from them are AMG's
        near-nullspace. Without them AMG uses the 3 translations only (slower convergence).
    rtol : relative residual ``||b - A x|| / ||b||`` that CG must reach; a direct solve gets up
        to two steps of iterative refinement when it misses it.
    maxiter : CG iteration limit.
    reuse : keep factorisations / hierarchies across calls (False: rebuild on every call).
    """

    def __init__(
        self,
        method: str = "auto",
        *,
        coords: np.ndarray | None = None,
        rtol: float = 1e-10,
        maxiter: int = 500,
        reuse: bool = True,
    ):
        if method != "auto" and method not in ALL_METHODS:
            raise ValueError(f"LinearSolver: unknown method {method!r}; expected 'auto' or one of {list(ALL_METHODS)}")
        if method != "auto" and not _have(method):
            raise LinearSolverError(
                f"{method} is not available here (its optional package is not installed); available: {available_methods()}"
            )
        if coords is not None:
            coords = np.asarray(coords, dtype=np.float64)
            if coords.ndim != 2 or coords.shape[1] != 3:
                raise ValueError(f"LinearSolver: coords must have shape (N, 3), got {coords.shape}")
        if not rtol > 0.0:
            raise ValueError(f"LinearSolver: rtol must be > 0, got {rtol}")
        if int(maxiter) < 1:
            raise ValueError(f"LinearSolver: maxiter must be >= 1, got {maxiter}")
        self.requested = method
        self.coords = coords
        self.rtol = float(rtol)
        self.maxiter = int(maxiter)
        self.reuse = bool(reuse)
        self._method: str | None = None if method == "auto" else method
        self._backend: _Backend | None = None
        self._pattern: tuple | None = None  # (n, indptr, indices) of the current pattern
        self._pattern_refs: tuple = (None, None)
        self._diag_pos = np.zeros(0, np.int64)

    @property
    def method(self) -> str:
        """The back end in use ("auto" until the first solve has resolved it)."""
        return self._method or self.requested

    def _resolve(self, n: int) -> str:
        if self.requested != "auto":
            return self.requested
        for m in DIRECT_METHODS:
            if _have(m):
                if n <= AUTO_DIRECT_MAX_DOFS[m]:
                    return m
                break
        return "amg-cg"

    def _fallback(self, n: int, exc: LinearSolverError) -> str | None:
        """A direct back end "auto" may switch to when amg-cg stalls on a badly conditioned
        (but SPD) matrix, such as a slender beam's; None when there is none small enough."""
        if self.requested != "auto" or self._method != "amg-cg" or "not SPD" in str(exc):
            return None
        for m in DIRECT_METHODS:
            if _have(m) and n <= FALLBACK_DIRECT_MAX_DOFS[m]:
                return m
        return None

    def reset(self) -> None:
        """Forget every factorisation / hierarchy (the next solve sets up from scratch)."""
        if self._backend is not None:
            self._backend.release()
        self._backend = None
        self._pattern = None
        if self.requested == "auto":
            self._method = None

    def solve(self, A, b, rtol: float | None = None) -> tuple[np.ndarray, SolveInfo]:
        """Solve ``A x = b``. ``rtol`` overrides the relative residual CG must reach for this
        call only (an inexact Newton step asks for less while far from convergence)."""
        if rtol is None:
            return self._solve(A, b)
        saved, self.rtol = self.rtol, float(rtol)
        try:
            return self._solve(A, b)
        finally:
            self.rtol = saved

    def _solve(self, A, b) -> tuple[np.ndarray, SolveInfo]:
        A = _as_csr(A)
        n = A.shape[0]
        b = np.asarray(b, dtype=np.float64)
        if b.shape != (n,):
            raise ValueError(f"LinearSolver.solve: b must have shape ({n},), got {b.shape}")
        if self.coords is not None and 3 * self.coords.shape[0] != n:
            raise ValueError(f"LinearSolver.solve: {self.coords.shape[0]} coords give {3 * self.coords.shape[0]} dofs, but A has {n}")

        same = self._pattern is not None and self._pattern[0] == n and (
            # the Newton loop hands over the very same index arrays each time: no O(nnz) check
            (self._pattern_refs[0] is A.indptr and self._pattern_refs[1] is A.indices)
            or (np.array_equal(self._pattern[1], A.indptr) and np.array_equal(self._pattern[2], A.indices))
        )
        if not same:
            self.reset()
            method = self._resolve(n)
            if self.requested == "auto":
                log.info("auto chose %s for %d dofs", method, n)
            self._method = method
            self._backend = _BACKENDS[method](self)
            self._pattern = (n, A.indptr.copy(), A.indices.copy())
            self._pattern_refs = (A.indptr, A.indices)
            rows = np.repeat(np.arange(n), np.diff(A.indptr))
            self._diag_pos = np.flatnonzero(A.indices == rows)  # where each row keeps its diagonal
        method = self._method
        if not np.all(np.isfinite(A.data)):
            raise LinearSolverError(f"{method} got a matrix with non-finite entries on {n} dofs")
        if not np.all(np.isfinite(b)):
            raise LinearSolverError(f"{method} got a right-hand side with non-finite entries on {n} dofs")
        d = np.zeros(n)
        d[A.indices[self._diag_pos]] = A.data[self._diag_pos]  # a gather, not scipy's per-row search
        bad = np.flatnonzero(~(d > 0.0))
        if bad.size:
            raise LinearSolverError(
                f"{method}: matrix not SPD on {n} dofs ({bad.size} diagonal entries <= 0, first at dof {bad[0]})"
            )
        bnorm = float(np.linalg.norm(b))
        if bnorm == 0.0:
            info = SolveInfo(method, 0, 0.0, 0.0, 0.0)
            log.info("%s: %d dofs, zero right-hand side", method, n)
            return np.zeros(n), info

        try:
            x, it, setup, solve_s, res = self._backend.solve(A, b, bnorm)
        except LinearSolverError as exc:
            fallback = self._fallback(n, exc)
            if fallback is None:
                raise
            log.warning("%s; auto falls back to %s for this pattern", exc, fallback)
            self._backend.release()
            self._method = method = fallback
            self._backend = _BACKENDS[fallback](self)
            x, it, setup, solve_s, res = self._backend.solve(A, b, bnorm)
        info = SolveInfo(method=method, iterations=int(it), setup_s=float(setup), solve_s=float(solve_s), residual=float(res))
        log.info(
            "%s: %d dofs, %d iterations, setup %.3f s, solve %.3f s, residual %.1e",
            method, n, info.iterations, info.setup_s, info.solve_s, info.residual,
        )
        return x, info


def solve(A, b, method: str = "auto", **kw) -> tuple[np.ndarray, SolveInfo]:
    """One-shot convenience: ``LinearSolver(method, **kw).solve(A, b)``."""
    return LinearSolver(method, **kw).solve(A, b)
