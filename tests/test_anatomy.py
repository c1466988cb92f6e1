"""Box meshes and the layered slab."""
import numpy as np
import pytest

from sagsim.anatomy.mesh import box_tets, cube_tets, grid_tets
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
