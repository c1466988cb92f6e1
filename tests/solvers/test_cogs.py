"""Embedded cog springs: force and tangent against a dense assembly and finite differences,
and a pulled cog moves the tissue towards its target."""
import numpy as np

from sagsim.anatomy.mesh import box_tets
from sagsim.materials import NeoHookean
from sagsim.model import Layer, Loads, State, TissueModel
from sagsim.solvers.fem import CogSprings, FEMSystem, NewtonOptions, solve_static
from twins import tangent_fd_error


def block():
    nodes, tets = box_tets((2, 2, 2))
    return TissueModel(nodes=nodes, tets=tets, tet_layer=np.zeros(len(tets), np.int8),
                       materials={Layer.SKIN: NeoHookean(mu=1.0, lam=5.0, density=1.0)},
                       fixed=np.flatnonzero(nodes[:, 2] == 0.0), gravity=[0.0, 0.0, 0.0])


def random_cogs(model, n=5, seed=0):
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.05, 1.0, (n, 4))
    return CogSprings(tet=rng.integers(0, model.n_tets, n), bary=b / b.sum(axis=1)[:, None],
                      targets=rng.uniform(0, 1, (n, 3)), stiffness=rng.uniform(0.5, 2.0, n))


def dense_cogs(model, cogs, x):
    R = np.zeros(3 * model.n_nodes)
    K = np.zeros((3 * model.n_nodes,) * 2)
    for t, b, target, k in zip(cogs.tet, cogs.bary, cogs.targets, cogs.stiffness, strict=True):
        corners = model.tets[t]
        d = target - b @ x[corners]
        for a in range(4):
            R[3 * corners[a]:3 * corners[a] + 3] -= k * b[a] * d
            for c in range(4):
                K[3 * corners[a]:3 * corners[a] + 3, 3 * corners[c]:3 * corners[c] + 3] += k * b[a] * b[c] * np.eye(3)
    return R, K


def test_cog_force_and_tangent_equal_a_dense_assembly():
    model = block()
    cogs = random_cogs(model)
    x = model.nodes + 0.02 * np.random.default_rng(1).standard_normal(model.nodes.shape)
    with_cogs, without = FEMSystem(model), FEMSystem(model)
    e1, e0 = with_cogs.evaluate(x, items=[cogs]), without.evaluate(x)
    R, K = dense_cogs(model, cogs, x)
    np.testing.assert_allclose(e1.force - e0.force, R, atol=1e-13)
    np.testing.assert_allclose(e1.tangent.toarray() - e0.tangent.toarray(), K, atol=1e-12)


def test_cog_tangent_is_the_derivative_of_the_force():
    model = block()
    system = FEMSystem(model, formulation="anp")
    cogs = random_cogs(model, seed=3)
    rng = np.random.default_rng(2)
    x = model.nodes + 0.02 * rng.standard_normal(model.nodes.shape)
    assert tangent_fd_error(system, x, rng, items=[cogs]) <= 1e-7


def test_a_pulled_cog_moves_the_tissue_towards_its_target():
    model = block()
    centre = np.array([0.5, 0.5, 1.0])
    e = int(np.argmin(np.linalg.norm(model.nodes[model.tets].mean(axis=1) - centre, axis=1)))
    b = np.full(4, 0.25)
    p0 = b @ model.nodes[model.tets[e]]
    system = FEMSystem(model)
    pulls = []
    for k in (0.5, 2.0, 8.0):
        cog = CogSprings(tet=[e], bary=b[None], targets=(p0 + [0.0, 0.1, 0.0])[None], stiffness=[k])
        state, _ = solve_static(model, State.initial(model), Loads(), NewtonOptions(n_steps=1), system=system,
                                items=[cog])
        pulls.append((b @ state.x[model.tets[e]] - p0)[1])
    assert 0 < pulls[0] < pulls[1] < pulls[2] < 0.1  # stiffer cog, more lift, never past the target


def quadratic_shape(L, edges):
    """The ten-node tetrahedron's shape functions at barycentric L, from their definition."""
    return [L[a] * (2 * L[a] - 1) for a in range(4)] + [4 * L[i] * L[j] for i, j in edges]


def test_quadratic_elements_carry_a_cog_by_their_ten_nodes():
    # A cog inside a ten-node element is where the element's quadratic field puts it, and pulls
    # its corners and midsides by those shape functions (a dense twin written per node)
    from sagsim.solvers.fem.kernels.tet10 import EDGES

    model = block()
    cogs = random_cogs(model, seed=4)
    with_cogs, without = FEMSystem(model, formulation="tet10"), FEMSystem(model, formulation="tet10")
    rng = np.random.default_rng(5)
    x = with_cogs.extended(model.nodes) + 0.02 * rng.standard_normal((with_cogs.n_nodes, 3))
    e1, e0 = with_cogs.evaluate(x, items=[cogs]), without.evaluate(x)
    R = np.zeros(with_cogs.ndof)
    for t, b, target, k in zip(cogs.tet, cogs.bary, cogs.targets, cogs.stiffness, strict=True):
        nodes = np.concatenate([model.tets[t], model.n_nodes + with_cogs.tet_edges[t]])
        w = np.array(quadratic_shape(b, EDGES))
        assert abs(w.sum() - 1.0) < 1e-14
        d = target - w @ x[nodes]
        for a in range(10):
            R[3 * nodes[a]:3 * nodes[a] + 3] -= k * w[a] * d
    np.testing.assert_allclose(e1.force - e0.force, R, atol=1e-13)
    assert tangent_fd_error(with_cogs, x, rng, items=[cogs]) <= 1e-7
    internal = {"midside": x[model.n_nodes:]}
    p = with_cogs.embedded_points(x[:model.n_nodes], internal, cogs.tet, cogs.bary)
    np.testing.assert_allclose(p[0], np.array(quadratic_shape(cogs.bary[0], EDGES)) @ x[np.concatenate(
        [model.tets[cogs.tet[0]], model.n_nodes + with_cogs.tet_edges[cogs.tet[0]]])], atol=1e-15)


def test_a_whole_element_is_pulled_at_its_volume_mean():
    # whole=True (a cog's grip spread over an element): linear elements at their centroid,
    # quadratic ones at the mean of their curved shape, the four-point rule (exact for the
    # quadratic field) of the points' positions
    from sagsim.solvers.fem.kernels.tet10 import GAUSS

    model = block()
    tets = np.array([0, 5, 11])
    bary = np.full((3, 4), 0.25)
    rng = np.random.default_rng(6)
    linear = FEMSystem(model)
    x = model.nodes + 0.02 * rng.standard_normal(model.nodes.shape)
    np.testing.assert_allclose(linear.embedded_points(x, {}, tets, bary, whole=True), x[model.tets[tets]].mean(axis=1))
    quad = FEMSystem(model, formulation="tet10")
    mid = quad.extended(x)[model.n_nodes:] + 0.01 * rng.standard_normal((len(quad.edges), 3))
    whole = quad.embedded_points(x, {"midside": mid}, tets, bary, whole=True)
    at_gauss = np.mean([quad.embedded_points(x, {"midside": mid}, tets, np.tile(g, (3, 1))) for g in GAUSS], axis=0)
    np.testing.assert_allclose(whole, at_gauss, atol=1e-15)
