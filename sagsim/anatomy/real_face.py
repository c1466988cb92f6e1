"""The real face's volume: the soft tissue between the real skin (sagsim.anatomy.head) and the
fitted skull (sagsim.anatomy.skull), as layered columns of tetrahedra that cannot fold.

**Why columns that converge on a point.** Tissue grown from the skin along its normals folds
wherever the skin curves tighter than the tissue is deep (the alar crease, the lips, the lids;
half the face's columns do). Here every column runs instead from its skin point straight towards
one point inside the head, the midpoint between the tragia (:func:`column_centre`). Two such
lines meet only at that point, so two columns never cross; and a prism whose columns converge
on a point keeps the orientation of its skin triangle as seen from that point, at every depth.
The mesh is therefore fold-free for any depths wherever the skin faces the centre, which
:func:`star_surface` ensures by trimming the few triangles that turn away from it (the lid
margins, the nostrils' inside, a lip's inner edge, within a few millimetres of an opening: 6 %
of the face region), and :func:`layered_columns` checks, refusing the mesh and naming the place if
not.

**How deep each column is, and what holds its deep end** (:func:`column_depths`), decided by
what the column meets on its way in, each a stated modelling choice:

- ``bone``: the skull within :attr:`RealFaceParams.reach_m`: the column ends on it and its deep
  node is fixed;
- ``teeth``: the skull within reach inside the dental zone (the teeth and the alveolar bone
  behind the lips and cheeks, as far as the oral vestibule reaches): lips and cheeks lie on the
  teeth without attachment and press on them at rest, harder than their weight can lift them
  off in any posture, so the deep node slides along the teeth but neither enters nor leaves
  them (:func:`teeth_supports`);
- ``globe``: near an eye, no bone within the lid's reach: the lid (its cited full thickness)
  lies on the globe and the orbital fat, which are not modelled: its deep node is held;
- ``neck``: below the dental zone with no bone within reach (under the jaw): the floor of the
  mouth and the deeper neck carry it, :attr:`RealFaceParams.neck_depth_m` deep, its deep node
  held;
- ``cavity``: anywhere else without bone within reach: the cheek over the oral cavity
  (:attr:`RealFaceParams.cavity_depth_m`) and the nose's wall over the nasal cavity
  (:attr:`RealFaceParams.nose_wall_m`), the deep node free (mucosa over air);
- ``fascia``: a column much deeper than its neighbours (beside a bone step: the orbital rim,
  the zygomatic arch) stops short of the bone (:attr:`RealFaceParams.max_slope`), held there
  on the deep fascia over it.

The depths of the columns without bone are smoothed into their neighbours' so that the deep
surface has no step. The region's cut border (forehead, neck, in front of the ears) is held
through its whole depth: the tissue goes on beyond it.

**What lies down a column** (:func:`layer_fractions`): the skin, the superficial fat and the
SMAS at their cited thickness (sagsim.anatomy.layers, measured along the skin's normal, so
longer along an oblique column, each at most a share of a shallow column), a thin plane under
the SMAS, and the deep tissue. By region (:data:`REGION_DEFINITIONS`, bounded by the
landmarks and ligaments): the plane under the SMAS is the loose areolar tissue of the
prezygomatic and premasseteric gliding spaces; the deep tissue is the masseter over the ramus
and cartilage in the nose's wall; elsewhere both are deep fat. The retaining ligaments
(:func:`ligament_footprints`) run from bone to the SMAS and the dermis at their published
places; the fat compartments are those of sagsim.anatomy.layers, by arc length and height.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import materials as mat
from ..errors import MeshError
from ..model import Layer, tet_quality
from . import layers as lay
from .head import Head, border_edges, boundary_loops, face_region, largest_piece, mesh_edges
from .mesh import first_fold, point_areas
from .skin_import import _prism_tets, vertex_normals
from .skull import SkullFit, ray_hits

#: the materials of the real face's tissues: the layers' (sagsim.anatomy.layers) and the masseter's,
#: the gliding spaces' and the nose's cartilage (sagsim.materials, each with its source)
MATERIALS = {**lay.DEFAULT_MATERIALS, Layer.MUSCLE: mat.MUSCLE, Layer.LOOSE_AREOLAR: mat.LOOSE_AREOLAR,
             Layer.CARTILAGE: mat.NASAL_CARTILAGE}
#: the kinds of column end, in the order of :func:`column_depths`'s codes
KINDS = ("bone", "teeth", "globe", "neck", "cavity", "fascia")
#: the kinds whose deep end is on bone or on the deep fascia over it: where a ligament starts
ON_BONE = (KINDS.index("bone"), KINDS.index("fascia"))
#: the least cosine between a skin triangle's normal and the line to the centre for the triangle
#: to be kept: a triangle seen more edge-on than this would give a sliver of a prism
MIN_FACING = 0.1


@dataclass(frozen=True)
class RealFaceParams:
    """The modelling choices of the real face's volume, exposed to vary or to calibrate. Each is
    an ESTIMATE (no measurement decides it) unless its comment cites a source."""

    reach_m: float = 0.035  # the deepest soft tissue over bone (the cheek over the ramus and masseter)
    lid_reach_m: float = 0.012  # near an eye, deeper than this is the orbit, not the orbital rim
    eye_zone_m: float = 0.012  # how far from a palpebral fissure the lids reach
    lid_depth_m: float = 0.0033  # the lower lid's full thickness by ultrasound (the literature table; weak: an abstract)
    neck_depth_m: float = 0.015  # the submental and submandibular soft tissue above the deeper neck
    cavity_depth_m: float = 0.015  # the cheek over the oral cavity
    nose_reach_m: float = 0.008  # in the nose, deeper than this is the nasal cavity, not the nasal bone
    nose_wall_m: float = 0.005  # the nasal wall: skin, fat and cartilage over the nasal cavity
    max_slope: float = 2.5  # a column at most this much deeper than its neighbour per unit of distance
    smoothing_passes: int = 30  # of the depths of the columns without bone under them
    dental_half_height_m: float = 0.012  # the dental zone (the oral vestibule): this far above and below stomion,
    dental_depth_m: float = 0.050  # this far behind stomion,
    dental_half_width_m: float = 0.032  # and this far either side of the midline
    space_m: float = 0.0015  # the plane of the gliding spaces under the SMAS (loose areolar tissue)
    max_share: dict = field(default_factory=lambda: {Layer.SKIN: 0.25, Layer.SUPERFICIAL_FAT: 0.35, Layer.SMAS: 0.1,
                                                     Layer.LOOSE_AREOLAR: 0.1})


def column_centre(head: Head) -> np.ndarray:
    """The point every column runs towards: midway between the tragia, on the midplane."""
    m = head.landmarks
    c = 0.5 * (m["tragion_left"] + m["tragion_right"])
    return np.array([0.0, c[1], c[2]])


def inward(points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Each column's unit direction: from its skin point towards the centre."""
    d = centre - points
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def facing(points: np.ndarray, triangles: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Cosine between each triangle's outward normal and the line from ``centre`` to it."""
    p = points[triangles]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    d = p.mean(axis=1) - centre
    return np.einsum("ij,ij->i", n, d) / (np.linalg.norm(n, axis=1) * np.linalg.norm(d, axis=1))


def star_surface(points: np.ndarray, triangles: np.ndarray, centre: np.ndarray,
                 ears: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The largest piece of skin that faces ``centre`` throughout (cosine at least
    :data:`MIN_FACING`) and is one sheet (no point where two pieces touch, no ear: a triangle
    held by one edge, its tip in no other; :func:`_pinched_points`; ``ears=False`` keeps them):
    returns the points and the triangles kept. A hole that trimming would leave in the skin
    itself (a lid crease folded over: at most :data:`MAX_PATCH` points round) is smoothed away
    instead: its points move to the mean of their neighbours until the skin there faces the
    centre."""
    points = points.copy()
    for _ in range(10):
        tris = triangles[facing(points, triangles, centre) >= MIN_FACING]
        while True:
            tris = tris[largest_piece(tris)]
            pinched = _pinched_points(tris, ears)
            if not pinched.size:
                break
            tris = tris[~np.isin(tris, pinched).any(axis=1)]
        holes = [loop for loop in boundary_loops(tris) if len(loop) <= MAX_PATCH]
        if not holes:
            return points, tris
        for loop in holes:
            for _ in range(3):
                ring = triangles[np.isin(triangles, loop).any(axis=1)]
                for k in loop:
                    near = np.unique(ring[(ring == k).any(axis=1)])
                    points[k] = points[near[near != k]].mean(axis=0)
    raise MeshError(f"skin: a fold near ({', '.join(f'{1e3 * v:.0f}' for v in points[holes[0]].mean(axis=0))}) mm "
                    "turns away from the centre of the head and does not smooth out")


#: the most points round a hole in the skin that :func:`star_surface` smooths away
MAX_PATCH = 6


def _pinched_points(triangles: np.ndarray, ears: bool = True) -> np.ndarray:
    """Points where the border passes more than once (two pieces meet at a corner), and the
    tips of ears: points in a single triangle. An ear's column is a sliver of tissue tied to
    the rest along one side only; at the mouth corners of the coarse face such a flap hung
    2.4 mm under gravity in quadratic tetrahedra, where the skin beside it hung 1.0 mm, and
    their tangent went indefinite 71 times in one stress-free recovery (once without ears)."""
    values, counts = np.unique(border_edges(triangles)[:, 0], return_counts=True)
    tips = np.flatnonzero(np.bincount(triangles.ravel()) == 1) if ears else np.zeros(0, np.int64)
    return np.union1d(values[counts > 1], tips)


def column_depths(points: np.ndarray, triangles: np.ndarray, centre: np.ndarray, head: Head, skull: SkullFit,
                  params: RealFaceParams) -> tuple[np.ndarray, np.ndarray]:
    """Each skin point's column depth (m) and the kind of its deep end (index into
    :data:`KINDS`), by the rules of the module's docstring."""
    m = head.landmarks
    into = inward(points, centre)
    hit = _first_hits(points, into, skull)
    eye_points = np.concatenate([loop for loop in boundary_loops(triangles)
                                 if _is_eye(points[loop], m)] or [np.zeros(0, np.int64)])
    near_eye = _distance_to(points, points[eye_points]) < params.eye_zone_m
    bone_at = points + np.where(np.isfinite(hit), hit, 0.0)[:, None] * into
    sto = m["stomion"]
    dental = ((np.abs(bone_at[:, 1] - sto[1]) <= params.dental_half_height_m)
              & (bone_at[:, 2] >= sto[2] - params.dental_depth_m) & (np.abs(bone_at[:, 0]) <= params.dental_half_width_m))
    reach = np.where(near_eye, params.lid_reach_m, params.reach_m)
    on_skull = hit <= reach
    nose = in_nose(points, m)
    on_skull &= ~(nose & (hit > params.nose_reach_m))
    below = points[:, 1] < sto[1] - params.dental_half_height_m
    kind = np.select([on_skull & ~dental, on_skull & dental, near_eye, below],
                     [KINDS.index("bone"), KINDS.index("teeth"), KINDS.index("globe"), KINDS.index("neck")],
                     KINDS.index("cavity"))
    target = np.select([on_skull, near_eye, below, nose],
                       [hit, params.lid_depth_m, params.neck_depth_m, params.nose_wall_m], params.cavity_depth_m)
    edges = mesh_edges(triangles)
    depth = _smoothed_depths(target, on_skull, edges, params.smoothing_passes)
    depth, limited = _slope_limited(depth, points, edges, params.max_slope)
    kind[limited & on_skull] = KINDS.index("fascia")
    return depth, kind


def in_nose(points: np.ndarray, marks: dict) -> np.ndarray:
    """The external nose: between subnasale's and nasion's heights, in front of the alae's
    depth and no wider than the alae (alare) at the base, narrowing to half that at nasion."""
    sn, n = marks["subnasale"], marks["nasion"]
    half = abs(marks["alare_left"][0] - marks["alare_right"][0]) / 2
    t = np.clip((points[:, 1] - sn[1]) / (n[1] - sn[1]), 0.0, 1.0)
    return ((points[:, 1] >= sn[1]) & (points[:, 1] <= n[1]) & (np.abs(points[:, 0]) <= half * (1 - 0.5 * t))
            & (points[:, 2] >= marks["alare_left"][2] - 0.002))


def _smoothed_depths(target: np.ndarray, held: np.ndarray, edges: np.ndarray, passes: int) -> np.ndarray:
    """Depths of the columns without bone under them pulled towards their neighbours' (each
    pass: half its target, half its neighbours' mean), so that the deep surface runs on from
    the bone without a step; the columns on bone keep theirs."""
    n = len(target)
    from scipy.sparse import coo_matrix

    adj = coo_matrix((np.ones(2 * len(edges)), (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]])),
                     shape=(n, n)).tocsr()
    degree = np.asarray(adj.sum(axis=1)).ravel()
    d = target.copy()
    for _ in range(passes):
        d = np.where(held, target, 0.5 * target + 0.5 * (adj @ d) / degree)
    return d


def _slope_limited(depth: np.ndarray, points: np.ndarray, edges: np.ndarray, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """Depths no deeper than a neighbour's plus ``slope`` times their distance (a column
    beside a bone step, the orbital rim's or the zygomatic arch's, stops short of the bone
    deep below, on the deep fascia over it); and which columns were shortened."""
    d = depth.copy()
    length = np.linalg.norm(points[edges[:, 0]] - points[edges[:, 1]], axis=1)
    for _ in range(100):
        cap = np.full(len(d), np.inf)
        np.minimum.at(cap, edges[:, 0], d[edges[:, 1]] + slope * length)
        np.minimum.at(cap, edges[:, 1], d[edges[:, 0]] + slope * length)
        new = np.minimum(d, cap)
        if np.array_equal(new, d):
            break
        d = new
    return d, d < depth


def _first_hits(points: np.ndarray, directions: np.ndarray, skull: SkullFit) -> np.ndarray:
    """Distance from each point along its direction to the first skull triangle (inf if none)."""
    out = np.full(len(points), np.inf)
    for i, (p, d) in enumerate(zip(points, directions)):
        t = ray_hits(p, d, skull.points, skull.triangles)
        if t.size:
            out[i] = t.min()
    return out


def _is_eye(loop_points: np.ndarray, marks: dict) -> bool:
    """A border loop round a palpebral fissure: its centre within 8 mm of the midpoint of an
    eye's canthi."""
    return any(np.linalg.norm(loop_points.mean(axis=0) - 0.5 * (marks[f"exocanthion_{s}"] + marks[f"endocanthion_{s}"]))
               < 0.008 for s in ("left", "right"))


def _distance_to(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    if not len(targets):
        return np.full(len(points), np.inf)
    return cKDTree(targets).query(points)[0]


def layer_fractions(points: np.ndarray, triangles: np.ndarray, centre: np.ndarray, depth: np.ndarray,
                    cells: tuple[int, ...], params: RealFaceParams) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The depth of each level below each skin point as a fraction of its column (L+1, N), skin
    first, the layer of each level's cells (L,) and their role (L,: "skin", "superficial",
    "smas", "space", "deep"). Skin, superficial fat and SMAS take their cited thickness
    (sagsim.anatomy.layers, at the point's arc length from the midline and height) divided by
    the cosine between the column and the skin's normal, each at most its share of the column;
    under the SMAS one cell :attr:`RealFaceParams.space_m` thick is the plane of the gliding
    spaces (deep fat where there is no space); the deep tissue takes the rest. ``cells``: deep
    to superficial, as LAYER_STACK."""
    cosine = np.clip(np.einsum("ij,ij->i", -vertex_normals(points, triangles), inward(points, centre)), 0.35, 1.0)
    maps = lay.thickness_maps(*_arc_and_height(points, centre), _Scale())
    edges, layers, roles = [np.zeros(len(points))], [], []
    used = np.zeros(len(points))
    role_of = {Layer.SKIN: "skin", Layer.SUPERFICIAL_FAT: "superficial", Layer.SMAS: "smas", Layer.DEEP_FAT: "deep"}
    for spec, k, t in reversed(list(zip(lay.LAYER_STACK, cells, maps))):
        if spec.layer == Layer.DEEP_FAT:
            space = np.minimum(params.space_m / cosine / depth, params.max_share[Layer.LOOSE_AREOLAR])
            used = used + space
            edges.append(used)
            layers.append(Layer.DEEP_FAT)
            roles.append("space")
            share = 1.0 - used
        else:
            share = np.minimum(t / cosine / depth, params.max_share[spec.layer])
        for step in range(1, k + 1):
            edges.append(used + share * step / k)
            layers.append(spec.layer)
            roles.append(role_of[spec.layer])
        used = used + share
    return np.stack(edges), np.array(layers), tuple(roles)


@dataclass(frozen=True)
class _Scale:
    thickness_scale: dict = field(default_factory=dict)


def layered_columns(points: np.ndarray, triangles: np.ndarray, centre: np.ndarray, depth: np.ndarray,
                    fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes (level by level, skin first), positively oriented tetrahedra (three per prism,
    conforming) and each tetrahedron's level. Refuses a mesh with a tetrahedron turned inside
    out, naming where (the skin does not face the centre there)."""
    n = len(points)
    into = inward(points, centre)
    nodes = np.concatenate([points + (f * depth)[:, None] * into for f in fractions])
    tets, level = _prism_tets(triangles, n, len(fractions) - 1)
    e = first_fold(nodes, tets)
    if e is not None:
        where = ", ".join(f"{1e3 * v:.0f}" for v in nodes[tets[e]].mean(axis=0))
        raise MeshError(f"real face: the columns fold at ({where}) mm: the skin there does not face the centre "
                        "of the head")
    return nodes, tets, level


# -- the model ---------------------------------------------------------------------------------

#: cells through each layer (deep tissue, SMAS, superficial fat, skin, as LAYER_STACK) and how
#: the skin surface is refined: "coarse" coarsens the head's skin to a third of its triangles
#: (the test bed), "default" is the head's own skin, "fine" splits each triangle in four
#: the worst element a built face may have, as circumradius over three inradii (model.tet_quality):
#: the shipped faces reach 318 (coarse), 1,060 (default) and 2,391 (fine), at the margins of the
#: lids, nostrils and mouth corners; a decimation of the coarse skin that laid 13 mm triangles
#: over the lower lids' 0.35 mm layers made 4,300, and the stress-free recovery stalled on them
MAX_ASPECT_RATIO = 3000.0
RESOLUTIONS = {"coarse": ((1, 1, 1, 1), "coarsen"), "default": ((2, 1, 1, 1), "as is"),
               "fine": ((4, 1, 2, 2), "split")}
#: the teeth's support: a penalty per square metre of the tissue's deep face (Pa/m), not a tissue
#: property: stiff enough that the lips and cheeks move about 1 % of their free travel into or
#: off the teeth (the tissue over them, about 15 mm of fat at a few kPa, is some 3e5 Pa/m)
CONTACT_PA_PER_M = 3e7
#: a support spring's length (m): long, so that it resists only along its own line (sliding
#: along the teeth is free to first order). Ten metres: a spring pushed shorter than its rest
#: length has the transverse stiffness -T/L, which over one metre outweighed the soft tissue's
#: own stiffness in a Newton trial lifting a lip off the teeth (AMG-CG met negative curvature with
#: the deep fat's modulus a tenth); a kilometre cost the force its digits instead (the stretch
#: of a spring that long resolves to 1e-13 m, and a thread lift's Newton solve stalled at
#: 3e-9 N against its 4e-10 N target). At 10 m, -T/L stays a tenth of the tissue's stiffness
#: and the force resolves to about 1e-11 N.
CONTACT_LENGTH_M = 10.0
#: Why the support holds both ways: the lips press on the incisors at rest with 3.91 g/cm^2
#: (upper) and 8.58 g/cm^2 (lower) in natural head posture (Hellsing and L'Estrange 1987, 15
#: adults, strain gauges on the incisors), that is 0.38 and 0.84 kPa, while the weight of the
#: 15 mm of tissue over the teeth is 1000 kg/m^3 x 9.81 m/s^2 x 0.015 m = 0.15 kPa: no posture
#: lifts them off. Modelled as a one-sided contact without that resting pressure, the lips came
#: 1.2 mm off the teeth upright, and the contact's kink cost the stress-free recovery three
#: times its time.
RESTING_LIP_PRESSURE_PA = (383.0, 842.0)


#: the half-angle (degrees) of each ligament fibre's slant from its column, ESTIMATE: the
#: bundles run from the periosteum through the fat and spread into the dermis, but no angle is
#: published. The slant is what makes a bundle resist the tissue's sliding at first order (a
#: fibre along its column resists only being pulled off the bone). A fixed angle keeps that
#: resistance the same on every mesh: fibres to the neighbouring columns' bone ends slanted at
#: whatever the mesh's spacing gave (median 41 degrees on the default face's zygomatic bundle,
#: 30 on the fine one's), and in the first five years of aging (the ligaments loosening, before
#: any fat creep) the default face's jowl descended a third as far as on the default skin split
#: in four; with the fixed slant, 0.055 against 0.057 mm (docs/aging.md, "Mesh dependence").
LIGAMENT_FAN_DEG = 40.0
#: fibres round each insertion point, evenly spread: with three or more, the bundle resists
#: sliding equally in every direction along the bone
LIGAMENT_FAN_FIBRES = 6


def column_springs(n: int, levels: int, area: np.ndarray, sites: dict, insertion_levels: tuple, nodes: np.ndarray,
                   stiffness: float, fan_deg: float = LIGAMENT_FAN_DEG):
    """The retaining ligaments as fans of tension-only springs: for each site (name -> the skin
    points of its footprint, columns ending on bone: :func:`ligament_footprints`), from the SMAS
    and the dermis's underside (``insertion_levels``) of each footprint column to :data:`LIGAMENT_FAN_FIBRES` points round the column's bone
    end, each fibre slanted ``fan_deg`` from the column. ``stiffness`` N/m per bundle, shared
    by its columns in proportion to their skin ``area`` (so that a finer mesh spreads the
    same bundle over more columns); fibres start at their rest length."""
    from ..model import Springs

    turn = 2 * np.pi * np.arange(LIGAMENT_FAN_FIBRES) / LIGAMENT_FAN_FIBRES
    slant = np.tan(np.radians(fan_deg))
    node, anchors, k, groups, names = [], [], [], [], []
    for name, columns in sites.items():
        share = area[columns] / area[columns].sum()
        for c, w in zip(columns, share):
            bone = nodes[levels * n + c]
            for level in insertion_levels:
                axis = nodes[level * n + c] - bone
                e1, e2 = _across(axis)
                ring = bone + slant * np.linalg.norm(axis) * (np.cos(turn)[:, None] * e1 + np.sin(turn)[:, None] * e2)
                node += [level * n + c] * len(turn)
                anchors.append(ring)
                k += [stiffness * w / (len(insertion_levels) * len(turn))] * len(turn)
                groups += [len(names)] * len(turn)
        names.append(name)
    node, anchors = np.array(node), np.concatenate(anchors)
    return Springs(nodes=np.column_stack([node, np.full(len(node), -1)]), anchors=anchors, stiffness=np.array(k),
                   rest_length=np.linalg.norm(nodes[node] - anchors, axis=1),
                   tension_only=np.ones(len(node), bool), group=np.array(groups), names=tuple(names))


def _across(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to ``axis`` and to each other."""
    a = axis / np.linalg.norm(axis)
    e1 = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(a, e1)


def teeth_supports(n: int, levels: int, kind: np.ndarray, nodes: np.ndarray, points: np.ndarray,
                   triangles: np.ndarray, centre: np.ndarray):
    """The teeth under the lips and cheeks as sliding supports (see
    :data:`RESTING_LIP_PRESSURE_PA` for why they hold both ways): a spring from each deep node
    that lies on them to a point :data:`CONTACT_LENGTH_M` back out along its column, of that
    length, so that it resists the node's moving into or off the teeth and not along them; the
    penalty :data:`CONTACT_PA_PER_M` times the node's share of the deep face's area."""
    from ..model import SUPPORT_PREFIX, Springs

    on = np.flatnonzero(kind == KINDS.index("teeth"))
    deep = nodes[levels * n + on]
    area = point_areas(nodes[levels * n:levels * n + n], triangles)[on]
    anchors = deep - CONTACT_LENGTH_M * inward(points[on], centre)
    sides = np.where(points[on, 0] >= 0, 0, 1)
    return Springs(nodes=np.column_stack([levels * n + on, np.full(len(on), -1)]), anchors=anchors,
                   stiffness=CONTACT_PA_PER_M * area, rest_length=np.full(len(on), CONTACT_LENGTH_M),
                   tension_only=np.zeros(len(on), bool), group=sides,
                   names=(f"{SUPPORT_PREFIX}teeth_left", f"{SUPPORT_PREFIX}teeth_right"))


def _joined(a, b):
    """Two sets of springs as one (b's groups after a's)."""
    from dataclasses import replace

    return replace(a, nodes=np.concatenate([a.nodes, b.nodes]), anchors=np.concatenate([a.anchors, b.anchors]),
                   stiffness=np.concatenate([a.stiffness, b.stiffness]),
                   rest_length=np.concatenate([a.rest_length, b.rest_length]),
                   tension_only=np.concatenate([a.tension_only, b.tension_only]),
                   group=np.concatenate([a.group, b.group + len(a.names)]), names=a.names + b.names)


#: how the landmarks the head does not place are placed on the real face (``_left`` and ``_right``)
LANDMARK_DEFINITIONS = {
    "malar_eminence": "per side, the skin point standing furthest out along the direction 45 degrees lateral of "
                      "straight ahead, among those 10 to 35 mm below exocanthion and between endocanthion and "
                      "zygion across (the cheekbone's prominence)",
    "jowl": "per side, on the bone, the lowest point of the mandible 12 mm lateral of cheilion (its lower border "
            "there); the jowl is the skin point 10 mm above it standing furthest forward within 3 mm of that "
            "vertical plane and 4 mm of that height (on a skin too coarse to have a point there: the point nearest "
            "that place within twice or three times the window)",
    "gonion": "per side, as sagsim.anatomy.skull.BONY_DEFINITIONS (the skin point nearest the mandibular angle)",
}
#: the head's landmarks under the names the package's plans and metrics also use
ALIASES = {"oral_commissure": "cheilion", "tragus": "tragion", "lateral_canthus": "exocanthion"}


def face_landmarks(points: np.ndarray, head: Head, skull: SkullFit) -> dict:
    """Every landmark of the real face (name -> skin point): the head's own, their aliases
    (:data:`ALIASES`), and those of :data:`LANDMARK_DEFINITIONS`."""
    from .skull import bony_landmarks

    m = dict(head.landmarks)
    out = dict(m)
    bony = bony_landmarks(head, skull)
    bone = skull.points
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for alias, name in ALIASES.items():
            out[f"{alias}_{side}"] = m[f"{name}_{side}"]
        ex, en, zy = m[f"exocanthion_{side}"], m[f"endocanthion_{side}"], m[f"zygion_{side}"]
        band = ((points[:, 1] <= ex[1] - 0.010) & (points[:, 1] >= ex[1] - 0.035)
                & (sign * points[:, 0] >= sign * en[0]) & (sign * points[:, 0] <= sign * zy[0]))
        if not band.any():
            raise MeshError(f"real face: malar_eminence_{side}: no skin below the eye between the canthus and zygion")
        idx = np.flatnonzero(band)
        out[f"malar_eminence_{side}"] = points[idx[np.argmax(points[idx] @ np.array([sign, 0.0, 1.0]))]]
        x0 = m[f"cheilion_{side}"][0] + sign * 0.012
        plane = (np.abs(bone[:, 0] - x0) < 0.003) & (bone[:, 2] > m[f"tragion_{side}"][2] + 0.03)
        skin = np.abs(points[:, 0] - x0) < 0.003
        if not plane.any() or not skin.any():
            raise MeshError(f"real face: jowl_{side}: no mandible or skin 12 mm lateral of cheilion")
        border = bone[plane][np.argmin(bone[plane][:, 1])]
        # the window widens (twice, then three times) where a coarse skin has no point in it
        for widen in (1.0, 2.0, 3.0):
            near = (np.abs(points[:, 0] - x0) < 0.003 * widen) & (np.abs(points[:, 1] - (border[1] + 0.010)) < 0.004 * widen)
            idx = np.flatnonzero(near)
            if idx.size:
                break
        else:
            raise MeshError(f"real face: jowl_{side}: no skin 10 mm above the mandible's border")
        if widen == 1.0:
            out[f"jowl_{side}"] = points[idx[np.argmax(points[idx, 2])]]
        else:  # the widened window's point nearest the place (the cheek above stands further forward)
            gap = np.hypot((points[idx, 0] - x0) / 0.003, (points[idx, 1] - border[1] - 0.010) / 0.004)
            out[f"jowl_{side}"] = points[idx[np.argmin(gap)]]
        out[f"gonion_{side}"] = bony[f"gonion_{side}"]
    return out


def ligament_sites(points: np.ndarray, marks: dict, skull: SkullFit, on_bone: np.ndarray) -> dict:
    """Where each retaining ligament is (name_side -> (centre, radius of its footprint)); the
    centre is the skin point nearest its published place among those whose column ends on
    bone (``on_bone``: a ligament runs from bone). Placed by the distances of the reference
    table as the procedural face places them (sagsim.anatomy.ligaments): the zygomatic
    ligament 66.5 mm from tragion and 56.3 mm from cheilion (Tatlisumak and Yoleri), the upper
    masseteric 13.3 mm below it (J Craniofac Surg 2025), the mandibular 51.1 mm from the
    midline along the mandible's lower border and 9.1 mm above it (Kang et al. 2016);
    ESTIMATES: the lower masseteric at the upper one's distance from the ear, 6 mm above the
    mandibular's height, and the orbicularis retaining ligament 12 mm below the middle of the
    eye, 10 mm wide. Placed on the head's own skin, so that every resolution has its ligaments
    at the same places (:func:`ligament_footprints`)."""
    from .ligaments import _zygomatic

    allowed = np.flatnonzero(on_bone)
    out = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        zyg = _zygomatic(marks[f"tragion_{side}"], marks[f"cheilion_{side}"])
        border = _mandible_border(skull.points, sign, marks[f"tragion_{side}"][2] + 0.03)
        along = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(border, axis=0), axis=1))]
        mand = np.array([np.interp(0.0511, along, border[:, k]) for k in range(3)]) + [0.0, 0.0091, 0.0]
        upper = zyg + [0.0, -0.0133, 0.0]
        lower = np.array([upper[0], mand[1] + 0.006, upper[2]])
        eye = 0.5 * (marks[f"exocanthion_{side}"] + marks[f"endocanthion_{side}"]) + [0.0, -0.012, 0.0]
        for name, at, radius in (("zygomatic", zyg, 0.004), ("upper_masseteric", upper, 0.004),
                                 ("lower_masseteric", lower, 0.004), ("mandibular", mand, 0.004),
                                 ("orbicularis_retaining", eye, 0.010)):
            near = allowed[np.argmin(np.linalg.norm(points[allowed] - at, axis=1))]
            out[f"{name}_{side}"] = (points[near], radius)
    return out


def ligament_footprints(points: np.ndarray, sites: dict, on_bone: np.ndarray) -> dict:
    """The skin points over each ligament (name_side -> indices): those whose column ends on
    bone within the site's radius of its centre (:func:`ligament_sites`), or the nearest such
    point where a coarse skin has none within it."""
    idx = np.flatnonzero(on_bone)
    if not len(idx):
        raise MeshError("real face: no column ends on bone, so no ligament has a footprint")
    out = {}
    for name, (centre, radius) in sites.items():
        gap = np.linalg.norm(points[idx] - centre, axis=1)
        out[name] = idx[gap <= radius] if (gap <= radius).any() else idx[[np.argmin(gap)]]
    return out


#: where the deep structures lie, by the landmarks and the ligaments that bound them (after the
#: anatomy of the sub-SMAS spaces, Mendelson et al.: each space's boundaries are ligaments)
REGION_DEFINITIONS = {
    "premasseteric_space": "per side, the columns on bone over the lower masseter: behind the masseteric "
                           "ligaments, at least 5 mm in front of gonion, below the upper masseteric ligament and "
                           "above the mandible's border (10 mm below the jowl)",
    "prezygomatic_space": "per side, the columns on bone over the body of the zygoma: between the zygomatic and "
                          "the orbicularis retaining ligaments' heights, from the middle of the latter out to zygion",
    "masseter": "per side, the columns on bone behind the masseteric ligaments and at least 5 mm in front of "
                "gonion, from the mandible's border up to 10 mm below tragion (under the zygomatic arch): their "
                "deep tissue is the masseter",
    "nasal_cartilage": "the columns of the external nose over the nasal cavity (sagsim.anatomy.real_face.in_nose, "
                       "no bone within reach): their deep tissue is cartilage",
}


def tissue_regions(points: np.ndarray, marks: dict, sites: dict, kind: np.ndarray) -> dict:
    """The columns of each region of :data:`REGION_DEFINITIONS` (name -> mask over skin points)."""
    on_bone = kind == KINDS.index("bone")
    out = {k: np.zeros(len(points), bool) for k in REGION_DEFINITIONS}
    x, y, z = points.T
    for side, sign in (("left", 1.0), ("right", -1.0)):
        centre = {name: sites[f"{name}_{side}"][0]
                  for name in ("zygomatic", "upper_masseteric", "lower_masseteric", "orbicularis_retaining")}
        front = min(centre["upper_masseteric"][2], centre["lower_masseteric"][2])
        back = marks[f"gonion_{side}"][2] + 0.005
        border = marks[f"jowl_{side}"][1] - 0.010
        masseter = on_bone & (sign * x > 0) & (z < front) & (z > back) & (y > border)
        out["masseter"] |= masseter & (y < marks[f"tragion_{side}"][1] - 0.010)
        out["premasseteric_space"] |= masseter & (y < centre["upper_masseteric"][1])
        out["prezygomatic_space"] |= (on_bone & (y > centre["zygomatic"][1]) & (y < centre["orbicularis_retaining"][1])
                                      & (sign * x > sign * centre["orbicularis_retaining"][0])
                                      & (sign * x < sign * marks[f"zygion_{side}"][0]))
    out["nasal_cartilage"] = in_nose(points, marks) & (kind == KINDS.index("cavity"))
    return out


def _mandible_border(bone: np.ndarray, sign: float, behind_z: float) -> np.ndarray:
    """The mandible's lower border on one side, from the midline outwards: its lowest bone point
    in each 2 mm slice across, in front of ``behind_z``."""
    front = bone[(bone[:, 2] > behind_z) & (sign * bone[:, 0] >= 0)]
    out = []
    for x in np.arange(0.0, 0.07, 0.002):
        s = front[np.abs(sign * front[:, 0] - x) < 0.001]
        if len(s):
            out.append(s[np.argmin(s[:, 1])])
    return np.array(out)


def refined_skin(points: np.ndarray, triangles: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """The skin at a resolution: "as is", "split" (each triangle into four at its edges'
    midpoints: the same surface, finer) or "coarsen" (VTK's quadric decimation to a third of
    the triangles, the border kept; deterministic)."""
    if how == "as is":
        return points, triangles
    if how == "split":
        edges = mesh_edges(triangles)
        n = len(points)
        key = {tuple(e): n + k for k, e in enumerate(edges.tolist())}
        mid = [[key[tuple(sorted((int(t[a]), int(t[b]))))] for a, b in ((0, 1), (1, 2), (2, 0))] for t in triangles]
        mid = np.array(mid)
        a, b, c = triangles.T
        ab, bc, ca = mid.T
        tris = np.concatenate([np.column_stack(t) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
        return np.concatenate([points, 0.5 * (points[edges[:, 0]] + points[edges[:, 1]])]), tris
    import pyvista as pv

    surface = pv.PolyData(points, np.column_stack([np.full(len(triangles), 3), triangles]).ravel())
    coarse = surface.decimate(2.0 / 3.0, volume_preservation=True, boundary_constraints=True, boundary_weight=10.0)
    faces = coarse.faces.reshape(-1, 4)[:, 1:].astype(np.int64)
    return np.asarray(coarse.points, np.float64), faces


def _compact(points: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used = np.unique(triangles)
    local = np.full(len(points), -1)
    local[used] = np.arange(len(used))
    return points[used], local[triangles]


@dataclass(frozen=True)
class MeshReport:
    """What the real face's volume is: counts, the kinds of deep end, depths and quality."""

    nodes: int
    tets: int
    skin_triangles: int
    trimmed_triangles: int
    columns: dict  # kind -> count
    depth_mm: dict  # kind -> (min, median, max)
    quality: dict

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k} {v}" for k, v in self.columns.items())
        q = self.quality
        return [f"{self.nodes} nodes, {self.tets} tetrahedra over {self.skin_triangles} skin triangles "
                f"({self.trimmed_triangles} trimmed where the skin turns from the centre)",
                f"columns ending on: {kinds}",
                f"quality: min dihedral {q['min_dihedral_deg']:.2f} deg (median {q['median_min_dihedral_deg']:.1f}), "
                f"max aspect {q['max_aspect_ratio']:.0f} (median {q['median_aspect_ratio']:.2f}), "
                f"{q['inverted']} inverted"]


def build_real_face(head: Head, skull: SkullFit, resolution: str = "default", params: RealFaceParams | None = None,
                    ligament_stiffness: float | None = None):
    """The real face as a TissueModel, and its :class:`MeshReport`: the skin of ``head``'s face
    region, the layers and columns down to ``skull`` (see the module's docstring);
    ``ligament_stiffness`` N/m per bundle (default: sagsim.anatomy.ligaments' ESTIMATE)."""
    from ..model import TissueModel
    from .ligaments import LIGAMENT_STIFFNESS
    from .mesh import quality_report
    from .skin_import import _place

    if resolution not in RESOLUTIONS:
        raise MeshError(f"real face: resolution: expected one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
    params = params or RealFaceParams()
    cells, how = RESOLUTIONS[resolution]
    centre = column_centre(head)
    region = face_region(head)
    # a skin to be decimated keeps its ears until after: trimmed first, the head's skin led
    # VTK's decimation to lay 13 mm triangles along the lateral lower lids, over 0.35 mm layers
    # (elements of aspect ratio 4,300 instead of 1,400, on which the stress-free recovery stalled)
    points, tris = _compact(*star_surface(region.points, region.triangles, centre, ears=not how.startswith("coarsen")))
    trimmed = len(region.triangles) - len(tris)
    # the landmarks chosen among the head's own skin points, whatever the resolution: chosen
    # among a finer skin's points, the jowl (the point standing furthest forward in a window)
    # moved 4.9 mm between the default and the fine face
    marks = face_landmarks(points, head, skull)
    # so are the ligaments' places: chosen on a finer skin's own bone, some moved 10 mm
    depth, kind = column_depths(points, tris, centre, head, skull, params)
    sites = ligament_sites(points, marks, skull, np.isin(kind, ON_BONE))
    if how != "as is":
        points, tris = _compact(*star_surface(*refined_skin(points, tris, how), centre))
        depth, kind = column_depths(points, tris, centre, head, skull, params)
    n = len(points)
    fractions, layers, roles = layer_fractions(points, tris, centre, depth, cells, params)
    nodes, tets, level = layered_columns(points, tris, centre, depth, fractions)
    deepest = len(fractions) - 1
    held = np.isin(kind, [KINDS.index(k) for k in ("bone", "fascia", "globe", "neck")])
    cut = max(boundary_loops(tris), key=len)  # the region's border: forehead, neck, before the ears
    fixed = np.unique(np.concatenate([deepest * n + np.flatnonzero(held),
                                      (cut[:, None] + n * np.arange(deepest + 1)[None]).ravel()]))
    footprints = ligament_footprints(points, sites, np.isin(kind, ON_BONE))
    regions = tissue_regions(points, marks, sites, kind)
    column = tets.min(axis=1) % n  # the skin point of each tetrahedron's column (its smallest index)
    role = np.array(roles)[level]
    tet_layer = np.array([int(x) for x in layers], np.int8)[level]
    space = regions["premasseteric_space"] | regions["prezygomatic_space"]
    tet_layer[(role == "space") & space[column]] = Layer.LOOSE_AREOLAR
    tet_layer[(role == "deep") & regions["masseter"][column]] = Layer.MUSCLE
    tet_layer[(role == "deep") & regions["nasal_cartilage"][column]] = Layer.CARTILAGE
    s, y = _arc_and_height(points, centre)
    # each element by its own centre (the mean arc length and height of its corners' columns),
    # not by its smallest corner's column: whole columns made each compartment's border a
    # staircase at the skin triangles' size, and its volume followed the mesh (default -> fine:
    # jowl 13.3 -> 15.1 mL, SOOF 4.0 -> 3.3; by centre 14.8 -> 14.8 and 3.5 -> 3.3; docs/aging.md,
    # "Mesh dependence")
    corners = tets % n  # each corner's column
    compartment = lay.assign_compartments(tet_layer, s[corners].mean(axis=1), y[corners].mean(axis=1))
    model = TissueModel(nodes=nodes, tets=tets, tet_layer=tet_layer, materials=dict(MATERIALS),
                        fixed=fixed, skin_faces=tris, tet_compartment=compartment,
                        compartment_names=lay.COMPARTMENT_NAMES, name=f"real face ({head.variant}, {resolution})")
    model = model.with_(landmarks=_place(model, marks, model.name))
    # the ligaments insert on the SMAS's top and the dermis's underside (levels from the skin)
    insertion = (roles.index("smas"), roles.index("superficial"))
    ligaments = column_springs(n, deepest, point_areas(points, tris), footprints, insertion, nodes,
                               LIGAMENT_STIFFNESS if ligament_stiffness is None else ligament_stiffness)
    springs = _joined(ligaments, teeth_supports(n, deepest, kind, nodes, points, tris, centre))
    model = model.with_(springs=springs)
    _check_quality(nodes, tets, tet_layer, resolution)
    report = MeshReport(nodes=model.n_nodes, tets=model.n_tets, skin_triangles=len(tris), trimmed_triangles=trimmed,
                        columns={k: int((kind == i).sum()) for i, k in enumerate(KINDS)},
                        depth_mm={k: [float(1e3 * f(depth[kind == i])) for f in (np.min, np.median, np.max)]
                                  for i, k in enumerate(KINDS) if (kind == i).any()},
                        quality=quality_report(nodes, tets))
    return model, report


def _check_quality(nodes: np.ndarray, tets: np.ndarray, tet_layer: np.ndarray, resolution: str) -> None:
    """A MeshError naming the worst element, where and in which layer, when it is flatter than
    MAX_ASPECT_RATIO: the solvers would stall on it rather than say so."""
    _, aspect = tet_quality(nodes, tets)
    worst = int(np.argmax(aspect))
    if aspect[worst] > MAX_ASPECT_RATIO:
        where = ", ".join(f"{1e3 * v:.0f}" for v in nodes[tets[worst]].mean(axis=0))
        raise MeshError(f"real face ({resolution}): element {worst} at ({where}) mm, in the {Layer(int(tet_layer[worst])).name} "
                        f"layer, has aspect ratio {aspect[worst]:.0f} (at most {MAX_ASPECT_RATIO:.0f}): its skin triangle "
                        "is far wider than the layers under it are thick")


def _arc_and_height(points: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each skin point's arc length from the midline round the vertical axis through the
    centre (m, positive to the left) and its height: the coordinates the layer thickness maps
    and the fat compartments of sagsim.anatomy.layers are written in."""
    h = points[:, [0, 2]] - centre[[0, 2]]
    return np.hypot(*h.T) * np.arctan2(h[:, 0], h[:, 1]), points[:, 1]


def build_named_real_face(variant: str = "female", resolution: str = "default"):
    """The real face of the vendored head ``variant`` over its fitted skull, and what describes
    it for a model file's provenance (its modelling choices, the skull's fit, the mesh report)."""
    from dataclasses import asdict

    from .head import load_head
    from .skull import fit_skull

    head = load_head(variant)
    skull = fit_skull(head)
    model, report = build_real_face(head, skull, resolution)
    params = {k: (v if not isinstance(v, dict) else {Layer(key).name: val for key, val in v.items()})
              for k, v in asdict(RealFaceParams()).items()}
    return model, {"params": params, "skull_fit": skull.residuals, "columns": report.columns,
                   "depth_mm": report.depth_mm, "quality": report.quality, "report": report.lines()}
