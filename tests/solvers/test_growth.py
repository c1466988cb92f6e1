"""Volumetric growth (fat deflation): a freely shrinking block stays stress-free, a constrained
one carries the mismatch, and the tangent stays the derivative of the force."""
import numpy as np
import pytest

from sagsim.anatomy.mesh import box_tets
from sagsim.materials import MooneyRivlin, NeoHookean
from sagsim.model import Layer, Loads, State, TissueModel
from sagsim.solvers.fem import FEMSystem, NewtonOptions, solve_static
from twins import tangent_fd_error


def block(n=3):
    nodes, tets = box_tets((n, n, n))
    layer = np.where(np.arange(len(tets)) % 2 == 0, Layer.DEEP_FAT, Layer.SMAS).astype(np.int8)
    mats = {Layer.DEEP_FAT: NeoHookean(mu=1.0, lam=20.0, density=1.0),
            Layer.SMAS: MooneyRivlin(c10=0.5, c20=0.3, kappa=20.0, density=1.0)}
    return TissueModel(nodes=nodes, tets=tets, tet_layer=layer, materials=mats, gravity=[0.0, 0.0, 0.0])


def deflate(model, growth, formulation, steps=10):
    """Reach ``growth`` in small yearly-like increments, each solve warm-started from the last
    (as the aging loop does): all at once, the stretched start state is unstable (J = 1.25
    under lam = 20 mu loses the tangent's definiteness, as a real Neo-Hookean solid would)."""
    loads = symmetry_planes(model)
    state = State.initial(model)
    for k in range(1, steps + 1):
        g = 1.0 + (np.asarray(growth, float) - 1.0) * k / steps
        state = State(x=state.x, reference=state.reference, internal={"growth": g})
        state, _ = solve_static(model, state, loads, NewtonOptions(n_steps=1, formulation=formulation),
                                from_loads=loads)
    return state


def symmetry_planes(model):
    """x=0: ux=0, y=0: uy=0, z=0: uz=0 (free to shrink, no rigid motion)."""
    dofs = [3 * i + a for a in range(3) for i in np.flatnonzero(model.nodes[:, a] == 0.0)]
    return Loads(prescribed_dofs=dofs, prescribed_values=np.zeros(len(dofs)))


@pytest.mark.parametrize("formulation", ["standard", "anp"])
def test_free_uniform_deflation_is_a_stress_free_shrink(formulation):
    model = block()
    s = 0.8  # a fifth of the volume lost
    state = deflate(model, np.full(model.n_tets, s), formulation)
    np.testing.assert_allclose(state.x, np.cbrt(s) * model.nodes, atol=1e-10)
    system = FEMSystem(model, formulation=formulation)
    system.set_reference(model.nodes, state.internal["growth"])
    ev = system.evaluate(state.x)
    assert np.abs(ev.force).max() < 1e-10 and abs(ev.energy) < 1e-12  # no stress left


def test_mismatched_growth_leaves_residual_stress():
    model = block()
    growth = np.where(model.nodes[model.tets].mean(axis=1)[:, 2] < 0.5, 0.7, 1.0)  # lower half deflates
    state = deflate(model, growth, "anp")
    system = FEMSystem(model, formulation="anp")
    system.set_reference(model.nodes, growth)
    ev = system.evaluate(state.x, constrained=np.asarray(symmetry_planes(model).prescribed_dofs))
    assert np.abs(ev.force).max() < 1e-8 and ev.energy > 1e-4  # in equilibrium, but stressed
    top = model.nodes[:, 2] == 1.0
    assert state.x[top, 2].mean() < 1.0 and state.x[top, 2].mean() > np.cbrt(0.7)  # between the two shrinks


@pytest.mark.parametrize("formulation", ["standard", "anp"])
def test_tangent_with_growth_is_the_derivative_of_the_force(formulation):
    model = block(2)
    rng = np.random.default_rng(4)
    system = FEMSystem(model, formulation=formulation)
    system.set_reference(model.nodes, rng.uniform(0.7, 1.2, model.n_tets))
    x = model.nodes + 0.03 * rng.standard_normal(model.nodes.shape)
    assert tangent_fd_error(system, x, rng) <= 1e-6


def random_growth(model, seed=5):
    """Growth tensors near the identity, not symmetric (creep leaves a rotation in them)."""
    rng = np.random.default_rng(seed)
    return np.eye(3) + 0.15 * rng.standard_normal((model.n_tets, 3, 3))


@pytest.mark.parametrize("formulation", ["standard", "anp"])
def test_growth_tensor_kernels_equal_numpy_twins(formulation):
    import twins
    model = block(2)
    Fg = random_growth(model)
    x = model.nodes + 0.05 * np.random.default_rng(6).standard_normal(model.nodes.shape)
    system = FEMSystem(model, formulation=formulation)
    system.set_reference(model.nodes, Fg)
    ev = system.evaluate(x)
    if formulation == "standard":
        R, K, E = twins.assemble_dense(model, x, Fg)
        np.testing.assert_allclose(ev.tangent.toarray(), K, atol=1e-12 * np.abs(K).max())
    else:
        R, E = twins.anp_energy_force(model, x, Fg)
    np.testing.assert_allclose(ev.force, R, atol=1e-12 * np.abs(R).max())
    assert ev.energy == pytest.approx(E, rel=1e-12)


@pytest.mark.parametrize("formulation", ["standard", "anp"])
def test_growth_tensor_tangent_is_the_derivative_of_the_force(formulation):
    model = block(2)
    rng = np.random.default_rng(7)
    system = FEMSystem(model, formulation=formulation)
    system.set_reference(model.nodes, random_growth(model, 8))
    x = model.nodes + 0.03 * rng.standard_normal(model.nodes.shape)
    assert tangent_fd_error(system, x, rng) <= 1e-6


def test_thinning_along_a_normal_is_a_stress_free_flattening():
    """Fg = I - 0.3 n n^T with n = z: a free block loses 30% of its height only."""
    model = block()
    Fg = np.broadcast_to(np.diag([1.0, 1.0, 0.7]), (model.n_tets, 3, 3))
    loads = symmetry_planes(model)
    state = State.initial(model)
    state = State(x=state.x, reference=state.reference, internal={"growth": Fg})
    # all at once, the flattened start is too far for Newton with the patch-pressure tangent;
    # ramping the growth lets the cut-backs find increments that converge
    state, log = solve_static(model, state, loads, NewtonOptions(n_steps=2, formulation="anp"), from_loads=loads,
                              from_growth=np.ones(model.n_tets))
    np.testing.assert_allclose(state.x, model.nodes * [1.0, 1.0, 0.7], atol=1e-10)


def test_growth_of_the_wrong_shape_or_orientation_is_refused():
    from sagsim.errors import ModelError
    model = block(2)
    system = FEMSystem(model)
    with pytest.raises(ModelError, match="growth"):
        system.set_reference(model.nodes, np.ones((model.n_tets, 2)))
    flip = np.broadcast_to(np.diag([1.0, 1.0, -1.0]), (model.n_tets, 3, 3))
    with pytest.raises(ModelError, match="determinant"):
        system.set_reference(model.nodes, flip)
