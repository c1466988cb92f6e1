"""The Newton solver's promises: convergence criteria, quadratic convergence, warm starts,
cut-back, and honest failure."""
import numpy as np
import pytest

from sagsim.anatomy.mesh import box_tets
from sagsim.errors import ConvergenceError
from sagsim.materials import NeoHookean
from sagsim.model import Layer, Loads, State, TissueModel
from sagsim.solvers.fem import NewtonOptions, constrained_dofs, solve_static


def sagging_block(n=3, gravity=0.25, lam=10.0):
    """Unit block on its z = 0 face, sagging under a body force along -y (the benchmark problem)."""
    nodes, tets = box_tets((n, n, n))
    return TissueModel(nodes=nodes, tets=tets, tet_layer=np.zeros(len(tets), np.int8),
                       materials={Layer.SKIN: NeoHookean(mu=1.0, lam=lam, density=1.0)},
                       fixed=np.flatnonzero(nodes[:, 2] == 0), gravity=[0.0, -gravity, 0.0])


def test_steps_meet_both_criteria_and_converge_quadratically():
    model = sagging_block()
    opts = NewtonOptions(n_steps=2, rtol=1e-10, quasi_newton=False)  # Newton's own rate
    _, log = solve_static(model, options=opts)
    assert [s.converged for s in log.steps] == [True, True]
    for s in log.steps:
        r = np.array(s.residuals)
        assert r[-1] <= 1e-10 * r[0]
        # quadratic convergence: each ratio r_{k+1}/r_k^2 stays bounded once in the basin
        ratios = r[2:] / r[1:-1] ** 2 * r[0]
        assert (ratios < 10.0).all(), r
    assert "step" in log.table() and log.newton_iterations == sum(len(s.residuals) - 1 for s in log.steps)


def test_fixed_nodes_stay_and_gravity_pulls_down():
    model = sagging_block()
    state, _ = solve_static(model)
    u = state.x - model.nodes
    assert not u[model.fixed].any()
    assert u[:, 1].max() <= 1e-15 and u[:, 1].min() < -0.01


def test_warm_start_from_equilibrium_needs_no_iteration():
    model = sagging_block()
    state, _ = solve_static(model)
    again, log = solve_static(model, state, from_loads=Loads(), options=NewtonOptions(n_steps=3))
    assert log.newton_iterations == 0
    np.testing.assert_array_equal(again.x, state.x)


def test_cut_back_rescues_a_too_large_step_and_agrees_with_small_steps():
    model = sagging_block(gravity=1.5, lam=2.0)  # large shear: one full step overshoots
    ref, _ = solve_static(model, options=NewtonOptions(n_steps=16))
    state, log = solve_static(model, options=NewtonOptions(n_steps=1, max_iterations=6))
    assert log.cutbacks >= 1 and log.steps[-1].converged and log.steps[-1].load_to == 1.0
    assert any(not s.converged and s.reason for s in log.steps)
    np.testing.assert_allclose(state.x, ref.x, atol=1e-9)


def test_failure_names_the_step_and_the_reason():
    model = sagging_block(gravity=1e4)  # far beyond what the block can carry
    with pytest.raises(ConvergenceError, match=r"load step 1 .* failed after 2 cut-backs"):
        solve_static(model, options=NewtonOptions(n_steps=1, max_cutbacks=2, max_iterations=5))


def swollen_start(model):
    """The block swollen to 3.4 times its volume (J > e, where the volumetric energy (k/2) ln^2 J
    turns concave), its clamped face kept: the tangent there is indefinite."""
    x = 1.5 * model.nodes
    x[model.fixed] = model.nodes[model.fixed]  # nothing is prescribed to move
    return State(x=x, reference=model.nodes.copy())


def test_a_start_with_an_element_inside_out_fails_at_once_without_cutting_back(caplog):
    # a smaller load step would start from the same positions: nothing to cut
    model = sagging_block()
    x = model.nodes.copy()
    top = int(np.flatnonzero((model.nodes == 1.0).all(axis=1))[0])
    x[top] = [0.2, 0.2, 0.2]  # the corner pushed through its elements
    with pytest.raises(ConvergenceError, match=r"load step 1 cannot start: \d+ inverted elements.*same state"):
        solve_static(model, State(x=x, reference=model.nodes.copy()), options=NewtonOptions(n_steps=1))
    assert "cutting" not in caplog.text


def test_an_indefinite_tangent_is_shifted_until_newton_goes_downhill_to_the_same_equilibrium():
    model = sagging_block()
    tight = NewtonOptions(n_steps=1, rtol=1e-12, etol=1e-20)  # both equilibria to round-off
    ref, _ = solve_static(model, options=tight)
    state, log = solve_static(model, swollen_start(model), options=tight)
    step = log.steps[-1]
    assert log.cutbacks == 0 and step.converged and step.shifted >= 1
    assert step.shifted < step.iterations  # once the tangent is definite again, plain Newton
    assert f"({step.shifted} shifted tangents)" in log.table()
    np.testing.assert_allclose(state.x, ref.x, atol=1e-10)


def test_a_start_whose_tangent_no_solve_can_use_fails_at_once_without_cutting_back(monkeypatch):
    """When no shifted tangent solves either, a smaller load step would start from the same
    matrix: the solver says so instead of cutting back."""
    from sagsim.errors import LinearSolverError
    from sagsim.solvers.fem.newton import TANGENT_SHIFTS
    from sagsim.solvers.linear import LinearSolver

    model = sagging_block()
    calls = []

    def refuse(self, A, b, rtol=None):
        calls.append(A.diagonal().sum())
        raise LinearSolverError("splu found 1 non-positive pivot(s): matrix not SPD on 192 dofs")

    monkeypatch.setattr(LinearSolver, "solve", refuse)
    with pytest.raises(ConvergenceError, match=r"load step 1 cannot start: linear solve failed .*not SPD.*same state"):
        solve_static(model, swollen_start(model), options=NewtonOptions(n_steps=1))
    assert len(calls) == 1 + len(TANGENT_SHIFTS)  # the tangent, then each shift once, growing
    assert all(np.diff(calls) > 0)


def test_non_finite_start_is_refused():
    model = sagging_block()
    x = model.nodes.copy()
    x[3, 1] = np.nan
    with pytest.raises(ConvergenceError, match="non-finite"):
        solve_static(model, State(x=x, reference=model.nodes.copy()))


def test_prescriptions_override_fixity():
    model = sagging_block(n=1)
    loads = Loads(prescribed_dofs=[0, 5], prescribed_values=[0.1, -0.2])
    dofs, vals = constrained_dofs(model, loads)
    assert dict(zip(dofs.tolist(), vals.tolist()))[0] == 0.1
    assert dict(zip(dofs.tolist(), vals.tolist()))[5] == -0.2
    assert len(dofs) == 3 * len(model.fixed) + 0  # dof 5 (node 1) is on the fixed face already


@pytest.mark.parametrize("field, value", [("n_steps", 0), ("rtol", 0.0), ("max_cutbacks", -1), ("linear_rtol", 2.0)])
def test_bad_options_are_named(field, value):
    with pytest.raises(ValueError, match=f"NewtonOptions.{field}"):
        NewtonOptions(**{field: value})


def test_bfgs_direction_starts_from_the_kept_inverse_and_meets_the_secant_condition():
    from sagsim.solvers.fem.newton import _bfgs_direction

    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 6))
    K0 = A @ A.T + 6 * np.eye(6)  # the kept factorisation's matrix
    H0 = lambda b: np.linalg.solve(K0, b)  # noqa: E731
    g = rng.standard_normal(6)
    np.testing.assert_allclose(_bfgs_direction(H0, g, []), H0(g))
    pairs = []
    for _ in range(3):
        s = rng.standard_normal(6)
        y = K0 @ s + 0.3 * rng.standard_normal(6)
        assert s @ y > 0
        pairs.append((s, y, 1.0 / (s @ y)))
    # BFGS's inverse maps the newest gradient change onto its step (the secant condition)
    np.testing.assert_allclose(_bfgs_direction(H0, pairs[-1][1], pairs), pairs[-1][0], rtol=1e-10)
    # and matches the full-matrix BFGS update applied pair by pair
    H = np.linalg.inv(K0)
    for s, y, rho in pairs:
        V = np.eye(6) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    np.testing.assert_allclose(_bfgs_direction(H0, g, pairs), H @ g, rtol=1e-10)


def test_quasi_newton_on_the_kept_factorisation_reaches_newtons_equilibrium():
    from sagsim.solvers.fem import FEMSystem

    model = sagging_block(n=4)
    heavier = Loads(gravity_scale=1.3)
    answers = {}
    for quasi in (False, True):
        opts = NewtonOptions(n_steps=1, linear_solver="splu", quasi_newton=quasi)
        system = FEMSystem(model, linear="splu")
        first, _ = solve_static(model, options=opts, system=system)  # leaves a factorisation kept
        answers[quasi], log = solve_static(model, first, heavier, opts, from_loads=Loads(), system=system)
        step = log.steps[0]
        assert step.converged and (step.quasi_newton > 0) == quasi, step
    np.testing.assert_allclose(answers[True].x, answers[False].x, atol=1e-9)


def test_quasi_newton_needs_a_factorisation_made_under_the_same_constraints():
    from sagsim.solvers.fem import FEMSystem
    from sagsim.solvers.fem.newton import _constraints_tag

    model = sagging_block(n=3)
    system = FEMSystem(model, linear="splu")
    opts = NewtonOptions(n_steps=1, linear_solver="splu")
    state, _ = solve_static(model, options=opts, system=system)
    dofs, _ = constrained_dofs(model, Loads())
    assert system.linear.kept_inverse(_constraints_tag(dofs)) is not None
    top = np.flatnonzero(model.nodes[:, 2] == 1.0)
    pulled = Loads(prescribed_dofs=3 * top + 2, prescribed_values=np.full(len(top), 0.01))
    _, log = solve_static(model, state, pulled, opts, system=system)
    assert log.steps[0].converged and log.steps[0].quasi_newton == 0  # other identity rows: Newton
