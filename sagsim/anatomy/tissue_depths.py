"""A subject's measured soft-tissue depths, or its own skull, put into a registered face.

A registered face's tissue depths are the template's, scaled with the face. Where a subject's
depths were measured (ultrasound, CT, MRI: skin to bone at named landmarks), :func:`with_depths`
makes the model have them: each column of the real face (a skin point and the nodes beneath it,
down to bone, the teeth or the neck) is stretched or shortened along itself by a factor that is
the measured-to-model ratio at each landmark's column and blends smoothly back to one within
:data:`REACH_M` of it (an interpolating Wendland kernel field, sagsim.anatomy.deform), so the
skin stays where the scan put it and the bone moves. A depth is measured as an ultrasound probe
held square to the skin measures it: from the landmark's skin point to the nearest point of the
deep surface (the columns' ends).

:func:`with_skull` does the same from a subject's skull surface (segmented from CT, say): each
column whose deep end is held (bone) and whose line meets the skull within :data:`SKULL_RATIO`
of its depth ends there; the other columns (over the teeth, the orbits, the neck, where the line
misses) take factors blended smoothly from their neighbours (a harmonic extension over the skin).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..errors import MeshError, ModelError
from ..model import TissueModel
from .closest import Surface
from .deform import wendland_kernel
from .head import mesh_edges
from .ligaments import moved_springs

#: how far from a measured landmark its ratio reaches (m): a plausibility choice of the tool,
#: about the spacing of the forensic landmarks on the face
REACH_M = 0.03
#: measured depths this many times the model's, or that fraction of it, are refused as a unit or
#: landmark mistake rather than bent into the mesh
RATIO_RANGE = (1 / 3, 3.0)
#: a skull hit farther than this range of the column's depth is not taken (the orbit's back seen
#: through the eye, the far side of a hole)
SKULL_RATIO = (0.5, 2.0)
#: Jacobi passes of the harmonic extension of the columns' factors over the skin
SMOOTHING_PASSES = 200
#: the measured depths are met to this relative tolerance, in at most PASSES corrections
DEPTH_RTOL, PASSES = 1e-3, 20


def columns(model: TissueModel) -> tuple[int, int]:
    """(n, levels): the real face's columns, node level * n + c for skin point c (0 .. n - 1).
    Raises MeshError for a model not built as columns."""
    skin = np.unique(model.skin_faces)
    n = len(skin)
    if n == 0 or skin[0] != 0 or skin[-1] != n - 1 or model.n_nodes % n:
        raise MeshError(f"{model.name}: measured depths need a face built as columns under its skin (the real "
                        "face or one registered from it)")
    return n, model.n_nodes // n - 1


def depths_at(model: TissueModel, names) -> dict:
    """The soft-tissue depth (m) at each named landmark: skin point to the nearest deep end."""
    n, levels = columns(model)
    deep = Surface(model.nodes, model.skin_faces + levels * n)
    points = np.array([model.landmark_position(k) for k in names])
    return dict(zip(names, deep.closest(points)["distance"]))


def with_depths(model: TissueModel, depths_mm: dict, where: str = "depths") -> tuple[TissueModel, dict]:
    """``model`` with the soft-tissue depths ``depths_mm`` (landmark -> mm) at its landmarks, and
    a record: each landmark's depth before, as given, and after."""
    n, levels = columns(model)
    names = list(depths_mm)
    for k in names:
        if k not in model.landmarks:
            raise MeshError(f"{where}: depth at {k!r}: no such landmark; expected one of {', '.join(sorted(model.landmarks))}")
        v = depths_mm[k]
        if not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
            raise MeshError(f"{where}: depth at {k!r}: expected a positive number of millimetres, got {v!r}")
    before = depths_at(model, names)
    ratio = np.array([1e-3 * depths_mm[k] / before[k] for k in names])
    bad = (ratio < RATIO_RANGE[0]) | (ratio > RATIO_RANGE[1])
    if bad.any():
        k = names[int(np.flatnonzero(bad)[0])]
        raise MeshError(f"{where}: depth at {k!r}: {depths_mm[k]:g} mm is {ratio[bad][0]:.2f} times the model's "
                        f"{1e3 * before[k]:.1f} mm; expected {RATIO_RANGE[0]:.2f}-{RATIO_RANGE[1]:g} times (millimetres?)")
    skin = model.nodes[:n]
    # each landmark's column: the skin point nearest it
    sites = np.array([np.argmin(np.linalg.norm(skin - model.landmark_position(k), axis=1)) for k in names])
    kernel = wendland_kernel(skin[sites], skin[sites], REACH_M).toarray()
    blend = wendland_kernel(skin, skin[sites], REACH_M)
    want = np.array([1e-3 * depths_mm[k] for k in names])
    # the depth is measured to the nearest deep point, under the neighbouring columns too, so the
    # column factors are corrected until the measured depths come out (a few passes)
    target = ratio.copy()
    anchored = _anchor_nodes(model, n, levels)
    for _ in range(PASSES):
        out = _stretched(model, n, anchored, 1.0 + blend @ np.linalg.solve(kernel, target - 1.0), where)
        got = np.array(list(depths_at(out, names).values()))
        if np.abs(got / want - 1.0).max() < DEPTH_RTOL:
            break
        target = target * want / got
    record = {k: {"model_mm": 1e3 * before[k], "given_mm": float(depths_mm[k]), "result_mm": 1e3 * g}
              for k, g in zip(names, got)}
    return out, record


def _anchor_nodes(model: TissueModel, n: int, levels: int) -> np.ndarray:
    """The deep node each spring's fixed end sits on (a ligament's bone anchor moves with it)."""
    deep = np.arange(levels * n, (levels + 1) * n)
    return deep[cKDTree(model.nodes[deep]).query(model.springs.anchors)[1]]


def _stretched(model: TissueModel, n: int, anchored: np.ndarray, factor: np.ndarray, where: str) -> TissueModel:
    """``model`` with each column's nodes moved from its skin point by ``factor`` (one per
    column), the springs' fixed ends with the deep nodes ``anchored`` (:func:`_anchor_nodes`)."""
    column = np.arange(model.n_nodes) % n
    skin = model.nodes[:n]
    nodes = skin[column] + factor[column, None] * (model.nodes - skin[column])
    anchors = model.springs.anchors + nodes[anchored] - model.nodes[anchored]
    try:
        return model.with_(nodes=nodes, springs=moved_springs(model.springs, model.nodes, nodes, anchors))
    except ModelError as exc:
        raise MeshError(f"{where}: the depths cannot be put into the mesh ({exc}); are they right?") from None


def with_skull(model: TissueModel, points: np.ndarray, triangles: np.ndarray, where: str = "skull") -> tuple[TissueModel, dict]:
    """``model`` with its bone where the skull surface ``points`` (m, in the model's frame),
    ``triangles`` says, and a record: how many columns met the skull, and the depth change."""
    n, levels = columns(model)
    skin, deep = model.nodes[:n], model.nodes[levels * n:(levels + 1) * n]
    held = np.isin(levels * n + np.arange(n), model.fixed)
    length = np.linalg.norm(deep - skin, axis=1)
    cols = np.flatnonzero(held & (length > 0))
    t = first_hits(skin[cols], deep[cols] - skin[cols], SKULL_RATIO[1], np.asarray(points, float), np.asarray(triangles))
    ratio = np.full(n, np.nan)
    take = np.isfinite(t) & (t >= SKULL_RATIO[0])
    ratio[cols[take]] = t[take]
    met = np.isfinite(ratio)
    if met.sum() < 10:
        raise MeshError(f"{where}: the skull meets {int(met.sum())} of the face's {int(held.sum())} bone columns within "
                        f"{SKULL_RATIO[0]:g}-{SKULL_RATIO[1]:g} times their depth; is it the subject's skull, in the scan's "
                        "units and frame?")
    factor = _harmonic(np.where(met, ratio, 1.0), met, model.skin_faces)
    out = _stretched(model, n, _anchor_nodes(model, n, levels), factor, where)
    record = {"bone_columns": int(held.sum()), "met_skull": int(met.sum()),
              "depth_ratio_median": float(np.median(ratio[met])),
              "depth_ratio_range": [float(np.min(ratio[met])), float(np.max(ratio[met]))]}
    return out, record


def _harmonic(values: np.ndarray, held: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``values`` kept where ``held`` and, elsewhere, the mean of their neighbours on the surface
    ``triangles`` (Jacobi passes from the given values)."""
    edges = mesh_edges(triangles)
    n = len(values)
    degree = np.bincount(edges.ravel(), minlength=n).astype(float)
    v = values.astype(float).copy()
    for _ in range(SMOOTHING_PASSES):
        total = np.bincount(edges[:, 0], v[edges[:, 1]], minlength=n) + np.bincount(edges[:, 1], v[edges[:, 0]], minlength=n)
        v = np.where(held | (degree == 0), values, total / np.maximum(degree, 1.0))
    return v


def first_hits(origins: np.ndarray, directions: np.ndarray, t_max: float, points: np.ndarray,
               triangles: np.ndarray) -> np.ndarray:
    """The first parameter t in (0, t_max] where each ray origin + t direction meets the
    triangles (Moller and Trumbore 1997, with a tolerance so that a ray through a vertex or an
    edge is not missed), NaN where none does. Candidates: triangles whose centroid lies within
    their largest circumradius of points sampled along the ray."""
    a, b, c = (points[triangles[:, k]] for k in range(3))
    centroid = (a + b + c) / 3.0
    reach = float(np.max([np.linalg.norm(v - centroid, axis=1).max() for v in (a, b, c)]))
    tree = cKDTree(centroid)
    out = np.full(len(origins), np.nan)
    e1, e2 = b - a, c - a
    eps = 1e-9
    for r, (o, d) in enumerate(zip(origins, directions)):
        span = np.linalg.norm(d) * t_max
        samples = o + np.outer(np.linspace(0.0, t_max, max(2, int(np.ceil(span / max(reach, 1e-6))) + 1)), d)
        cand = np.unique(np.concatenate([np.asarray(x, np.int64) for x in tree.query_ball_point(samples, reach * 1.01)]))
        if not len(cand):
            continue
        p = np.cross(d, e2[cand])
        det = np.einsum("ij,ij->i", e1[cand], p)
        ok = np.abs(det) > 1e-30
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = o - a[cand]
        u = np.einsum("ij,ij->i", s, p) * inv
        q = np.cross(s, e1[cand])
        v = (q @ d) * inv
        t = np.einsum("ij,ij->i", e2[cand], q) * inv
        hit = ok & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps) & (t > eps) & (t <= t_max)
        if hit.any():
            out[r] = t[hit].min()
    return out
