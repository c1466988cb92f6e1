"""Peer solver for the sagging-cube benchmark, written with scikit-fem.

The same problem as ``sagsim bench fem``, solved by an independent code so that our
own FEM solver can be checked (u_corner) and timed against it in the same run:

* unit cube, ``n**3`` cells of six tetrahedra, taken from ``sagsim.anatomy.mesh.cube_tets``
  so both solvers see the identical mesh;
* compressible Neo-Hookean, W = mu/2 (I1 - 3) - mu ln J + lam/2 (ln J)^2;
* P1 vector elements, nodes at z = 0 clamped;
* body force per unit reference volume, ramped in ``nsteps`` equal load steps;
* full Newton (tangent reassembled every iteration), converged when
  ||R_free|| <= rtol * ||R_free at the start of the step||.
"""
from __future__ import annotations

import time

import numpy as np
import pyamg
import skfem
from skfem import Basis, BilinearForm, ElementTetP1, ElementVector, LinearForm, MeshTet
from skfem.helpers import ddot, det, dot, grad, identity, inv, transpose

from ..anatomy.mesh import cube_tets

try:  # optional, only for linear_solver="pardiso"; imported here so t_total_s excludes it
    import pypardiso
except ImportError:
    pypardiso = None

# One quadrature point is exact: P1 gradients (hence F, P and the tangent) are constant
# per element, and the body-force integrand is linear.
INTORDER = 1
MAX_NEWTON = 30


# --- weak forms ------------------------------------------------------------------------
# Everything that depends only on the current displacement (F^-T, ln J, P) is computed
# once per Newton iteration in `_state` and handed to the forms through ``w``: skfem calls
# a bilinear form once per pair of local basis functions (12 x 12 = 144 times for P1
# vectors), so the forms themselves must do only the work that involves du and v.

@LinearForm
def _internal_force(v, w):
    # R_int(v) = int P : grad v dX
    return ddot(w.P, grad(v))


@LinearForm
def _unit_body_force(v, w):
    # f_ext(v) = int b . v dX; b is constant, so this vector is assembled once
    return dot(w.b, v)


@BilinearForm
def _tangent(du, v, w):
    # dP = A : grad du with A_ijkl = mu d_ik d_jl + lam F^-T_ij F^-T_kl - c F^-T_il F^-T_kj,
    # c = lam ln J - mu
    H = grad(du)
    FiT = w.FiT
    dP = (w.mu * H
          + w.lam * ddot(FiT, H) * FiT
          - w.c * np.einsum("il...,kl...,kj...->ij...", FiT, H, FiT))
    return ddot(dP, grad(v))


def _state(basis: Basis, u: np.ndarray, mu: float, lam: float) -> dict:
    """F^-T, c = lam ln J - mu and P = mu F + c F^-T at the quadrature points."""
    G = grad(basis.interpolate(u))  # displacement gradient, (3, 3, nelems, nqp)
    F = identity(G) + G
    J = det(F)
    if np.any(J <= 0.0):
        raise FloatingPointError("skfem peer: element inverted (J <= 0)")
    FiT = transpose(inv(F))
    c = lam * np.log(J) - mu
    return {"FiT": FiT, "c": c, "P": mu * F + c * FiT}


# --- linear solvers --------------------------------------------------------------------

def _rigid_body_modes(basis: Basis, free: np.ndarray) -> np.ndarray:
    """Near-nullspace of elasticity (3 translations, 3 rotations) on the free dofs, for AMG."""
    x, y, z = basis.doflocs[:, basis.nodal_dofs[0]]
    one, zero = np.ones_like(x), np.zeros_like(x)
    modes = [(one, zero, zero), (zero, one, zero), (zero, zero, one),
             (-y, x, zero), (zero, -z, y), (z, zero, -x)]
    B = np.zeros((basis.N, 6))
    for k, comps in enumerate(modes):
        for c in range(3):
            B[basis.nodal_dofs[c], k] = comps[c]
    return B[free]


def _make_linear_solver(name: str, basis: Basis, free: np.ndarray):
    """Return ``solve(K_II, r_I) -> x_I`` for one of the skfem linear solvers."""
    if name == "direct":
        # skfem's default: scipy.sparse.linalg.spsolve (SuperLU, COLAMD ordering)
        return lambda K, r: skfem.solve(K, r, solver=skfem.solver_direct_scipy())
    if name == "pcg-amg":
        # skfem 12 has no build_pc_amg any more, so build the pyamg preconditioner
        # ourselves (smoothed aggregation with the rigid-body modes) and hand it to
        # skfem's PCG. rtol=1e-12 makes the solve exact for Newton's purposes.
        B = _rigid_body_modes(basis, free)

        def solve(K, r):
            ml = pyamg.smoothed_aggregation_solver(K.tocsr(), B=B)
            # a fresh solver each call: solver_iter_krylov keeps its kwargs (M included)
            # in a closure, so reusing one would keep the first preconditioner forever
            pcg = skfem.solver_iter_pcg(M=ml.aspreconditioner(), rtol=1e-12, atol=0.0,
                                        maxiter=1000)
            return skfem.solve(K, r, solver=pcg)

        return solve
    if name == "pardiso":
        # not part of skfem, but skfem.solve takes any solver(A, b): MKL PARDISO through
        # pypardiso, when it is installed, as the strongest direct option
        if pypardiso is None:
            raise ImportError("linear_solver='pardiso' needs the pypardiso package")
        return lambda K, r: skfem.solve(K, r, solver=lambda A, b: pypardiso.spsolve(A.tocsr(), b))
    raise ValueError(f"unknown linear_solver {name!r} "
                     "(use 'auto', 'direct', 'pcg-amg' or 'pardiso')")


# --- driver ----------------------------------------------------------------------------

def solve_sagging_cube(n: int, *, mu: float = 1.0, lam: float = 10.0,
                       body=(0.0, -0.25, 0.0), nsteps: int = 5, rtol: float = 1e-8,
                       linear_solver: str = "auto") -> dict:
    """returns {"u_corner": [ux, uy, uz] (displacement of the node at (1,1,1), floats),
                "t_total_s": wall time of the whole solve (mesh+basis setup included, import excluded),
                "t_assembly_s": total time spent assembling residual+tangent,
                "t_solve_s": total time in linear solves,
                "newton_iterations": total over all steps,
                "linear_solver": the name of the solver used}"""
    t0 = time.perf_counter()
    if linear_solver == "auto":
        # measured (2-core box, Newton total): n=8 direct 0.37 s vs pcg-amg 0.52 s, n=16
        # direct 21.5 s vs pcg-amg 4.0 s (pardiso 4.6 s), n=24 pcg-amg 19 s vs pardiso 71 s.
        # SuperLU fill-in grows fast in 3D; AMG-PCG stays ~35 iterations per solve.
        linear_solver = "pcg-amg"

    nodes, tets = cube_tets(n)
    # skfem keeps this node numbering and orientation (checked); C order avoids its copy warning
    mesh = MeshTet(np.ascontiguousarray(nodes.T), np.ascontiguousarray(tets.T))
    basis = Basis(mesh, ElementVector(ElementTetP1()), intorder=INTORDER)
    # P1 vector dofs are interleaved: component c of node i is dof 3 i + c
    clamped = basis.nodal_dofs[:, np.isclose(nodes[:, 2], 0.0)].ravel()
    free = np.setdiff1d(np.arange(basis.N), clamped)
    corner = int(np.argmin(np.linalg.norm(nodes - 1.0, axis=1)))
    linsolve = _make_linear_solver(linear_solver, basis, free)

    t_asm = t_sol = 0.0
    ta = time.perf_counter()
    f_unit = _unit_body_force.assemble(basis, b=np.asarray(body, float)[:, None, None])
    t_asm += time.perf_counter() - ta

    u = np.zeros(basis.N)
    iterations = 0
    for step in range(1, nsteps + 1):
        f_ext = (step / nsteps) * f_unit
        r0 = None
        for it in range(MAX_NEWTON + 1):
            ta = time.perf_counter()
            s = _state(basis, u, mu, lam)
            R = _internal_force.assemble(basis, P=s["P"]) - f_ext
            t_asm += time.perf_counter() - ta
            rnorm = np.linalg.norm(R[free])
            if r0 is None:
                r0 = rnorm
            if rnorm <= rtol * r0:
                break
            if it == MAX_NEWTON:
                raise RuntimeError(f"skfem peer: Newton did not converge in {MAX_NEWTON} "
                                   f"iterations at load step {step} (|R|/|R0| = {rnorm / r0:.3e})")
            ta = time.perf_counter()
            K = _tangent.assemble(basis, FiT=s["FiT"], c=s["c"], mu=mu, lam=lam)
            t_asm += time.perf_counter() - ta

            ts = time.perf_counter()  # includes extracting the free-dof block
            u[free] -= linsolve(K[free][:, free], R[free])
            t_sol += time.perf_counter() - ts
            iterations += 1

    return {
        "u_corner": [float(x) for x in u[basis.nodal_dofs[:, corner]]],
        "t_total_s": time.perf_counter() - t0,
        "t_assembly_s": t_asm,
        "t_solve_s": t_sol,
        "newton_iterations": iterations,
        "linear_solver": linear_solver,
    }


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="+")
    ap.add_argument("--linear-solver", default="auto")
    args = ap.parse_args()
    for n in args.n:
        print(json.dumps({"n": n, **solve_sagging_cube(n, linear_solver=args.linear_solver)}))
