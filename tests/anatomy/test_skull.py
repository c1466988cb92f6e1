"""The skull inside the real head: fitted to the published soft-tissue depths at the midline
landmarks, kept under the skin, and refused (naming the landmark) when it cannot fit."""
import numpy as np
import pytest

import sagsim.anatomy.skull as skull
from sagsim.anatomy.head import load_head
from sagsim.errors import MeshError


@pytest.fixture(scope="module")
def female(female_head_and_skull):
    return female_head_and_skull


def test_the_fitted_skull_meets_every_published_depth_and_stays_under_the_skin(female):
    head, fit = female
    assert [r["landmark"] for r in fit.residuals] == list(skull.DEPTH_LANDMARKS)
    assert all(abs(r["z"]) < 2 for r in fit.residuals), fit.residuals
    assert fit.min_cover_mm >= 1e3 * skull.MIN_COVER_M - 0.05  # no bone through the skin (away from openings)
    # an adult skull: about 15 mm per source unit, nearly upright, its width inside the face's
    width = np.ptp(fit.points[:, 0])
    assert 0.012 < fit.scale.min() and fit.scale.max() < 0.018 and abs(fit.tilt_deg) < 10
    assert width < np.ptp(head.points[:, 0])
    for name in skull.DEPTH_LANDMARKS:  # bone straight behind each landmark
        assert skull.ray_hits(head.landmarks[name], np.array([0.0, 0.0, -1.0]), fit.points, fit.triangles).size


def test_the_depth_is_measured_along_the_ray_as_the_source_did():
    # a unit square at z = 0 seen from (0.2, 0.3, 5) looking back: 5 away
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    tris = np.array([[0, 1, 2], [0, 2, 3]])
    assert skull.ray_hits(np.array([0.2, 0.3, 5.0]), np.array([0.0, 0, -1]), pts, tris).tolist() == [5.0]
    assert skull.ray_hits(np.array([2.0, 0.3, 5.0]), np.array([0.0, 0, -1]), pts, tris).size == 0


def test_a_skull_that_cannot_fit_is_refused_naming_the_landmark(monkeypatch):
    norms = skull.depth_norms("female")
    norms["nasion"] = (0.060, 0.001)  # 60 +- 1 mm of soft tissue at the nasal root: no skull fits that
    monkeypatch.setattr(skull, "depth_norms", lambda variant: norms)
    with pytest.raises(MeshError, match=r"skull fit: nasion: the soft tissue is [\d.]+ mm deep against 60.0 \+- 1.0 mm"):
        skull.fit_skull(load_head("female"), max_evaluations=10)


@pytest.mark.slow
def test_the_male_skull_fits_too():
    fit = skull.fit_skull(load_head("male"), max_evaluations=400)
    assert all(abs(r["z"]) < skull.MAX_Z for r in fit.residuals), fit.residuals


def test_gonion_is_the_mandibular_angle_and_the_skin_over_it(female):
    head, fit = female
    b = skull.bony_landmarks(head, fit)
    assert set(b) == {f"{n}_{s}" for n in skull.BONY_DEFINITIONS for s in ("left", "right")}
    np.testing.assert_allclose(b["gonion_bone_left"] * [-1, 1, 1], b["gonion_bone_right"], atol=2e-3)  # the skull is nearly symmetric
    m = head.landmarks
    g = b["gonion_bone_left"]
    assert m["menton"][1] < g[1] < m["stomion"][1] and m["tragion_left"][2] < g[2] < m["cheilion_left"][2]
    assert 0 < np.linalg.norm(b["gonion_left"] - g) < 0.02 and b["gonion_left"][0] > g[0]  # skin outside the bone


def test_the_docs_list_every_bony_landmark_rule():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "docs" / "head.md").read_text(encoding="utf-8")
    assert all(rule in text for rule in skull.BONY_DEFINITIONS.values())
