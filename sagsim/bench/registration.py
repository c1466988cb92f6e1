"""Registration against known answers: scans made from the vendored heads, moved, scaled,
decimated, noisy and holed, each with the landmark positions it must give back.

Each case takes a head's skin (the face region the built-in faces are cut from, or the whole
head), changes it as a scan would come, and moves it by a known similarity into a frame of its
own, in millimetres, centimetres or metres. The answer is the template's landmarks of that head
(the built-in real face of that variant, whose landmarks sit on that skin) moved by the same
similarity: a registration must put the landmarks there. The male cases register the female
template onto the male head, so their answer is a different face's. Run it as
`sagsim bench registration [--resolution R] [--age] [--json FILE]` (``--age`` ages each
registered face 40 -> 70 too); the tests run the small cases.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..anatomy.head import face_region, load_head
from ..anatomy.register import UNITS, register


@dataclass(frozen=True)
class Case:
    """A scan made from a head, and how it was made."""

    name: str
    variant: str = "female"
    scale: float = 1.0
    euler_deg: tuple = (0.0, 0.0, 0.0)
    shift_m: tuple = (0.0, 0.0, 0.0)
    units: str = "m"
    whole_head: bool = False
    subdivide: int = 0
    keep_fraction: float = 1.0
    noise_mm: float = 0.0
    holes: tuple = ()  # (landmark, radius m)
    given_landmarks: tuple = ()
    seed: int = 0


CASES = (
    Case("the face region as it is (m)"),
    Case("x1.10, turned, shifted (mm)", scale=1.10, euler_deg=(30.0, -70.0, 120.0), shift_m=(0.3, -0.1, 0.05), units="mm"),
    Case("x0.90, turned (cm)", scale=0.90, euler_deg=(-100.0, 20.0, 45.0), units="cm"),
    Case("decimated to ~300 vertices, turned (mm)", euler_deg=(10.0, 160.0, 0.0), units="mm", keep_fraction=0.14),
    Case("noise 0.5 mm, holes in the left cheek and the chin (mm)", euler_deg=(0.0, 0.0, 90.0), units="mm",
         noise_mm=0.5, holes=(("malar_eminence_left", 0.012), ("pogonion", 0.010))),
    Case("whole head, 52k vertices, turned (mm)", euler_deg=(80.0, 10.0, -30.0), units="mm", whole_head=True, subdivide=2),
    Case("male head, turned (cm)", variant="male", euler_deg=(30.0, -70.0, 120.0), units="cm"),
    Case("male head, 6 landmarks given (cm)", variant="male", euler_deg=(30.0, -70.0, 120.0), units="cm",
         given_landmarks=("pronasale", "cheilion_left", "cheilion_right", "exocanthion_left", "exocanthion_right",
                          "menton")),
)


def rotation(euler_deg) -> np.ndarray:
    """The rotation of intrinsic x, y, z Euler angles (degrees)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("xyz", euler_deg, degrees=True).as_matrix()


@lru_cache(maxsize=4)
def truth_model(variant: str, resolution: str):
    """The built-in real face of ``variant`` at ``resolution``: its landmarks are the answers
    (the female face is shipped, the male one built, in about 15 s)."""
    if variant == "female":
        from ..meshfile import load_face
        return load_face(resolution)
    from ..anatomy.real_face import build_named_real_face
    return build_named_real_face(variant, resolution)[0]


def make_scan(case: Case, resolution: str = "coarse") -> dict:
    """The case's scan: ``points`` (in its units), ``triangles``, ``truth`` (landmark name ->
    position in the scan's frame, metres) and ``landmarks`` (the given ones, in its units)."""
    head = load_head(case.variant)
    surf = head if case.whole_head else face_region(head)
    points, triangles = surf.points, surf.triangles
    rng = np.random.default_rng(case.seed)
    if case.subdivide or case.keep_fraction < 1.0:
        import pyvista as pv

        poly = pv.PolyData(points, np.column_stack([np.full(len(triangles), 3), triangles]).ravel())
        if case.subdivide:
            poly = poly.subdivide(case.subdivide, "linear")
        if case.keep_fraction < 1.0:
            poly = poly.decimate(1.0 - case.keep_fraction)
        points, triangles = np.asarray(poly.points, float), poly.faces.reshape(-1, 4)[:, 1:].astype(np.int64)
    truth = truth_model(case.variant, resolution)
    marks = {k: truth.landmark_position(k) for k in truth.landmarks}
    for name, radius in case.holes:
        centre = points[triangles].mean(axis=1)
        triangles = triangles[np.linalg.norm(centre - marks[name], axis=1) > radius]
    if case.noise_mm:
        points = points + rng.normal(0.0, 1e-3 * case.noise_mm, points.shape)
    rot, shift = rotation(case.euler_deg), np.asarray(case.shift_m)
    move = lambda x: case.scale * x @ rot.T + shift  # noqa: E731 - the case's similarity
    factor = UNITS[case.units]
    return {"points": move(points) / factor, "triangles": triangles,
            "truth": {k: move(v) for k, v in marks.items()},
            "landmarks": {k: (move(marks[k]) / factor).tolist() for k in case.given_landmarks} or None}


def run_case(case: Case, resolution: str = "coarse", age: bool = False) -> dict:
    """Register the case's scan onto the female template at ``resolution``; the record of it,
    with, if ``age``, the registered face aged 40 -> 70 (:func:`aged`)."""
    scan = make_scan(case, resolution)
    template = truth_model("female", resolution)
    t0 = time.perf_counter()
    fitted = register(template, scan["points"], scan["triangles"], units=case.units, landmarks=scan["landmarks"],
                      where=case.name)
    seconds = time.perf_counter() - t0
    errors = {k: float(1e3 * np.linalg.norm(fitted.model_to_scan(fitted.model.landmark_position(k)) - v))
              for k, v in scan["truth"].items() if k in fitted.model.landmarks}
    gaps = fitted.report["gap_template_to_scan"]
    return {"case": case.name, "resolution": resolution, "scan_vertices": int(len(np.unique(scan["triangles"]))),
            "seconds": seconds, "scale_found": fitted.report["scale"], "scale_made": case.scale,
            "gap_mean_mm": gaps["all"]["mean_mm"], "gap_p95_mm": gaps["all"]["p95_mm"],
            "landmark_error_median_mm": float(np.median(list(errors.values()))),
            "landmark_error_max_mm": float(max(errors.values())), "worst_landmark": max(errors, key=errors.get),
            "landmarks_missing": sorted(set(scan["truth"]) - set(fitted.model.landmarks)),
            "landmark_errors_mm": errors, "no_scan_data": fitted.report["no_scan_data_fraction"],
            **(aged(fitted.model) if age else {})}


def aged(model) -> dict:
    """The face aged 40 -> 70 in 10-year steps with the default mechanisms: the jowl's descent,
    the nasolabial fold's deepening at its middle point, the landmarks the run followed."""
    from ..aging import AgingSettings, default_mechanisms, run_aging

    t0 = time.perf_counter()
    result = run_aging(model, default_mechanisms(), AgingSettings(end_age=70, step_years=10))
    last = result.rows[-1]
    return {"aging_seconds": time.perf_counter() - t0, "aged_jowl_descent_mm": last["jowl_descent_mm"],
            "aged_fold_deepening_mm": {side: last[f"fold_depth_change_mm_nasolabial_2_{side}"] for side in ("left", "right")},
            "aged_landmarks": len(result.landmarks)}


def main(resolution: str = "coarse", json_path: Path | None = None, cases=CASES, age: bool = False) -> int:
    records = []
    print(f"{'case':58s} {'verts':>6s} {'s':>5s} {'scale':>11s} {'gap mean/p95 mm':>16s} {'landmark median/max mm':>23s}")
    for case in cases:
        r = run_case(case, resolution, age)
        records.append(r)
        print(f"{r['case']:58s} {r['scan_vertices']:6d} {r['seconds']:5.1f} {r['scale_found']:5.3f}/{r['scale_made']:4.2f} "
              f"{r['gap_mean_mm']:7.2f}/{r['gap_p95_mm']:5.2f}   {r['landmark_error_median_mm']:6.2f}/"
              f"{r['landmark_error_max_mm']:5.2f} ({r['worst_landmark']})", flush=True)
        if age:
            print(f"{'':58s} aged 40 -> 70 in {r['aging_seconds']:.0f} s: jowl descent {r['aged_jowl_descent_mm']:.2f} mm, "
                  f"fold deepening {r['aged_fold_deepening_mm']['left']:.2f} / {r['aged_fold_deepening_mm']['right']:.2f} mm, "
                  f"{r['aged_landmarks']} landmarks", flush=True)
    if age:
        template = aged(truth_model("female", resolution))
        print(f"{'the template itself':58s} aged 40 -> 70 in {template['aging_seconds']:.0f} s: jowl descent "
              f"{template['aged_jowl_descent_mm']:.2f} mm, fold deepening {template['aged_fold_deepening_mm']['left']:.2f} / "
              f"{template['aged_fold_deepening_mm']['right']:.2f} mm")
    scan = real_scan(resolution, age)
    if scan:
        print(f"{scan['case']:58s} {scan['scan_vertices']:6d} {scan['seconds']:5.1f} {scan['scale_found']:5.3f}/  ?  "
              f"{scan['gap_mean_mm']:7.2f}/{scan['gap_p95_mm']:5.2f}   no known answer")
        if age:
            print(f"{'':58s} aged 40 -> 70: jowl descent {scan['aged_jowl_descent_mm']:.2f} mm, fold deepening "
                  f"{scan['aged_fold_deepening_mm']['left']:.2f} / {scan['aged_fold_deepening_mm']['right']:.2f} mm")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"resolution": resolution, "records": records, "real_scan": scan,
                                         "template_aged": template if age else None}, indent=1))
    return 0


#: the real scan of a source checkout (examples/scans: not in the wheel)
REAL_SCAN = Path(__file__).resolve().parents[2] / "examples" / "scans" / "fran_cut.vtk"


def real_scan(resolution: str, age: bool = False) -> dict | None:
    """VTK's laser scan of a face registered: its gaps and time (no landmarks are known)."""
    if not REAL_SCAN.exists():
        return None
    from ..io import read_surface

    points, triangles = read_surface(REAL_SCAN)
    t0 = time.perf_counter()
    fitted = register(truth_model("female", resolution), points, triangles, where=REAL_SCAN.name)
    gaps = fitted.report["gap_template_to_scan"]
    return {"case": "a real scan: VTK's fran_cut.vtk (m)", "scan_vertices": int(len(np.unique(triangles))),
            "seconds": time.perf_counter() - t0, "scale_found": fitted.report["scale"],
            "gap_mean_mm": gaps["all"]["mean_mm"], "gap_p95_mm": gaps["all"]["p95_mm"], "gaps_mm": gaps,
            "no_scan_data": fitted.report["no_scan_data_fraction"], "levels": fitted.report["levels"],
            **(aged(fitted.model) if age else {})}
