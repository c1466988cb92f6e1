"""The mass-spring core: kernels against their NumPy twins, the Hessian against finite
differences, integrators and the static solver against known answers, the calibration
against the FEM core, and honest errors."""
import math

import numpy as np
import pytest
import spring_twins as tw

from sagsim.anatomy.mesh import box_tets
from sagsim.errors import ConvergenceError, ModelError
from sagsim.materials import MooneyRivlin, NeoHookean
from sagsim.model import Layer, Loads, Springs, State, TissueModel
from sagsim.solvers.springs import (
    ImplicitOptions,
    SpringOptions,
    SpringSystem,
    StaticOptions,
    explicit_steps,
    run_explicit,
    run_implicit_euler,
    solve_static_springs,
    tet_edge_weights,
    unique_edges,
)
from sagsim.solvers.springs.integrators import _setup
from sagsim.solvers.springs.kernels import forces as K


def mixed_model(seed=0, gravity=(0.0, -0.5, 0.0)):
    """A 3x2x2 box, two materials, two tension-only ligaments (one to a fixed point)."""
    rng = np.random.default_rng(seed)
    nodes, tets = box_tets((3, 2, 2))
    nodes = nodes + 0.02 * rng.standard_normal(nodes.shape)
    layer = np.where(np.arange(len(tets)) % 3 == 0, Layer.SMAS, Layer.SKIN).astype(np.int8)
    spr = Springs(nodes=[[0, 35], [5, -1]], anchors=[[0, 0, 0], [0.5, 0.5, -0.4]], stiffness=[2.0, 3.0],
                  rest_length=[0.5, 0.1], tension_only=[True, True], group=[0, 0], names=("lig",))
    mats = {Layer.SKIN: NeoHookean(mu=1.3, lam=20.0, density=2.0), Layer.SMAS: MooneyRivlin(c10=0.4, c20=1.4, kappa=50.0)}
    return TissueModel(nodes=nodes, tets=tets, tet_layer=layer, materials=mats, springs=spr,
                       fixed=np.flatnonzero(nodes[:, 2] < 0.05), gravity=gravity)


def chain(n=4, k=10.0, m=0.5, L0=1.0, g=9.81):
    """A vertical chain: node 0 fixed at the top, n free nodes below it, one spring each."""
    nodes = np.zeros((n + 1, 3))
    nodes[:, 1] = -L0 * np.arange(n + 1)
    edges = np.stack([np.arange(n), np.arange(1, n + 1)], axis=1)
    return SpringSystem(nodes, edges, np.full(n, k), np.full(n, L0), np.full(n + 1, m), [0],
                        gravity=(0.0, -g, 0.0), name="chain")


@pytest.fixture(scope="module")
def system():
    return SpringSystem.from_model(mixed_model())


def deformed(model, scale=0.03, seed=1):
    return model.nodes + scale * np.random.default_rng(seed).standard_normal(model.nodes.shape)


# -- kernels against twins --------------------------------------------------------------------

@pytest.mark.parametrize("volume", ["nodal", "tet"])
def test_forces_and_energy_equal_numpy_twin(volume):
    model = mixed_model()
    s = SpringSystem.from_model(model, SpringOptions(volume=volume))
    x = deformed(model)
    F2, E2 = tw.forces_energy(s, x)
    np.testing.assert_allclose(s.forces(x), F2, atol=1e-12 * np.abs(F2).max())
    assert s.energy(x) == pytest.approx(E2, rel=1e-12)


@pytest.mark.parametrize("project", [False, True])
def test_hessvec_equals_numpy_twin(system, project):
    model = mixed_model()
    x = deformed(model)
    w = np.random.default_rng(4).standard_normal(x.shape)
    h2 = tw.hessvec(system, x, w, project)
    np.testing.assert_allclose(system.hessvec(x, w, project), h2, atol=1e-10 * np.abs(h2).max())


def test_hessian_is_finite_difference_of_force_and_force_of_energy(system):
    model = mixed_model()
    x = deformed(model)
    rng = np.random.default_rng(5)
    h = 1e-6
    for _ in range(3):
        d = rng.standard_normal(x.shape)
        fd = -(system.forces(x + h * d) - system.forces(x - h * d)) / (2 * h)
        Hd = system.hessvec(x, d)
        assert np.linalg.norm(fd - Hd) <= 1e-6 * np.linalg.norm(Hd)
        de = (system.energy(x + h * d) - system.energy(x - h * d)) / (2 * h)
        assert de == pytest.approx(-np.sum(system.forces(x) * d), rel=1e-6)


def test_projected_hessian_is_positive_semidefinite(system):
    model = mixed_model()
    x = deformed(model, scale=0.08)
    n = 3 * model.n_nodes
    H = np.column_stack([system.hessvec(x, e.reshape(-1, 3), project=True).ravel() for e in np.eye(n)])
    assert np.abs(H - H.T).max() <= 1e-10 * np.abs(H).max()
    assert np.linalg.eigvalsh(0.5 * (H + H.T)).min() >= -1e-10 * np.abs(H).max()


@pytest.mark.parametrize("layout", ["bands", "rows"])
@pytest.mark.parametrize("theta", [0.0, 0.5])
def test_fused_step_equals_numpy_twin(theta, layout):
    model = mixed_model()
    system = SpringSystem.from_model(model, SpringOptions(layout=layout))
    assert system.layout == layout
    if layout == "bands":  # bands and scattered rows both in play
        assert 0.5 < system.bands.share < 1.0 and len(system.bands.other_b) > 0
    x0 = deformed(model, scale=0.01)
    x0[model.fixed] = model.nodes[model.fixed]
    v0 = 0.1 * np.random.default_rng(7).standard_normal(x0.shape)
    v0[model.fixed] = 0.0
    gamma = np.full(model.n_nodes, 0.7)
    x, v, inv_m, f_ext, g, cons = _setup(system, x0, v0, None, gamma)
    F = np.zeros_like(x)
    explicit_steps(system, x, v, F, f_ext, inv_m, g, 0.01, 0.01, theta, 5, cons)
    xt, vt = tw.symplectic_euler(system, x0, v0, 5, 0.01, gamma, system.to_model(f_ext), theta)
    np.testing.assert_allclose(system.to_model(x), xt, atol=1e-13)
    np.testing.assert_allclose(system.to_model(v), vt, atol=1e-11)
    assert not F.any()


def test_reference_loop_equals_numpy_twin():
    nodes, tets = box_tets((2, 2, 2))
    edges, _ = unique_edges(tets, len(nodes))
    rest = np.linalg.norm(nodes[edges[:, 1]] - nodes[edges[:, 0]], axis=1)
    k = np.linspace(1.0, 2.0, len(edges))
    mass = np.linspace(1.0, 1.5, len(nodes))
    fixed = nodes[:, 2] == 0
    damp = np.full(len(nodes), 0.1)
    g = np.array([0.0, -0.3, 0.1])
    x, v = nodes.copy(), np.zeros_like(nodes)
    K.reference_steps(x, v, edges[:, 0], edges[:, 1], k, rest, mass, fixed, damp, g, 0.05, 20)
    xt, vt = tw.reference_steps(nodes, np.zeros_like(nodes), edges, k, rest, mass, fixed, damp, g, 0.05, 20)
    np.testing.assert_allclose(x, xt, atol=1e-14)
    np.testing.assert_allclose(v, vt, atol=1e-14)


def test_core_equals_reference_loop_on_the_bench_lattice():
    from sagsim.bench import spring_lattice as bench_springs

    ref, core, rows = bench_springs.cpu_records(4, steps=50, repeats=1)
    assert (core["layout"], rows["layout"]) == ("bands", "rows")
    assert core["x_corner_diff_vs_reference"] <= 1e-12 and rows["x_corner_diff_vs_reference"] <= 1e-12
    assert ref["x_corner"][1] < 1.0  # it sagged


def test_node_order_does_not_change_the_physics():
    model = mixed_model()
    x = deformed(model)
    a = SpringSystem.from_model(model, SpringOptions(reorder="none"))
    b = SpringSystem.from_model(model, SpringOptions(reorder="rcm"))
    assert not np.array_equal(b.perm, np.arange(model.n_nodes))
    np.testing.assert_allclose(a.forces(x), b.forces(x), atol=1e-12)
    assert a.energy(x) == pytest.approx(b.energy(x), rel=1e-13)
    # slabs: no spring or tet spans more than a slab width
    assert (b.k_b - b.k_a).max() <= b.width and b.n_slabs >= 2


def test_bands_hold_each_spring_once_and_auto_picks_them_only_on_structured_orders():
    nodes, tets = box_tets((8, 8, 4))
    edges, _ = unique_edges(tets, len(nodes))
    rest = np.linalg.norm(nodes[edges[:, 1]] - nodes[edges[:, 0]], axis=1)
    k = np.linspace(1.0, 2.0, len(edges))
    s = SpringSystem(nodes, edges, k, rest, np.ones(len(nodes)))
    assert s.layout == "bands" and s.bands.share == 1.0 and np.array_equal(s.perm, np.arange(len(nodes)))
    # seven offsets (x, y, z and the diagonals of the six-tet split), every spring in one place
    assert len(s.bands.offsets) == 7 and len(s.bands.other_b) == 0
    assert np.count_nonzero(s.bands.stiffness) == len(edges)
    assert np.isclose(s.bands.stiffness.sum(), k.sum())
    # the same mesh with its nodes shuffled: no bands, so "auto" scatters rows on an RCM order
    p = np.random.default_rng(0).permutation(len(nodes))
    inv = np.argsort(p)
    shuffled = SpringSystem(nodes[p], inv[edges], k, rest, np.ones(len(nodes)))
    assert shuffled.layout == "rows" and shuffled.bands is None
    with pytest.raises(ModelError, match="layout"):
        SpringOptions(layout="diagonal")


def test_band_padding_stays_finite_where_unrelated_nodes_meet():
    """A band's empty entries (k = 0) between two nodes at one point give no force, not NaN."""
    nodes, tets = box_tets((2, 1, 1))
    edges, _ = unique_edges(tets, len(nodes))
    rest = np.linalg.norm(nodes[edges[:, 1]] - nodes[edges[:, 0]], axis=1)
    s = SpringSystem(nodes, edges, np.ones(len(edges)), rest, np.ones(len(nodes)), layout="bands")
    a, b = edges.min(axis=1), edges.max(axis=1)
    for o in s.bands.offsets:  # find a node pair (i, i + o) that is no spring
        free = [i for i in range(len(nodes) - o) if not ((a == i) & (b == i + o)).any()]
        if free:
            break
    i = free[0]
    x = nodes.copy()
    x[i + o] = x[i]
    v, F = np.zeros_like(x), np.zeros_like(x)
    explicit_steps(s, x, v, F, np.zeros_like(x), s.k_inv_m, np.zeros(len(x)), 0.01, 0.01, 0.0, 1)
    assert np.isfinite(x).all() and np.isfinite(v).all()


def test_parallel_forces_are_deterministic(system):
    x = system.to_kernel(deformed(mixed_model()))
    first = system.kernel_forces(x).copy()
    for _ in range(3):
        np.testing.assert_array_equal(system.kernel_forces(x), first)


# -- calibration --------------------------------------------------------------------------------

def test_springs_store_the_elements_energy_of_single_edge_strains():
    """The calibration's promise: straining one edge of a tet alone costs the springs what it
    costs the FEM element's deviatoric part (per unit shear modulus)."""
    rng = np.random.default_rng(2)
    X = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]]) + 0.15 * rng.standard_normal((4, 3))
    tet = np.array([[0, 1, 2, 3]])
    w = tet_edge_weights(X, tet)[0]
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    n = np.array([(X[b] - X[a]) / np.linalg.norm(X[b] - X[a]) for a, b in pairs])
    B = np.einsum("qi,qj->qij", n, n)  # edge strain s_q = B_q : eps
    Bm = np.array([[Bq[0, 0], Bq[1, 1], Bq[2, 2], 2 * Bq[1, 2], 2 * Bq[0, 2], 2 * Bq[0, 1]] for Bq in B])
    V = abs(tw.tet_volume(X, [0, 1, 2, 3]))
    for q in range(6):
        e = np.linalg.solve(Bm, np.eye(6)[q])  # strain stretching edge q only, by a unit strain
        eps = np.array([[e[0], e[5], e[4]], [e[5], e[1], e[3]], [e[4], e[3], e[2]]])
        dev = eps - np.trace(eps) / 3 * np.eye(3)
        assert 0.5 * w[q] == pytest.approx(0.5 * V * 2 * np.sum(dev * dev), rel=1e-10)


def test_springs_and_volume_term_restore_the_bulk_modulus():
    X = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    mat = NeoHookean.from_young(3.0, 0.45, density=1.0)
    model = TissueModel(nodes=X, tets=[[0, 1, 2, 3]], tet_layer=[0], materials={Layer.SKIN: mat})
    s = SpringSystem.from_model(model, SpringOptions(volume="tet"))
    e = 1e-5
    energy = s.energy(X * (1 + e))
    assert energy == pytest.approx(0.5 * mat.bulk_modulus * (3 * e) ** 2 / 6, rel=1e-4)


@pytest.mark.parametrize("nu", [0.3, 0.49])
def test_thin_layer_sags_like_the_fem_core(nu):
    """A thin layer on a fixed base under tangential gravity (the face's load case): the
    springs' mean top displacement is within 30 % of the FEM core's (measured: 0.78 to 0.85)."""
    from sagsim.solvers.fem import NewtonOptions
    from sagsim.solvers.fem import solve_static as fem_static

    nodes, tets = box_tets((8, 8, 2), (1.0, 1.0, 0.1))
    model = TissueModel(nodes=nodes, tets=tets, tet_layer=np.zeros(len(tets), np.int8),
                        materials={Layer.SKIN: NeoHookean.from_young(1.0, nu, density=1.0)},
                        fixed=np.flatnonzero(nodes[:, 2] == 0), gravity=[0, -1e-3, 0])
    top = np.flatnonzero(nodes[:, 2] == nodes[:, 2].max())
    fem, _ = fem_static(model, options=NewtonOptions(n_steps=1, formulation="anp"))
    spr, _ = solve_static_springs(model, options=StaticOptions(rtol=1e-8))
    ratio = (spr.x - nodes)[top, 1].mean() / (fem.x - nodes)[top, 1].mean()
    assert 0.7 <= ratio <= 1.3, ratio


def test_lumped_masses_and_gravity_match_the_fem_core():
    from sagsim.solvers.fem import FEMSystem

    model = mixed_model()
    s = SpringSystem.from_model(model)
    np.testing.assert_allclose(s.mass, FEMSystem(model).lumped_mass, rtol=1e-12)
    np.testing.assert_allclose(s.to_model(s.external_force(Loads(gravity_scale=2.0))),
                               2.0 * s.mass[:, None] * model.gravity, rtol=1e-12)


# -- known answers: statics ------------------------------------------------------------------

def test_hanging_chain_static_stretch():
    n, k, m, L0, g = 4, 10.0, 0.5, 1.0, 9.81
    s = chain(n, k, m, L0, g)
    state, log = solve_static_springs(s, options=StaticOptions(rtol=1e-10))
    assert log.converged
    y = state.x[:, 1]
    # spring i (above node i+1) carries the weight of the n - i nodes below it
    stretch = -(np.diff(y)) - L0
    np.testing.assert_allclose(stretch, (n - np.arange(n)) * m * g / k, rtol=1e-8)
    np.testing.assert_allclose(state.x[:, [0, 2]], 0.0, atol=1e-12)


def test_ligament_holds_a_node_only_when_stretched():
    """A node hangs on a spring (k 100, rest 1) from a fixed node, with a tension-only
    ligament (k 4) to an anchor above: slack, the spring carries the 2 N alone; taut, the two
    share it."""
    from sagsim.solvers.springs import Ligaments

    nodes = np.array([[0.0, 0, 0], [0, -1, 0]])
    for rest, taut in ((1.0, True), (2.0, False)):
        lig = Ligaments(np.array([[1, -1]]), np.array([[0.0, 0.5, 0.0]]), np.array([4.0]), np.array([rest]),
                        np.array([True]))
        s = SpringSystem(nodes, [[0, 1]], [100.0], [1.0], [1.0, 2.0], [0], gravity=(0, -1.0, 0), ligaments=lig)
        state, _ = solve_static_springs(s, options=StaticOptions(rtol=1e-11))
        y = state.x[1, 1]
        if taut:  # spring force 100 (-1 - y), ligament 4 (0.5 - y - rest), together 2 N
            assert 100.0 * (-1.0 - y) + 4.0 * (0.5 - y - rest) == pytest.approx(2.0, rel=1e-7)
            assert 0.5 - y > rest
        else:
            assert y == pytest.approx(-1.0 - 2.0 / 100.0, rel=1e-8)
            assert 0.5 - y < rest


def test_static_solver_reports_failure():
    s = chain()
    with pytest.raises(ConvergenceError, match="FIRE did not reach the force tolerance in 5 iterations"):
        solve_static_springs(s, options=StaticOptions(max_iterations=5))


def test_static_solve_of_a_model_returns_its_state(system):
    model = mixed_model()
    state, log = solve_static_springs(model, options=StaticOptions(rtol=1e-7))
    assert log.converged and isinstance(state, State)
    np.testing.assert_array_equal(state.x[model.fixed], model.nodes[model.fixed])
    F = system.forces(state.x) + system.to_model(system.external_force())
    F[model.fixed] = 0.0
    assert np.linalg.norm(F) <= 1e-7 * np.linalg.norm(system.external_force()[system.k_inv_m > 0])


def test_prescribed_dofs_are_held():
    model = mixed_model(gravity=(0, 0, 0))
    top = np.flatnonzero(model.nodes[:, 2] > 0.95)
    loads = Loads(prescribed_dofs=3 * top + 2, prescribed_values=np.full(len(top), 0.01))
    state, log = solve_static_springs(model, loads=loads, options=StaticOptions(rtol=1e-8, atol=1e-12))
    np.testing.assert_allclose(state.x[top, 2], model.nodes[top, 2] + 0.01, atol=1e-14)
    s = SpringSystem.from_model(model)
    F = s.forces(state.x)
    F[model.fixed] = 0.0
    F[top, 2] = 0.0  # the reactions of the prescribed dofs
    assert np.linalg.norm(F) <= max(log.target, 1e-12) and log.converged


# -- known answers: dynamics ------------------------------------------------------------------

def oscillator(k=4.0, m=1.0):
    """A mass on a spring to a fixed node, moving along the spring's axis (exactly linear)."""
    return SpringSystem([[0.0, 0, 0], [1.0, 0, 0]], [[0, 1]], [k], [1.0], [1.0, m], [0], name="oscillator")


def exact_oscillator(t, amp, k=4.0, m=1.0, gamma=0.0):
    w0 = math.sqrt(k / m)
    wd = math.sqrt(w0 ** 2 - gamma ** 2 / 4)
    return amp * math.exp(-gamma * t / 2) * (math.cos(wd * t) + gamma / (2 * wd) * math.sin(wd * t))


@pytest.mark.parametrize("method,order", [("symplectic_euler", 1), ("verlet", 2)])
def test_explicit_methods_converge_at_their_order(method, order):
    s = oscillator()
    x0 = s.reference.copy()
    x0[1, 0] += 0.1
    T = 2.0
    errors = []
    for n in (100, 200, 400):
        run = run_explicit(s, x0, n_steps=n, dt=T / n, method=method, damping_rate=0.3)
        errors.append(abs(run.x[1, 0] - 1.0 - exact_oscillator(T, 0.1, gamma=0.3)))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(rates - order) < 0.15), (errors, rates)


def test_verlet_keeps_energy_and_period_without_damping():
    k, m = 4.0, 1.0
    s = oscillator(k, m)
    x0 = s.reference.copy()
    x0[1, 0] += 0.1
    period = 2 * math.pi * math.sqrt(m / k)
    dt = period / 200
    run = run_explicit(s, x0, n_steps=2000, dt=dt, method="verlet", damping_rate=0.0)  # ten periods
    assert run.x[1, 0] - 1.0 == pytest.approx(0.1, rel=1e-3)  # back where it started
    energy = 0.5 * m * run.v[1, 0] ** 2 + 0.5 * k * (run.x[1, 0] - 1.0) ** 2
    assert energy == pytest.approx(0.5 * k * 0.01, rel=1e-3)


def test_damped_amplitude_decays_at_the_damping_rate():
    s = oscillator()
    x0 = s.reference.copy()
    x0[1, 0] += 0.1
    run = run_explicit(s, x0, n_steps=4000, dt=1e-3, method="verlet", damping_rate=0.5)
    assert run.x[1, 0] - 1.0 == pytest.approx(exact_oscillator(4.0, 0.1, gamma=0.5), abs=1e-6)


def test_automatic_step_is_stable_and_strict_mode_refuses_a_larger_one():
    model = mixed_model()
    s = SpringSystem.from_model(model)
    limit = s.stable_time_step(s.damping_rate)
    w = s.max_frequency()
    n3 = 3 * model.n_nodes  # the Lanczos estimate against the dense eigenvalue problem
    H = np.column_stack([s.kernel_hessvec(s.k_X, e.reshape(-1, 3), project=True).ravel() for e in np.eye(n3)])
    free = np.repeat(s.k_inv_m > 0, 3)
    Ms = np.sqrt(np.repeat(s.k_inv_m, 3))[free]
    lam = np.linalg.eigvalsh(Ms[:, None] * H[np.ix_(free, free)] * Ms[None, :]).max()
    assert w == pytest.approx(math.sqrt(lam), rel=0.02) and w >= math.sqrt(lam)
    run = run_explicit(s, n_steps=400, method="symplectic_euler")  # 0.9 of the limit
    assert run.dt == pytest.approx(0.9 * limit) and np.isfinite(run.x).all()
    assert np.abs(run.x - model.nodes).max() < 0.5  # it sags, it does not blow up
    with pytest.raises(ModelError, match=r"run_explicit\.dt: .* above the stable limit"):
        run_explicit(s, n_steps=1, dt=1.01 * limit, strict=True)
    with pytest.raises(ConvergenceError, match="blew up"):
        run_explicit(s, n_steps=3000, dt=2.5 * limit)


def test_implicit_euler_is_first_order_and_stable_at_large_steps():
    s = oscillator()
    x0 = s.reference.copy()
    x0[1, 0] += 0.1
    T = 2.0
    errors = []
    for n in (200, 400, 800):
        run = run_implicit_euler(s, x0, n_steps=n, dt=T / n, damping_rate=0.3)
        errors.append(abs(run.x[1, 0] - 1.0 - exact_oscillator(T, 0.1, gamma=0.3)))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(rates - 1) < 0.15), (errors, rates)
    # a step 100 times the explicit limit: no blow-up, and it settles to the static answer
    model = mixed_model()
    sm = SpringSystem.from_model(model)
    dt = 100 * sm.stable_time_step(0.0)
    run = run_implicit_euler(sm, n_steps=60, dt=dt, damping_rate=0.0, options=ImplicitOptions(rtol=1e-10))
    static, _ = solve_static_springs(sm, options=StaticOptions(rtol=1e-9))
    assert run.newton_iterations > 0 and run.cg_iterations > 0
    np.testing.assert_allclose(run.x, static.x, atol=1e-4 * np.abs(static.x - model.nodes).max())


def test_implicit_euler_cuts_back_a_step_that_does_not_converge_and_says_when_it_gives_up(caplog):
    """A step whose Newton solve fails (here: too few iterations allowed for a step 100 times
    the explicit limit) is halved and retried; the run still covers its whole time span."""
    import logging

    model = mixed_model()
    sm = SpringSystem.from_model(model)
    dt = 100 * sm.stable_time_step(0.0)
    with caplog.at_level(logging.INFO, logger="sagsim.springs"):
        run = run_implicit_euler(sm, n_steps=60, dt=dt, damping_rate=0.0, options=ImplicitOptions(max_newton=8))
    assert run.cutbacks > 0 and run.steps > 60 and run.time == pytest.approx(60 * dt, rel=1e-12)
    assert "retrying" in caplog.text and np.isfinite(run.x).all()
    # near the static answer, not on it: the cut steps damp less than 60 full ones (which
    # settle to 1e-4, the test above), so the run is still ringing (5 % of the sag measured)
    static, _ = solve_static_springs(sm, options=StaticOptions(rtol=1e-9))
    np.testing.assert_allclose(run.x, static.x, atol=0.1 * np.abs(static.x - model.nodes).max())
    with pytest.raises(ConvergenceError, match=r"gave up at t = .* after \d+ cut-backs"):
        run_implicit_euler(sm, n_steps=60, dt=dt, damping_rate=0.0, options=ImplicitOptions(max_newton=3))


def test_hanging_chain_dynamics_settle_on_the_static_answer():
    s = chain()
    static, _ = solve_static_springs(s, options=StaticOptions(rtol=1e-10))
    run = run_explicit(s, n_steps=20000, method="verlet", damping_rate=2.0)
    np.testing.assert_allclose(run.x, static.x, atol=1e-8)


# -- errors -----------------------------------------------------------------------------------

def test_bad_input_is_refused_with_the_field_named():
    nodes = [[0.0, 0, 0], [1.0, 0, 0]]
    with pytest.raises(ModelError, match=r"SpringSystem\.stiffness: expected >= 0 N/m"):
        SpringSystem(nodes, [[0, 1]], [-1.0], [1.0], [1.0, 1.0])
    with pytest.raises(ModelError, match=r"SpringSystem\.mass"):
        SpringSystem(nodes, [[0, 1]], [1.0], [1.0], [1.0, 0.0])
    with pytest.raises(ModelError, match=r"SpringSystem\.edges"):
        SpringSystem(nodes, [[0, 2]], [1.0], [1.0], [1.0, 1.0])
    s = oscillator()
    x = s.reference.copy()
    x[1, 1] = np.nan
    with pytest.raises(ModelError, match=r"x0: expected finite positions, node 1"):
        run_explicit(s, x, n_steps=1, dt=0.01)
    with pytest.raises(ModelError, match=r"forces\.x|\.x: expected finite"):
        s.forces(x)
    with pytest.raises(ModelError, match="run_explicit.method"):
        run_explicit(s, n_steps=1, dt=0.01, method="rk4")
    with pytest.raises(ModelError, match="SpringOptions.volume"):
        SpringOptions(volume="hex")


# -- the command --------------------------------------------------------------------------------

def test_bench_command_writes_records(tmp_path):
    from sagsim.cli import main

    out = tmp_path / "springs.json"
    assert main(["bench", "springs", "--n", "2", "--steps", "20", "--repeats", "1", "--json", str(out)]) == 0
    import json

    recs = json.loads(out.read_text())
    cores = {r["core"] for r in recs}
    assert {"reference", "cpu", "cpu_rows"} <= cores
    for r in recs:
        assert {"n", "springs", "spring_updates_per_s", "x_corner"} <= set(r)


@pytest.mark.slow
def test_default_face_agreement_within_the_stated_tolerance():
    from sagsim.bench import spring_lattice as bench_springs

    rec = bench_springs.agreement("procedural-default")
    assert rec["max_diff_pct_of_max_fem"] <= 60.0 and rec["mean_diff_pct_of_landmark"] <= 40.0, rec


@pytest.mark.parametrize("layout", ["bands", "rows"])
def test_parallel_slabs_equal_the_twin(layout):
    """Many slabs on all threads (the default only above PARALLEL_MIN_ITEMS): no races."""
    import numba

    nodes, tets = box_tets((5, 4, 6))
    nodes = nodes + 0.02 * np.random.default_rng(3).standard_normal(nodes.shape)
    layer = (np.arange(len(tets)) % 2).astype(np.int8) * Layer.SMAS
    model = TissueModel(nodes=nodes, tets=tets, tet_layer=layer,
                        materials={Layer.SKIN: NeoHookean(mu=1.3, lam=20.0), Layer.SMAS: MooneyRivlin(0.4, 1.4, 50.0)},
                        fixed=np.flatnonzero(nodes[:, 2] < 0.05), gravity=[0, -0.5, 0])
    s = SpringSystem.from_model(model, SpringOptions(layout=layout))
    s.threads = max(2, numba.config.NUMBA_NUM_THREADS)
    assert s.n_slabs >= 4 and s.layout == layout
    x0 = deformed(model, scale=0.01)
    x0[model.fixed] = model.nodes[model.fixed]
    F2, _ = tw.forces_energy(s, x0)
    np.testing.assert_allclose(s.forces(x0), F2, atol=1e-12 * np.abs(F2).max())
    gamma = np.full(model.n_nodes, 0.5)
    x, v, inv_m, f_ext, g, cons = _setup(s, x0, None, None, gamma)
    explicit_steps(s, x, v, np.zeros_like(x), f_ext, inv_m, g, 0.01, 0.01, 0.0, 3, cons)
    xt, _ = tw.symplectic_euler(s, x0, np.zeros_like(x0), 3, 0.01, gamma, s.to_model(f_ext))
    np.testing.assert_allclose(s.to_model(x), xt, atol=1e-13)
