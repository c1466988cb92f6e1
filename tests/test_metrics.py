"""Metrics against states whose answer is known by construction, and on a sagging face."""
import numpy as np
import pytest

from sagsim import metrics
from sagsim.anatomy.face import build_face
from sagsim.model import State
from sagsim.solvers.fem import NewtonOptions, solve_static


@pytest.fixture(scope="module")
def face():
    return build_face("coarse")


def moved(model, u):
    return State(x=model.nodes + u, reference=model.nodes.copy())


def test_a_rigid_drop_is_pure_descent_and_changes_no_shape(face):
    drop = np.zeros_like(face.nodes)
    drop[:, 1] = -0.002  # everything 2 mm down, bone included (a rigid motion)
    s = moved(face, drop)
    disp = metrics.landmark_displacement_mm(face, s)
    assert all(np.allclose(d, [0.0, -2.0, 0.0]) for d in disp.values())
    assert metrics.descent_mm(face, s, ("jowl_left", "jowl_right")) == pytest.approx(2.0)
    for name in ("nasolabial_1_left", "nasolabial_2_right"):
        assert metrics.fold_depth_mm(face, s.x, name) == pytest.approx(metrics.fold_depth_mm(face, face.nodes, name), abs=1e-9)


def test_pushing_the_fold_in_deepens_it(face):
    name = "nasolabial_2_left"
    lm = face.landmarks[name]
    u = np.zeros_like(face.nodes)
    node = face.tets[lm.tet][np.argmax(lm.bary)]
    n = metrics._skin_normal(face, face.landmark_position(name))
    u[node] = -0.001 * n  # the fold point 1 mm into the face
    depth0 = metrics.fold_depth_mm(face, face.nodes, name)
    depth1 = metrics.fold_depth_mm(face, face.nodes + u, name)
    assert depth1 - depth0 == pytest.approx(1e3 * 0.001 * lm.bary.max(), rel=1e-6)


def test_fat_moving_below_the_level_counts(face):
    level = face.landmark_position("subnasale")[1]
    before = metrics.fat_volume_below_ml(face, face.nodes, level)
    drop = np.zeros_like(face.nodes)
    drop[:, 1] = -0.01
    after = metrics.fat_volume_below_ml(face, face.nodes + drop, level)
    assert after > before > 0  # a rigid 10 mm drop carries fat across the level


def test_gravity_sags_the_jowls_and_blurs_the_jawline(face):
    state, _ = solve_static(face, options=NewtonOptions(n_steps=2, formulation="anp"))
    m = metrics.summary(face, state)
    assert 0.1 < m["jowl_descent_mm"] < 5.0
    assert m["jawline_overhang_change_mm"] > 0
    assert m["fat_below_subnasale_change_ml"] > 0


def test_fat_moved_below_counts_what_crosses_the_level(face):
    fat = np.isin(face.tet_layer, [int(v) for v in metrics.FAT_LAYERS])
    cy = face.nodes[face.tets[fat]].mean(axis=1)[:, 1]
    level = float(np.median(cy))
    drop = np.zeros_like(face.nodes)
    drop[:, 1] = -0.003
    x = face.nodes + drop
    crossing = (cy >= level) & (cy - 0.003 < level)
    expected = 1e6 * metrics.tet_volumes(x, face.tets[fat][crossing]).sum()
    assert metrics.fat_moved_below_ml(face, face.nodes, x, level) == pytest.approx(expected, rel=1e-12)
    assert metrics.fat_moved_below_ml(face, x, face.nodes, level) == pytest.approx(-expected, rel=1e-12)
    assert metrics.fat_centroid_descent_mm(face, face.nodes, x) == pytest.approx(3.0, rel=1e-9)


def test_fat_that_shrinks_in_place_has_not_moved(face):
    fat = np.isin(face.tet_layer, [int(v) for v in metrics.FAT_LAYERS])
    level = float(np.median(face.nodes[face.tets[fat]].mean(axis=1)[:, 1]))
    c = face.nodes.mean(axis=0)
    x = c + 0.98 * (face.nodes - c)  # a uniform 2% shrink about the centre moves centroids little
    moved_ml = metrics.fat_moved_below_ml(face, face.nodes, x, level)
    change = metrics.fat_volume_below_ml(face, x, level) - metrics.fat_volume_below_ml(face, face.nodes, level)
    assert abs(moved_ml) < abs(change)  # the volume below changed mostly by shrinking, not by moving
