"""The procedural face (first part of issue 3): a valid layered mesh on a curved bone sheet."""
import numpy as np
import pytest

from sagsim.anatomy.face import FaceParams, build_face
from sagsim.anatomy.mesh import quality_report
from sagsim.anatomy.layers import LAYER_STACK
from sagsim.model import Layer, tet_volumes
from sagsim.solvers.fem import NewtonOptions, solve_static


@pytest.fixture(scope="module")
def face():
    return build_face("coarse")


def test_face_mesh_is_valid_and_reports_its_quality(face):
    q = quality_report(face.nodes, face.tets)
    assert q["inverted"] == 0 and q["tetrahedra"] == face.n_tets <= 5000
    assert q["median_aspect_ratio"] < 5.0 and q["min_dihedral_deg"] > 1.0
    assert set(np.unique(face.tet_layer)) == {int(s.layer) for s in LAYER_STACK}


def test_layer_volumes_equal_thickness_times_area(face):
    """Each layer's volume against the sum over its prism columns of (thickness along the
    mid-surface normal) x (mid-surface area): measured to agree within 4e-5 on the coarse face
    (the difference is the prisms' curvature, second order)."""
    per_level = len(face.fixed)
    vol = tet_volumes(face.nodes, face.tets)
    bone_tri = face.skin_faces - (face.n_nodes - per_level)
    level = 0
    for spec in LAYER_STACK:  # one cell through each layer on the coarse face
        inner, outer = face.nodes[bone_tri + level * per_level], face.nodes[bone_tri + (level + 1) * per_level]
        mid = 0.5 * (inner + outer)
        normal = np.cross(mid[:, 1] - mid[:, 0], mid[:, 2] - mid[:, 0])
        area = 0.5 * np.linalg.norm(normal, axis=1)
        thickness = np.einsum("fkj,fj->f", outer - inner, normal / (2 * area[:, None])) / 3
        assert vol[face.tet_layer == spec.layer].sum() == pytest.approx((thickness * area).sum(), rel=1e-3), spec.layer.name
        level += 1


def test_bone_is_fixed_and_the_skin_faces_outwards(face):
    per_level = len(face.fixed)
    assert np.array_equal(face.fixed, np.arange(per_level))
    p = face.nodes[face.skin_faces]
    normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    centre = np.array([0.0, p[..., 1].mean(), 0.0])
    outward = np.einsum("ij,ij->i", normal, p.mean(axis=1) - centre)
    assert (outward > 0).mean() > 0.95


def test_landmarks_are_skin_points_mirrored_left_and_right(face):
    top = face.n_nodes - len(face.fixed)
    for name, lm in face.landmarks.items():
        node = face.tets[lm.tet][np.argmax(lm.bary)]
        assert node >= top, name  # a node of the outermost level: on the skin
    for name in face.landmarks:
        if name.endswith("_left"):
            left = face.landmark_position(name)
            right = face.landmark_position(name.replace("_left", "_right"))
            assert left[0] > 0 > right[0] and left[0] == pytest.approx(-right[0], abs=0.006)


def test_parameters_change_the_shape():
    wide = FaceParams(half_width=0.075)
    assert build_face("coarse", wide).nodes[:, 0].max() > build_face("coarse").nodes[:, 0].max()


def test_face_sags_under_gravity(face):
    state, log = solve_static(face, options=NewtonOptions(n_steps=2, formulation="anp"))
    u = state.x - face.nodes
    skin = np.arange(face.n_nodes - len(face.fixed), face.n_nodes)
    assert np.isfinite(u).all() and u[skin, 1].mean() < 0  # downwards
    assert 0.01e-3 < -u[skin, 1].min() < 5e-3  # sub-millimetre to millimetres, not metres
    assert Layer.SKIN in face.materials


def test_ligaments_anchor_in_bone_and_insert_in_dermis(face):
    sp = face.springs
    assert {n.rsplit("_", 1)[0] for n in sp.names} == {
        "zygomatic", "upper_masseteric", "lower_masseteric", "mandibular", "orbicularis_retaining"}
    bone = face.nodes[face.fixed]
    gap = np.min(np.linalg.norm(sp.anchors[:, None, :] - bone[None, :, :], axis=2), axis=1)
    assert gap.max() < 1e-12 and sp.to_point.all() and sp.tension_only.all()
    dermis = np.unique(face.tets[face.tet_layer == Layer.SKIN])
    smas = np.unique(face.tets[face.tet_layer == Layer.SMAS])
    ends = sp.nodes[:, 0]
    assert np.isin(ends, np.union1d(dermis, smas)).all()  # through the SMAS into the dermis
    assert np.isin(ends, dermis).any() and np.isin(ends, np.setdiff1d(smas, dermis)).any()
    assert (sp.stiffness > 0).all() and np.allclose(sp.rest_length, np.linalg.norm(face.nodes[sp.nodes[:, 0]] - sp.anchors, axis=1))


def test_zygomatic_ligament_sits_where_the_reference_puts_it():
    face = build_face("default")
    sp = face.springs
    ends = sp.nodes[sp.select("zygomatic_left"), 0]
    dermis = np.unique(face.tets[face.tet_layer == Layer.SKIN])
    insertion = face.nodes[ends[np.isin(ends, dermis)]].mean(axis=0)
    to_tragus = np.linalg.norm(insertion - face.landmark_position("tragus_left"))
    to_commissure = np.linalg.norm(insertion - face.landmark_position("oral_commissure_left"))
    # Tatlisumak and Yoleri: 66.5 +/- 10.78 mm and 56.3 +/- 8.94 mm; within one SD
    assert abs(to_tragus - 0.0665) < 0.0108 and abs(to_commissure - 0.0563) < 0.0089


def test_ligaments_hold_the_skin_up(face):
    loose = build_face("coarse", ligament_stiffness=0.0)
    opts = NewtonOptions(n_steps=2, formulation="anp")
    held, _ = solve_static(face, options=opts)
    free, _ = solve_static(loose, options=opts)
    ins = np.unique(face.springs.nodes[face.springs.select("zygomatic_left"), 0])
    sag_held = -(held.x - face.nodes)[ins, 1].mean()
    sag_free = -(free.x - loose.nodes)[ins, 1].mean()
    assert 0 < sag_held < sag_free


def test_fat_compartments_are_tagged_in_their_layers(face):
    from sagsim.anatomy.layers import COMPARTMENTS

    names = face.compartment_names
    for k, comp in enumerate(COMPARTMENTS, start=1):
        tagged = face.tet_compartment == k
        assert tagged.any(), comp.name  # every compartment has elements, even on the coarse face
        assert (face.tet_layer[tagged] == comp.layer).all()
        centroid = face.nodes[face.tets[tagged]].mean(axis=1)
        assert (centroid[:, 0] > 0).any() and (centroid[:, 0] < 0).any()  # both sides
        assert names[k] == comp.name
    assert (face.tet_compartment[face.tet_layer == Layer.SKIN] == 0).all()


def test_layer_surfaces_separate_their_layers(face):
    from sagsim.anatomy.face import layer_surfaces

    surfaces = layer_surfaces(face, "coarse")
    np.testing.assert_array_equal(surfaces["SKIN"], face.skin_faces)
    assert np.array_equal(np.unique(surfaces["bone"]), face.fixed)
    for inner, outer in zip(LAYER_STACK[:-1], LAYER_STACK[1:]):  # each interface joins two layers
        nodes = np.unique(surfaces[inner.layer.name])
        for lay in (inner.layer, outer.layer):
            assert np.isin(nodes, face.tets[face.tet_layer == lay]).all(), (inner.layer.name, lay.name)


def test_the_lower_face_sags_more_than_the_midface(face):
    state, _ = solve_static(face, options=NewtonOptions(n_steps=2, formulation="anp"))
    dy = {k: (face.landmark_position(k, state.x) - face.landmark_position(k))[1] for k in face.landmarks}
    assert dy["jowl_left"] < dy["malar_eminence_left"] < 0 and dy["jowl_right"] < dy["malar_eminence_right"] < 0


@pytest.mark.slow
def test_coarse_and_default_faces_agree_on_landmark_sag():
    opts = NewtonOptions(n_steps=2, formulation="anp")
    sag = {}
    for res in ("coarse", "default"):
        m = build_face(res)
        st, _ = solve_static(m, options=opts)
        sag[res] = np.array([(m.landmark_position(k, st.x) - m.landmark_position(k))[1]
                             for k in ("malar_eminence_left", "jowl_left", "oral_commissure_left", "pogonion")])
    # measured: within 15 % (0.61 vs 0.69 mm at the malar eminence); the fine face is the next check
    np.testing.assert_allclose(sag["coarse"], sag["default"], rtol=0.2)
