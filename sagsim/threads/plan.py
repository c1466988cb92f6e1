"""Threads and thread plans, and where their cogs sit in the face.

A thread runs from its entry point through optional waypoints to its fixation anchor (on the
skin, given as landmark names or points in metres) at the depth of one layer; its cogs sit along it from the
entry end, at a spacing, and hold against a pull towards the anchor. Each cog is placed in the
element of that layer under its point on the skin, by barycentric coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ..errors import ScenarioError
from ..model import Layer, TissueModel, tet_volumes
from .catalogue import COG_HOLDING_FORCE, COG_HOLDING_SPREAD, COG_STIFFNESS, MATERIALS, USP_DIAMETER_MM

LAYERS = {"superficial_fat": Layer.SUPERFICIAL_FAT, "smas": Layer.SMAS}


@dataclass(frozen=True)
class Thread:
    """One barbed thread. Lengths in metres, forces in N. The path is a polyline from ``entry``
    through the ``via`` points (landmark names or points) to ``anchor``, at the depth of
    ``layer``; its cogs sit from the entry end every ``cog_spacing``, their barbs facing the
    entry (they hold against a pull towards the anchor). ``size``: USP size (diameter from the
    reference table; the breaking force scales with the cross-section). ``pull``: how far the
    thread is drawn towards the anchor before its end is fixed (the surgeon's pull length); or
    ``tension``: draw it until its tension at the anchor reaches this (then ``pull`` is
    ignored). ``holding_spread``: relative uncertainty of the holding force (the assessment
    checks the plan at its low end)."""

    name: str
    entry: object  # landmark name or (3,) point
    anchor: object
    material: str = "PDO"
    layer: str = "superficial_fat"
    cogs: int = 8
    cog_spacing: float = 0.004
    holding_force: float = COG_HOLDING_FORCE
    cog_stiffness: float = COG_STIFFNESS
    pull: float = 0.003
    tension: float | None = None
    via: tuple = ()
    size: str = "2-0"
    holding_spread: float = COG_HOLDING_SPREAD

    def __post_init__(self):
        for key, table in (("size", USP_DIAMETER_MM), ("material", MATERIALS), ("layer", LAYERS)):
            value = getattr(self, key)
            if not isinstance(value, str) or value not in table:  # a list from a file is no key either
                raise ScenarioError(f"thread {self.name}: {key}: expected one of {list(table)}, got {value!r}")
        for key, ok in (("cogs", self.cogs >= 1), ("cog_spacing", self.cog_spacing > 0),
                        ("holding_force", self.holding_force > 0), ("cog_stiffness", self.cog_stiffness > 0),
                        ("pull", self.pull >= 0), ("tension", self.tension is None or self.tension > 0),
                        ("holding_spread", 0 <= self.holding_spread < 1)):
            if not ok:
                raise ScenarioError(f"thread {self.name}: {key}: out of range, got {getattr(self, key)!r}")


    @property
    def diameter(self) -> float:
        """Nominal diameter (m): the middle of the USP size's range."""
        lo, hi = USP_DIAMETER_MM[self.size]
        return 0.5e-3 * (lo + hi)


@dataclass(frozen=True)
class ThreadPlan:
    threads: tuple = field(default_factory=tuple)
    name: str = "plan"


#: Radius of the tissue a cog engages (m): the barbs are 0.18 mm deep (J Biomech 2010;43:302)
#: but push on the tissue ahead of them over millimetres. A modelling choice (ESTIMATE) that
#: also regularises the attachment: a point load on a continuum has no mesh-independent
#: local response, a load spread over a fixed volume has.
ENGAGEMENT_RADIUS = 0.003


@dataclass
class Cogs:
    """All cogs of a plan, placed: per cog its thread, element (the one it sits in, model
    order), position (m), unit direction towards the thread's anchor, holding force and
    stiffness; and its engagement: the parts (elements of its layer within ENGAGEMENT_RADIUS,
    at least its own) that share its pull, with their cog, element, barycentric coordinates,
    position and weight (volume share, summing to 1 per cog)."""

    thread: np.ndarray  # index into plan.threads
    tet: np.ndarray
    position: np.ndarray
    direction: np.ndarray
    holding_force: np.ndarray
    stiffness: np.ndarray
    part_cog: np.ndarray
    part_tet: np.ndarray
    part_bary: np.ndarray
    part_position: np.ndarray
    part_weight: np.ndarray


#: how far a thread's point given by coordinates may lie from the nearest node of the face (m): a
#: plausibility bound of the tool (the paths of the shipped plans stay within 6 mm of the tissue
#: of their layer), so that a point in the wrong unit or frame is refused, not clamped
MAX_POINT_GAP = 0.02


def point(model: TissueModel, where, x: np.ndarray, name: str, key: str) -> np.ndarray:
    if isinstance(where, str):
        if where not in model.landmarks:
            raise ScenarioError(f"thread {name}: {key}: no landmark {where!r}; expected one of {sorted(model.landmarks)}")
        return model.landmark_position(where, x)
    p = np.asarray(where, float)
    if p.shape != (3,) or not np.isfinite(p).all():
        raise ScenarioError(f"thread {name}: {key}: expected a landmark name or [x, y, z] in metres, got {where!r}")
    return p


def place_cogs(model: TissueModel, plan: ThreadPlan, x: np.ndarray) -> Cogs:
    """Place every cog of ``plan`` in configuration ``x`` (the aged face the lift starts from)."""
    centroids = x[model.tets].mean(axis=1)
    nodes = None  # a tree of the tissue's nodes, built when a thread gives a point by coordinates
    rows = []
    for i, th in enumerate(plan.threads):
        given = [("entry", th.entry), *[("via", v) for v in th.via], ("anchor", th.anchor)]
        path = np.array([point(model, where, x, th.name, key) for key, where in given])
        for (key, where), p in zip(given, path):
            if isinstance(where, str):
                continue  # a landmark: on the face by construction
            if nodes is None:
                nodes = cKDTree(x)
            gap = float(nodes.query(p)[0])
            if gap > MAX_POINT_GAP:
                raise ScenarioError(f"thread {th.name}: {key}: {where!r} is {1e3 * gap:.0f} mm from the nearest "
                                    f"tissue of {model.name}; expected a point within {1e3 * MAX_POINT_GAP:g} mm of it")
        seg = np.diff(path, axis=0)
        seg_len = np.linalg.norm(seg, axis=1)
        length = float(seg_len.sum())
        if (th.cogs - 1) * th.cog_spacing >= length or not (seg_len > 0).all():
            raise ScenarioError(f"thread {th.name}: {th.cogs} cogs at {1e3 * th.cog_spacing:g} mm do not fit in its "
                                f"{1e3 * length:.1f} mm path")
        in_layer = np.flatnonzero(model.tet_layer == int(LAYERS[th.layer]))
        tree = cKDTree(centroids[in_layer])
        ends = np.concatenate([[0.0], np.cumsum(seg_len)])
        for c in range(th.cogs):
            s_c = c * th.cog_spacing
            j = min(int(np.searchsorted(ends, s_c, side="right")) - 1, len(seg) - 1)
            on_skin = path[j] + (s_c - ends[j]) * seg[j] / seg_len[j]
            e = int(in_layer[tree.query(on_skin)[1]])
            # an inextensible thread moves along itself: each cog along its own segment
            rows.append((i, e, seg[j] / seg_len[j], centroids[e], th))
    tet = np.array([r[1] for r in rows])
    pos = np.array([r[3] for r in rows])
    parts = _engagement(model, x, centroids, tet, [LAYERS[r[4].layer] for r in rows])
    return Cogs(thread=np.array([r[0] for r in rows]), tet=tet, position=pos,
                direction=np.array([r[2] for r in rows]),
                holding_force=np.array([r[4].holding_force for r in rows]),
                stiffness=np.array([r[4].cog_stiffness for r in rows]), **parts)


def _engagement(model: TissueModel, x: np.ndarray, centroids: np.ndarray, tet: np.ndarray, layers: list) -> dict:
    """The elements each cog engages: those of its layer with centroids within
    ENGAGEMENT_RADIUS of its own element's centroid (always including it), weighted by volume."""
    vol = np.abs(tet_volumes(x, model.tets))
    trees = {}
    cog, part = [], []
    for s, (e, layer) in enumerate(zip(tet, layers, strict=True)):
        if layer not in trees:
            ids = np.flatnonzero(model.tet_layer == int(layer))
            trees[layer] = (ids, cKDTree(centroids[ids]))
        ids, tree = trees[layer]
        near = ids[tree.query_ball_point(centroids[e], ENGAGEMENT_RADIUS)]
        near = np.union1d(near, [e])
        cog += [s] * len(near)
        part += list(near)
    cog, part = np.array(cog), np.array(part)
    w = vol[part]
    w = w / np.bincount(cog, weights=w)[cog]
    return {"part_cog": cog, "part_tet": part, "part_bary": np.full((len(part), 4), 0.25),
            "part_position": centroids[part], "part_weight": w}

