"""Box meshes and the layered slab."""
import numpy as np
import pytest

from sagsim.anatomy.mesh import box_tets, cube_tets, grid_tets, layered_tets, quality_report, tet_quality
from sagsim.errors import MeshError
from sagsim.anatomy.slab import DEFAULT_LAYERS, layered_slab
from sagsim.model import Layer, tet_volumes


def test_box_mesh_is_conforming_positive_and_numbered_as_documented():
    nodes, tets = box_tets((2, 3, 4), size=(1.0, 2.0, 3.0))
    vol = tet_volumes(nodes, tets)
    assert (vol > 0).all() and vol.sum() == pytest.approx(6.0)
    faces = np.sort(np.concatenate([tets[:, [0, 1, 2]], tets[:, [0, 1, 3]], tets[:, [0, 2, 3]], tets[:, [1, 2, 3]]]), axis=1)
    _, count = np.unique(faces, axis=0, return_counts=True)
    assert set(count) == {1, 2}  # every face is on the boundary or shared by exactly two tets
    assert (count == 1).sum() == 2 * 2 * (2 * 3 + 3 * 4 + 2 * 4)  # two triangles per boundary square
    i, j, k = 1, 2, 3
    assert np.allclose(nodes[i + 3 * (j + 4 * k)], [0.5, 4.0 / 3.0, 2.25])


def test_cube_has_the_benchmark_corner_last():
    nodes, _ = cube_tets(3)
    assert np.array_equal(nodes[-1], [1.0, 1.0, 1.0])


def test_grid_rejects_unsorted_axes():
    with pytest.raises(ValueError, match="zs"):
        grid_tets([0, 1], [0, 1], [0, 2, 1])


def test_slab_layers_stack_at_their_thicknesses():
    model = layered_slab(cells="coarse")
    top = sum(spec.thickness_m for spec in DEFAULT_LAYERS)
    assert model.nodes[:, 2].max() == pytest.approx(top)
    centroid_z = model.nodes[model.tets].mean(axis=1)[:, 2]
    z0 = 0.0
    for spec in DEFAULT_LAYERS:  # each layer's elements lie between its bounds
        z1 = z0 + spec.thickness_m
        inside = centroid_z[model.tet_layer == spec.layer]
        assert inside.size and inside.min() > z0 and inside.max() < z1
        z0 = z1
    assert set(np.unique(model.tet_layer)) == {int(s.layer) for s in DEFAULT_LAYERS}
    assert (model.nodes[model.fixed, 2] == 0.0).all()  # bone is fixed
    assert Layer.SMAS in model.materials


def test_slab_landmarks_sit_on_the_skin():
    model = layered_slab(cells="coarse")
    top = model.nodes[:, 2].max()
    for name in model.landmarks:
        assert model.landmark_position(name)[2] == pytest.approx(top)
    faces = model.skin_faces
    p = model.nodes[faces]
    normal_z = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])[:, 2]
    assert (normal_z > 0).all() and np.allclose(p[..., 2], top)


def test_quality_of_known_tetrahedra():
    regular = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1.0]])
    dihedral, aspect = tet_quality(regular, np.array([[0, 1, 2, 3]]))
    assert dihedral[0] == pytest.approx(np.degrees(np.arccos(1 / 3)))  # 70.53 degrees
    assert aspect[0] == pytest.approx(1.0)
    # the six path tetrahedra of a cube have dihedral angles of 45, 60 and 90 degrees
    nodes, tets = cube_tets(2)
    report = quality_report(nodes, tets)
    assert report["min_dihedral_deg"] == pytest.approx(45.0) and report["inverted"] == 0
    flat = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0.3, 0.3, 0.01]])
    d_flat, a_flat = tet_quality(flat, np.array([[0, 1, 2, 3]]))
    assert d_flat[0] < 5.0 and a_flat[0] > 10.0


def test_layers_on_a_curved_surface_conform_and_keep_their_thickness():
    # a quarter cylinder of bone, radius 50 mm, three layers stacked radially
    theta = np.linspace(0.0, np.pi / 2, 13)
    y = np.linspace(0.0, 0.03, 7)
    T, Y = np.meshgrid(theta, y, indexing="ij")
    direction = np.stack([np.cos(T), np.zeros_like(T), np.sin(T)], axis=-1)
    base = 0.05 * direction + np.stack([np.zeros_like(T), Y, np.zeros_like(T)], axis=-1)
    thickness = np.stack([np.full(T.shape, t) for t in (2e-3, 1e-3, 3e-3)])
    nodes, tets, layer = layered_tets(base, direction, thickness, (2, 1, 2))
    vol = tet_volumes(nodes, tets)
    assert (vol > 0).all()
    for lay, (r0, r1) in enumerate([(0.050, 0.052), (0.052, 0.053), (0.053, 0.056)]):
        exact = np.pi / 4 * (r1**2 - r0**2) * 0.03  # a quarter annulus times the height
        assert vol[layer == lay].sum() == pytest.approx(exact, rel=5e-3)  # chords, not arcs
    faces = np.sort(np.concatenate([tets[:, [0, 1, 2]], tets[:, [0, 1, 3]], tets[:, [0, 2, 3]], tets[:, [1, 2, 3]]]), axis=1)
    _, count = np.unique(faces, axis=0, return_counts=True)
    assert set(count) == {1, 2}


def test_folded_layers_are_refused():
    X, Y = np.meshgrid(np.linspace(0, 1, 4), np.linspace(0, 1, 4), indexing="ij")
    base = np.stack([X, Y, np.zeros_like(X)], axis=-1)
    direction = np.broadcast_to([0.0, 0.0, 1.0], base.shape).copy()
    direction[1, 1] = [3.0, 0.0, 0.2]  # one stacking direction leans far over its neighbours
    with pytest.raises(MeshError, match="fold"):
        layered_tets(base, direction, np.full((1, 4, 4), 1.0), (1,))
