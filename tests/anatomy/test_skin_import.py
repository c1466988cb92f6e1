"""The layered model under a skin surface read from a file, and the errors bad surfaces get."""
import numpy as np
import pytest

from sagsim.anatomy.layers import LAYER_STACK
from sagsim.anatomy.skin_import import layers_under_skin
from sagsim.cli import main
from sagsim.errors import MeshError
from sagsim.io import read_surface, write_surface
from sagsim.model import Layer, tet_volumes
from sagsim.solvers.fem import NewtonOptions, solve_static


def cap(radius=0.1, n=(13, 11)):
    """A patch of a sphere facing +z, triangulated with outward normals."""
    T, P = np.meshgrid(np.linspace(-0.5, 0.5, n[0]), np.linspace(-0.4, 0.4, n[1]), indexing="ij")
    pts = radius * np.stack([np.sin(T) * np.cos(P), np.sin(P), np.cos(T) * np.cos(P)], -1).reshape(-1, 3)
    nu, nv = T.shape
    tri = []
    for i in range(nu - 1):
        for j in range(nv - 1):
            a, b, c, d = i * nv + j, (i + 1) * nv + j, i * nv + j + 1, (i + 1) * nv + j + 1
            tri += [[a, b, d], [a, d, c]]
    return pts, np.array(tri)


def test_layers_under_a_surface_have_their_thickness_and_solve(tmp_path):
    pts, tri = cap()
    write_surface(tmp_path / "skin.stl", pts, tri)
    p2, t2 = read_surface(tmp_path / "skin.stl")
    model = layers_under_skin(p2, t2, {"SKIN": 2e-3}, landmarks={"apex": [0.0, 0.0, 0.1]})
    vol = tet_volumes(model.nodes, model.tets)
    assert (vol > 0).all()
    area = 0.5 * np.linalg.norm(np.cross(*(p2[t2][:, 1:] - p2[t2][:, :1]).transpose(1, 0, 2)), axis=1).sum()
    assert vol[model.tet_layer == Layer.SKIN].sum() == pytest.approx(2e-3 * area, rel=0.03)  # thin shell on r = 0.1 m
    deep = next(s for s in LAYER_STACK if s.layer == Layer.DEEP_FAT).thickness_m
    assert model.landmark_position("apex")[2] == pytest.approx(0.1, abs=1e-3)
    assert np.linalg.norm(model.nodes[model.fixed], axis=1).max() < 0.1 - deep  # bone lies deepest
    faces = np.sort(np.concatenate([model.tets[:, [0, 1, 2]], model.tets[:, [0, 1, 3]], model.tets[:, [0, 2, 3]],
                                    model.tets[:, [1, 2, 3]]]), axis=1)
    assert set(np.unique(faces, axis=0, return_counts=True)[1]) == {1, 2}  # conforming
    state, _ = solve_static(model, options=NewtonOptions(n_steps=1, formulation="anp"))
    assert (state.x - model.nodes)[:, 1].mean() < 0


@pytest.mark.parametrize("break_it, message", [
    (lambda p, t: (p * 1000.0, t), "millimetres"),
    (lambda p, t: (p, t[:, ::-1]), "normals point into the head"),
    (lambda p, t: (p, np.vstack([t, t[:1, [0, 2, 1]]])), "non-manifold|orientation"),
    (lambda p, t: (p, np.vstack([t[:5], t[5:6, ::-1], t[6:]])), "inconsistent orientation"),
    (lambda p, t: (p, t[:1]), r"1 triangle\(s\); expected a face's skin of at least 100"),
    (lambda p, t: (p * [1.0, 0.02, 0.1], t), r"area is 2.2 cm\^2; expected a face's skin of at least 5 cm\^2"),
])
def test_bad_surfaces_get_one_line_errors(break_it, message):
    pts, tri = cap()
    with pytest.raises(MeshError, match=message):
        layers_under_skin(*break_it(pts, tri))


def test_thickness_in_millimetres_is_caught():
    pts, tri = cap()
    with pytest.raises(MeshError, match="SKIN must be in metres.*millimetres"):
        layers_under_skin(pts, tri, {"SKIN": 2.0})
    with pytest.raises(MeshError, match="unknown layer"):
        layers_under_skin(pts, tri, {"DERMIS": 0.002})


def test_layers_thicker_than_the_curvature_are_refused():
    pts, tri = cap(radius=0.035, n=(21, 17))  # a tight cap: 30 mm of tissue cannot fit under it
    with pytest.raises(MeshError, match="fold"):
        layers_under_skin(pts, tri, {"DEEP_FAT": 0.03})


def test_mesh_command_builds_under_a_skin_file(tmp_path):
    pts, tri = cap()
    write_surface(tmp_path / "skin.ply", pts, tri)
    (tmp_path / "thick.json").write_text('{"SKIN": 0.002, "SUPERFICIAL_FAT": 0.004}')
    out = tmp_path / "imported.vtu"
    assert main(["mesh", "--skin", str(tmp_path / "skin.ply"), "--method", "offset", "--thickness",
                 str(tmp_path / "thick.json"), "--out", str(out)]) == 0
    assert out.exists() and out.with_suffix(".json").exists()
    assert main(["mesh", "--skin", str(tmp_path / "missing.stl"), "--out", str(out)]) == 2


def test_a_landmark_far_from_the_skin_is_refused_not_snapped(tmp_path):
    """Landmarks are given on the skin; one metres off (a unit or frame mistake) is one line
    naming it, not moved onto the nearest triangle without a word."""
    from sagsim.anatomy.skin_import import MAX_LANDMARK_GAP
    points, triangles = cap()
    top = points[np.argmax(points[:, 2])]
    model = layers_under_skin(points, triangles, landmarks={"tip": top + [0, 0, 0.5 * MAX_LANDMARK_GAP]})
    assert "tip" in model.landmarks
    with pytest.raises(MeshError, match=r"landmark 'tip' is 2000 mm from the skin; expected a point on the skin"):
        layers_under_skin(points, triangles, landmarks={"tip": top + [0, 0, 2.0]})
