"""A subject's measured soft-tissue depths put into a face built as columns."""
import numpy as np
import pytest

from sagsim.anatomy.tissue_depths import depths_at, with_depths
from sagsim.bench.registration import CASES, make_scan
from sagsim.cli import main
from sagsim.errors import MeshError
from sagsim.io import write_json, write_surface
from sagsim.meshfile import load_face, load_model

NAMES = ["glabella", "pogonion", "malar_eminence_left", "malar_eminence_right", "labrale_superius", "gonion_left"]


def test_measured_depths_come_out_where_given_and_nowhere_else():
    face = load_face("coarse")
    before = depths_at(face, NAMES)
    given = {"glabella": 1.3e3 * before["glabella"], "pogonion": 0.8e3 * before["pogonion"],
             "malar_eminence_left": 1.4e3 * before["malar_eminence_left"]}
    out, record = with_depths(face, given)
    after = depths_at(out, NAMES)
    for k, mm in given.items():
        assert 1e3 * after[k] == pytest.approx(mm, rel=2e-3) and record[k]["result_mm"] == pytest.approx(mm, rel=2e-3)
    for k in ("malar_eminence_right", "labrale_superius", "gonion_left"):  # beyond the measured ones' reach
        assert after[k] == pytest.approx(before[k], rel=1e-9)
    n = len(np.unique(face.skin_faces))
    np.testing.assert_array_equal(out.nodes[:n], face.nodes[:n])  # the skin stays where it was
    s = out.springs
    ligament = s.to_point & s.is_ligament
    length = np.linalg.norm(out.nodes[s.nodes[ligament, 0]] - s.anchors[ligament], axis=1)
    np.testing.assert_allclose(length, s.rest_length[ligament], rtol=1e-9)  # fibres still at rest
    assert out.landmarks.keys() == face.landmarks.keys()


def test_depths_that_are_not_plausible_are_refused_naming_the_landmark():
    face = load_face("coarse")
    with pytest.raises(MeshError, match=r"d.json: depth at 'glabella': 5700 mm is .* \(millimetres\?\)"):
        with_depths(face, {"glabella": 5700.0}, "d.json")
    with pytest.raises(MeshError, match="depth at 'forehead': no such landmark"):
        with_depths(face, {"forehead": 6.0}, "d.json")
    with pytest.raises(MeshError, match="expected a positive number of millimetres"):
        with_depths(face, {"glabella": -6.0}, "d.json")
    with pytest.raises(MeshError, match="columns"):
        with_depths(load_face("procedural-coarse"), {"glabella": 6.0}, "d.json")


def test_mesh_command_puts_measured_depths_into_a_registered_scan(tmp_path):
    scan = make_scan(CASES[3], "coarse")
    write_surface(tmp_path / "scan.ply", scan["points"], scan["triangles"])
    write_json(tmp_path / "depths.json", {"pogonion": 10.0, "glabella": 6.5})
    out = tmp_path / "subject.vtu"
    assert main(["mesh", "--skin", str(tmp_path / "scan.ply"), "--units", "mm", "--depths", str(tmp_path / "depths.json"),
                 "--resolution", "coarse", "--out", str(out)]) == 0
    model, provenance = load_model(out)
    got = depths_at(model, ["pogonion", "glabella"])
    assert 1e3 * got["pogonion"] == pytest.approx(10.0, rel=2e-3) and 1e3 * got["glabella"] == pytest.approx(6.5, rel=2e-3)
    assert provenance["parameters"]["tissue_depths_mm"]["pogonion"]["given_mm"] == 10.0


def test_a_subjects_skull_puts_the_bone_where_it_is():
    from sagsim.anatomy.tissue_depths import columns, with_skull

    face = load_face("coarse")
    n, levels = columns(face)
    skin, deep = face.nodes[:n], face.nodes[levels * n:]
    held = np.isin(levels * n + np.arange(n), face.fixed)
    factor = np.where(held, 1.2, 1.0)  # a skull 20 % deeper under every bone column
    out, record = with_skull(face, skin + factor[:, None] * (deep - skin), face.skin_faces)
    assert record["met_skull"] == record["bone_columns"] == int(held.sum())
    length = np.linalg.norm(out.nodes[levels * n:] - out.nodes[:n], axis=1) / np.linalg.norm(deep - skin, axis=1)
    np.testing.assert_allclose(length[held], 1.2, rtol=1e-9)
    assert (length[~held] >= 1.0 - 1e-12).all() and (length[~held] <= 1.2 + 1e-12).all()  # blended between
    with pytest.raises(MeshError, match="is it the subject's skull"):
        with_skull(face, 10.0 * (deep - skin) + skin, face.skin_faces, "far.stl")


def test_mesh_command_puts_a_registered_scans_bone_on_its_skull(tmp_path):
    from sagsim.anatomy.tissue_depths import columns
    from sagsim.bench.registration import rotation, truth_model

    case = CASES[1]  # x1.10, turned, shifted, in mm
    scan = make_scan(case, "coarse")
    face = truth_model("female", "coarse")
    n, levels = columns(face)
    skin, deep = face.nodes[:n], face.nodes[levels * n:]
    held = np.isin(levels * n + np.arange(n), face.fixed)
    bone = skin + np.where(held, 1.2, 1.0)[:, None] * (deep - skin)
    moved = (case.scale * bone @ rotation(case.euler_deg).T + case.shift_m) * 1000.0
    write_surface(tmp_path / "scan.ply", scan["points"], scan["triangles"])
    write_surface(tmp_path / "skull.ply", moved, face.skin_faces)
    out = tmp_path / "subject.vtu"
    assert main(["mesh", "--skin", str(tmp_path / "scan.ply"), "--skull", str(tmp_path / "skull.ply"), "--units", "mm",
                 "--resolution", "coarse", "--out", str(out)]) == 0
    import json
    record = json.loads(out.with_suffix(".registration.json").read_text())["skull"]
    # the 109 of 589 that miss are all on the open border, where a column's line grazes past the edge
    assert record["met_skull"] > 0.75 * record["bone_columns"]
    assert record["depth_ratio_median"] == pytest.approx(1.2, abs=0.02)
    assert main(["mesh", "--skull", str(tmp_path / "skull.ply"), "--resolution", "coarse", "--out", str(out)]) == 2
