"""The amg-cg back end: conjugate gradients preconditioned by a smoothed-aggregation V-cycle
that pyamg builds and sagsim applies with its own parallel kernels.

pyamg's set-up (smoothed aggregation, rigid-body near-nullspace) is good; its V-cycle runs a
Gauss-Seidel smoother that is sequential by nature, so on two cores half the machine idles
while it dominates the solve. Here each level is smoothed with a Chebyshev polynomial in
D^-1 A (degree 2 before and after the coarse correction), which needs only matrix-vector
products and runs on every core. The same polynomial before and after keeps the cycle
symmetric, as CG requires. Measured on the n = 32 sagging cube (107,811 dofs): 22 CG
iterations at 15 ms against pyamg's 18 at 30 ms, to a 1e-8 residual. The hierarchy is reused
across calls while CG keeps its convergence rate (AMG_REBUILD_RATE).
"""
from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import pyamg
import scipy.sparse as sp
from pyamg.util.linalg import approximate_spectral_radius

from .backend import Backend
from .kernels.sparse import chebyshev_step
from .krylov import CSR, pcg

log = logging.getLogger("sagsim.linear")

# Smoothed aggregation set-up for 3D elasticity (P1 tets, interleaved dofs), tuned on the unit
# cube at n = 24 and 32: an energy-minimising prolongator (4 CG steps, local weighting) cuts
# the CG iterations by 35-40% against pyamg's default Jacobi-smoothed one (n=32: 25 -> 16 at
# nu=0.3, 41 -> 24 at 0.45, 81 -> 49 at 0.49) for about twice the set-up, which the reuse across
# Newton steps pays back. Measured and not taken: 3x3 BSR blocks (fewer iterations at nu=0.49
# but 2x slower block smoothing), strength theta 0.01-0.05 (complexity up to 3.4 for a few
# iterations less), evolution strength (set-up 4x), Jacobi smoothing (2.5x the iterations),
# zeroing the rigid modes on clamped dofs (no change). pyamg only builds the hierarchy: the
# V-cycle is amg.VCycle (parallel Chebyshev smoothing), so pyamg's smoother options are unused.
# A plain Python PCG (krylov.py) is as fast as SciPy's cg and pyamg's (within 5%) and lets us tell
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
# ...judged against the slowest of the first AMG_BASE_SOLVES solves after a build: the rate
# depends on the right-hand side too (a Newton step's second residual is mostly the smooth
# components the first update left, and CG gains digits on it 3x slower with a fresh
# hierarchy), so one fast first solve must not make every later one look stale (the aging
# loop rebuilt on every step that way, 1.5 s each time on the default face).
AMG_BASE_SOLVES = 2

# Under "auto", CG that has gained fewer than 0.06 digits per iteration after 25 iterations
# (on its way to more than 130 iterations for 8 digits) gives up, and "auto" takes a direct
# back end for the pattern (solver.py). Measured: the real default face's tangent (43,806
# dofs, Poisson's ratio 0.49, moduli from 53 Pa to 0.7 MPa side by side) needs 437 iterations
# for 8 digits, 0.018 per iteration, while PARDISO's factorisation, reused as CG's
# preconditioner, makes the 30-year aging run ten times faster; the sagging cube gains 0.2 to
# 0.7 digits per iteration and stays on AMG.
AUTO_AMG_PATIENCE = (25, 0.06)

#: Chebyshev smoothing: polynomial degree, and the part of D^-1 A's spectrum it damps,
#: [LMAX / CHEBYSHEV_RATIO, LMAX] with LMAX the Lanczos estimate times CHEBYSHEV_SAFETY
#: (the interval pyamg uses for its own Chebyshev smoother).
CHEBYSHEV_DEGREE = 2
CHEBYSHEV_RATIO = 30.0
CHEBYSHEV_SAFETY = 1.1
LANCZOS_STEPS = 20
AMG_SEED = 20261126  # any fixed value; see AmgCg._build


class _Level:
    def __init__(self, A, P=None, R=None):
        self.A = CSR(A, copy=True)
        self.n = A.shape[0]
        self.P = None if P is None else CSR(P)
        self.R = None if R is None else CSR(R)
        # A coarse level P^T A P may have an empty row (a prolongator column that an aggregate's
        # near-nullspace left zero): it is positive semi-definite, so a zero diagonal means a
        # zero row and column, which the smoother must leave alone rather than divide by.
        diag = sp.csr_matrix(A).diagonal()
        self.dinv = np.divide(1.0, diag, out=np.zeros_like(diag), where=diag > 0)
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
    """Symmetric V-cycle over a pyamg multilevel solver's matrices; ``M @ r`` applies it.
    ``top``: (A, P) of a finer level above the hierarchy (a p-multigrid step, CoarseSpace)."""

    def __init__(self, ml, top=None):
        self.levels = [_Level(lv.A, getattr(lv, "P", None), getattr(lv, "R", None)) for lv in ml.levels[:-1]]
        if top is not None:
            A, P = top
            self.levels.insert(0, _Level(A, P, P.T.tocsr()))
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


@dataclass(frozen=True)
class CoarseSpace:
    """A coarser space that AMG aggregates instead of the full matrix: ``prolongation`` (n, m)
    maps its m dofs onto the system's n, ``coords`` (m/3, 3) are its nodes (their rigid-body
    modes are the near-nullspace). For quadratic tetrahedra it is the linear field of the
    corners (a p-multigrid step: Chebyshev smoothing on the quadratic matrix, the Galerkin
    product P^T A P under it, smoothed aggregation below that). Smoothed aggregation of the
    quadratic matrix itself found no good aggregates: on the n = 16 sagging cube it went from
    107,811 dofs straight to 1,296, set up in 5.7 s and took 46 CG iterations; over the
    corners' field 1.0 s and 30 iterations (λ = 10, the first Newton tangent)."""

    prolongation: sp.csr_matrix
    coords: np.ndarray


def midside_prolongation(n_vertices: int, edges: np.ndarray) -> sp.csr_matrix:
    """(3 (n_vertices + len(edges)), 3 n_vertices): interleaved dofs of a linear field on the
    vertices, interpolated to the vertices themselves and to the edges' midpoints (the mean of
    the edge's two ends), in QuadraticSystem's node order (vertices, then midsides)."""
    edges = np.asarray(edges, np.int64)
    ne = len(edges)
    rows = np.concatenate([np.arange(n_vertices), n_vertices + np.arange(ne), n_vertices + np.arange(ne)])
    cols = np.concatenate([np.arange(n_vertices), edges[:, 0], edges[:, 1]])
    vals = np.concatenate([np.ones(n_vertices), np.full(2 * ne, 0.5)])
    nodes = sp.csr_matrix((vals, (rows, cols)), shape=(n_vertices + ne, n_vertices))
    return sp.kron(nodes, sp.identity(3), format="csr")


def translation_modes(ndofs: int) -> np.ndarray:
    B = np.zeros((ndofs, 3))
    for k in range(3):
        B[k::3, k] = 1.0
    return B


class AmgCg(Backend):
    name = "amg-cg"
    direct = False

    def __init__(self, owner):
        super().__init__(owner)
        self.ml = None
        self.M = None
        self.base_rate = None  # digits gained per CG iteration right after the last rebuild
        self.stale = False
        self.solves_since_build = 0
        self.built_from = None  # values of the matrix the hierarchy was built from
        self.generation = 0  # number of builds: a checkpoint saves built_from when it changes

    def snapshot(self) -> dict:
        return {"built_from": self.built_from, "base_rate": self.base_rate, "stale": self.stale,
                "solves_since_build": self.solves_since_build}

    def restore(self, A, snap: dict) -> None:
        """Rebuild the hierarchy from the matrix values it was built from (same pattern as A)."""
        self._build(sp.csr_matrix((snap["built_from"], A.indices, A.indptr), shape=A.shape))
        rate = float(snap["base_rate"])  # NaN: none measured yet
        self.base_rate, self.stale = None if np.isnan(rate) else rate, bool(snap["stale"])
        self.solves_since_build = int(snap["solves_since_build"])

    def _build(self, A):
        n = A.shape[0]
        coords = self.owner.coords
        coarse = self.owner.coarse
        top = None
        if coarse is not None:  # p-multigrid: aggregate the coarse space's Galerkin matrix
            P = coarse.prolongation
            top = (A, P)
            A = (P.T @ A @ P).tocsr()
            coords = coarse.coords
        if coords is not None:
            B = rigid_body_modes(coords)
        else:
            log.info("amg-cg: no coords given, near-nullspace = the 3 translations only")
            B = translation_modes(A.shape[0])
        # pyamg's spectral-radius estimates start from np.random vectors: a fixed seed makes
        # the hierarchy a function of the matrix alone, so a resumed run can rebuild it exactly
        rng_state = np.random.get_state()
        np.random.seed(AMG_SEED)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
                self.ml = ml = pyamg.smoothed_aggregation_solver(A, B=B, **AMG_OPTIONS)
                # pyamg builds the hierarchy; our parallel V-cycle applies it (see amg.py)
                self.M = VCycle(ml, top)
        except Exception as e:  # pyamg raises plain ValueError/LinAlgError on bad input
            self.ml = self.M = None
            raise self.fail(n, f"AMG set-up failed ({type(e).__name__}: {e})") from None
        finally:
            np.random.set_state(rng_state)
        self.built_from = (A if top is None else top[0]).data.copy()
        self.generation += 1
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
        patience = AUTO_AMG_PATIENCE if o.direct_fallback(n) else None
        x, it, res, why = pcg(Af, b, self.M, o.rtol, o.maxiter, bnorm, patience)
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
            x, it2, res, why = pcg(Af, b, self.M, o.rtol, o.maxiter, bnorm, patience)
            solve_s += time.perf_counter() - t0
            it += it2
            fresh_it = it2
        if why:
            self.ml = self.M = None
            raise self.fail(n, why)
        rate = -math.log10(max(res, 1e-300)) / max(fresh_it, 1)
        if rebuilt or self.base_rate is None:
            self.base_rate, self.solves_since_build = rate, 1
        elif self.solves_since_build < AMG_BASE_SOLVES:
            self.base_rate = min(self.base_rate, rate)
            self.solves_since_build += 1
        elif rate < AMG_REBUILD_RATE * self.base_rate:
            self.stale = True  # rebuild on the next call
        return x, it, setup, solve_s, res

    def release(self):
        self.ml = self.M = None
