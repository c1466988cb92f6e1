"""The unloaded shape: loading the recovered reference gives back the captured geometry."""
import numpy as np
import pytest

from sagsim.anatomy.face import build_face
from sagsim.anatomy.slab import layered_slab
from sagsim.errors import ConvergenceError
from sagsim.model import State, tet_volumes
from sagsim.solvers.fem import NewtonOptions, recover_unloaded, solve_static

OPTS = NewtonOptions(n_steps=2, formulation="anp")


@pytest.mark.parametrize("build", [lambda: layered_slab(cells="coarse"), lambda: build_face("coarse")])
def test_recovered_reference_loads_back_to_the_captured_shape(build):
    model = build()
    true_reference = model.nodes.copy()
    captured, _ = solve_static(model, options=OPTS)  # "scan" the face standing under gravity
    state, log = recover_unloaded(model, captured.x, options=OPTS, tol=1e-4)
    sag = np.abs(captured.x - true_reference).max()
    # the recovered reference is the true stress-free shape ...
    assert np.abs(state.reference - true_reference).max() < 1e-3 * sag
    # ... and loading it again gives back the captured shape (an independent forward solve)
    again, _ = solve_static(model, State(x=state.reference.copy(), reference=state.reference.copy()), options=OPTS)
    assert np.abs(again.x - captured.x).max() < 1e-3 * sag
    assert log.misfit[-1] < log.misfit[0] and len(log.misfit) < 15


def test_quadratic_elements_recover_the_reference_keeping_their_edges_bent():
    # tet10: the misfit is the corners'; between passes each edge's bend (its midside's offset
    # from the edge's midpoint) is carried over, so a pass starts from the last one's curved
    # shape: Newton iterations per pass measured on this slab 8, 9, 8, 6, 5 (restarting
    # straight-edged: 8, 9, 9, 9, 9)
    model = layered_slab(cells="coarse")
    opts = NewtonOptions(n_steps=2, formulation="tet10")
    true_reference = model.nodes.copy()
    captured, _ = solve_static(model, options=opts)
    state, log = recover_unloaded(model, captured.x, options=opts, tol=1e-4)
    sag = np.abs(captured.x - true_reference).max()
    assert np.abs(state.reference - true_reference).max() < 1e-3 * sag
    assert "midside" in state.internal
    assert log.newton_iterations[-1] < log.newton_iterations[1]


def test_it_reports_failure_instead_of_a_wrong_shape():
    model = layered_slab(cells="coarse")
    captured, _ = solve_static(model, options=OPTS)
    with pytest.raises(ConvergenceError, match="did not converge"):
        recover_unloaded(model, captured.x, options=OPTS, tol=1e-12, max_iterations=2)


def test_anderson_mixing_solves_a_slowly_contracting_fixed_point_in_a_few_passes():
    # misfit f(X) = M (X - X*), a linear stand-in for the forward solve: the plain update
    # X - f contracts by only 0.8 per pass; Anderson's mixing over two past passes is GMRES on
    # this problem and lands on X* once it has seen two independent directions
    from sagsim.solvers.fem.inverse import _anderson

    M = np.array([[0.2, 0.05], [0.05, 0.4]])
    target = np.array([[1.0, -2.0]])

    def misfit(X):
        return (M @ (X - target).T).T

    X, past, passes = np.zeros((1, 2)), [], 0
    while np.abs(misfit(X)).max() > 1e-12 and passes < 50:
        past = (past + [(X.copy(), misfit(X))])[-3:]
        X, passes = _anderson(past), passes + 1
    assert passes <= 4 and np.allclose(X, target, atol=1e-12)
    plain = np.zeros((1, 2))
    for _ in range(passes):
        plain = plain - misfit(plain)
    assert np.abs(plain - target).max() > 0.1  # the plain update is still far off


def test_a_pass_whose_warm_start_fails_starts_from_rest(monkeypatch, caplog):
    import logging

    import sagsim.solvers.fem.inverse as inverse

    model = layered_slab(cells="coarse")
    captured, _ = solve_static(model, options=OPTS)
    real = inverse.solve_static
    failed = []

    def flaky(model_, start, loads, options, from_loads=None, system=None):
        if from_loads is not None and not failed:  # the first warm start fails, as a crushed element would
            failed.append(True)
            raise ConvergenceError("test: the warm start fails")
        return real(model_, start, loads, options, from_loads=from_loads, system=system)

    monkeypatch.setattr(inverse, "solve_static", flaky)
    with caplog.at_level(logging.INFO, logger="sagsim.inverse"):
        state, log = recover_unloaded(model, captured.x, options=OPTS, tol=1e-4)
    assert failed and "starting from rest" in caplog.text
    assert np.abs(state.reference - model.nodes).max() < 1e-3 * np.abs(captured.x - model.nodes).max()


def test_an_update_that_would_turn_an_element_inside_out_is_halved_on_its_corners_only():
    from sagsim.solvers.fem.inverse import _valid_reference

    model = layered_slab(cells="coarse")
    free = np.setdiff1d(np.arange(model.n_nodes), model.fixed)
    node = int(free[len(free) // 2])
    tet = int(np.flatnonzero((model.tets == node).any(axis=1))[0])
    others = model.nodes[model.tets[tet][model.tets[tet] != node]]
    # push the node through the plane of its element's opposite face, 1.5 times its height
    normal = np.cross(others[1] - others[0], others[2] - others[0])
    normal /= np.linalg.norm(normal)
    height = (model.nodes[node] - others[0]) @ normal
    proposed = model.nodes.copy()
    proposed[free] += 1e-5 * height  # a harmless step everywhere else: only the bad element's corners wait
    proposed[node] -= 1.5 * height * normal
    Y = _valid_reference(model, model.nodes, proposed, model.nodes)
    assert (tet_volumes(Y, model.tets) > 0).all()
    moved = np.linalg.norm(Y[node] - model.nodes[node]) / np.linalg.norm(proposed[node] - model.nodes[node])
    assert min(abs(moved - 0.5**k) for k in range(1, 6)) < 1e-9
    far = np.setdiff1d(free, model.tets[(model.tets == node).any(axis=1)])
    np.testing.assert_allclose(Y[far], proposed[far], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(Y[model.fixed], model.nodes[model.fixed])
    # flattening it to 5 % of its volume is refused too: half the step leaves it at 52 %
    flat = model.nodes.copy()
    flat[node] -= 0.95 * height * normal
    Y = _valid_reference(model, model.nodes, flat, model.nodes)
    assert np.linalg.norm(Y[node] - model.nodes[node]) == pytest.approx(0.5 * 0.95 * abs(height))
    with pytest.raises(ConvergenceError, match=r"turns element \d+ inside out at \("):
        proposed[node] -= 1e3 * height * normal  # no fraction down to 1/32 stays valid
        _valid_reference(model, model.nodes, proposed, model.nodes)
