"""The quadratic tetrahedron with a mean dilatation (formulation "tet10"): its kernel against a
plain NumPy twin written from the definition, its assembled tangent against finite
differences, its body force, midside constraints, and the answers that chose it (no locking,
the sagging cube). The patch test, uniaxial stretch and simple shear run for it with every
formulation in test_verification.py."""
from __future__ import annotations

import numpy as np
import pytest

from sagsim.anatomy.mesh import box_tets
from sagsim.bench.fem_cube import sagging_cube
from sagsim.materials import MooneyRivlin, NeoHookean
from sagsim.model import Layer, Springs, State, TissueModel
from sagsim.solvers.fem import FEMSystem, NewtonOptions, solve_static
from sagsim.solvers.fem.kernels import tet10
from sagsim.solvers.fem.kernels.tet4 import MOONEY_RIVLIN, NEO_HOOKEAN
from sagsim.solvers.fem.quadratic import QuadraticSystem

from test_verification import cantilever_tip

RNG = np.random.default_rng(7)
CORNERS = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]]) + 0.1 * RNG.standard_normal((4, 3))
GROWTH = np.diag([1.1, 0.9, 1.05]) + 0.02 * RNG.standard_normal((3, 3))


def twin_energy(kind, p0, p1, k, X4, u, Fg):
    """The element's energy from the definition, in plain NumPy: W_s at the four Gauss points
    of the quadratic field, U = k/2 (ln Jbar)^2 of the points' mean J, on the grown element."""
    X = np.concatenate([X4, [(X4[i] + X4[j]) / 2 for i, j in tet10.EDGES]])
    Dm = (X4[1:] - X4[0]).T
    grad_l = np.vstack([-np.linalg.inv(Dm).sum(axis=0), np.linalg.inv(Dm)])  # rows: grad lambda_i
    V = np.linalg.det(Dm) / 6.0 * np.linalg.det(Fg)
    Js, energy = [], 0.0
    for L in tet10.GAUSS:
        # grad N_a = d/dX of the shape functions, by the chain rule from the barycentric ones
        dN = np.array([[(4 * L[a] - 1) * grad_l[a] for a in range(4)]
                       + [4 * (L[i] * grad_l[j] + L[j] * grad_l[i]) for i, j in tet10.EDGES]])[0]
        F = (X + u).T @ dN @ np.linalg.inv(Fg)
        J = np.linalg.det(F)
        I1 = np.trace(F.T @ F)
        Js.append(J)
        if kind == NEO_HOOKEAN:
            W = 0.5 * p0 * (I1 - 3) - p0 * np.log(J)
        else:
            I1b = J ** (-2 / 3) * I1
            W = p0 * (I1b - 3) + p1 * (I1b - 3) ** 2
        energy += V / 4 * W
    return energy + V * 0.5 * k * np.log(np.mean(Js)) ** 2


def kernel(kind, p0, p1, k, u, Fg):
    Dm = (CORNERS[1:] - CORNERS[0]).T
    Fi = np.linalg.inv(Fg)
    return tet10.element_force_tangent(kind, p0, p1, k, u, np.linalg.inv(Dm) @ Fi, np.linalg.det(Dm) / 6.0
                                       * np.linalg.det(Fg), Fi - np.eye(3), tet10.COEF)


@pytest.mark.parametrize("law", [(NEO_HOOKEAN, 1.0, 0.0, 20.0), (MOONEY_RIVLIN, 0.4, 0.3, 30.0)])
@pytest.mark.parametrize("grown", [False, True])
def test_kernel_matches_its_numpy_twin(law, grown):
    Fg = GROWTH if grown else np.eye(3)
    u = 0.05 * RNG.standard_normal((10, 3))
    f, K, e = kernel(*law, u, Fg)
    assert e == pytest.approx(twin_energy(*law, CORNERS, u, Fg), rel=1e-12)
    h = 1e-6
    f_fd, K_fd = np.zeros(30), np.zeros((30, 30))
    for d in range(30):
        up, um = u.copy(), u.copy()
        up.flat[d] += h
        um.flat[d] -= h
        f_fd[d] = (twin_energy(*law, CORNERS, up, Fg) - twin_energy(*law, CORNERS, um, Fg)) / (2 * h)
        K_fd[:, d] = (kernel(*law, up, Fg)[0] - kernel(*law, um, Fg)[0]).ravel() / (2 * h)
    scale = np.abs(f_fd).max()
    assert np.abs(f.ravel() - f_fd).max() < 1e-7 * scale
    assert np.abs(K - K_fd).max() < 1e-7 * np.abs(K_fd).max()
    assert np.abs(K - K.T).max() < 1e-12 * np.abs(K).max()


def two_material_box(n=3) -> TissueModel:
    """A box of two layers (a stiff top over a nearly incompressible base), interior nodes
    moved off the grid, one spring between two nodes."""
    nodes, tets = box_tets((n, n, n))
    inner = (nodes > 1e-9).all(axis=1) & (nodes < 1 - 1e-9).all(axis=1)
    nodes[inner] += RNG.uniform(-0.15, 0.15, (inner.sum(), 3)) / n
    top = nodes[tets].mean(axis=1)[:, 2] > 0.6
    layer = np.where(top, Layer.SKIN, Layer.DEEP_FAT).astype(np.int8)
    mats = {Layer.SKIN: NeoHookean(mu=20.0, lam=80.0, density=1.0),
            Layer.DEEP_FAT: MooneyRivlin(c10=0.5, c20=0.2, kappa=50.0, density=1.0)}
    springs = Springs(nodes=[[0, len(nodes) - 1]], anchors=[[0.0, 0.0, 0.0]], stiffness=[3.0],
                      rest_length=[1.5], tension_only=[False], group=[0], names=("spring",))
    return TissueModel(nodes=nodes, tets=tets, tet_layer=layer, materials=mats,
                       fixed=np.flatnonzero(nodes[:, 2] == 0.0), springs=springs, gravity=(0.0, -1.0, 0.0))


def test_assembled_tangent_is_the_derivative_of_the_assembled_force():
    model = two_material_box()
    system = FEMSystem(model, formulation="tet10")
    assert isinstance(system, QuadraticSystem) and system.n_nodes > model.n_nodes
    growth = np.broadcast_to(GROWTH, (model.n_tets, 3, 3)).copy()
    system.set_reference(model.nodes, growth)
    u = 0.004 * RNG.standard_normal((system.n_nodes, 3))  # a midside's move counts fourfold in F
    ev = system.evaluate(u=u)
    assert ev.inverted == 0
    K = ev.tangent.toarray()
    assert np.abs(K - K.T).max() < 1e-10 * np.abs(K).max()
    h = 1e-6
    for _ in range(3):
        d = RNG.standard_normal(u.shape)
        fp = system.evaluate(u=u + h * d, want_tangent=False)
        fm = system.evaluate(u=u - h * d, want_tangent=False)
        dK = (fp.force - fm.force) / (2 * h)
        assert np.abs(K @ d.ravel() - dK).max() < 1e-6 * np.abs(dK).max()
        # the force is the energy's gradient
        de = (fp.energy - fm.energy) / (2 * h)
        assert ev.force @ d.ravel() == pytest.approx(de, rel=1e-6)


def test_body_force_weighs_the_whole_mass_and_corners_pull_against_it():
    model = two_material_box()
    system = FEMSystem(model, formulation="tet10")
    f = system.gravity_force(np.array([0.0, -9.81, 0.0])).reshape(-1, 3)
    mass = sum(m.density * v for m, v in ((model.materials[Layer(l)], v) for l, v in
                                          zip(model.tet_layer, np.abs(np.linalg.det(
                                              model.nodes[model.tets[:, 1:]] - model.nodes[model.tets[:, :1]])) / 6)))
    assert f[:, 1].sum() == pytest.approx(-9.81 * mass, rel=1e-12)
    # one element: each corner -1/20 of its weight, each midside 1/5
    one = TissueModel(nodes=CORNERS, tets=np.array([[0, 1, 2, 3]]), tet_layer=np.zeros(1, np.int8),
                      materials={Layer.SKIN: NeoHookean(mu=1.0, lam=1.0, density=2.0)}, fixed=np.array([0]))
    w = FEMSystem(one, formulation="tet10").gravity_force(np.array([0.0, 0.0, 1.0])).reshape(-1, 3)[:, 2]
    V = np.linalg.det(CORNERS[1:] - CORNERS[0]) / 6.0
    np.testing.assert_allclose(w, 2.0 * V * np.r_[[-0.05] * 4, [0.2] * 6], rtol=1e-12)


def test_a_midside_is_held_where_both_ends_of_its_edge_are():
    model = two_material_box(2)
    system = FEMSystem(model, formulation="tet10")
    fixed = model.fixed
    dofs = (3 * fixed[:, None] + np.arange(3)).ravel()
    target = np.tile([0.1, 0.0, -0.2], len(fixed))
    target[0::3] += model.nodes[fixed, 0]  # a varying target: each midside takes its ends' mean
    out, vals = system.extended_constraints(dofs, target)
    held = np.isin(system.edges, fixed).all(axis=1)
    assert len(out) == len(dofs) + 3 * held.sum()
    mid = system.n_vertices + np.flatnonzero(held)
    at = np.searchsorted(out, 3 * mid)
    assert (out[at] == 3 * mid).all()
    ends = system.edges[held]
    np.testing.assert_allclose(vals[at], 0.1 + 0.5 * (model.nodes[ends[:, 0], 0] + model.nodes[ends[:, 1], 0]))


def test_a_solve_keeps_its_midside_nodes_and_restarts_from_them():
    model = two_material_box()
    opts = NewtonOptions(formulation="tet10", n_steps=1, rtol=1e-10)
    state, log = solve_static(model, options=opts)
    mid = state.internal["midside"]
    assert state.x.shape == model.nodes.shape and mid.shape[1] == 3
    # the midsides are not the edges' midpoints under gravity: the element is quadratic
    system = FEMSystem(model, formulation="tet10")
    assert np.abs(mid - system.extended(state.x)[model.n_nodes:]).max() > 1e-6
    again, log2 = solve_static(model, state, options=opts)
    assert log2.newton_iterations == 0
    np.testing.assert_allclose(again.x, state.x)


def test_does_not_lock_near_incompressibility():
    # Cantilever under its own weight (test_verification.py), fractions of Timoshenko beam
    # theory. Measured (nu = 0.3 / 0.49 / 0.499): 1 cell through the thickness 1.106 / 1.124 /
    # 1.124, 2 cells 1.012 / 0.993 / 0.992, 4 cells 0.996 / 0.978 / 0.976. One cell is too soft:
    # a constant pressure per element cannot carry bending's pressure, linear through the
    # thickness. Two cells are within 1.5 % of four; es-anp's two cells bend 0.86 at nu = 0.3.
    two = cantilever_tip(2, 0.499, "tet10")
    assert two == pytest.approx(0.99, abs=0.02)
    assert cantilever_tip(1, 0.499, "tet10") > two  # converging from above


@pytest.mark.parametrize("lam, reference", [(10.0, -0.25922), (49.0, -0.2518)])
def test_sagging_cube_is_converged_on_a_coarse_mesh(lam, reference):
    # The references are the Richardson limits of the edge-smoothed element's n = 16, 24, 32
    # series (docs/elements.md, an independent element). Measured: lambda = 10, n = 4 / 8 / 16:
    # -0.25958 / -0.25914 / -0.25919; lambda = 49: -0.25215 / -0.25176 / -0.25190.
    u = []
    for n in (4, 8):
        model = sagging_cube(n, lam)
        state, _ = solve_static(model, options=NewtonOptions(formulation="tet10", n_steps=5, rtol=1e-8))
        corner = int(np.flatnonzero((model.nodes == 1.0).all(axis=1))[0])
        u.append(state.x[corner, 1] - 1.0)
    assert u[0] == pytest.approx(reference, rel=0.005)
    assert u[1] == pytest.approx(reference, rel=0.002)


def test_a_state_from_another_mesh_size_is_not_taken_for_midsides():
    model = two_material_box()
    stale = State(x=model.nodes.copy(), reference=model.nodes, internal={"midside": np.zeros((3, 3))})
    state, _ = solve_static(model, stale, options=NewtonOptions(formulation="tet10", n_steps=1))
    assert np.isfinite(state.internal["midside"]).all() and len(state.internal["midside"]) > 3


def test_partitions_assemble_what_one_thread_does():
    # elements of different partitions share no corner, so no midside either: the threads write
    # disjoint rows; a race would show as a difference from the one-partition assembly
    import numba

    model = sagging_cube(6)
    u = 0.01 * RNG.standard_normal((model.n_nodes, 3))
    threads = numba.get_num_threads()
    out = []
    for t in (1, max(threads, 2)):
        numba.set_num_threads(min(t, numba.config.NUMBA_NUM_THREADS))
        try:
            system = FEMSystem(model, formulation="tet10")
            ev = system.evaluate(u=system.extended(u))
            out.append((ev.force, ev.tangent.copy()))
        finally:
            numba.set_num_threads(threads)
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=0, atol=1e-12 * np.abs(out[0][0]).max())
    assert abs(out[0][1] - out[1][1]).max() <= 1e-12 * abs(out[0][1]).max()


def test_mean_deformation_gradient_is_the_gauss_points_mean():
    model = two_material_box(2)
    system = FEMSystem(model, formulation="tet10")
    A = np.eye(3) + 0.1 * RNG.standard_normal((3, 3))
    x_ext = system.extended(model.nodes) @ A.T + 0.3 * np.ones(3)
    # an affine field: every element's corner gradient
    F = system.mean_deformation_gradients(x_ext[:model.n_nodes], x_ext[model.n_nodes:])
    np.testing.assert_allclose(F, np.broadcast_to(A, F.shape), atol=1e-12)
    # a quadratic one: the mean of F over the four Gauss points (exact for a linear F)
    x_ext[model.n_nodes:] += 0.01 * RNG.standard_normal((system.n_nodes - model.n_nodes, 3))
    F = system.mean_deformation_gradients(x_ext[:model.n_nodes], x_ext[model.n_nodes:])
    tets10 = np.concatenate([model.tets, model.n_nodes + system.tet_edges], axis=1)
    e = 5
    X4 = model.nodes[model.tets[e]]
    grad_l = np.vstack([-np.linalg.inv((X4[1:] - X4[0]).T).sum(axis=0), np.linalg.inv((X4[1:] - X4[0]).T)])
    mean = sum(x_ext[tets10[e]].T @ (tet10.COEF[q] @ grad_l) for q in range(4)) / 4
    np.testing.assert_allclose(F[e], mean, atol=1e-12)


def test_midside_prolongation_interpolates_a_linear_field_exactly():
    model = sagging_cube(2)
    system = FEMSystem(model, formulation="tet10")
    G, c = RNG.standard_normal((3, 3)), RNG.standard_normal(3)
    field = lambda x: x @ G.T + c  # noqa: E731
    P = system.linear.coarse.prolongation
    on_all = P @ field(model.nodes).ravel()
    np.testing.assert_allclose(on_all.reshape(-1, 3), field(system.extended(model.nodes)), atol=1e-12)


def test_amg_aggregates_the_corners_field_and_solves_what_a_direct_solver_does():
    # p-multigrid: Chebyshev smoothing on the quadratic tangent, smoothed aggregation below it
    # over the corners' linear field (amg.CoarseSpace). Newton is given amg-cg by name: the
    # solver it makes for the system must keep the midside nodes and the coarse space.
    model = sagging_cube(4)
    opts = NewtonOptions(formulation="tet10", n_steps=2, rtol=1e-8)
    direct, _ = solve_static(model, options=opts)
    system = FEMSystem(model, formulation="tet10")
    iterative, log = solve_static(model, options=NewtonOptions(formulation="tet10", n_steps=2, rtol=1e-8,
                                                               linear_solver="amg-cg"), system=system)
    assert log.steps[-1].linear_method == "amg-cg" and log.steps[-1].linear_iterations > 0
    backend = system.linear._backend
    assert backend.M.levels[0].n == system.ndof and backend.ml.levels[0].A.shape[0] == 3 * model.n_nodes
    np.testing.assert_allclose(iterative.x, direct.x, atol=1e-9)
    np.testing.assert_allclose(iterative.internal["midside"], direct.internal["midside"], atol=1e-9)


def test_a_system_switched_to_tet10_gets_a_solver_for_its_midside_nodes():
    model = sagging_cube(2)
    linear = FEMSystem(model, formulation="standard", linear="amg-cg")
    state, _ = solve_static(model, options=NewtonOptions(formulation="tet10", n_steps=1, linear_solver="amg-cg"),
                            system=linear)
    assert state.internal["midside"].shape[1] == 3 and np.isfinite(state.x).all()
