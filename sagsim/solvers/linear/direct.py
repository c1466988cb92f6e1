"""Direct back ends of the linear solver: SuperLU (always there), CHOLMOD and PARDISO (when
installed). Each reuses its symbolic analysis for the same pattern, preconditions CG for a new
matrix with the last factorisation while that converges fast and factorises anew when it does
not, refines iteratively and reports a matrix that is not SPD (see solver.py)."""
from __future__ import annotations

import ctypes
import logging
import time
import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .backend import Backend, rel_residual
from .krylov import CSR, NEGATIVE_CURVATURE, pcg

log = logging.getLogger("sagsim.linear")

# A direct solve whose measured relative residual stays above max(rtol, this) after
# iterative refinement is reported as a failure (the matrix is numerically singular).
_DIRECT_RESIDUAL_FAIL = 1e-6
_DIRECT_REFINE_STEPS = 2

# A new matrix of the same pattern is first solved by conjugate gradients preconditioned with
# the factorisation of an earlier one: Newton's tangents and an aging run's years change
# little, and on the real default face (43,806 dofs, averaged-nodal-pressure tangent) PARDISO
# factorises in 5-6 s and back-substitutes in 0.06 s on one thread, so a few CG iterations
# cost a small fraction of a factorisation. CG gives up after FROZEN_MAX_ITERATIONS (the matrix is factorised anew, at
# once); a solve that needed more than FROZEN_REFACTOR_ITERATIONS marks the factorisation
# stale, so the next new matrix is factorised. Counts, not timings: a resumed run must make
# the same choices as an uninterrupted one.
FROZEN_MAX_ITERATIONS = 40
FROZEN_REFACTOR_ITERATIONS = 12


class DirectBackend(Backend):
    """Common part: factorise when the values change (or precondition CG with the last
    factorisation, above), solve, refine, check."""

    def __init__(self, owner):
        super().__init__(owner)
        self.built_from = None  # values of the factorised matrix
        self.built_tag = ""  # the owner's tag when it was factorised (LinearSolver.kept_inverse)
        self.stale = False  # the factorisation preconditions new matrices too slowly: refactor
        self.generation = 0  # number of factorisations: a checkpoint saves built_from when it changes

    def snapshot(self) -> dict:
        return {"built_from": self.built_from, "stale": self.stale, "built_tag": self.built_tag}

    def restore(self, A, snap: dict) -> None:
        """Factorise the matrix values the saved factorisation was made from (pattern of A)."""
        self._factor(sp.csr_matrix((snap["built_from"], A.indices, A.indptr), shape=A.shape))
        self.stale = bool(snap["stale"])
        self.built_tag = str(snap["built_tag"]) if "built_tag" in snap else ""

    def _factor(self, A) -> float:
        self.built_from = None
        t0 = time.perf_counter()
        self.factor(A)
        self.built_from = A.data.copy()
        self.built_tag = self.owner.tag
        self.generation += 1
        self.stale = False
        return time.perf_counter() - t0

    def __matmul__(self, b):  # the factorisation as CG's preconditioner
        return self.apply(b)

    def solve(self, A, b, bnorm):
        n = A.shape[0]
        reuse = self.owner.reuse and self.built_from is not None
        if reuse and not np.array_equal(self.built_from, A.data) and not self.stale:
            t0 = time.perf_counter()
            x, it, res, why = pcg(CSR(A), b, self, self.owner.rtol, FROZEN_MAX_ITERATIONS, bnorm)
            solve_s = time.perf_counter() - t0
            if not why:
                self.stale = it > FROZEN_REFACTOR_ITERATIONS
                return x, it, 0.0, solve_s, res
            if why.startswith(NEGATIVE_CURVATURE):
                # a direction with p.Ap <= 0 proves the matrix indefinite: factorising it would
                # only fail (3 minutes on the fine real face), and the factorisation kept still
                # preconditions the next matrix
                raise self.fail(n, why)
            log.info("%s: the last factorisation no longer preconditions this matrix (%s); refactorising",
                     self.name, why)
            reuse = False
        setup = 0.0
        if not (reuse and np.array_equal(self.built_from, A.data)):
            setup = self._factor(A)
        t0 = time.perf_counter()
        x = self.apply(b)
        res = rel_residual(A, x, b, bnorm) if np.all(np.isfinite(x)) else np.inf
        steps = 0
        while np.isfinite(res) and res > self.owner.rtol and steps < _DIRECT_REFINE_STEPS:
            x_new = x + self.apply(b - A @ x)
            res_new = rel_residual(A, x_new, b, bnorm)
            steps += 1
            if not res_new < res:
                break
            x, res = x_new, res_new
        solve_s = time.perf_counter() - t0
        if not self.owner.reuse:
            self.built_from = None
        if not np.isfinite(res) or res > max(self.owner.rtol, _DIRECT_RESIDUAL_FAIL):
            self.built_from = None
            raise self.fail(n, f"gave an inaccurate solution (relative residual {res:.1e}): matrix numerically singular")
        return x, 0, setup, solve_s, res


class Splu(DirectBackend):
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


class Cholmod(DirectBackend):
    name = "cholmod"

    def __init__(self, owner):
        super().__init__(owner)
        self.factor_ = None

    def factor(self, A):
        # optional back end (scikit-sparse), imported only when it is used: LinearSolver checks
        # that it loads (solver.py, _have) before making this back end
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


class Pardiso(DirectBackend):
    name = "pardiso"

    def __init__(self, owner):
        super().__init__(owner)
        self.ps = None

    def _call(self, phase, b):
        """One call to MKL's pardiso on the factorised pattern (self.a, self.ia, self.ja), written
        here rather than through pypardiso's wrapper, which converts the index arrays to int32 and
        1-based on every call (a tenth of a back-substitution on the real default face)."""
        ps = self.ps
        x = np.zeros_like(b)
        err = ctypes.c_int32(0)
        i32 = ctypes.POINTER(ctypes.c_int32)
        # One thread, whatever the caller's limits: on two, MKL PARDISO's factorisation and
        # solves differ between runs in the last bits (measured on the real default face), and
        # a resumed run must end bit-identical to an uninterrupted one. MKL's conditional
        # reproducibility mode fixes the bits on two threads, but a factorisation on two
        # threads after solves on one then crashed. The solves are memory-bound anyway.
        mkl = ps.libmkl
        before = mkl.MKL_Set_Num_Threads_Local(1)
        try:
            ps._mkl_pardiso(ps.pt.ctypes.data_as(ctypes.POINTER(ps._pt_type[0])),
                            ctypes.byref(ctypes.c_int32(1)), ctypes.byref(ctypes.c_int32(1)),  # maxfct, mnum
                            ctypes.byref(ctypes.c_int32(2)), ctypes.byref(ctypes.c_int32(phase)),  # mtype SPD
                            ctypes.byref(ctypes.c_int32(self.n)),
                            self.a.ctypes.data_as(ctypes.c_void_p), self.ia.ctypes.data_as(i32),
                            self.ja.ctypes.data_as(i32), ps.perm.ctypes.data_as(i32),
                            ctypes.byref(ctypes.c_int32(1)), ps.iparm.ctypes.data_as(i32),  # nrhs, iparm
                            ctypes.byref(ctypes.c_int32(0)),  # msglvl
                            b.ctypes.data_as(ctypes.c_void_p), x.ctypes.data_as(ctypes.c_void_p), ctypes.byref(err))
        finally:
            mkl.MKL_Set_Num_Threads_Local(before)
        return x, err.value

    def analyse(self, A) -> float:
        """Order the pattern of A and factorise it symbolically (once per pattern); returns the
        floating-point operations the numerical factorisation will take (MKL's estimate, in
        units of 10^6), which "auto" weighs against AMG (solver.AUTO_DIRECT_MAX_MFLOP)."""
        # optional back end (pypardiso, MKL), imported only when it is used, as CHOLMOD above
        from pypardiso import PyPardisoSolver

        n = A.shape[0]
        U = _upper(A)
        self.a = U.data
        self.ps = PyPardisoSolver(mtype=2)
        iparm = self.ps.iparm
        iparm[:] = 0
        iparm[0] = 1  # the values below, the rest MKL's defaults (zero)
        iparm[1] = 2  # nested dissection ordering (METIS)
        # iparm[7] = 0: no iterative refinement inside PARDISO. MKL's default when iparm[0]
        # is 0 is two steps, each a residual and another back-substitution: 0.21 s a solve
        # on the real default face instead of 0.07 s. solve() above refines only when the
        # residual asks for it, and CG with a kept factorisation needs none.
        iparm[18] = -1  # report the factorisation's operation count after the analysis
        self.n = n
        self.ia = (U.indptr + 1).astype(np.int32)  # pardiso's 1-based CSR
        self.ja = (U.indices + 1).astype(np.int32)
        try:
            self._run(11, np.zeros(n), "analysis")
        except BaseException:
            self.release()
            raise
        return float(iparm[18])

    def factor(self, A):
        if self.ps is None:
            self.analyse(A)  # the pattern (ia, ja) and these values
        else:
            self.a = _upper(A).data  # the values; the pattern was set by the analysis
        try:
            self._run(22, np.zeros(self.n), "factorisation")
        except BaseException:
            self.release()
            raise

    def _run(self, phase, b, what):
        x, code = self._call(phase, b)
        if code:
            why = "matrix not SPD" if code == -4 else f"{what} failed"
            raise self.fail(self.n, f"error {code} in {what}: {why}")
        return x

    def apply(self, b):
        return self._run(33, np.ascontiguousarray(b, dtype=np.float64), "back-substitution")

    def __del__(self):
        self.release()

    def release(self):
        if getattr(self, "ps", None) is not None:  # getattr: __del__ also runs after a failed __init__
            try:
                self.ps.free_memory(everything=True)
            except Exception:
                pass
        self.ps = None
        self.built_from = None


def _upper(A):
    """A's upper triangle in sorted CSR: what PARDISO's mtype 2 (real SPD) reads."""
    U = sp.triu(A, format="csr")
    U.sort_indices()
    return U
