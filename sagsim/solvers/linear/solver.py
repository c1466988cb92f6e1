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
  reused across calls while it keeps working (see :class:`LinearSolver`). Given a coarse
  space (quadratic elements: their corners' linear field), AMG aggregates that space's
  Galerkin matrix under one smoothing level of the full one (amg.CoarseSpace).

A direct back end reuses its numerical factorisation when it is handed exactly the same matrix
again (modified Newton), reporting ``setup_s == 0``, and preconditions conjugate gradients with
it for new matrices of the same pattern until that gets slow (direct.py), and lends it to Newton's
quasi-Newton iterations as their first inverse (:meth:`LinearSolver.kept_inverse`).

``"auto"`` picks the best available direct back end up to a size threshold (measured on the
development machine, numbers next to ``AUTO_DIRECT_MAX_DOFS``) and ``"amg-cg"`` above it,
moving to a direct back end when amg-cg fails or converges too slowly (``FALLBACK_DIRECT_MAX_DOFS``,
``amg.AUTO_AMG_PATIENCE``). The
back end actually used is in :attr:`SolveInfo.method` and :attr:`LinearSolver.method`, and
each solve is logged at INFO on the ``"sagsim.linear"`` logger.

Every failure (matrix not SPD, singular, no convergence) raises
:class:`sagsim.errors.LinearSolverError` with a one-line message naming the back end, the
number of dofs and what went wrong.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...errors import LinearSolverError

from ..blas import blas_on_one_thread
from .amg import AmgCg, CoarseSpace, rigid_body_modes
from .backend import Backend
from .direct import Cholmod, Pardiso, Splu

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
#: what to install for each optional back end (pip names)
PACKAGES = {"cholmod": "pip install scikit-sparse", "pardiso": "pip install pypardiso", "splu": "scipy",
            "amg-cg": "pyamg"}  # the last two are sagsim's own dependencies

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
# With the inexact Newton tolerances of fem/newton.py and the parallel V-cycle, amg-cg gains further:
# in `sagsim bench fem` (n = 16, 14,739 dofs, 20 Newton solves) cholmod took 3.9-4.7 s and
# amg-cg 0.88 s; at n = 8 (2,187 dofs) cholmod 0.32 s.
# Since the direct back ends keep their factorisation as CG's preconditioner for later
# matrices (direct.py), PARDISO runs the sagging cube's 20 Newton solves (`sagsim bench fem`,
# 2 cores, a noisy machine) about as fast as amg-cg at n = 12 and 16 (1.9 s each at 6,591 dofs;
# 4.0 vs 4.2 s at 14,739) and slower at n = 24 (46,875 dofs: 19.3 vs 10.8 s): the thresholds
# stay. Where AMG converges slowly (the real face), "auto" moves to the direct back end anyway
# (amg.AUTO_AMG_PATIENCE).
# Since PARDISO no longer refines iteratively inside each back-substitution (direct.py), the
# same benchmark (two runs each, same machine, one after the other) gives PARDISO against
# amg-cg 1.1-1.3 vs 2.0-2.4 s at n = 12, 2.5-2.9 vs 3.1-3.9 s at n = 16 and 11.9-14.1 vs
# 9.6-9.8 s at n = 24 (46,875 dofs). PARDISO now takes up to 50k dofs: 1.2-1.4x slower than
# AMG on the cube at its top, where AMG meets its best case (a regular mesh, nu = 0.45), and
# the real faces (13,500 and 43,806 dofs), where AMG gains 0.02-0.04 digits an iteration, no
# longer try AMG first (8 s of the default face's aging run).
AUTO_DIRECT_MAX_DOFS = {"cholmod": 10_000, "pardiso": 50_000, "splu": 5_000}

# ...and, for PARDISO, the largest factorisation in operations (MKL's estimate after the
# symbolic analysis, 10^6 flops): dofs alone do not say what a factorisation costs. A face is
# a shell a few centimetres thick, whose separators are small; a cube of the same size is not;
# and a nodal-pressure tangent couples each node with its neighbours' neighbours. Measured
# (MKL's estimate; one factorisation, 2 cores, beside another job):
#
#   matrix                                   dofs    nnz(A)    factor nnz   MFLOP     time
#   unit cube n = 24, standard element       46,875  2.0 M     29 M         39,873    1.8 s
#   unit cube n = 24, es-anp                 46,875  8.1 M     87 M        257,492    8.2 s
#   real default face, es-anp                43,806  7.3 M     45 M         65,388    2.9 s
#   real default face, standard element      43,806  1.8 M     15 M          9,104    0.5 s
#
# On the cube at n = 24 PARDISO and amg-cg are about even for the standard element (12-14 s
# against 10 s for `sagsim bench fem`'s 20 Newton solves) while amg-cg solves es-anp's in 16 s
# against PARDISO's 44 s; on the real faces amg-cg hardly converges (amg.AUTO_AMG_PATIENCE).
# The limit sits between the face's es-anp tangent and the cube's.
AUTO_DIRECT_MAX_MFLOP = 120_000

# When amg-cg fails to converge, or converges too slowly (amg.AUTO_AMG_PATIENCE), under
# "auto", the largest system a direct back end may take over (splu: ~30 s and a few GB at 47k
# dofs in the table above; the others ~5 s at 108k). The direct back end keeps its
# factorisation as CG's preconditioner for the next matrices (direct.py).
# PARDISO on the real fine face (267,102 dofs, averaged nodal pressure): 3 minutes, 7 GB; on
# the real default face in quadratic tetrahedra (312,156 dofs): 35 s, about 5 GB, where AMG-CG
# needed 191 iterations for two digits and then stalled. Aggregating the corners' field
# (amg.CoarseSpace) does not rescue the faces: on the coarse face in quadratic tetrahedra
# (86,658 dofs) CG loses digits over its first 25 iterations and "auto" hands over at once;
# even with the corners' Galerkin matrix factorised exactly, Chebyshev smoothing of degree 2
# to 8 left 5e-3 to 5e-8 after 300 iterations. The corners' linear field locks where the
# quadratic one does not (thin layers, Poisson's ratio 0.49), so what the coarse level cannot
# correct is not what a point smoother removes; smoothing each node's 3x3 block did hardly
# better (1.8e-3 and 5.7e-5 at degrees 2 and 4).
FALLBACK_DIRECT_MAX_DOFS = {"cholmod": 300_000, "pardiso": 400_000, "splu": 30_000}


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
    # the optional back ends are imported here, lazily: a missing or broken SuiteSparse / MKL
    # must not break `import sagsim.solvers.linear`, only the back end that needs it
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


# --------------------------------------------------------------------------------------------
# back ends: each keeps its own state for one sparsity pattern


_BACKENDS = {"splu": Splu, "cholmod": Cholmod, "pardiso": Pardiso, "amg-cg": AmgCg}


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
    coarse : a coarser space for amg-cg to aggregate instead of the matrix itself
        (:class:`~sagsim.solvers.linear.amg.CoarseSpace`: quadratic elements' corners).
    """

    def __init__(
        self,
        method: str = "auto",
        *,
        coords: np.ndarray | None = None,
        rtol: float = 1e-10,
        maxiter: int = 500,
        reuse: bool = True,
        coarse: CoarseSpace | None = None,
    ):
        if method != "auto" and method not in ALL_METHODS:
            raise LinearSolverError(f"linear solver: unknown method {method!r}; expected 'auto' or one of "
                                    f"{list(ALL_METHODS)}")
        if method == "auto":
            # load the direct back ends' libraries now: one loaded during a solve would miss that
            # solve's BLAS thread limit (its first factorisation then ran on all cores and
            # rounded differently from the next, identical one)
            for m in DIRECT_METHODS:
                _have(m)
        elif not _have(method):
            raise LinearSolverError(
                f"linear solver {method}: not available here: install its package ({PACKAGES[method]}); "
                f"available: {available_methods()}"
            )
        if coords is not None:
            coords = np.asarray(coords, dtype=np.float64)
            if coords.ndim != 2 or coords.shape[1] != 3:
                raise ValueError(f"LinearSolver: coords must have shape (N, 3), got {coords.shape}")
        if not rtol > 0.0:
            raise ValueError(f"LinearSolver: rtol must be > 0, got {rtol}")
        if int(maxiter) < 1:
            raise ValueError(f"LinearSolver: maxiter must be >= 1, got {maxiter}")
        if coarse is not None and coords is not None and coarse.prolongation.shape[0] != coords.size:
            raise ValueError(f"LinearSolver: the coarse space's prolongation has {coarse.prolongation.shape[0]} rows, "
                             f"the coords give {coords.size} dofs")
        self.requested = method
        self.coords = coords
        self.coarse = coarse
        self.rtol = float(rtol)
        self.maxiter = int(maxiter)
        self.reuse = bool(reuse)
        self._method: str | None = None if method == "auto" else method
        self._backend: Backend | None = None
        self._pattern: tuple | None = None  # (n, indptr, indices) of the current pattern
        self._pattern_refs: tuple = (None, None)
        self._diag_pos = np.zeros(0, np.int64)
        #: what the caller says the next matrices are (fem/newton.py: their constrained dofs); a
        #: factorisation remembers the tag it was made under (kept_inverse)
        self.tag = ""

    def with_method(self, method: str) -> "LinearSolver":
        """A new solver of ``method`` for the same nodes (coords, coarse space, tolerances)."""
        return LinearSolver(method, coords=self.coords, rtol=self.rtol, maxiter=self.maxiter, reuse=self.reuse,
                            coarse=self.coarse)

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
        if self._method != "amg-cg" or "not SPD" in str(exc):
            return None
        return self.direct_fallback(n)

    def direct_fallback(self, n: int) -> str | None:
        """The direct back end "auto" would take over an n-dof pattern from amg-cg with, if any."""
        if self.requested != "auto":
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

    def kept_inverse(self, tag: str):
        """The kept factorisation's solve ``b -> A_kept^-1 b``, for a quasi-Newton method's
        first approximation of the inverse tangent; None unless a direct back end holds a
        factorisation made under ``tag``. (Whether it is still close enough is the quasi-Newton
        iterations' to find out: a factorisation CG found slow, at the tight tolerances that end
        a Newton step, can still take most of the next step's residual.)"""
        backend = self._backend
        if (backend is None or not getattr(backend, "direct", False) or getattr(backend, "built_from", None) is None
                or backend.built_tag != tag):
            return None
        return backend.apply

    @property
    def generation(self) -> int:
        """Changes whenever the kept state (an AMG hierarchy) is rebuilt."""
        return getattr(self._backend, "generation", 0)

    def snapshot(self) -> dict:
        """What a later process needs to continue a sequence of solves bit-identically: the
        back end, and the matrix values its kept state (AMG hierarchy, factorisation) was
        built from, with its bookkeeping. Arrays, for np.savez."""
        snap = {"method": np.array(self._method or "")}
        if self._backend is not None and getattr(self._backend, "built_from", None) is not None:
            kept = self._backend.snapshot()
            snap.update(indptr=self._pattern[1], indices=self._pattern[2])
            snap.update({k: np.array(np.nan if v is None else v) for k, v in kept.items()})
        return snap

    def restore(self, snap) -> None:
        """Continue from a snapshot (see ``snapshot``)."""
        self.reset()
        method = str(snap["method"])
        if not method:
            return
        self._method = method
        self._backend = _BACKENDS[method](self)
        if "built_from" in snap:
            indptr, indices = np.asarray(snap["indptr"]), np.asarray(snap["indices"])
            n = len(indptr) - 1
            A = sp.csr_matrix((np.asarray(snap["built_from"]), indices, indptr), shape=(n, n))
            self._pattern = (n, indptr.copy(), indices.copy())
            rows = np.repeat(np.arange(n), np.diff(indptr))
            self._diag_pos = np.flatnonzero(indices == rows)
            self._backend.restore(A, {k: np.asarray(snap[k]) for k in snap if k not in ("method", "indptr", "indices")})

    # BLAS threads (the coarse-level Cholesky, CHOLMOD's supernodes) on top of numba's
    # oversubscribe the cores: the default face's demo took 50 s instead of 8.5 s that way
    @blas_on_one_thread
    def solve(self, A, b, rtol: float | None = None) -> tuple[np.ndarray, SolveInfo]:
        """Solve ``A x = b``. ``rtol`` overrides the relative residual CG must reach for this
        call only (an inexact Newton step asks for less while far from convergence)."""
        saved = self.rtol
        if rtol is not None:
            self.rtol = float(rtol)
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
            if self.requested == "auto" and method == "pardiso":
                mflop = self._backend.analyse(A)
                if mflop > AUTO_DIRECT_MAX_MFLOP:
                    log.info("auto: pardiso's factorisation would take %.3g GFLOP (more than %.3g): amg-cg "
                             "for %d dofs", mflop / 1e3, AUTO_DIRECT_MAX_MFLOP / 1e3, n)
                    self._backend.release()
                    self._method = method = "amg-cg"
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
