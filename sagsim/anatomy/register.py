"""The anatomy carried onto a scan: the template face registered to a subject's skin surface.

Offsetting a scan's skin inwards can never give it a skull, fat compartments or ligaments. So
the template (a built-in real face: skin, skull, layers, compartments, ligaments, landmarks) is
moved onto the scan instead, and everything in it comes along:

1. **Units and frame.** The scan is converted to metres (``units``, or refused with a guess
   when its size says it is not metres), then :func:`sagsim.anatomy.rigid.fit_similarity` finds
   its orientation, position and size against the template, so the result lives in the
   template's frame (x to the subject's left, y up, z forward: gravity keeps its meaning).
2. **Shape.** The template, scaled, is deformed onto the scan by a sequence of smooth fields
   (sagsim.anatomy.deform): an affine one for the proportions, then kernel fields from
   :data:`LEVELS` wide to narrow, each fitted to closest-point pairs in both directions (template
   to scan and scan to template) with given landmarks as heavy pairs. Pairs that fall off
   either surface's border (no data there), that are far apart or whose surfaces face
   differently are dropped.
3. **Volume.** A level that would fold or flatten an element is refitted stiffer (or left
   out). The same fields move every node of the template, so wide fields carry the
   skull with the skin and narrow ones change the tissue's depth beneath a detail. The
   ligaments' bone anchors move with the bone and keep their fibres at rest length; the teeth's
   supports keep their direction. Landmarks are material points and come along unchanged.
   A subject's measured tissue depths or skull, where given, go in afterwards
   (sagsim.anatomy.tissue_depths).
4. **Report.** The gaps left (mean and 95th percentile, per region of the face, both ways),
   where the scan had no data, and the tissue-depth change.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from ..errors import MeshError, ModelError
from ..model import TissueModel, tet_quality, tet_volumes
from .closest import Surface
from .deform import AffineField, KernelField, farthest_points
from .ligaments import moved_springs
from .mesh import point_areas
from .rigid import Similarity, fit_similarity
from .skin_import import vertex_normals

UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
#: the size of a face scan in metres (its largest extent): a face alone is about 0.2 m, a whole
#: head with shoulders under 0.6 m; a plausibility bound of the tool
SCAN_SIZE_RANGE_M = (0.08, 0.6)
#: the kernel fields' radii (m at the template's size) and the stiffness of each, wide to
#: narrow; centres are spaced CENTRE_SPACING radii apart on the skin
LEVELS = ((0.12, 0.3), (0.06, 0.3), (0.03, 0.3), (0.015, 0.3))
CENTRE_SPACING = 0.25
ITERATIONS_PER_LEVEL = 4
AFFINE_STIFFNESS, AFFINE_ITERATIONS = 0.05, 3
#: a level that leaves any tetrahedron below this fraction of its volume in the scaled template
#: (a fold in the making), or with an aspect ratio grown more than MAX_ASPECT_GROWTH-fold (a
#: flattened one, which the solvers pay for), is refitted STIFFEN times stiffer, at most
#: STIFFEN_TRIES times, then left out
MIN_VOLUME_RATIO, MAX_ASPECT_GROWTH = 0.1, 10.0
STIFFEN, STIFFEN_TRIES = 4.0, 5
#: pairs farther apart than this many times their median gap, or whose surfaces' normals are
#: more than PAIR_MAX_ANGLE_DEG apart, are dropped (a hole's far side, a lip against a cheek)
PAIR_GATE = 3.0
PAIR_MAX_ANGLE_DEG = 60.0
#: the scan's points used for its side of the pairs (a random sample when it has more)
SCAN_SAMPLE = 20000
#: given landmarks weigh this much of all the pairs together
LANDMARK_SHARE = 0.2
#: a template point whose closest scan point is on the scan's border and farther than this is
#: where the scan has no data (nearer, it is only the scan's edge) (m)
NO_DATA_GAP_M = 0.002
#: a fit whose mean gap stays above CONVERGED_GAP_M over the face, or above REGION_GAP_M in
#: one region, has not converged (m); a real scan's artefacts (a flattened mouth, a chin cut
#: short) leave gaps of a few millimetres in a region, which the report shows
CONVERGED_GAP_M, REGION_GAP_M = 0.002, 0.006
#: regions of the face, each the skin nearest one of these landmarks
REGIONS = {
    "forehead": ("glabella",),
    "eyes": ("endocanthion_left", "endocanthion_right", "exocanthion_left", "exocanthion_right"),
    "nose": ("nasion", "pronasale", "subnasale", "alare_left", "alare_right"),
    "cheek_left": ("malar_eminence_left", "zygion_left", "nasolabial_1_left", "nasolabial_2_left", "nasolabial_3_left"),
    "cheek_right": ("malar_eminence_right", "zygion_right", "nasolabial_1_right", "nasolabial_2_right",
                    "nasolabial_3_right"),
    "lips": ("stomion", "labrale_superius", "labrale_inferius", "cheilion_left", "cheilion_right"),
    "chin": ("sublabiale", "pogonion", "gnathion", "menton"),
    "jaw_left": ("jowl_left", "gonion_left"),
    "jaw_right": ("jowl_right", "gonion_right"),
    "ear_left": ("tragion_left",),
    "ear_right": ("tragion_right",),
}


#: the points of the 68-point annotation of face-landmark detectors (iBUG 300-W, as dlib and
#: most detectors give it; 0-based, "right" the subject's right) that name an anthropometric
#: landmark; the other points (eyebrows, jawline, lip contours) name none and are not used
IBUG68 = {8: "gnathion", 27: "nasion", 30: "pronasale", 31: "alare_right", 33: "subnasale", 35: "alare_left",
          36: "exocanthion_right", 39: "endocanthion_right", 42: "endocanthion_left", 45: "exocanthion_left",
          48: "cheilion_right", 51: "labrale_superius", 54: "cheilion_left", 57: "labrale_inferius"}


def named_landmarks(landmarks, where: str) -> dict | None:
    """Landmarks as name -> point: a dict of them as it is, or a face-landmark detector's 68
    points (a list, or {"ibug68": list}) mapped by :data:`IBUG68`."""
    if landmarks is None:
        return None
    if isinstance(landmarks, dict) and set(landmarks) == {"ibug68"}:
        landmarks = landmarks["ibug68"]
    if isinstance(landmarks, list):
        if len(landmarks) != 68:
            raise MeshError(f"{where}: landmarks: a list must be the 68 points of a face-landmark detector "
                            f"(iBUG 300-W order), got {len(landmarks)}; or give a name -> point mapping")
        return {name: landmarks[i] for i, name in IBUG68.items()}
    if not isinstance(landmarks, dict):
        raise MeshError(f"{where}: landmarks: expected a name -> [x, y, z] mapping or 68 detector points, "
                        f"got {type(landmarks).__name__}")
    return landmarks


def to_metres(points: np.ndarray, units: str | None, where: str) -> np.ndarray:
    """The scan's points in metres: ``units`` "m", "cm" or "mm", or None to accept metres only
    when the size says so (otherwise the error names the likely unit)."""
    size = float(np.ptp(points, axis=0).max())
    if units is not None and units not in UNITS:
        raise MeshError(f"{where}: units: expected one of {', '.join(UNITS)}, got {units!r}")
    guess = next((u for u, f in UNITS.items() if SCAN_SIZE_RANGE_M[0] <= size * f <= SCAN_SIZE_RANGE_M[1]), None)
    factor = UNITS[units or "m"]
    if not SCAN_SIZE_RANGE_M[0] <= size * factor <= SCAN_SIZE_RANGE_M[1]:
        said = f"in {units}" if units else "in metres (no --units given)"
        hint = f"; it looks like {guess} (--units {guess})" if guess else ""
        raise MeshError(f"{where}: the surface is {size:.4g} units across, {size * factor:.3g} m {said}: a face is "
                        f"{SCAN_SIZE_RANGE_M[0]}-{SCAN_SIZE_RANGE_M[1]} m{hint}")
    return points * factor


#: points closer than this fraction of the scan's size are one point
WELD = 1e-9


def clean_surface(points: np.ndarray, triangles: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """The scan's triangles with coincident points welded, without the degenerate and the
    repeated ones (what scans carry), and what was done; refuses a surface with nothing usable."""
    if points.ndim != 2 or points.shape[1] != 3 or not np.isfinite(points).all():
        raise MeshError(f"{where}: points must be finite (N, 3) coordinates")
    if len(triangles) == 0 or triangles.min() < 0 or triangles.max() >= len(points):
        raise MeshError(f"{where}: triangles must index the {len(points)} points")
    size = float(np.ptp(points, axis=0).max())
    # points repeated at one place (an STL's corners, a scan stitched from views) become one,
    # so that their triangles share edges rather than each showing a border
    key = np.round(points / (WELD * size)).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    welded = len(points) - len(first)
    triangles = first[inverse.ravel()][triangles]
    p = points[triangles]
    area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
    flat = (area <= 1e-12 * size**2) | (np.sort(triangles, axis=1)[:, 1:] == np.sort(triangles, axis=1)[:, :-1]).any(axis=1)
    _, first = np.unique(np.sort(triangles, axis=1), axis=0, return_index=True)
    repeated = np.ones(len(triangles), bool)
    repeated[first] = False
    keep = ~flat & ~repeated
    if keep.sum() < 100:
        raise MeshError(f"{where}: {int(keep.sum())} usable triangles; expected a face's skin of at least 100")
    return points, triangles[keep], {"welded_points": int(welded), "degenerate_triangles": int(flat.sum()),
                                     "repeated_triangles": int((repeated & ~flat).sum())}


@dataclass(frozen=True)
class Pairs:
    """Closest-point pairs for one fit: template points at the level's start (``x0``), where
    they must go (``y``), weights (``a``)."""

    x0: np.ndarray
    y: np.ndarray
    a: np.ndarray


class _Fit:
    """The template's skin as it moves, and the pairs it makes with the scan."""

    def __init__(self, skin_points: np.ndarray, skin_faces: np.ndarray, areas: np.ndarray, scan: Surface,
                 scan_sample: np.ndarray, scan_areas: np.ndarray, landmarks: tuple[np.ndarray, np.ndarray, np.ndarray] | None):
        self.x = skin_points  # (N, 3), every node (only the skin's are used)
        self.faces = skin_faces
        self.used = np.unique(skin_faces)
        self.areas = areas
        self.scan = scan
        self.sample = scan_sample
        self.sample_areas = scan_areas
        self.scan_normals = vertex_normals(scan.points, scan.triangles)
        self.landmarks = landmarks  # (tet-free) skin-face index, barycentric weights, target points

    def pairs(self, x0: np.ndarray) -> Pairs:
        """Pairs at the current positions ``self.x``, their template ends expressed at ``x0``."""
        cos_max = np.cos(np.radians(PAIR_MAX_ANGLE_DEG))
        normals = vertex_normals(self.x, self.faces)
        u = self.used
        hit = self.scan.closest(self.x[u])
        agree = np.abs(np.einsum("ij,ij->i", normals[u], hit["normal"])) >= cos_max
        ok = ~hit["on_border"] & agree
        gate = PAIR_GATE * np.median(hit["distance"][ok]) if ok.any() else np.inf
        ok &= hit["distance"] <= max(gate, 1e-4)
        x0s, ys, as_ = [x0[u[ok]]], [hit["point"][ok]], [self.areas[u[ok]]]
        skin = Surface(self.x, self.faces)
        back = skin.closest(self.scan.points[self.sample])
        agree = np.abs(np.einsum("ij,ij->i", self.scan_normals[self.sample], back["normal"])) >= cos_max
        ok2 = ~back["on_border"] & agree
        gate = PAIR_GATE * np.median(back["distance"][ok2]) if ok2.any() else np.inf
        ok2 &= back["distance"] <= max(gate, 1e-4)
        if ok2.any():
            # the template's point on its triangle, at the level's start
            tri = self.faces[back["triangle"][ok2]]
            x0s.append(np.einsum("ij,ijk->ik", back["bary"][ok2], x0[tri]))
            ys.append(self.scan.points[self.sample[ok2]])
            w = self.sample_areas[ok2]
            as_.append(w * (as_[0].sum() / max(w.sum(), 1e-300)))  # both directions weigh the same
        if self.landmarks is not None:
            tri, bary, target = self.landmarks
            total = sum(a.sum() for a in as_)
            x0s.append(np.einsum("ij,ijk->ik", bary, x0[self.faces[tri]]))
            ys.append(target)
            as_.append(np.full(len(target), LANDMARK_SHARE * total / len(target)))
        x0_all, y_all, a_all = np.concatenate(x0s), np.concatenate(ys), np.concatenate(as_)
        if len(a_all) < 20:
            raise MeshError("registration: fewer than 20 point pairs between the template and the scan; "
                            "the scan does not overlap a face")
        return Pairs(x0_all, y_all, a_all)


@dataclass(frozen=True)
class Registration:
    """A registered model and how it was made: the scan's similarity to the template, the
    fields that deform it (applied in order to every point of the template), the report."""

    model: TissueModel
    similarity: Similarity
    fields: tuple
    report: dict

    def scan_to_model(self, points: np.ndarray) -> np.ndarray:
        """Points of the scan (in metres) in the model's frame."""
        return self.similarity.inverse_rigid(points)

    def model_to_scan(self, points: np.ndarray) -> np.ndarray:
        """Points of the model's frame in the scan's (metres)."""
        return points @ self.similarity.rotation.T + self.similarity.shift


def apply_fields(fields, x: np.ndarray) -> np.ndarray:
    for f in fields:
        x = f(x)
    return x


def warp_model(model: TissueModel, fields, scale: float, name: str) -> TissueModel:
    """``model`` with every node moved through ``fields``: the ligaments' bone anchors too (their
    fibres rescaled to stay at rest), the teeth's supports kept along their line with their
    stiffness scaled by the area (``scale`` squared)."""
    nodes = apply_fields(fields, model.nodes)
    springs = moved_springs(model.springs, model.nodes, nodes, apply_fields(fields, model.springs.anchors), scale**2)
    try:
        return replace(model, nodes=nodes, springs=springs, name=name)
    except ModelError as exc:
        raise MeshError(f"registration: the warped template is not a valid mesh ({exc}); the scan's shape departs "
                        "too far from the template's there") from None


def _regions(model: TissueModel, points: np.ndarray) -> np.ndarray:
    """Each point's region index (into REGIONS): the region of the nearest named landmark."""
    names, owner = [], []
    for r, (region, marks) in enumerate(REGIONS.items()):
        for m in marks:
            if m in model.landmarks:
                names.append(model.landmark_position(m))
                owner.append(r)
    _, i = cKDTree(np.array(names)).query(points)
    return np.array(owner)[i]


def _gap_table(gaps: np.ndarray, region: np.ndarray, have: np.ndarray) -> dict:
    def stats(d):
        return {"mean_mm": float(1e3 * d.mean()), "p95_mm": float(1e3 * np.percentile(d, 95)), "points": int(len(d))} if len(d) else None

    out = {"all": stats(gaps[have])}
    for r, name in enumerate(REGIONS):
        out[name] = stats(gaps[have & (region == r)])
    return out


def register(template: TissueModel, points: np.ndarray, triangles: np.ndarray, *, units: str | None = None,
             landmarks: dict | None = None, where: str = "scan", name: str | None = None) -> Registration:
    """The ``template`` registered onto the scan ``points`` (in ``units``), ``triangles``;
    ``landmarks`` (name -> point in the scan's units and frame, or a face-landmark detector's
    68 points: :func:`named_landmarks`) optional. See the module."""
    t_start = time.perf_counter()
    points = to_metres(np.asarray(points, np.float64), units, where)
    points, triangles, cleaned = clean_surface(points, np.asarray(triangles, np.int64), where)
    scan = Surface(points, triangles)
    scan_areas = point_areas(points, triangles)
    skin = Surface(template.nodes, template.skin_faces)
    skin_areas = point_areas(template.nodes, template.skin_faces)
    marks = _landmark_pairs(template, named_landmarks(landmarks, where), units, where)
    sim, search = fit_similarity(skin, skin_areas, scan, scan_areas,
                                 None if marks is None else (marks[0], marks[1]), where=where)
    t_rigid = time.perf_counter()
    # from here on, everything is in the template's frame at the subject's size
    scan_local = Surface(sim.inverse_rigid(points), triangles)
    used = np.flatnonzero(scan_areas > 0)
    rng = np.random.default_rng(1)
    sample = used if len(used) <= SCAN_SAMPLE else np.sort(rng.choice(used, SCAN_SAMPLE, replace=False))
    marks_local = None
    if marks is not None:
        tri, bary = _on_skin(template, marks[2])
        marks_local = (tri, bary, sim.inverse_rigid(marks[1]))
    fields = [AffineField(sim.scale * np.eye(3), np.zeros(3), np.zeros(3))]
    x = fields[0](template.nodes)
    fit = _Fit(x, template.skin_faces, skin_areas * sim.scale**2, scan_local, sample, scan_areas[sample], marks_local)
    levels, rest_volumes, rest_aspect = [], tet_volumes(x, template.tets), tet_quality(x, template.tets)[1]
    for level in [None, *LEVELS]:
        x0 = fit.x.copy()
        stiffness = AFFINE_STIFFNESS if level is None else level[1]
        for tries in range(1, STIFFEN_TRIES + 2):
            field = _fit_level(fit, x0, level, stiffness, sim.scale)
            moved = field(x0)
            squeeze = float(np.min(tet_volumes(moved, template.tets) / rest_volumes))
            growth = float(np.max(tet_quality(moved, template.tets)[1] / rest_aspect)) if squeeze > 0 else np.inf
            if squeeze >= MIN_VOLUME_RATIO and growth <= MAX_ASPECT_GROWTH:
                break
            stiffness *= STIFFEN
        else:
            field = None  # even the stiffest fit folds an element: the level is left out
        levels.append({"radius_mm": None if level is None else 1e3 * level[0] * sim.scale, "stiffness": stiffness,
                       "tries": tries, "left_out": field is None, "least_volume_ratio": squeeze,
                       "largest_aspect_growth": growth})
        if field is not None:
            fields.append(field)
            fit.x = field(x0)
        else:
            fit.x = x0
    t_fit = time.perf_counter()
    model = warp_model(template, fields, sim.scale, name or f"registered to {where}")
    report = _report(template, model, fit, scan_local, sample, sim, search, cleaned, units, marks)
    report["levels"] = levels
    report["seconds"] = {"orientation": t_rigid - t_start, "deformation": t_fit - t_rigid,
                         "total": time.perf_counter() - t_start}
    gaps = report["gap_template_to_scan"]
    worst = max(((k, v) for k, v in gaps.items() if v and k != "all"), key=lambda kv: kv[1]["mean_mm"])
    if gaps["all"]["mean_mm"] > 1e3 * CONVERGED_GAP_M or worst[1]["mean_mm"] > 1e3 * REGION_GAP_M:
        raise MeshError(f"{where}: the fit did not converge: a mean gap of {gaps['all']['mean_mm']:.1f} mm to the scan "
                        f"(tolerance {1e3 * CONVERGED_GAP_M:g} mm), {worst[1]['mean_mm']:.1f} mm at the "
                        f"{worst[0].replace('_', ' ')} (tolerance {1e3 * REGION_GAP_M:g} mm); is it a face, and are its "
                        "landmarks right?")
    return Registration(model=model, similarity=sim, fields=tuple(fields), report=report)


def _fit_level(fit: "_Fit", x0: np.ndarray, level, stiffness: float, scale: float):
    """One level's field (the affine one where ``level`` is None), refitted to new pairs
    ITERATIONS_PER_LEVEL times from the level's start ``x0``."""
    field = None
    if level is not None:  # the centres depend on the level's start only
        radius = level[0] * scale
        centres = x0[fit.used][farthest_points(x0[fit.used], CENTRE_SPACING * radius)]
    for _ in range(ITERATIONS_PER_LEVEL if level else AFFINE_ITERATIONS):
        pairs = fit.pairs(x0)
        if level is None:
            field = AffineField.fit(pairs.x0, pairs.y, pairs.a, stiffness)
        else:
            field = KernelField.fit(pairs.x0, pairs.y, pairs.a, centres, radius, stiffness)
        fit.x = x0.copy()
        fit.x[fit.used] = field(x0[fit.used])
    return field


def _landmark_pairs(template: TissueModel, landmarks: dict | None, units: str | None, where: str):
    """(template positions, scan positions in metres, names) of the given landmarks, or None."""
    if not landmarks:
        return None
    factor = UNITS[units or "m"]
    known = sorted(template.landmarks)
    names, src, dst = [], [], []
    for key, xyz in landmarks.items():
        if key not in template.landmarks:
            raise MeshError(f"{where}: landmark {key!r} is not one the template knows; expected one of {', '.join(known)}")
        xyz = np.asarray(xyz, np.float64)
        if xyz.shape != (3,) or not np.isfinite(xyz).all():
            raise MeshError(f"{where}: landmark {key!r} must be three finite coordinates")
        names.append(key)
        src.append(template.landmark_position(key))
        dst.append(xyz * factor)
    if len(names) < 3:
        raise MeshError(f"{where}: {len(names)} landmark(s) given; expected at least 3 (or none)")
    return np.array(src), np.array(dst), names


def _on_skin(template: TissueModel, names: list) -> tuple[np.ndarray, np.ndarray]:
    """The skin triangle and barycentric weights of each named landmark of the template."""
    pts = np.array([template.landmark_position(n) for n in names])
    hit = Surface(template.nodes, template.skin_faces).closest(pts)
    return hit["triangle"], hit["bary"]


def _report(template, model, fit, scan_local, sample, sim, search, cleaned, units, marks) -> dict:
    """The fit's gaps both ways by region, where the scan had no data, the tissue depths, the
    landmarks (mm, the model's frame) and, where landmarks were given, how far each ended up."""
    u = fit.used
    hit = scan_local.closest(model.nodes[u])
    region = _regions(model, model.nodes[u])
    have = ~hit["on_border"]
    back = Surface(model.nodes, model.skin_faces).closest(scan_local.points[sample])
    back_region = _regions(model, back["point"])
    missing = hit["on_border"] & (hit["distance"] > NO_DATA_GAP_M)
    lacked = {name: float((missing & (region == r)).sum() / max((region == r).sum(), 1)) for r, name in enumerate(REGIONS)}
    depth_old = _depths(template)
    depth_new = _depths(model)
    report = {
        "units": units or "m", "scale": sim.scale, "rotation": sim.rotation.tolist(), "shift_m": sim.shift.tolist(),
        "orientation_search": search, "cleaned": cleaned,
        "gap_template_to_scan": _gap_table(hit["distance"], region, have),
        "gap_scan_to_template": _gap_table(back["distance"], back_region, ~back["on_border"]),
        "no_scan_data_fraction": lacked,
        "tissue_depth_mm": {"template_median": float(1e3 * np.median(depth_old)),
                            "registered_median": float(1e3 * np.median(depth_new)),
                            "largest_change": float(1e3 * np.max(np.abs(depth_new - sim.scale * depth_old)))},
        "landmarks_mm": {k: (1e3 * model.landmark_position(k)).tolist() for k in sorted(model.landmarks)},
    }
    if marks is not None:
        report["given_landmark_gap_mm"] = {
            k: float(1e3 * np.linalg.norm(model.landmark_position(k) - sim.inverse_rigid(marks[1][i])))
            for i, k in enumerate(marks[2])}
    return report


def _depths(model: TissueModel) -> np.ndarray:
    """The distance from each skin node to the nearest fixed (bone) node (m)."""
    skin = np.unique(model.skin_faces)
    bone = model.fixed[~np.isin(model.fixed, skin)]
    return cKDTree(model.nodes[bone]).query(model.nodes[skin])[0]
