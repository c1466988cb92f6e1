"""The parallel V-cycle: its kernels against NumPy, and the properties CG relies on."""
import numpy as np
import pyamg
import scipy.sparse as sp

from sagsim.solvers.linear.amg import CSR, VCycle
from sagsim.solvers.linear.kernels.sparse import chebyshev_step, csr_residual


def laplacian_3d(n):
    one = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n))
    eye = sp.eye(n)
    return (sp.kron(sp.kron(one, eye), eye) + sp.kron(sp.kron(eye, one), eye) + sp.kron(sp.kron(eye, eye), one)).tocsr()


def test_sparse_kernels_equal_numpy():
    rng = np.random.default_rng(0)
    A = sp.random(300, 300, density=0.05, random_state=1, format="csr")
    x, b = rng.standard_normal(300), rng.standard_normal(300)
    np.testing.assert_allclose(CSR(A) @ x, A @ x, rtol=1e-13, atol=1e-13)
    r = np.empty(300)
    csr_residual(A.indptr, A.indices, A.data, x, b, r)
    np.testing.assert_allclose(r, b - A @ x, rtol=1e-13, atol=1e-13)
    d, x2, dinv = rng.standard_normal(300), x.copy(), rng.random(300)
    d_ref = 0.3 * d + 0.7 * dinv * r
    chebyshev_step(d, x2, r, dinv, 0.3, 0.7)
    np.testing.assert_allclose(d, d_ref, rtol=1e-14)
    np.testing.assert_allclose(x2, x + d_ref, rtol=1e-14)


def test_vcycle_is_symmetric_positive_definite_and_reduces_error():
    A = laplacian_3d(12)
    M = VCycle(pyamg.smoothed_aggregation_solver(A, max_coarse=50))
    assert len(M.levels) >= 2  # a real hierarchy, not just the coarse solve
    rng = np.random.default_rng(2)
    u, v = rng.standard_normal(A.shape[0]), rng.standard_normal(A.shape[0])
    # symmetry: <M u, v> = <u, M v>, and positivity, which CG needs of a preconditioner
    assert np.isclose((M @ u) @ v, u @ (M @ v), rtol=1e-10)
    assert (M @ u) @ u > 0
    # as CG's preconditioner it beats the diagonal by far (the point of a V-cycle)
    from sagsim.solvers.linear.amg import pcg

    b = A @ rng.standard_normal(A.shape[0])
    bnorm = np.linalg.norm(b)
    jacobi = sp.diags(1.0 / A.diagonal())
    _, it_jacobi, _, why_j = pcg(A, b, jacobi, 1e-8, 1000, bnorm)
    x, it_amg, res, why = pcg(A, b, M, 1e-8, 1000, bnorm)
    assert not why and not why_j and res <= 1e-8
    assert it_amg <= 0.3 * it_jacobi, (it_amg, it_jacobi)


def test_vcycle_keeps_its_own_copy_of_the_matrix():
    A = laplacian_3d(8)
    M = VCycle(pyamg.smoothed_aggregation_solver(A, max_coarse=50))
    r = np.random.default_rng(3).standard_normal(A.shape[0])
    before = M @ r
    A.data *= 3.0  # the caller refills its buffer (a new Newton tangent)
    np.testing.assert_array_equal(M @ r, before)


def test_a_level_with_an_empty_row_is_smoothed_without_dividing_by_zero():
    # a coarse level P^T A P can hold a zero row and column (an aggregate whose near-nullspace
    # left a prolongator column zero); a thin layered slab clamped on its sides made one
    from sagsim.solvers.linear.amg import _Level

    A = laplacian_3d(4).tolil()
    A[5, :] = 0.0
    A[:, 5] = 0.0
    level = _Level(A.tocsr())
    assert np.isfinite(level.dinv).all() and level.dinv[5] == 0.0
    assert np.isfinite(level.lmax) and level.lmax > 0
    b, x, r = np.ones(A.shape[0]), np.zeros(A.shape[0]), np.empty(A.shape[0])
    level.smooth(b, x, r, zero_guess=True)
    assert np.isfinite(x).all() and x[5] == 0.0  # the empty dof is left alone
