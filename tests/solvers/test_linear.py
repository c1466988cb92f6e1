"""sagsim.solvers.linear: every back end against a dense solve, "auto", AMG reuse, failures."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sagsim.anatomy.mesh import cube_tets
from sagsim.errors import LinearSolverError, SagsimError
from sagsim.solvers.linear import amg, direct
from sagsim.solvers.linear import solver as linear
from sagsim.solvers.linear import (
    LinearSolver,
    SolveInfo,
    available_methods,
    rigid_body_modes,
    solve,
)

METHODS = available_methods()
DIRECT = [m for m in METHODS if m in linear.DIRECT_METHODS]


def elasticity_stiffness(nodes, tets, E=1.0, nu=0.3):
    """P1 linear-elastic stiffness, interleaved dofs (3*node + c), assembled with numpy."""
    lam = E * nu / ((1 + nu) * (1 - 2 * nu))
    mu = E / (2 * (1 + nu))
    X = nodes[tets]  # (M, 4, 3)
    J = X[:, 1:, :] - X[:, :1, :]  # rows: edges from vertex 0
    vol = np.abs(np.linalg.det(J)) / 6.0
    G = np.linalg.inv(J)  # columns: gradients of the barycentric coordinates 1..3
    g = np.empty((len(tets), 4, 3))
    g[:, 1:, :] = np.transpose(G, (0, 2, 1))
    g[:, 0, :] = -g[:, 1:, :].sum(axis=1)
    eye = np.eye(3)
    Ke = lam * np.einsum("mai,mbj->maibj", g, g)
    Ke += mu * np.einsum("maj,mbi->maibj", g, g)
    Ke += mu * np.einsum("mak,mbk,ij->maibj", g, g, eye)
    Ke *= vol[:, None, None, None, None]
    dofs = (3 * tets[:, :, None] + np.arange(3)).reshape(len(tets), 12)
    rows = np.repeat(dofs, 12, axis=1).ravel()
    cols = np.tile(dofs, (1, 12)).ravel()
    n = 3 * len(nodes)
    return sp.csr_matrix((Ke.reshape(len(tets), 144).ravel(), (rows, cols)), shape=(n, n))


def clamp(K, fixed):
    """Constrained dofs -> identity rows and columns (as the Newton solver hands them over)."""
    mask = np.ones(K.shape[0])
    mask[fixed] = 0.0
    D = sp.diags(mask)
    A = (D @ K @ D + sp.diags(1.0 - mask)).tocsr()
    A.eliminate_zeros()
    A.sort_indices()
    return A


@pytest.fixture(scope="module")
def cube():
    nodes, tets = cube_tets(6)  # 343 nodes, 1029 dofs: AMG gets two levels
    fixed_nodes = np.flatnonzero(nodes[:, 2] == 0.0)
    fixed = (3 * fixed_nodes[:, None] + np.arange(3)).ravel()
    K = elasticity_stiffness(nodes, tets, E=1.0, nu=0.3)
    # the assembly is right: rigid-body motions cost no energy, and K is symmetric
    assert np.abs(K @ rigid_body_modes(nodes)).max() < 1e-12
    assert abs(K - K.T).max() < 1e-14
    A = clamp(K, fixed)
    # same pattern, slightly different values: a Newton step later
    A2 = clamp(elasticity_stiffness(nodes, tets, E=1.05, nu=0.32), fixed)
    assert np.array_equal(A.indptr, A2.indptr) and np.array_equal(A.indices, A2.indices)
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    b[fixed] = 0.0
    # dense reference solutions, computed once
    x_ref = np.linalg.solve(A.toarray(), b)
    x2_ref = np.linalg.solve(A2.toarray(), b)
    return dict(nodes=nodes, tets=tets, fixed=fixed, A=A, A2=A2, b=b, x_ref=x_ref, x2_ref=x2_ref, n=A.shape[0])


def check_solution(A, b, x, info, method, rtol, x_ref=None):
    if x_ref is None:
        x_ref = np.linalg.solve(A.toarray(), b)
    res = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
    assert isinstance(info, SolveInfo)
    assert info.method == method
    assert res <= rtol
    assert info.residual == pytest.approx(res, rel=1e-3, abs=1e-16)
    # the matrix has a condition number ~1e3: the error follows the residual
    assert np.linalg.norm(x - x_ref) / np.linalg.norm(x_ref) < 1e4 * max(rtol, 1e-15)


def test_available_methods():
    assert "splu" in METHODS and "amg-cg" in METHODS
    assert set(METHODS) <= set(linear.ALL_METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_every_backend_matches_dense_solve(cube, method):
    A, b = cube["A"], cube["b"]
    s = LinearSolver(method, coords=cube["nodes"], rtol=1e-10)
    assert s.method == method
    x, info = s.solve(A, b)
    check_solution(A, b, x, info, method, 1e-10, cube["x_ref"])
    assert info.setup_s > 0.0 and info.solve_s > 0.0
    if method in linear.DIRECT_METHODS:
        assert info.iterations == 0
    else:
        assert 0 < info.iterations < 100


@pytest.mark.parametrize("method", METHODS)
def test_int64_indices_and_loose_rtol(cube, method):
    A = cube["A"].copy()
    A.indices = A.indices.astype(np.int64)
    A.indptr = A.indptr.astype(np.int64)
    b = cube["b"]
    x, info = solve(A, b, method, coords=cube["nodes"], rtol=1e-6)
    check_solution(cube["A"], b, x, info, method, 1e-6, cube["x_ref"])


@pytest.mark.parametrize("method", DIRECT)
def test_direct_reuses_factor_for_same_matrix_and_preconditions_new_values_with_it(cube, method):
    A, A2, b = cube["A"], cube["A2"], cube["b"]
    s = LinearSolver(method)
    x1, i1 = s.solve(A, b)
    assert i1.setup_s > 0.0 and i1.iterations == 0
    x1b, i1b = s.solve(A.copy(), 2.0 * b)  # same values: the factor is reused
    assert i1b.setup_s == 0.0
    np.testing.assert_allclose(x1b, 2.0 * x1, rtol=1e-12, atol=1e-14)
    x2, i2 = s.solve(A2, b)  # new values, same pattern: CG preconditioned by A's factor
    assert i2.setup_s == 0.0 and 1 < i2.iterations <= direct.FROZEN_REFACTOR_ITERATIONS
    check_solution(A2, b, x2, i2, method, 1e-10, cube["x2_ref"])
    assert np.linalg.norm(x2 - x1) > 1e-3 * np.linalg.norm(x1)  # it solved A2, not A
    # a matrix the old factor preconditions badly is factorised at once
    A3 = clamp(elasticity_stiffness(cube["nodes"], cube["tets"], E=1.0, nu=0.49), cube["fixed"])
    x3, i3 = s.solve(A3, b)
    assert i3.setup_s > 0.0
    check_solution(A3, b, x3, i3, method, 1e-10)


@pytest.mark.parametrize("method", DIRECT)
def test_a_direct_factor_that_preconditions_slowly_is_replaced_at_the_next_matrix(cube, monkeypatch, method):
    monkeypatch.setattr(direct, "FROZEN_REFACTOR_ITERATIONS", 1)
    s = LinearSolver(method)
    s.solve(cube["A"], cube["b"])
    _, i2 = s.solve(cube["A2"], cube["b"])  # more than one CG iteration: stale
    assert i2.setup_s == 0.0 and i2.iterations > 1
    _, i3 = s.solve(1.1 * cube["A2"], cube["b"])  # new values again: refactorised, not preconditioned
    assert i3.setup_s > 0.0 and i3.iterations == 0


@pytest.mark.parametrize("method", DIRECT)
def test_an_indefinite_matrix_is_refused_without_factorising_when_cg_proves_it(cube, method):
    """CG preconditioned by the kept factorisation meets p.Ap < 0 on an indefinite matrix of
    the same pattern: that proves it not SPD, so no factorisation is tried and the kept one
    stays for the next matrix."""
    from sagsim.errors import LinearSolverError

    s = LinearSolver(method)
    s.solve(cube["A"], cube["b"])
    backend = s._backend
    generation = backend.generation
    A = cube["A"]
    on_diagonal = A.indices == np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    indefinite = A.copy()  # A - c I with c between A's smallest eigenvalue and its smallest pivot
    indefinite.data -= 0.5 * A.diagonal().min() * on_diagonal
    with pytest.raises(LinearSolverError, match="negative curvature.*not SPD"):
        s.solve(indefinite, cube["b"])
    assert backend.generation == generation and backend.built_from is not None
    x, info = s.solve(cube["A2"], cube["b"])  # the kept factorisation still preconditions
    assert info.setup_s == 0.0 and info.iterations > 0
    check_solution(cube["A2"], cube["b"], x, info, method, 1e-10, cube["x2_ref"])


def test_without_reuse_a_direct_back_end_factorises_every_matrix(cube):
    s = LinearSolver("splu", reuse=False)
    for A in (cube["A"], cube["A2"], cube["A"]):
        _, info = s.solve(A, cube["b"])
        assert info.setup_s > 0.0 and info.iterations == 0


def test_auto_picks_direct_for_small_systems(cube, caplog):
    s = LinearSolver("auto", coords=cube["nodes"])
    assert s.method == "auto"
    with caplog.at_level(logging.INFO, logger="sagsim.linear"):
        x, info = s.solve(cube["A"], cube["b"])
    assert info.method == DIRECT[0]  # the preferred available direct back end
    assert s.method == info.method
    check_solution(cube["A"], cube["b"], x, info, info.method, 1e-10, cube["x_ref"])
    text = caplog.text
    assert f"auto chose {info.method} for {cube['n']} dofs" in text
    assert f"{info.method}: {cube['n']} dofs" in text


def test_auto_picks_amg_above_the_threshold(cube, monkeypatch):
    monkeypatch.setattr(linear, "AUTO_DIRECT_MAX_DOFS", {m: cube["n"] - 1 for m in linear.DIRECT_METHODS})
    x, info = solve(cube["A"], cube["b"], coords=cube["nodes"])
    assert info.method == "amg-cg"
    check_solution(cube["A"], cube["b"], x, info, "amg-cg", 1e-10, cube["x_ref"])
    monkeypatch.setattr(linear, "AUTO_DIRECT_MAX_DOFS", {m: cube["n"] for m in linear.DIRECT_METHODS})
    assert solve(cube["A"], cube["b"])[1].method == DIRECT[0]


@pytest.mark.skipif(not linear._have("pardiso"), reason="PARDISO (pypardiso) not installed")
def test_auto_weighs_pardisos_factorisation_against_amg(cube, monkeypatch, caplog):
    # the analysis's operation count decides, not the dofs: above the limit amg-cg takes over
    monkeypatch.setattr(linear, "AUTO_DIRECT_MAX_DOFS", {"cholmod": 0, "pardiso": cube["n"], "splu": 0})
    monkeypatch.setattr(linear, "_have", lambda m: m in ("pardiso", "amg-cg", "splu"))
    assert solve(cube["A"], cube["b"])[1].method == "pardiso"  # the cube's few MFLOP are under the limit
    monkeypatch.setattr(linear, "AUTO_DIRECT_MAX_MFLOP", 0.0)
    with caplog.at_level(logging.INFO, logger="sagsim.linear"):
        x, info = solve(cube["A"], cube["b"], coords=cube["nodes"])
    assert info.method == "amg-cg"
    assert "pardiso's factorisation would take" in caplog.text
    check_solution(cube["A"], cube["b"], x, info, "amg-cg", 1e-10, cube["x_ref"])


def test_auto_falls_back_to_direct_when_amg_stalls(cube, monkeypatch, caplog):
    monkeypatch.setattr(linear, "AUTO_DIRECT_MAX_DOFS", {m: 0 for m in linear.DIRECT_METHODS})
    s = LinearSolver("auto", coords=cube["nodes"], maxiter=1)  # CG cannot converge in 1 iteration
    with caplog.at_level(logging.WARNING, logger="sagsim.linear"):
        x, info = s.solve(cube["A"], cube["b"])
    assert info.method == DIRECT[0] and s.method == DIRECT[0]
    assert "auto falls back to" in caplog.text
    check_solution(cube["A"], cube["b"], x, info, info.method, 1e-10, cube["x_ref"])
    # too large for any direct back end: the amg-cg error stands
    monkeypatch.setattr(linear, "FALLBACK_DIRECT_MAX_DOFS", {m: 0 for m in linear.DIRECT_METHODS})
    with pytest.raises(LinearSolverError, match="amg-cg did not converge"):
        LinearSolver("auto", coords=cube["nodes"], maxiter=1).solve(cube["A"], cube["b"])


def test_auto_leaves_amg_that_converges_too_slowly_for_a_direct_back_end(cube, monkeypatch, caplog):
    """A tangent AMG preconditions badly (the real face's: 0.02 digits per iteration) goes to
    a direct back end after a short trial, under "auto" only, and only where one may take it."""
    monkeypatch.setattr(linear, "AUTO_DIRECT_MAX_DOFS", {m: 0 for m in linear.DIRECT_METHODS})
    monkeypatch.setattr(amg, "AUTO_AMG_PATIENCE", (3, 10.0))  # ten digits per iteration: none is that fast
    with caplog.at_level(logging.WARNING, logger="sagsim.linear"):
        x, info = LinearSolver("auto", coords=cube["nodes"]).solve(cube["A"], cube["b"])
    assert info.method == DIRECT[0] and "converges too slowly" in caplog.text
    check_solution(cube["A"], cube["b"], x, info, info.method, 1e-10, cube["x_ref"])
    # asked for by name, or with no direct back end to take over, amg-cg keeps going
    _, info = LinearSolver("amg-cg", coords=cube["nodes"]).solve(cube["A"], cube["b"])
    assert info.method == "amg-cg"
    monkeypatch.setattr(linear, "FALLBACK_DIRECT_MAX_DOFS", {m: 0 for m in linear.DIRECT_METHODS})
    _, info = LinearSolver("auto", coords=cube["nodes"]).solve(cube["A"], cube["b"])
    assert info.method == "amg-cg"


def test_per_call_tolerance(cube):
    s = LinearSolver("amg-cg", coords=cube["nodes"])
    loose = s.solve(cube["A"], cube["b"], rtol=1e-3)[1]
    tight = s.solve(cube["A"], cube["b"])[1]
    assert loose.residual <= 1e-3 and tight.residual <= 1e-10 and loose.iterations < tight.iterations
    assert s.rtol == 1e-10


def test_auto_threshold_values_are_sane():
    t = linear.AUTO_DIRECT_MAX_DOFS
    assert set(t) == set(linear.DIRECT_METHODS)
    # splu (SuperLU) factorises 3D elasticity far slower than CHOLMOD or PARDISO
    assert 1_000 <= t["splu"] < t["cholmod"] and t["cholmod"] <= 200_000 and t["pardiso"] <= 200_000


def test_amg_reuses_hierarchy_on_changed_matrix(cube):
    A, A2, b = cube["A"], cube["A2"], cube["b"]
    s = LinearSolver("amg-cg", coords=cube["nodes"])
    x1, i1 = s.solve(A, b)
    assert i1.setup_s > 0.0
    ml = s._backend.ml
    x2, i2 = s.solve(A2, b)
    assert i2.method == "amg-cg"
    assert i2.setup_s == 0.0
    assert s._backend.ml is ml
    check_solution(A2, b, x2, i2, "amg-cg", 1e-10, cube["x2_ref"])
    # the same answer as a fresh solver on the changed matrix
    x2_fresh, i2_fresh = LinearSolver("amg-cg", coords=cube["nodes"]).solve(A2, b)
    assert i2_fresh.setup_s > 0.0
    np.testing.assert_allclose(x2, x2_fresh, rtol=0, atol=1e-7 * np.abs(x2_fresh).max())


def test_amg_without_reuse_rebuilds_every_call(cube):
    s = LinearSolver("amg-cg", coords=cube["nodes"], reuse=False)
    s.solve(cube["A"], cube["b"])
    _, info = s.solve(cube["A2"], cube["b"])
    assert info.setup_s > 0.0


def test_amg_rebuilds_when_convergence_slows(cube, monkeypatch):
    # every judged solve counts as "converging too slowly": the next call must rebuild (the
    # first AMG_BASE_SOLVES after a build set the reference rate and are not judged)
    monkeypatch.setattr(amg, "AMG_REBUILD_RATE", 1e9)
    s = LinearSolver("amg-cg", coords=cube["nodes"])
    assert s.solve(cube["A"], cube["b"])[1].setup_s > 0.0
    for _ in range(amg.AMG_BASE_SOLVES):
        assert s.solve(cube["A2"], cube["b"])[1].setup_s == 0.0
    x, info = s.solve(cube["A"], cube["b"])
    assert info.setup_s > 0.0
    check_solution(cube["A"], cube["b"], x, info, "amg-cg", 1e-10, cube["x_ref"])


def test_amg_rebuilds_when_the_reused_hierarchy_fails(cube):
    s = LinearSolver("amg-cg", coords=cube["nodes"])
    s.solve(cube["A"], cube["b"])
    n = cube["A"].shape[0]
    # a broken (negative definite) preconditioner: CG breaks down at once
    s._backend.M = spla.LinearOperator((n, n), matvec=lambda r: -r)
    x, info = s.solve(cube["A2"], cube["b"])
    assert info.setup_s > 0.0
    check_solution(cube["A2"], cube["b"], x, info, "amg-cg", 1e-10, cube["x2_ref"])


def test_amg_without_coords_uses_translations(cube):
    x, info = solve(cube["A"], cube["b"], "amg-cg", maxiter=1000)
    check_solution(cube["A"], cube["b"], x, info, "amg-cg", 1e-10, cube["x_ref"])


def test_pattern_change_starts_over(cube):
    s = LinearSolver("auto")
    s.solve(cube["A"], cube["b"])
    A = cube["A"][:200, :200].tocsr()  # another pattern and size (still SPD)
    b = cube["b"][:200]
    x, info = s.solve(A, b)
    assert info.setup_s > 0.0
    check_solution(A, b, x, info, info.method, 1e-10)


def test_zero_rhs_gives_zero(cube):
    x, info = solve(cube["A"], np.zeros(cube["A"].shape[0]), "amg-cg")
    assert not x.any() and info.residual == 0.0


def _indefinite(cube):
    """A - s I with s half the smallest diagonal entry: the diagonal stays positive (so only
    the back end itself can notice), but the low modes turn negative."""
    A = cube["A"]
    s = 0.5 * A.diagonal().min()
    B = (A - s * sp.identity(A.shape[0], format="csr")).tocsr()
    assert (B.diagonal() > 0).all()
    v = cube["x_ref"]  # = A^-1 b: dominated by the low modes
    assert v @ (B @ v) < 0.0  # so B is indefinite
    return B


@pytest.mark.parametrize("method", METHODS)
def test_not_spd_raises(cube, method):
    B = _indefinite(cube)
    with pytest.raises(LinearSolverError) as e:
        LinearSolver(method, coords=cube["nodes"]).solve(B, cube["b"])
    msg = str(e.value)
    assert msg.startswith(method) and f"{cube['n']} dofs" in msg and "\n" not in msg
    assert isinstance(e.value, SagsimError)


@pytest.mark.parametrize("method", METHODS)
def test_singular_matrix_raises(cube, method):
    A = cube["A"].tolil()
    A[7, :] = 0.0
    A[:, 7] = 0.0
    A = A.tocsr()
    with pytest.raises(LinearSolverError, match=rf"^{method}\b.*matrix not SPD.*{cube['n']} dofs"):
        solve(A, cube["b"], method)


@pytest.mark.parametrize("method", DIRECT)
def test_direct_numerically_singular_raises(cube, method):
    # positive diagonal but an exact nullspace: two identical, decoupled 2x2 blocks of rank 1
    A = cube["A"].tolil()
    for i in (10, 11):
        A[i, :] = 0.0
        A[:, i] = 0.0
    A[10, 10] = A[11, 11] = A[10, 11] = A[11, 10] = 1.0
    with pytest.raises(LinearSolverError, match=rf"^{method} "):
        solve(A.tocsr(), cube["b"], method)


def test_amg_nonconvergence_raises(cube):
    with pytest.raises(LinearSolverError) as e:
        solve(cube["A"], cube["b"], "amg-cg", coords=cube["nodes"], maxiter=1)
    msg = str(e.value)
    assert msg.startswith("amg-cg did not converge in 1 iterations (relative residual ")
    assert msg.endswith(f"on {cube['n']} dofs")


def test_unavailable_or_unknown_method(monkeypatch):
    monkeypatch.setitem(linear._AVAILABLE, "cholmod", False)
    with pytest.raises(LinearSolverError, match=r"^linear solver cholmod: not available here: install its package "
                                                r"\(pip install scikit-sparse\)"):
        LinearSolver("cholmod")
    with pytest.raises(LinearSolverError, match="unknown method"):
        LinearSolver("umfpack")


def test_bad_inputs(cube):
    s = LinearSolver("splu", coords=cube["nodes"])
    with pytest.raises(ValueError, match="b must have shape"):
        s.solve(cube["A"], np.ones(3))
    with pytest.raises(ValueError, match="coords"):
        LinearSolver("amg-cg", coords=cube["nodes"][:10]).solve(cube["A"], cube["b"])
    A = cube["A"].copy()
    A.data[0] = np.nan
    with pytest.raises(LinearSolverError, match="non-finite"):
        s.solve(A, cube["b"])


def small_kron_system(m=3, shift=0.0):
    """kron(3D grid Laplacian with Dirichlet ends, 3x3 SPD coupling) - shift I: m^3 nodes,
    interleaved dofs, SPD for shift = 0."""
    T1 = sp.diags([-np.ones(m - 1), 2.0 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1])
    I1 = sp.identity(m)
    L = sp.kron(sp.kron(T1, I1), I1) + sp.kron(sp.kron(I1, T1), I1) + sp.kron(sp.kron(I1, I1), T1)
    S = np.array([[2.0, 0.5, 0.2], [0.5, 2.0, 0.3], [0.2, 0.3, 2.0]])
    A = (sp.kron(L, S) - shift * sp.identity(3 * m**3)).tocsr()
    g = np.linspace(0.0, 1.0, m)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    coords = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    return A, coords


@pytest.mark.parametrize("method", METHODS)
def test_small_kron_system(method):
    A, coords = small_kron_system()
    b = np.arange(A.shape[0], dtype=float) - 40.0
    x, info = solve(A, b, method, coords=coords)
    check_solution(A, b, x, info, method, 1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_small_indefinite_raises(method):
    # tiny systems take other code paths: CHOLMOD would pick a simplicial LDL^T (which accepts
    # indefinite matrices) and AMG has a single level (the coarse Cholesky is on A itself)
    A, coords = small_kron_system(shift=8.0)  # eigenvalues of kron(L, S) span ~2.6..28
    assert (A.diagonal() > 0).all()
    with pytest.raises(LinearSolverError, match=rf"^{method} .*not SPD on 81 dofs$"):
        solve(A, np.ones(81), method, coords=coords)


@pytest.mark.parametrize("method", ["amg-cg"] + DIRECT)
def test_a_restored_snapshot_continues_bit_identically(cube, method):
    """What a resumed aging run relies on: the hierarchy or factorisation and its
    bookkeeping, restored in a new solver, give the same bits as the solver that kept going."""
    s = LinearSolver(method, coords=cube["nodes"])
    s.solve(cube["A"], cube["b"], rtol=1e-3)
    snap = s.snapshot()
    x1, i1 = s.solve(cube["A2"], cube["b"], rtol=1e-8)
    t = LinearSolver(method, coords=cube["nodes"])
    t.restore(snap)
    x2, info = t.solve(cube["A2"], cube["b"], rtol=1e-8)
    assert info.setup_s == 0.0 and info.iterations == i1.iterations > 0 and np.array_equal(x1, x2)


def test_solvers_run_with_blas_on_one_thread(monkeypatch):
    """numba's kernels and BLAS's threads would fight for the cores (FIRE on the default face
    13x slower): every solver entry point limits BLAS to one thread while it runs."""
    from threadpoolctl import threadpool_info

    from sagsim.solvers import blas, fem
    from sagsim.solvers.springs import integrators as spring_integrators

    seen = []

    @blas.blas_on_one_thread
    def probe():
        seen.extend(d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas")

    probe()
    assert seen and set(seen) == {1}
    for fn in (fem.solve_static, spring_integrators.solve_static_springs, spring_integrators.run_explicit,
               spring_integrators.run_implicit_euler, linear.LinearSolver.solve):
        assert getattr(fn, "__wrapped__", None) is not None, fn.__qualname__


def test_the_first_solve_rounds_as_the_next_identical_one(tmp_path):
    """In a fresh process: a direct back end's library loaded during the first solve used to
    miss that solve's BLAS thread limit, so the first of two identical solves differed from
    the second in the last digit (with CHOLMOD installed)."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from sagsim.anatomy.slab import layered_slab\n"
        "from sagsim.solvers.fem import NewtonOptions, solve_static\n"
        "m = layered_slab(cells='coarse')\n"
        "a, b = (solve_static(m, options=NewtonOptions(n_steps=2, formulation='anp'))[0].x for _ in range(2))\n"
        "assert np.array_equal(a, b), float(np.abs(a - b).max())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
