"""Retaining ligaments: fans of tension-only springs from bone through the SMAS to the dermis.

Each ligament is a bundle: every SMAS node and dermis-underside node within ``radius`` of its
insertion point is tied to the bone node beneath it and to that node's four grid neighbours. The fibres therefore run
obliquely, and the bundle resists the skin sliding along the bone at first order (a single
fibre normal to the bone would only resist it at second order). Fibres start at their rest
length (no pre-tension unless asked).

Placement follows the distances the reference table gives (zygomatic ligament to tragus and
oral commissure, Tatlisumak and Yoleri; mandibular ligament lateral to the midline and above
the inferior border, Kang et al. 2016; zygomatic to upper masseteric ligament, J Craniofac
Surg 2025). The lower masseteric and orbicularis retaining ligaments have no distance there:
their placement is an ESTIMATE, flagged.

STIFFNESS HAS NO PUBLISHED VALUE (Brandt et al. 2012 rank stiffness zygomatic > orbital >
maxillary > mandibular but their numbers were not readable; no age effect). The default
LIGAMENT_STIFFNESS is an ESTIMATE to calibrate, within LIGAMENT_STIFFNESS_RANGE; all ligaments
share it by default because the ranking has no magnitudes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import Springs

#: N/m per bundle, ESTIMATE: the order at which a bundle holds a few centimetres of cheek
#: (about 0.2 N under gravity) within a millimetre. Calibrate within the range.
LIGAMENT_STIFFNESS = 200.0
LIGAMENT_STIFFNESS_RANGE = (10.0, 2000.0)


@dataclass(frozen=True)
class LigamentSite:
    name: str
    s: float       # arc length from the midline at the bone (m), left side; mirrored to the right
    y: float       # height (m, 0 at subnasale)
    radius: float  # footprint of the bundle on the skin (m)
    source: str


def ligament_sites(face_params, landmarks_xyz: dict[str, np.ndarray], skin_sy) -> list[LigamentSite]:
    """Insertion points of the left-side ligaments (the right mirrors them).

    ``landmarks_xyz``: skin positions of tragus_left and oral_commissure_left; ``skin_sy``:
    a function mapping a skin position to its (arc length, height) on the bone grid.
    """
    tragus, commissure = landmarks_xyz["tragus_left"], landmarks_xyz["oral_commissure_left"]
    zyg = _zygomatic(tragus, commissure)
    s_zyg, y_zyg = skin_sy(zyg)
    p = face_params
    s_mand = 0.0511  # Kang et al. 2016: 51.1 mm lateral to the midline
    y_mand = float(p.lower_border(np.array(s_mand / p.depth))) + 0.0091  # ... 9.1 mm above the border
    return [
        LigamentSite("zygomatic", s_zyg, y_zyg, 0.004,
                     "66.5 mm to tragus, 56.3 mm to oral commissure (Tatlisumak and Yoleri)"),
        LigamentSite("upper_masseteric", s_zyg + 0.004, y_zyg - 0.0133, 0.004,
                     "13.3 mm below the zygomatic ligament (J Craniofac Surg 2025)"),
        LigamentSite("lower_masseteric", s_zyg + 0.008, y_mand + 0.006, 0.004,
                     "ESTIMATE: anterior masseter border, above the mandibular ligament level"),
        LigamentSite("mandibular", s_mand, y_mand, 0.004,
                     "51.1 mm lateral to midline, 9.1 mm above the inferior border (Kang et al. 2016)"),
        LigamentSite("orbicularis_retaining", 0.030, p.top_y - 0.004, 0.010,
                     "ESTIMATE: along the inferior orbital rim"),
    ]


def _zygomatic(tragus: np.ndarray, commissure: np.ndarray) -> np.ndarray:
    """The point 66.5 mm from the tragus and 56.3 mm from the commissure, above their line
    (the reference table's distances), in the plane through both and the vertical."""
    d_t, d_c = 0.0665, 0.0563
    base = commissure - tragus
    L = float(np.linalg.norm(base))
    e1 = base / L
    up = np.array([0.0, 1.0, 0.0])
    e2 = up - (up @ e1) * e1
    e2 /= np.linalg.norm(e2)
    a = (d_t**2 - d_c**2 + L**2) / (2 * L)
    h = np.sqrt(max(d_t**2 - a**2, 0.0))
    return tragus + a * e1 + h * e2


def build_springs(grid_shape: tuple[int, int], nodes: np.ndarray, sites_ij: dict[str, list[tuple[int, int]]],
                  insertion_levels: tuple[int, ...], stiffness: float = LIGAMENT_STIFFNESS) -> Springs:
    """Fans from the bone level (0) to each of ``insertion_levels`` (the SMAS the ligament
    passes through, and the underside of the dermis where it ends) for each ligament's grid
    columns; the bundle's stiffness is shared by all its fibres."""
    nu1, nv1 = grid_shape
    rows, anchors, groups, names = [], [], [], []
    for name, columns in sites_ij.items():
        g = len(names)
        names.append(name)
        fibres = []
        for i, j in columns:
            for level in insertion_levels:
                top = i + nu1 * (j + nv1 * level)
                for di, dj in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                    ii, jj = i + di, j + dj
                    if 0 <= ii < nu1 and 0 <= jj < nv1:
                        fibres.append((top, ii + nu1 * jj))
        k_fibre = stiffness / max(len(fibres), 1)  # the bundle's stiffness, shared by its fibres
        for top, bone in fibres:
            rows.append((top, k_fibre))
            anchors.append(nodes[bone])
            groups.append(g)
    if not rows:
        return Springs.empty()
    node = np.array([r[0] for r in rows])
    anchors = np.array(anchors)
    rest = np.linalg.norm(nodes[node] - anchors, axis=1)
    return Springs(nodes=np.column_stack([node, np.full(len(node), -1)]), anchors=anchors,
                   stiffness=np.array([r[1] for r in rows]), rest_length=rest,
                   tension_only=np.ones(len(node), bool), group=np.array(groups), names=tuple(names))


def moved_springs(springs: Springs, old_nodes: np.ndarray, new_nodes: np.ndarray, ligament_anchors: np.ndarray,
                  support_scale: float = 1.0) -> Springs:
    """``springs`` after their nodes moved from ``old_nodes`` to ``new_nodes``: the ligaments'
    fixed ends moved to ``ligament_anchors`` (one row per spring; used where a spring is a
    ligament to a fixed point), each ligament and node-to-node spring rescaled to keep its
    stretch (at rest if it was); a support (SUPPORT_PREFIX: the teeth) keeps its line and length
    from its node, its stiffness times ``support_scale`` (the area's change)."""
    s = springs
    if not len(s):
        return s
    support = ~s.is_ligament
    anchors = np.where((s.to_point & ~support)[:, None], ligament_anchors, s.anchors)
    sup = s.to_point & support
    anchors[sup] = new_nodes[s.nodes[sup, 0]] + (s.anchors[sup] - old_nodes[s.nodes[sup, 0]])
    other_old = np.where(s.to_point[:, None], s.anchors, old_nodes[np.maximum(s.nodes[:, 1], 0)])
    other_new = np.where(s.to_point[:, None], anchors, new_nodes[np.maximum(s.nodes[:, 1], 0)])
    old = np.linalg.norm(old_nodes[s.nodes[:, 0]] - other_old, axis=1)
    new = np.linalg.norm(new_nodes[s.nodes[:, 0]] - other_new, axis=1)
    ratio = np.where((old > 0) & ~sup, new / np.maximum(old, 1e-300), 1.0)
    return Springs(nodes=s.nodes, anchors=anchors, stiffness=np.where(sup, s.stiffness * support_scale, s.stiffness),
                   rest_length=s.rest_length * ratio, tension_only=s.tension_only, group=s.group, names=s.names)
