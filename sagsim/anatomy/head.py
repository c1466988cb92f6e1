"""The skin of a real adult head: the MakeHuman base mesh (CC0), vendored in sagsim/data/head/.

The vendored surface is the outer skin of the head and upper neck (tools/vendor_makehuman.py
says how it was cut from the base mesh: open at the palpebral fissures, the mouth slit and
nowhere else on the face). :func:`load_head` applies a variant's morph target (an adult
female by default, or male), converts decimetres to metres, splits each quad along its shorter
diagonal, places the anthropometric landmarks on the skin (each rule in :data:`DEFINITIONS`),
and moves the origin to subnasale (axes: x towards the subject's left, y up, z forward).
:func:`face_region` cuts the part the model uses: forehead to below the jaw, tragus to tragus.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import MeshError
from ..reference import row

DATA = Path(__file__).resolve().parents[1] / "data" / "head" / "makehuman_head.npz"
VARIANTS = ("female", "male")
DM = 0.1  # the source's unit, a decimetre, in metres

#: how each landmark is placed on the skin; "the profile" is the skin's section by the midsagittal
#: plane x = 0, "a section" a horizontal one (y constant)
DEFINITIONS = {
    "pronasale": "the most anterior point of the profile (nose tip)",
    "stomion": "the midline point of the mouth slit (the mean of its edge points within 2 mm of x = 0)",
    "labrale_superius": "the most anterior point of the profile within 15 mm above stomion",
    "labrale_inferius": "the most anterior point of the profile within 15 mm below stomion",
    "subnasale": "the most posterior point of the profile between labrale superius and pronasale",
    "pogonion": "the most anterior point of the profile 20 to 60 mm below stomion (chin)",
    "sublabiale": "the most posterior point of the profile between pogonion and labrale inferius",
    "menton": "the point of the profile below pogonion, within 25 mm behind it, whose skin normal points "
              "most nearly straight down",
    "gnathion": "as menton, with the normal closest to 45 degrees between down and forward",
    "nasion": "the most posterior point of the profile within 50 mm above pronasale (the nasal root; soft "
              "tissue nasion, the sellion of anthropometric surveys)",
    "glabella": "the most anterior point of the profile within 30 mm above nasion",
    "endocanthion": "per side, the medial end of the palpebral fissure (the eye opening's edge point nearest "
                    "the midline)",
    "exocanthion": "per side, the lateral end of the palpebral fissure",
    "cheilion": "per side, the lateral end of the mouth slit",
    "alare": "per side, the most lateral skin point of the nose: between the heights of subnasale and "
             "pronasale, at most 8 mm behind subnasale and within 30 mm of the midline",
    "tragion": "per side, the top of the tragus: on horizontal sections 0 to 30 mm below exocanthion, the "
               "tragus is a bump outwards (a local maximum of |x|) at least 10 mm in front of the helix (the "
               "section's most lateral point) that "
               "stands less than 2.5 mm out of the cheek 8 to 20 mm in front of it (the helix stands further), "
               "has the concha behind it (|x| at least 3 mm less within 15 mm) and the ear's rim beyond (|x| "
               "5 mm more than the concha within 40 mm); tragion is that bump on the highest section that has "
               "one",
    "zygion": "per side, the most lateral skin point between the heights of exocanthion and 25 mm below it, "
              "at least 10 mm in front of tragion (soft-tissue zygion)",
    "nasolabial_1": "per side, the nasolabial fold near the ala: on the horizontal section a quarter of the way "
                    "from alare down to cheilion, within 12 mm of that line's point, the skin point lying deepest "
                    "behind the chord of the section 8 mm to either side of it (the fold's groove)",
    "nasolabial_2": "as nasolabial_1, half way from alare to cheilion",
    "nasolabial_3": "as nasolabial_1, three quarters of the way from alare to cheilion",
}
SIDED = ("endocanthion", "exocanthion", "cheilion", "alare", "tragion", "zygion", "nasolabial_1", "nasolabial_2",
         "nasolabial_3")
#: half the chord a fold's depth is measured against (m): as sagsim.metrics.fold_depth_mm
FOLD_HALF_WIDTH = 0.008


@dataclass(frozen=True)
class Head:
    """A head's skin: points (N, 3) in metres, origin at subnasale; triangles (T, 3) with
    outward normals; its landmarks by name ("tragion_left", ...: (3,) points on the skin)."""

    variant: str
    points: np.ndarray
    triangles: np.ndarray
    landmarks: dict


@lru_cache(maxsize=1)
def _vendored() -> dict:
    with np.load(DATA) as data:
        return {k: data[k] for k in data.files}


def load_head(variant: str = "female", smile: float = 0.0) -> Head:
    """The whole vendored head in ``variant`` ("female" or "male"), with the smile expression
    at weight ``smile`` (0 to 1: MakeHuman's mouth-corner puller), landmarks placed."""
    if variant not in VARIANTS:
        raise MeshError(f"head: variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")
    if not 0.0 <= smile <= 1.0:
        raise MeshError(f"head: smile: expected a weight from 0 to 1, got {smile!r}")
    data = _vendored()
    points = DM * (data["points_dm"] + data[f"target_{variant}_dm"] + smile * data["target_smile_dm"])
    triangles = _triangles(points, data["quads"])
    marks = place_landmarks(points, triangles)
    origin = marks["subnasale"].copy()
    return Head(variant, points - origin, triangles, {k: v - origin for k, v in marks.items()})


def face_region(head: Head, forehead_m: float = 0.05, below_menton_m: float = 0.03) -> Head:
    """The part of ``head`` the face model uses: in front of the plane through both tragia,
    from ``forehead_m`` above nasion down to ``below_menton_m`` under menton (the neck below
    the jaw); a modelling choice of extent, not anatomy. The largest connected piece is kept."""
    m = head.landmarks
    back = 0.5 * (m["tragion_left"][2] + m["tragion_right"][2])
    top, bottom = m["nasion"][1] + forehead_m, m["menton"][1] - below_menton_m
    centre = head.points[head.triangles].mean(axis=1)
    keep = (centre[:, 2] >= back) & (centre[:, 1] <= top) & (centre[:, 1] >= bottom)
    tris = head.triangles[keep]
    tris = tris[largest_piece(tris)]
    used = np.unique(tris)
    local = np.full(len(head.points), -1)
    local[used] = np.arange(len(used))
    return Head(head.variant, head.points[used], local[tris], dict(head.landmarks))


def measurements_mm(head: Head) -> dict:
    """Anthropometric distances between the landmarks (mm), as surveys measure them."""
    m = head.landmarks

    def dist(a: str, b: str) -> float:
        return float(1e3 * np.linalg.norm(m[a] - m[b]))

    return {"zy-zy": dist("zygion_left", "zygion_right"), "en-en": dist("endocanthion_left", "endocanthion_right"),
            "ex-ex": dist("exocanthion_left", "exocanthion_right"), "ch-ch": dist("cheilion_left", "cheilion_right"),
            "al-al": dist("alare_left", "alare_right"), "t-t": dist("tragion_left", "tragion_right"),
            "sellion-menton": dist("nasion", "menton"), "n-gn": dist("nasion", "gnathion"),
            "sn-sto": dist("subnasale", "stomion"), "sto-me": dist("stomion", "menton")}


#: the survey norms each measurement is checked against, per variant (rows of the literature table)
NORMS = {"female": {"zy-zy": "bizygomatic breadth (zy-zy), young adult women",
                    "sellion-menton": "menton-sellion length, young adult women",
                    "en-en": "intercanthal width (en-en), White adults"},
         "male": {"zy-zy": "bizygomatic breadth (zy-zy), young adult men",
                  "sellion-menton": "menton-sellion length, young adult men",
                  "en-en": "intercanthal width (en-en), White adults"}}


def anthropometry(head: Head) -> list:
    """The head's measurements against the survey norms: a row each with the model's value,
    the norm's mean and SD (mm), the z-score and the source."""
    measured = measurements_mm(head)
    out = []
    for name, quantity in NORMS[head.variant].items():
        norm = row(quantity)
        sd = 0.5 * (norm.high - norm.low)  # the table's low and high are the mean -/+ 1 SD for these rows
        out.append({"measurement": name, "model_mm": measured[name], "norm_mm": norm.value, "sd_mm": sd,
                    "z": (measured[name] - norm.value) / sd, "source": norm.source})
    return out


# -- landmarks ------------------------------------------------------------------------------------------

def place_landmarks(points: np.ndarray, triangles: np.ndarray) -> dict:
    """Every landmark of :data:`DEFINITIONS` on the skin (the left and right ones suffixed)."""
    from .skin_import import vertex_normals

    normals = vertex_normals(points, triangles)
    edges = mesh_edges(triangles)  # once: every section below cuts the same edges
    prof, prof_n = section(points, edges, 0, 0.0, normals)
    front = prof[:, 2] > prof[:, 2].max() - 0.12  # the face and the front of the neck, not the back of the head
    prof, prof_n = prof[front], prof_n[front]
    y, z = prof[:, 1], prof[:, 2]
    m = {}
    loops = boundary_loops(triangles)
    mouth, eyes = _openings(points, loops)
    edge = points[mouth]
    m["stomion"] = edge[np.abs(edge[:, 0]) < 0.002].mean(axis=0)
    m["pronasale"] = _extreme(prof, z, y > m["stomion"][1], "max", "pronasale")
    sto, prn = m["stomion"][1], m["pronasale"][1]
    m["labrale_superius"] = _extreme(prof, z, (y > sto) & (y < sto + 0.015), "max", "labrale_superius")
    m["labrale_inferius"] = _extreme(prof, z, (y < sto) & (y > sto - 0.015), "max", "labrale_inferius")
    m["subnasale"] = _extreme(prof, z, (y > m["labrale_superius"][1]) & (y < prn), "min", "subnasale")
    m["pogonion"] = _extreme(prof, z, (y < sto - 0.020) & (y > sto - 0.060), "max", "pogonion")
    m["sublabiale"] = _extreme(prof, z, (y > m["pogonion"][1]) & (y < m["labrale_inferius"][1]), "min", "sublabiale")
    chin = (y < m["pogonion"][1]) & (z > m["pogonion"][2] - 0.025)
    down, diag = np.array([0.0, -1.0, 0.0]), np.array([0.0, -1.0, 1.0]) / np.sqrt(2.0)
    m["menton"] = _extreme(prof, prof_n @ down, chin, "max", "menton")
    m["gnathion"] = _extreme(prof, prof_n @ diag, chin, "max", "gnathion")
    m["nasion"] = _extreme(prof, z, (y > prn) & (y < prn + 0.050), "min", "nasion")
    m["glabella"] = _extreme(prof, z, (y > m["nasion"][1]) & (y < m["nasion"][1] + 0.030), "max", "glabella")
    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye = points[next(e for e in eyes if np.sign(points[e][:, 0].mean()) == sign)]
        m[f"endocanthion_{side}"] = eye[np.argmin(np.abs(eye[:, 0]))]
        m[f"exocanthion_{side}"] = eye[np.argmax(np.abs(eye[:, 0]))]
        lips = edge[np.sign(edge[:, 0]) == sign]
        m[f"cheilion_{side}"] = lips[np.argmax(np.abs(lips[:, 0]))]
        P, sx = points, sign * points[:, 0]
        nose = (P[:, 1] >= m["subnasale"][1]) & (P[:, 1] <= prn) & (P[:, 2] >= m["subnasale"][2] - 0.008) \
            & (sx > 0) & (sx < 0.030)
        m[f"alare_{side}"] = _extreme(P, sx, nose, "max", "alare")
        m[f"tragion_{side}"] = _tragion(points, edges, sign, m[f"exocanthion_{side}"][1])
        cheek = (P[:, 1] <= m[f"exocanthion_{side}"][1]) & (P[:, 1] >= m[f"exocanthion_{side}"][1] - 0.025) \
            & (P[:, 2] >= m[f"tragion_{side}"][2] + 0.010) & (sx > 0)
        m[f"zygion_{side}"] = _extreme(P, sx, cheek, "max", "zygion")
        for k, t in enumerate((0.25, 0.5, 0.75), start=1):
            line = m[f"alare_{side}"] + t * (m[f"cheilion_{side}"] - m[f"alare_{side}"])
            m[f"nasolabial_{k}_{side}"], _ = _groove(points, edges, line, sign)
    return m


def fold_depths_mm(head: Head) -> dict:
    """The depth of the nasolabial fold's groove at each of its landmarks (mm): how far the skin
    lies behind the chord of its horizontal section 8 mm to either side."""
    out, edges = {}, mesh_edges(head.triangles)
    for name, p in head.landmarks.items():
        if name.startswith("nasolabial_"):
            out[name] = 1e3 * _groove(head.points, edges, p, np.sign(p[0]), search=0.0005)[1]
    return out


def _groove(points: np.ndarray, edges: np.ndarray, near: np.ndarray, sign: float, search: float = 0.012):
    """The deepest point of the horizontal section at ``near``'s height within ``search`` of it
    (sideways), and its depth behind the chord of the section FOLD_HALF_WIDTH to either side
    (the skin there faces forward: the section is a height field z(x))."""
    sec, _ = section(points, edges, 1, near[1])
    sec = sec[(sign * sec[:, 0] > 0) & (sec[:, 2] > near[2] - 0.015)]
    sec = sec[np.argsort(sec[:, 0])]
    x, z = sec[:, 0], sec[:, 2]
    best, depth = None, -np.inf
    for q in sec[np.abs(sec[:, 0] - near[0]) <= search]:
        lo, hi = q[0] - FOLD_HALF_WIDTH, q[0] + FOLD_HALF_WIDTH
        if lo < x[0] or hi > x[-1]:
            continue
        chord = 0.5 * (np.interp(lo, x, z) + np.interp(hi, x, z))
        if chord - q[2] > depth:
            best, depth = q.copy(), chord - q[2]
    if best is None:
        raise MeshError("head: nasolabial fold: no skin section there (is this a face?)")
    return best, float(depth)


def _extreme(points: np.ndarray, value: np.ndarray, where: np.ndarray, kind: str, name: str):
    if not where.any():
        raise MeshError(f"head: {name}: no skin point where its definition looks (is this a face?)")
    idx = np.flatnonzero(where)
    pick = idx[np.argmax(value[idx])] if kind == "max" else idx[np.argmin(value[idx])]
    return points[pick].copy()


def _openings(points: np.ndarray, loops: list) -> tuple:
    """The mouth slit (the widest slit-like opening across the midline) and the two
    palpebral fissures (the openings off the midline, one per side, above the mouth)."""
    across = [lp for lp in loops if points[lp][:, 0].min() < 0 < points[lp][:, 0].max()
              and np.ptp(points[lp][:, 1]) < 0.02 and np.ptp(points[lp][:, 2]) < 0.02]  # a slit, not a cut
    if not across:
        raise MeshError("head: no mouth slit (an opening across the midline) in the skin")
    mouth = max(across, key=lambda lp: np.ptp(points[lp][:, 0]))
    above = [lp for lp in loops if points[lp][:, 1].mean() > points[mouth][:, 1].mean() + 0.03
             and np.abs(points[lp][:, 0].mean()) > 0.015 and len(lp) >= 8]
    eyes = []
    for sign in (1.0, -1.0):
        side = [lp for lp in above if np.sign(points[lp][:, 0].mean()) == sign]
        if not side:
            raise MeshError("head: no palpebral fissure (eye opening) on one side of the skin")
        eyes.append(max(side, key=len))
    return mouth, eyes


def _tragion(points: np.ndarray, edges: np.ndarray, sign: float, eye_y: float) -> np.ndarray:
    found = None
    for drop in np.arange(0.030, -0.0001, -0.001):  # from below upwards: the highest section wins
        sec, _ = section(points, edges, 1, eye_y - drop)
        sec = sec[sign * sec[:, 0] > 0.03]
        if len(sec) < 10:
            continue
        sec = sec[np.argsort(-sec[:, 2])]  # from the cheek backwards
        lateral, z = sign * sec[:, 0], sec[:, 2]
        helix = z[np.argmax(lateral)]  # the ear's outermost rim
        for i in np.flatnonzero((z < z[0] - 0.06) & (z > helix + 0.010))[1:-1]:  # between cheek and helix
            if not (lateral[i] >= lateral[i - 1] and lateral[i] >= lateral[i + 1]):
                continue
            cheek = (z > z[i] + 0.008) & (z < z[i] + 0.020)
            concha = (z < z[i]) & (z > z[i] - 0.015)
            rim = (z < z[i]) & (z > z[i] - 0.040)
            if cheek.any() and concha.any() and lateral[i] - lateral[cheek].max() < 0.0025 \
                    and lateral[i] - lateral[concha].min() > 0.003 and lateral[rim].max() - lateral[concha].min() > 0.005:
                found = sec[i].copy()  # a tragus: a bump, the concha behind it, the ear's rim beyond
                break
    if found is None:
        raise MeshError("head: tragion: no tragus found on the sections below the eye (is there an ear?)")
    return found


# -- geometry helpers -----------------------------------------------------------------------------------

def mesh_edges(triangles: np.ndarray) -> np.ndarray:
    """The surface's edges, each once (E, 2)."""
    return np.unique(np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]),
                             axis=1), axis=0)


def section(points: np.ndarray, edges: np.ndarray, axis: int, value: float, normals: np.ndarray | None = None):
    """Where the surface's ``edges`` (:func:`mesh_edges`) cross the plane ``points[:, axis] ==
    value``: the crossing points (K, 3) and, with ``normals`` (per point), the normals
    interpolated there."""
    a, b = points[edges[:, 0], axis] - value, points[edges[:, 1], axis] - value
    cross = (a * b < 0) | (a == 0)
    e, a, b = edges[cross], a[cross], b[cross]
    t = np.where(a == b, 0.0, a / np.where(a == b, 1.0, a - b))[:, None]
    out = points[e[:, 0]] + t * (points[e[:, 1]] - points[e[:, 0]])
    if normals is None:
        return out, None
    n = normals[e[:, 0]] + t * (normals[e[:, 1]] - normals[e[:, 0]])
    return out, n / np.linalg.norm(n, axis=1, keepdims=True)


def border_edges(triangles: np.ndarray) -> np.ndarray:
    """The surface's border as directed edges (E, 2): those only one triangle has, in its
    winding."""
    directed = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    _, inverse, count = np.unique(np.sort(directed, axis=1), axis=0, return_inverse=True, return_counts=True)
    return directed[count[inverse.ravel()] == 1]


def boundary_loops(triangles: np.ndarray) -> list:
    """The surface's boundary as closed loops of point indices."""
    border = border_edges(triangles)
    nxt = dict(zip(border[:, 0].tolist(), border[:, 1].tolist()))
    loops, seen = [], set()
    for start in nxt:
        if start in seen:
            continue
        loop, cur = [], start
        while cur not in seen:
            seen.add(cur)
            loop.append(cur)
            cur = nxt[cur]
        loops.append(np.array(loop))
    return loops


def _triangles(points: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Each quad as two triangles, split along its shorter diagonal (better shaped)."""
    p = points[quads]
    short02 = np.linalg.norm(p[:, 2] - p[:, 0], axis=1) <= np.linalg.norm(p[:, 3] - p[:, 1], axis=1)
    a = np.where(short02[:, None], quads[:, [0, 1, 2]], quads[:, [0, 1, 3]])
    b = np.where(short02[:, None], quads[:, [0, 2, 3]], quads[:, [1, 2, 3]])
    return np.concatenate([a, b]).astype(np.int64)


def largest_piece(faces: np.ndarray) -> np.ndarray:
    """Mask of the faces (triangles, quads: (F, k)) in the largest piece joined across edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, k = faces.shape
    edges = np.sort(np.concatenate([faces[:, [i, (i + 1) % k]] for i in range(k)]), axis=1)
    owner = np.tile(np.arange(n), k)
    _, inverse = np.unique(edges, axis=0, return_inverse=True)
    order = np.argsort(inverse.ravel(), kind="stable")
    key = inverse.ravel()[order]
    same = key[1:] == key[:-1]
    graph = coo_matrix((np.ones(same.sum()), (owner[order][1:][same], owner[order][:-1][same])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return label == np.bincount(label).argmax()
