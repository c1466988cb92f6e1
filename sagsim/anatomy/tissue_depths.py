"""A subject's measured soft-tissue depths put into a registered face.

A registered face's tissue depths are the template's, scaled with the face. Where a subject's
depths were measured (ultrasound, CT, MRI: skin to bone at named landmarks), :func:`with_depths`
makes the model have them: each column of the real face (a skin point and the nodes beneath it,
down to bone, the teeth or the neck) is stretched or shortened along itself by a factor that is
the measured-to-model ratio at each landmark's column and blends smoothly back to one within
:data:`REACH_M` of it (an interpolating Wendland kernel field, sagsim.anatomy.deform), so the
skin stays where the scan put it and the bone moves. A depth is measured as an ultrasound probe
held square to the skin measures it: from the landmark's skin point to the nearest point of the
deep surface (the columns' ends).
"""
from __future__ import annotations

import numpy as np

from scipy.spatial import cKDTree

from ..errors import MeshError, ModelError
from ..model import TissueModel
from .closest import Surface
from .deform import wendland_kernel
from .ligaments import moved_springs

#: how far from a measured landmark its ratio reaches (m): a plausibility choice of the tool,
#: about the spacing of the forensic landmarks on the face
REACH_M = 0.03
#: measured depths this many times the model's, or that fraction of it, are refused as a unit or
#: landmark mistake rather than bent into the mesh
RATIO_RANGE = (1 / 3, 3.0)
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
    for _ in range(PASSES):
        out = _stretched(model, n, levels, 1.0 + blend @ np.linalg.solve(kernel, target - 1.0), where)
        got = np.array(list(depths_at(out, names).values()))
        if np.abs(got / want - 1.0).max() < DEPTH_RTOL:
            break
        target = target * want / got
    record = {k: {"model_mm": 1e3 * before[k], "given_mm": float(depths_mm[k]), "result_mm": 1e3 * g}
              for k, g in zip(names, got)}
    return out, record


def _stretched(model: TissueModel, n: int, levels: int, factor: np.ndarray, where: str) -> TissueModel:
    """``model`` with each column's nodes moved from its skin point by ``factor`` (one per column)."""
    column = np.arange(model.n_nodes) % n
    skin = model.nodes[:n]
    nodes = skin[column] + factor[column, None] * (model.nodes - skin[column])
    # a ligament's bone anchor sits on a deep node and moves with it
    deep = np.arange(levels * n, (levels + 1) * n)
    _, at = cKDTree(model.nodes[deep]).query(model.springs.anchors)
    anchors = model.springs.anchors + nodes[deep[at]] - model.nodes[deep[at]]
    try:
        return model.with_(nodes=nodes, springs=moved_springs(model.springs, model.nodes, nodes, anchors))
    except ModelError as exc:
        raise MeshError(f"{where}: the depths cannot be put into the mesh ({exc}); are they right?") from None
