"""Registration of the template face onto scans: its parts against plain answers, and whole
registrations against scans made from the vendored heads, whose landmarks are known."""
import dataclasses

import numpy as np
import pytest

from sagsim.anatomy.closest import Surface, closest_on_triangles
from sagsim.anatomy.deform import AffineField, KernelField, wendland_kernel
from sagsim.anatomy.register import register, to_metres
from sagsim.anatomy.rigid import rotation_angle_deg, umeyama
from sagsim.bench.registration import CASES, make_scan, rotation, run_case, truth_model
from sagsim.cli import main
from sagsim.errors import MeshError
from sagsim.io import write_json, write_surface
from sagsim.meshfile import load_model


def test_closest_points_on_triangles_match_a_dense_search():
    rng = np.random.default_rng(3)
    tri = rng.normal(size=(200, 3, 3))
    p = 2.0 * rng.normal(size=(200, 3))
    q, bary = closest_on_triangles(p, tri[:, 0], tri[:, 1], tri[:, 2])
    assert np.allclose(bary.sum(axis=1), 1.0) and (bary >= -1e-12).all()
    assert np.allclose(np.einsum("ij,ijk->ik", bary, tri), q)
    # the twin: every point of a fine barycentric grid on each triangle
    g = np.linspace(0.0, 1.0, 61)
    u, v = np.meshgrid(g, g)
    keep = u + v <= 1.0
    w = np.column_stack([1 - u[keep] - v[keep], u[keep], v[keep]])
    dense = np.einsum("gk,tkd->tgd", w, tri)
    brute = np.linalg.norm(dense - p[:, None], axis=2).min(axis=1)
    exact = np.linalg.norm(q - p, axis=1)
    assert (exact <= brute + 1e-12).all()
    assert np.allclose(exact, brute, atol=0.02 * np.ptp(tri, axis=1).max())


def grid(n=10):
    x, y = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    pts = np.column_stack([x.ravel(), y.ravel(), np.zeros(n * n)])
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    return pts, np.concatenate([np.column_stack([a, b, d]), np.column_stack([a, d, c])])


def test_a_closest_point_off_the_surface_is_on_its_border_and_one_above_it_is_not():
    pts, tris = grid()
    surf = Surface(pts, tris)
    hit = surf.closest(np.array([[0.43, 0.57, 0.2], [1.3, 0.5, 0.0], [-0.2, -0.3, 0.1], [0.5, 0.999, 0.01]]))
    assert hit["on_border"].tolist() == [False, True, True, False]
    assert np.allclose(hit["point"][0], [0.43, 0.57, 0.0]) and np.isclose(hit["distance"][1], 0.3)
    assert np.allclose(np.abs(hit["normal"][:, 2]), 1.0)


def test_the_kernel_is_one_at_its_centre_zero_beyond_its_radius_and_symmetric():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(50, 3))
    k = wendland_kernel(x, x, 0.4).toarray()
    assert np.allclose(np.diag(k), 1.0) and np.allclose(k, k.T)
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    assert (k[d >= 0.4] == 0).all() and (k[d < 0.39] > 0).all()
    assert np.linalg.eigvalsh(k).min() > 0  # positive definite (Wendland 1995)


def test_a_kernel_field_follows_its_pairs_when_free_and_stays_put_when_stiff():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(400, 3))
    centres = x[:120]
    # a displacement the kernels can represent exactly: the free fit gives it back
    truth = KernelField(centres, 0.8, 0.01 * rng.normal(size=(120, 3)))
    y = truth(x)
    a = np.ones(len(x))
    free = KernelField.fit(x, y, a, centres, radius=0.8, stiffness=1e-12)
    stiff = KernelField.fit(x, y, a, centres, radius=0.8, stiffness=1e6)
    assert np.abs(free(x) - y).max() < 1e-3 * np.abs(y - x).max()
    assert np.abs(stiff(x) - x).max() < 1e-3 * np.abs(y - x).max()


def test_an_affine_field_and_a_similarity_recover_known_maps():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 3))
    m = np.array([[1.1, 0.1, 0.0], [0.0, 0.9, 0.05], [0.02, 0.0, 1.05]])
    y = x @ m.T + [0.1, -0.2, 0.3]
    f = AffineField.fit(x, y, np.ones(100), stiffness=0.0)
    assert np.allclose(f(x), y, atol=1e-10)
    r = rotation((20.0, -50.0, 130.0))
    sim = umeyama(x, 1.2 * x @ r.T + [1.0, 2.0, 3.0])
    assert np.isclose(sim.scale, 1.2) and np.allclose(sim.rotation, r, atol=1e-12)
    assert rotation_angle_deg(sim.rotation, rotation((20.0, -50.0, 140.0))) == pytest.approx(10.0, abs=1e-4)


def test_units_are_taken_as_given_and_a_wrong_guess_is_refused_with_the_likely_unit():
    pts = np.random.default_rng(0).uniform(size=(20, 3)) * [176.0, 200.0, 120.0]
    assert np.allclose(to_metres(pts, "mm", "scan.obj"), pts / 1000)
    with pytest.raises(MeshError, match=r"scan.obj: .* looks like mm \(--units mm\)"):
        to_metres(pts, None, "scan.obj")
    with pytest.raises(MeshError, match=r"looks like cm"):
        to_metres(pts / 10, "mm", "scan.obj")


@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[3], CASES[4]], ids=lambda c: c.name.split(",")[0])
def test_scans_of_the_template_head_give_back_its_landmarks(case):
    """Scaled, turned and shifted (mm, cm), decimated to a few hundred vertices, noisy with
    holes: every landmark comes back within a millimetre of where the case put it."""
    r = run_case(case, "coarse")
    assert not r["landmarks_missing"]
    assert abs(r["scale_found"] - case.scale) < 0.01 * case.scale
    assert r["landmark_error_median_mm"] < 0.5 and r["landmark_error_max_mm"] < 1.0
    assert r["gap_mean_mm"] < 0.3
    if case.holes:  # the holes are where the report says the scan has no data
        assert r["no_scan_data"]["cheek_left"] > 0.0 and r["no_scan_data"]["chin"] > 0.0
        assert r["no_scan_data"]["cheek_right"] == 0.0


def test_the_male_head_registers_with_every_landmark_and_landmarks_sharpen_it():
    """The female template on the male head (another face): the landmarks land within a few
    millimetres; six given landmarks halve the median error."""
    plain = run_case(CASES[6], "coarse")
    guided = run_case(CASES[7], "coarse")
    assert not plain["landmarks_missing"]
    assert plain["landmark_error_median_mm"] < 5.0 and plain["gap_mean_mm"] < 1.0
    assert guided["landmark_error_median_mm"] < 0.7 * plain["landmark_error_median_mm"]


def test_a_registered_model_keeps_its_ligaments_at_rest_and_its_supports_along_their_lines():
    template = truth_model("female", "coarse")
    scan = make_scan(CASES[6], "coarse")
    fitted = register(template, scan["points"], scan["triangles"], units="cm")
    model, s = fitted.model, fitted.model.springs
    other = np.where(s.to_point[:, None], s.anchors, model.nodes[np.maximum(s.nodes[:, 1], 0)])
    length = np.linalg.norm(model.nodes[s.nodes[:, 0]] - other, axis=1)
    support = np.array([n.startswith("contact_") for n in s.names])[s.group]
    assert np.allclose(length[~support], s.rest_length[~support], rtol=1e-9)
    assert np.allclose(length[support], s.rest_length[support], rtol=1e-9)
    assert model.landmarks.keys() == template.landmarks.keys()
    assert (model.tet_layer == template.tet_layer).all() and model.compartment_names == template.compartment_names


def test_surfaces_that_are_not_a_face_are_refused_with_a_reason():
    template = truth_model("female", "coarse")
    # a sphere of a head's size: every orientation fits it as well as every other
    u, v = np.meshgrid(np.linspace(0.1, np.pi - 0.1, 30), np.linspace(0, 2 * np.pi, 60, endpoint=False))
    pts = 0.1 * np.column_stack([np.sin(u.ravel()) * np.cos(v.ravel()), np.sin(u.ravel()) * np.sin(v.ravel()),
                                 np.cos(u.ravel())])
    from scipy.spatial import ConvexHull
    hull = ConvexHull(pts)
    with pytest.raises(MeshError, match="cannot tell up and front|did not converge"):
        register(template, pts, hull.simplices, where="ball.stl")
    with pytest.raises(MeshError, match="landmark 'nose_tip' is not one the template knows"):
        scan = make_scan(CASES[0], "coarse")
        register(template, scan["points"], scan["triangles"], landmarks={"nose_tip": [0, 0, 0], "pronasale": [0, 0, 0],
                                                                        "menton": [0, 0, 0]})


def test_mesh_command_registers_a_scan_in_centimetres_and_the_result_ages(tmp_path):
    scan = make_scan(dataclasses.replace(CASES[2], keep_fraction=0.3), "coarse")
    write_surface(tmp_path / "scan.obj", scan["points"], scan["triangles"])
    out = tmp_path / "subject.vtu"
    assert main(["mesh", "--skin", str(tmp_path / "scan.obj"), "--out", str(out), "--resolution", "coarse"]) == 2
    assert not out.exists()  # refused (no --units), nothing written
    write_json(tmp_path / "marks.json", {k: scan["truth"][k] / 0.01 for k in ("pronasale", "menton", "tragion_left")})
    assert main(["mesh", "--skin", str(tmp_path / "scan.obj"), "--units", "cm", "--landmarks", str(tmp_path / "marks.json"),
                 "--out", str(out), "--resolution", "coarse"]) == 0
    model, provenance = load_model(out)
    assert provenance["parameters"]["units"] == "cm" and out.with_suffix(".registration.json").exists()
    (tmp_path / "age.toml").write_text(f'[scenario]\nname = "subject"\nface = "{out}"\nstart_age = 40\nend_age = 45\n'
                                       'step_years = 5\n')
    assert main(["age", str(tmp_path / "age.toml"), "--out", str(tmp_path / "aged"), "--no-pictures", "--quiet"]) == 0
    import csv
    rows = list(csv.DictReader(open(tmp_path / "aged" / "landmarks.csv")))
    assert {r["landmark"] for r in rows} >= {"jowl_left", "jowl_right", "cheilion_left", "nasolabial_2_left", "menton"}
    last = [r for r in rows if float(r["age"]) == 45.0]
    assert len(last) == len(model.landmarks) and all(np.isfinite(float(r["magnitude_mm"])) for r in last)
    assert max(float(r["magnitude_mm"]) for r in last) > 0.0


def test_a_real_scan_with_closed_lips_nostrils_and_eyelids_registers_with_no_repair():
    """VTK's laser scan of a face (examples/scans): its own frame, a flattened mouth, cut short
    at the forehead, chin and sides. Up and front are found, every landmark is carried, no
    element is folded or flattened past the guards, and the nose tip lands on the scan's."""
    from pathlib import Path

    from sagsim.io import read_surface

    path = Path(__file__).resolve().parents[2] / "examples" / "scans" / "fran_cut.vtk"
    points, triangles = read_surface(path)
    template = truth_model("female", "coarse")
    fitted = register(template, points, triangles, where=path.name)
    report = fitted.report
    assert fitted.model.landmarks.keys() == template.landmarks.keys()
    assert report["gap_template_to_scan"]["all"]["mean_mm"] < 2.0
    assert report["no_scan_data_fraction"]["ear_left"] > 0.5 and report["no_scan_data_fraction"]["nose"] == 0.0
    assert all(level["least_volume_ratio"] >= 0.1 and level["largest_aspect_growth"] <= 10 for level in report["levels"])
    front = fitted.scan_to_model(points)
    tip = front[np.argmax(front[:, 2])]  # the scan's most forward point, in the model's frame
    assert np.linalg.norm(tip - fitted.model.landmark_position("pronasale")) < 0.006


def test_a_face_landmark_detectors_68_points_guide_the_fit_as_their_names_do():
    from sagsim.anatomy.register import IBUG68

    template = truth_model("female", "coarse")
    case = dataclasses.replace(CASES[6], given_landmarks=tuple(IBUG68.values()))
    scan = make_scan(case, "coarse")
    detector = [[0.0, 0.0, 0.0]] * 68  # the unnamed points (brows, jawline, lip contours) are not used
    for i, name in IBUG68.items():
        detector[i] = scan["landmarks"][name]
    by_name = register(template, scan["points"], scan["triangles"], units="cm", landmarks=scan["landmarks"])
    by_index = register(template, scan["points"], scan["triangles"], units="cm", landmarks={"ibug68": detector})
    np.testing.assert_array_equal(by_name.model.nodes, by_index.model.nodes)
    assert set(by_index.report["given_landmark_gap_mm"]) == set(IBUG68.values())
    with pytest.raises(MeshError, match="68 points of a face-landmark detector"):
        register(template, scan["points"], scan["triangles"], units="cm", landmarks=detector[:60])
