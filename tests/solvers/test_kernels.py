"""Numba kernels against their NumPy twins, and tangents against finite differences."""
import numpy as np
import pytest

from sagsim.anatomy.mesh import box_tets
from sagsim.materials import MooneyRivlin, NeoHookean
from sagsim.model import Layer, Springs, TissueModel
from sagsim.solvers.fem import FEMSystem
from sagsim.solvers.fem.kernels.csr import partition_elements
from sagsim.solvers.fem.kernels.smoothed import ELEMENT_BULK, ELEMENT_SHARE
from sagsim.solvers.fem.kernels.tet4 import element_force_tangent

import twins

MATERIALS = {
    "neo-hookean": NeoHookean(mu=1.3, lam=7.0),
    "mooney-rivlin": MooneyRivlin(c10=0.4, c20=1.4, kappa=50.0),
}


def mixed_model(seed=0, springs=True):
    """A 2x2x2 box, two materials in alternating elements, two tension-only springs."""
    rng = np.random.default_rng(seed)
    nodes, tets = box_tets((2, 2, 2))
    nodes = nodes + 0.03 * rng.standard_normal(nodes.shape)  # no special symmetry
    layer = np.where(np.arange(len(tets)) % 3 == 0, Layer.SMAS, Layer.SKIN).astype(np.int8)
    spr = Springs(nodes=[[0, 26], [5, -1]], anchors=[[0, 0, 0], [0.5, 0.5, -0.3]], stiffness=[2.0, 3.0],
                  rest_length=[0.5, 0.1], tension_only=[True, True], group=[0, 0], names=("lig",)) \
        if springs else Springs.empty()
    mats = {Layer.SKIN: MATERIALS["neo-hookean"], Layer.SMAS: MATERIALS["mooney-rivlin"]}
    return TissueModel(nodes=nodes, tets=tets, tet_layer=layer, materials=mats, springs=spr)


def deformed(model, scale=0.06, seed=1):
    rng = np.random.default_rng(seed)
    return model.nodes + scale * rng.standard_normal(model.nodes.shape)


@pytest.mark.parametrize("name", MATERIALS)
def test_element_kernel_equals_numpy_twin(name):
    rng = np.random.default_rng(2)
    mat = MATERIALS[name]
    kind, p0, p1, k = mat.kernel_params()
    for _ in range(5):
        X = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]]) + 0.1 * rng.standard_normal((4, 3))
        x = X @ (np.eye(3) + 0.2 * rng.standard_normal((3, 3))).T + rng.standard_normal(3)
        G, V0 = twins.shape_gradients(X)
        if np.linalg.det(x[1:].T - x[0][:, None]) * V0 <= 0:
            continue
        dminv = np.linalg.inv((X[1:] - X[0]).T)
        f, K, W = element_force_tangent(kind, p0, p1, k, x - X, dminv, V0, np.zeros((3, 3)))
        f2, K2, W2 = twins.element(kind, p0, p1, k, X, x)
        np.testing.assert_allclose(f, f2, rtol=1e-11, atol=1e-12 * np.abs(f2).max())
        np.testing.assert_allclose(K, K2, rtol=1e-11, atol=1e-12 * np.abs(K2).max())
        assert W == pytest.approx(W2, rel=1e-12)


def test_assembly_equals_dense_numpy_assembly():
    model = mixed_model()
    x = deformed(model)
    ev = FEMSystem(model).evaluate(x)
    R, K, E = twins.assemble_dense(model, x)
    scale = np.abs(K).max()
    np.testing.assert_allclose(ev.force, R, atol=1e-12 * np.abs(R).max())
    np.testing.assert_allclose(ev.tangent.toarray(), K, atol=1e-12 * scale)
    assert ev.energy == pytest.approx(E, rel=1e-12)


def test_anp_energy_and_force_equal_numpy_twin():
    model = mixed_model(springs=False)
    x = deformed(model)
    ev = FEMSystem(model, formulation="anp").evaluate(x)
    R, E = twins.anp_energy_force(model, x)
    np.testing.assert_allclose(ev.force, R, atol=1e-12 * np.abs(R).max())
    assert ev.energy == pytest.approx(E, rel=1e-12)


@pytest.mark.parametrize("grow", [False, True])
def test_edge_smoothed_shear_equals_numpy_twin(grow):
    model = mixed_model(springs=False)
    x = deformed(model)
    rng = np.random.default_rng(4)
    growth = np.eye(3) + 0.1 * rng.standard_normal((model.n_tets, 3, 3)) if grow else None
    system = FEMSystem(model, formulation="es-anp")
    assert system.element_bulk.shape == (2,) and (system.element_bulk > 0).all()  # two materials
    # each element its own share, as slivers have theirs (domains.element_share)
    share = rng.uniform(ELEMENT_SHARE, 1.0, model.n_tets)
    system.domains.share[:] = share[system.order]  # the system's elements are in its own order
    system.set_reference(model.nodes, growth)
    ev = system.evaluate(x)
    R, _, E = twins.es_anp_energy_force_tangent(model, x, growth, share, ELEMENT_BULK)
    np.testing.assert_allclose(ev.force, R, atol=1e-12 * np.abs(R).max())
    assert ev.energy == pytest.approx(E, rel=1e-12)
    # the twin's tangent is the domains' shear part: without the elements' volumetric share, the
    # kernel's tangent less the averaged nodal pressure formulation's is that, less the elements'
    # shear part
    system.element_bulk = np.zeros(0)
    system.patch_k = FEMSystem(model, formulation="anp").patch_k
    _, K, _ = twins.es_anp_energy_force_tangent(model, x, growth, share)
    anp = FEMSystem(model, formulation="anp")
    anp.set_reference(model.nodes, growth)
    _, K_el, _ = twins.element_sum(model, x, growth, volumetric=False, weight=1.0 - share)
    diff = system.evaluate(x).tangent.toarray() - anp.evaluate(x).tangent.toarray()
    np.testing.assert_allclose(diff, K - K_el, atol=1e-11 * np.abs(K).max())


def test_slivers_keep_more_of_their_own_shear_energy():
    from sagsim.model import tet_quality
    from sagsim.solvers.fem.domains import element_share
    from sagsim.solvers.fem.kernels.smoothed import SLIVER_DIHEDRAL_DEG

    lo, hi = SLIVER_DIHEDRAL_DEG
    regular = [[0, 0, 0], [1, 0, 0], [0.5, np.sqrt(3) / 2, 0], [0.5, np.sqrt(3) / 6, np.sqrt(2 / 3)]]

    def flattened(h):  # the regular tetrahedron's apex lowered to height h: a sliver as h -> 0
        return np.array(regular[:3] + [[0.5, np.sqrt(3) / 6, h]])

    heights = [np.sqrt(2 / 3), 0.05, 0.01, 0.001]  # smallest dihedral 70.5, 9.8, 2.0, 0.2 degrees
    nodes = np.concatenate([flattened(h) for h in heights])
    tets = np.arange(16).reshape(4, 4)
    share = element_share(nodes, tets)
    dihedral, _ = tet_quality(nodes, tets)
    expect = ELEMENT_SHARE + (1 - ELEMENT_SHARE) * np.clip((hi - dihedral) / (hi - lo), 0, 1)
    np.testing.assert_allclose(share, expect)
    assert share[0] == share[1] == ELEMENT_SHARE and share[3] == 1.0  # well shaped, thin, flat
    assert ELEMENT_SHARE < share[2] < 1.0  # in between


@pytest.mark.parametrize("formulation", ["anp", "es-anp"])
def test_nodal_pressure_equals_standard_under_homogeneous_deformation(formulation):
    model = mixed_model(springs=False)
    A = np.array([[1.1, 0.05, 0.0], [-0.02, 0.95, 0.03], [0.01, 0.0, 1.04]])
    x = model.nodes @ A.T
    std = FEMSystem(model).evaluate(x)
    other = FEMSystem(model, formulation=formulation).evaluate(x)
    np.testing.assert_allclose(other.force, std.force, atol=1e-12 * np.abs(std.force).max())
    assert other.energy == pytest.approx(std.energy, rel=1e-12)


@pytest.mark.parametrize("formulation", ["standard", "anp", "es-anp"])
def test_tangent_is_finite_difference_of_force(formulation):
    model = mixed_model()
    system = FEMSystem(model, formulation=formulation)
    x = deformed(model)
    ev = system.evaluate(x)
    K = ev.tangent.toarray()
    rng = np.random.default_rng(3)
    h = 1e-6
    for _ in range(6):  # directional derivatives along random directions
        d = rng.standard_normal(x.shape)
        fp = system.evaluate(x + h * d, want_tangent=False)
        fm = system.evaluate(x - h * d, want_tangent=False)
        fd = (fp.force - fm.force) / (2 * h)
        exact = K @ d.ravel()
        assert np.linalg.norm(fd - exact) <= 1e-6 * np.linalg.norm(exact)
        # and the force is the derivative of the energy
        de = (fp.energy - fm.energy) / (2 * h)
        assert de == pytest.approx(ev.force @ d.ravel(), rel=1e-6)


def test_partitions_share_no_node():
    nodes, tets = box_tets((4, 3, 5))
    order, ptr, node_ptr = partition_elements(tets, len(nodes), 3)
    assert sorted(order) == list(range(len(tets)))
    parts = [set(tets[order[ptr[t]:ptr[t + 1]]].ravel()) for t in range(3)]
    assert all(len(p) > 0 for p in parts)
    for a in range(3):
        assert all(node_ptr[a] <= v < node_ptr[a + 1] for v in parts[a])  # rows it zeroes
        for b in range(a + 1, 3):
            assert not parts[a] & parts[b]


def test_constrained_dofs_become_identity_rows_and_columns():
    model = mixed_model()
    x = deformed(model, scale=0.02)
    dofs = np.array([0, 1, 2, 7, 40])
    ev = FEMSystem(model).evaluate(x, constrained=dofs)
    K = ev.tangent.toarray()
    free = np.setdiff1d(np.arange(K.shape[0]), dofs)
    np.testing.assert_array_equal(K[np.ix_(dofs, dofs)], np.eye(len(dofs)))
    assert not K[np.ix_(dofs, free)].any() and not K[np.ix_(free, dofs)].any()
    assert not ev.force[dofs].any()
    full = FEMSystem(model).evaluate(x).tangent.toarray()
    np.testing.assert_array_equal(K[np.ix_(free, free)], full[np.ix_(free, free)])


def test_inverted_element_is_reported_not_hidden():
    model = mixed_model(springs=False)
    x = model.nodes.copy()
    t = model.tets[0]
    x[t[0]] = x[t[1:]].mean(axis=0) * 2 - x[t[0]]  # mirror one corner through the opposite face
    ev = FEMSystem(model).evaluate(x)
    assert ev.inverted >= 1 and ev.tangent is None and not np.isfinite(ev.energy)


def test_closed_form_3x3_determinants_and_inverses_equal_numpys():
    """The cofactor kernels the FEM system uses for reference shapes and growth tensors,
    against numpy.linalg (their twin), on well and badly conditioned matrices."""
    from sagsim.solvers.fem.kernels.small import det3, inv3

    rng = np.random.default_rng(7)
    A = rng.standard_normal((500, 3, 3))
    A[:100] = np.eye(3) + 1e-6 * A[:100]  # near the identity, as growth tensors are
    A[100:200] *= 1e-3  # reference edges in metres: entries of a millimetre
    np.testing.assert_allclose(det3(A), np.linalg.det(A), rtol=1e-10, atol=0)
    cond = np.linalg.cond(A)
    err = np.abs(inv3(A) - np.linalg.inv(A)).max(axis=(1, 2)) / np.abs(np.linalg.inv(A)).max(axis=(1, 2))
    assert (err <= 1e-13 * cond).all(), float((err / cond).max())
