"""Aging: each mechanism does what it says, the time loop resumes bit for bit, nothing moves
without a mechanism, and the diagnosis splits the sag exactly."""
from dataclasses import replace

import numpy as np
import pytest

from sagsim.aging import AgingSettings, default_mechanisms, run_aging
from sagsim.aging.context import AgingContext, aged_model
from sagsim.aging.diagnosis import diagnose, shapley_values
from sagsim.aging.mechanisms import BoneResorption, FatDeflation, FatDescent, LigamentLaxity, SkinAging
from sagsim.aging.run import start_state
from sagsim.errors import ScenarioError
from sagsim.meshfile import load_face
from sagsim.model import Layer


@pytest.fixture(scope="module")
def face():
    return load_face("procedural-coarse")


@pytest.fixture(scope="module")
def ctx(face):
    return AgingContext(face)


def only(*names, **changes):
    """The default mechanisms with only ``names`` enabled (parameters changed by ``changes``)."""
    out = []
    for m in default_mechanisms():
        m = replace(m, enabled=m.name in names)
        fields = {k: v for k, v in changes.items() if hasattr(m, k)}
        out.append(replace(m, **fields) if fields else m)
    return out


def test_ligament_laxity_compounds_stiffness_and_lengthens(face, ctx):
    p = ctx.base_parameters()
    LigamentLaxity(stiffness_loss=0.2, elongation=0.05).apply(ctx, 20.0, p)
    np.testing.assert_allclose(p.spring_stiffness, face.springs.stiffness * 0.8**2)
    np.testing.assert_allclose(p.spring_rest, face.springs.rest_length * 1.10)


def test_aging_loosens_the_ligaments_and_leaves_the_teeth_alone():
    from sagsim.aging.run import with_ligament_prestrain

    real = load_face("real-coarse")
    lig = real.springs.is_ligament
    assert lig.any() and (~lig).any()  # ligaments, and the teeth's supports
    p = AgingContext(real).base_parameters()
    LigamentLaxity(stiffness_loss=0.2, elongation=0.05).apply(AgingContext(real), 20.0, p)
    np.testing.assert_allclose(p.spring_stiffness[lig], real.springs.stiffness[lig] * 0.8**2)
    np.testing.assert_array_equal(p.spring_stiffness[~lig], real.springs.stiffness[~lig])
    np.testing.assert_array_equal(p.spring_rest[~lig], real.springs.rest_length[~lig])
    held = with_ligament_prestrain(real, 0.1).springs
    np.testing.assert_allclose(held.rest_length[lig], real.springs.rest_length[lig] / 1.1)
    np.testing.assert_array_equal(held.rest_length[~lig], real.springs.rest_length[~lig])


def test_skin_aging_thins_along_the_depth_normal_and_stiffens(face, ctx):
    p = ctx.base_parameters()
    SkinAging(modulus_ratio=2.0, modulus_span_years=40.0, thinning=0.05, laxity=0.02).apply(ctx, 20.0, p)
    skin = ctx.elements_of_layer(Layer.SKIN)
    n = ctx.depth_normal[skin]
    Fg = p.growth[skin]
    np.testing.assert_allclose(np.einsum("ei,eij,ej->e", n, Fg, n), 0.9)  # 10% thinner
    t = np.cross(n, [0.3, 1.0, 0.1])
    t /= np.linalg.norm(t, axis=1)[:, None]
    np.testing.assert_allclose(np.linalg.norm(np.einsum("eij,ej->ei", Fg, t), axis=1), 1.04)  # 4% more area per side
    other = np.setdiff1d(np.arange(face.n_tets), skin)
    assert np.array_equal(p.growth[other], np.broadcast_to(np.eye(3), (len(other), 3, 3)))
    assert p.materials[Layer.SKIN].mu == pytest.approx(face.materials[Layer.SKIN].mu * np.sqrt(2.0))


def test_depth_normals_point_out_of_the_face(face, ctx):
    skin = ctx.elements_of_layer(Layer.SKIN)
    c = face.nodes[face.tets[skin]].mean(axis=1)
    bone = face.nodes[face.fixed].mean(axis=0)
    outward = np.einsum("ij,ij->i", ctx.depth_normal[skin], c - bone)
    assert (outward > 0).mean() > 0.95


def test_fat_deflation_acts_on_its_compartments_only(face, ctx):
    p = ctx.base_parameters()
    FatDeflation(loss={"SOOF": 0.1}).apply(ctx, 30.0, p)
    soof = ctx.elements_of_compartment("SOOF")
    assert len(soof) > 0
    np.testing.assert_allclose(np.linalg.det(p.growth[soof]), 0.7)  # thickness only: volume = thickness
    rest = np.setdiff1d(np.arange(face.n_tets), soof)
    assert np.allclose(np.linalg.det(p.growth[rest]), 1.0)


def test_fat_creep_is_objective_and_relaxes_stretch(face, ctx):
    descent = FatDescent(time_constant=10.0)
    X = face.nodes
    I = np.broadcast_to(np.eye(3), (face.n_tets, 3, 3)).copy()
    c, s = np.cos(0.3), np.sin(0.3)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    assert np.allclose(descent.remodel(ctx, X, X @ R.T, I, I, 5.0), I)  # a rotation is not remodelled
    beta = 1.0 - np.exp(-1.0)
    fat = ctx.fat_elements
    # a change of shape relaxes towards the loaded shape, in log-stretch
    shape = np.diag([1.2**-0.5, 1.2, 1.2**-0.5])
    out = descent.remodel(ctx, X, X @ shape.T, I, I, 10.0)
    np.testing.assert_allclose(out[fat], np.broadcast_to(shape**beta, (len(fat), 3, 3)), atol=1e-12)
    # a change of volume does not: a stretch creeps by its shape alone, volumes kept
    stretch = np.diag([1.0, 1.2, 1.0])
    out = descent.remodel(ctx, X, X @ stretch.T, I, I, 10.0)
    np.testing.assert_allclose(out[fat], np.broadcast_to((1.2**(-1 / 3) * stretch) ** beta, (len(fat), 3, 3)),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(out[fat]), 1.0)
    assert np.allclose(descent.remodel(ctx, X, 1.1 * X, I, I, 10.0), I)  # swelling alone: no creep
    others = np.setdiff1d(np.arange(face.n_tets), fat)
    assert np.array_equal(out[others], I[others])


def test_bone_resorption_moves_bone_and_ligament_ends_inward(face, ctx):
    p = ctx.base_parameters()
    BoneResorption(enabled=True, maxilla=1.0, mandible=2.0).apply(ctx, 10.0, p)
    moved = np.linalg.norm(p.bone_displacement, axis=1)
    assert set(np.round(1e3 * moved[moved > 0], 9)) == {1.0, 2.0}
    model, loads = aged_model(ctx, p)
    assert len(loads.prescribed_dofs) == 3 * len(face.fixed)
    shift = np.linalg.norm(model.springs.anchors - face.springs.anchors, axis=1)
    assert shift.max() > 0.9e-3  # some ligament bone ends went with the bone


def test_without_mechanisms_nothing_moves(face):
    result = run_aging(face, only(), AgingSettings(end_age=46, step_years=3))
    assert np.abs(result.frames[-1] - result.frames[0]).max() < 1e-9
    assert abs(result.rows[-1]["jowl_descent_mm"]) < 1e-6


def test_the_unloaded_start_reproduces_the_captured_face(face):
    X0, x0 = start_state(face, AgingSettings())
    sag = np.abs(x0 - X0).max()
    assert sag > 1e-4  # gravity does move the face
    assert np.abs(x0 - face.nodes).max() < 0.02 * sag


def test_aging_sags_the_jowl_and_blurs_the_jawline(face):
    result = run_aging(face, default_mechanisms(), AgingSettings(end_age=70, step_years=5))
    jowl = result.metric("jowl_descent_mm")
    assert np.all(np.diff(jowl) > 0) and jowl[-1] > 0.5  # descends every step
    assert result.rows[-1]["jawline_overhang_change_mm"] > 0.5
    assert result.rows[-1]["fat_moved_below_subnasale_ml"] > 0.0


@pytest.mark.parametrize("linear_solver", ["amg-cg", "auto"])
@pytest.mark.parametrize("unloaded", [False, True])
def test_an_interrupted_run_resumes_bit_identical(face, tmp_path, linear_solver, unloaded):
    settings = AgingSettings(end_age=48, step_years=2, linear_solver=linear_solver, unloaded=unloaded)
    mechs = default_mechanisms()
    whole = run_aging(face, mechs, settings, tmp_path / "whole")
    part = run_aging(face, mechs, settings, tmp_path / "cut", stop_after=2)
    assert len(part.frames) == 3
    resumed = run_aging(face, mechs, settings, tmp_path / "cut")
    assert len(resumed.frames) == len(whole.frames)
    for a, b in zip(whole.frames, resumed.frames):
        assert np.array_equal(a, b)
    assert [r | {"step_seconds": 0} for r in whole.rows] == [r | {"step_seconds": 0} for r in resumed.rows]


def test_a_checkpoint_of_another_run_is_refused(face, tmp_path):
    settings = AgingSettings(end_age=44, step_years=2, unloaded=False)
    run_aging(face, default_mechanisms(), settings, tmp_path, stop_after=1)
    other = [replace(m, time_constant=3.0) if isinstance(m, FatDescent) else m for m in default_mechanisms()]
    with pytest.raises(ScenarioError, match="another run"):
        run_aging(face, other, settings, tmp_path)


def test_a_checkpoint_in_another_format_is_refused_saying_so(face, tmp_path):
    settings = AgingSettings(end_age=44, step_years=2, unloaded=False)
    run_aging(face, default_mechanisms(), settings, tmp_path, stop_after=1)
    meta = tmp_path / "checkpoint" / "run.json"
    meta.write_text(meta.read_text().replace('"version": 2', '"version": 1'))
    with pytest.raises(ScenarioError, match=r"another format \(version 1, this sagsim writes 2\)"):
        run_aging(face, default_mechanisms(), settings, tmp_path)


def test_a_diagnosis_run_by_two_workers_gives_what_one_does(face):
    # the subsets run side by side in spawned processes, each on its share of the cores: the
    # same runs, summed in another order
    mechs = only("skin", "fat_descent")
    settings = AgingSettings(end_age=50, step_years=10)
    one = diagnose(face, mechs, settings, workers=1)
    two = diagnose(face, mechs, settings, workers=2)
    assert one.outcomes == two.outcomes and set(one.values) == set(two.values)
    for S in one.values:
        np.testing.assert_allclose(two.values[S], one.values[S], rtol=1e-9, atol=1e-12)


def test_shapley_values_of_known_games():
    players = ["a", "b", "c"]
    subsets = [frozenset(s) for s in ([], ["a"], ["b"], ["c"], ["a", "b"], ["a", "c"], ["b", "c"], ["a", "b", "c"])]
    additive = {S: np.array([sum({"a": 1.0, "b": 2.0, "c": 4.0}[p] for p in S)]) for S in subsets}
    phi, main = shapley_values(additive, players)
    np.testing.assert_allclose(phi[:, 0], [1.0, 2.0, 4.0])
    np.testing.assert_allclose(main, phi)
    both = {S: np.array([1.0 if {"a", "b"} <= S else 0.0]) for S in subsets}  # only a and b together
    phi, main = shapley_values(both, players)
    np.testing.assert_allclose(phi[:, 0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(main, 0.0)


def test_diagnosis_sums_to_the_total_sag(face):
    mechs = only("skin", "fat_descent", "ligament_laxity")
    d = diagnose(face, mechs, AgingSettings(end_age=60, step_years=10), workers=1)
    assert len(d.values) == 8
    np.testing.assert_allclose(d.shapley.sum(axis=0), d.total, atol=1e-12)
    np.testing.assert_allclose(d.main.sum(axis=0) + d.interaction, d.total, atol=1e-12)
    j = d.outcomes.index("jowl_descent_mm")
    assert d.total[j] > 0.3
    assert np.abs(d.values[frozenset()]).max() < 1e-6  # no mechanism, no sag
    assert d.dominant("jowl_descent_mm") in d.labels


def test_the_predictor_is_exact_for_a_quadratic_path():
    from sagsim.aging.run import _extrapolate
    ages = np.array([40.0, 41.0, 43.0, 44.5])
    path = [np.full((2, 3), 1.0 + 0.3 * (a - 40) - 0.02 * (a - 40) ** 2) for a in ages]
    np.testing.assert_allclose(_extrapolate(ages, path[:3]), path[3], rtol=1e-12)
    np.testing.assert_allclose(_extrapolate(ages[:2], path[:1]), path[0])  # one frame: stay


def test_edge_smoothed_recovery_keeps_the_slivers_in_shape():
    # the domains barely feel a sliver's height: with only ELEMENT_SHARE of its own shear energy,
    # the recovery flattened the real coarse face's worst slivers, which upright gravity then
    # stretched 26-fold; with the slivers' larger share (SLIVER_DIHEDRAL_DEG) the largest stretch
    # is 4.0, as with averaged nodal pressure (3.8)
    real = load_face("real-coarse")
    X0, x0 = start_state(real, AgingSettings(formulation="es-anp"))
    edges = lambda p: p[real.tets[:, 1:]] - p[real.tets[:, :1]]  # noqa: E731
    F = np.transpose(np.linalg.solve(edges(X0), edges(x0)), (0, 2, 1))
    stretch = np.sqrt(np.linalg.eigvalsh(np.einsum("eki,ekj->eij", F, F))[:, -1])
    assert stretch.max() < 6.0, stretch.max()


def test_a_long_step_whose_extrapolated_start_inverts_an_element_starts_from_the_last_equilibrium(caplog, monkeypatch):
    # 10-year steps on the real coarse face: the quadratic extrapolation to 70 through 40, 50 and
    # 60 once inverted an element (before the fat compartments were given by element centre), and
    # cutting the load (all the solver can do) cannot mend a start; that run failed at 70 before
    # the step fell back to the last equilibrium. An extrapolation made to overshoot stands in
    # for it, so that the fallback is tested whatever the mesh does.
    import sagsim.aging.run as run

    exact = run._extrapolate

    def overshoot(ages, frames):
        guess = exact(ages, frames)
        return frames[-1] + 200.0 * (guess - frames[-1])

    monkeypatch.setattr(run, "_extrapolate", overshoot)
    real = load_face("real-coarse")
    with caplog.at_level("INFO", logger="sagsim.aging"):
        result = run_aging(real, default_mechanisms(), AgingSettings(end_age=70, step_years=10))
    assert list(result.ages) == [40, 50, 60, 70]
    assert "starting from the last equilibrium" in caplog.text
    assert result.metric("jowl_descent_mm")[-1] > 0.0


def test_quadratic_elements_age_with_creep_on_their_mean_deformation(face, monkeypatch):
    # tet10: the fat's creep relaxes each element's mean deformation (its midsides count, not
    # only its corners), and each step starts from the last steps' bent edges; neither changes
    # what a step converges to, only where Newton starts
    import sagsim.aging.mechanisms as mechanisms

    seen = []
    relax = mechanisms.relax

    def spy(*args):
        seen.append(args[-1])
        return relax(*args)

    monkeypatch.setattr(mechanisms, "relax", spy)
    settings = AgingSettings(end_age=50, step_years=5, unloaded=False, formulation="tet10")
    result = run_aging(face, default_mechanisms(), settings)
    assert len(seen) == 2 and all(F is not None and F.shape == (face.n_tets, 3, 3) for F in seen)
    jowl = result.metric("jowl_descent_mm")
    assert np.all(np.diff(jowl) > 0)

    import sagsim.aging.run as run

    monkeypatch.setattr(run, "bent_midsides", lambda system, x, bend: {})  # every step straight-edged
    straight = run_aging(face, default_mechanisms(), settings)
    np.testing.assert_allclose(straight.metric("jowl_descent_mm"), jowl, rtol=1e-3)


def test_a_quadratic_run_resumes_from_its_curved_edges_bit_identical(face, tmp_path):
    from sagsim.model import midside_edges

    # the checkpoint keeps the last steps' edge bends: a resumed tet10 run starts each step where
    # the uninterrupted one did, and the result hands its last curved edges on (to a lift, a VTU)
    settings = AgingSettings(end_age=46, step_years=2, unloaded=False, formulation="tet10")
    mechs = default_mechanisms()
    whole = run_aging(face, mechs, settings, tmp_path / "whole")
    run_aging(face, mechs, settings, tmp_path / "cut", stop_after=2)
    resumed = run_aging(face, mechs, settings, tmp_path / "cut")
    for a, b in zip(whole.frames, resumed.frames, strict=True):
        assert np.array_equal(a, b)
    last = whole.state(-1).internal["midside"]
    assert np.array_equal(last, resumed.final_midside)
    edges, _ = midside_edges(face.tets)
    straight = 0.5 * (whole.frames[-1][edges[:, 0]] + whole.frames[-1][edges[:, 1]])
    assert last.shape == straight.shape and np.abs(last - straight).max() > 1e-7  # bent, not straight
    assert not whole.state(0).internal  # earlier frames are corners only
