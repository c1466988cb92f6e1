"""The layered model under any skin surface: layers grown inwards from a triangulated skin.

Each skin triangle becomes a column of prisms through the layers (vertex normals, area
weighted, give the inward direction; each layer has its thickness), and each prism three
tetrahedra cut by the smallest-index rule, so neighbouring columns share their faces (no
tearing). The deepest level is bone and is fixed. The surface is checked first, and each
problem is named with where it is: non-manifold or inconsistently oriented edges, normals
that point inwards, sizes that are not metres, too few triangles or too little area to be
a face (a single triangle, a strip), and layers thicker than the surface's
curvature allows (the inward offset folds).
"""
from __future__ import annotations

import numpy as np

from ..errors import MeshError
from ..model import Landmark, TissueModel
from . import layers as lay
from .mesh import face_owners, first_fold

FACE_SIZE_RANGE_M = (0.03, 0.5)  # a face (or a patch of one) is centimetres to decimetres across
#: plausibility bounds of the tool, not of anatomy: a skin with fewer triangles cannot carry the
#: layers' curvature (the built-in coarse face has 400), and one of less area is a strip or a
#: splinter, not a face or a patch of one (a 3 x 3 cm patch is 9 cm^2)
MIN_TRIANGLES = 100
MIN_AREA_M2 = 5e-4


def check_surface(points: np.ndarray, triangles: np.ndarray, where: str = "surface") -> None:
    """Raise MeshError naming the first problem of a skin surface, if any."""
    if points.ndim != 2 or points.shape[1] != 3 or not np.isfinite(points).all():
        raise MeshError(f"{where}: points must be finite (N, 3) coordinates")
    if triangles.ndim != 2 or triangles.shape[1] != 3 or triangles.min() < 0 or triangles.max() >= len(points):
        raise MeshError(f"{where}: triangles must index the {len(points)} points")
    size = float(np.ptp(points, axis=0).max())
    if not FACE_SIZE_RANGE_M[0] <= size <= FACE_SIZE_RANGE_M[1]:
        hint = " (millimetres? divide by 1000)" if size > FACE_SIZE_RANGE_M[1] else ""
        raise MeshError(f"{where}: the surface is {size:.4g} units across; expected metres, "
                        f"{FACE_SIZE_RANGE_M[0]}-{FACE_SIZE_RANGE_M[1]} m for a face{hint}")
    p = points[triangles]
    area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
    if (area <= 1e-12 * size**2).any():
        t = int(np.flatnonzero(area <= 1e-12 * size**2)[0])
        raise MeshError(f"{where}: triangle {t} {triangles[t].tolist()} is degenerate (zero area)")
    if len(triangles) < MIN_TRIANGLES:
        raise MeshError(f"{where}: {len(triangles)} triangle(s); expected a face's skin of at least {MIN_TRIANGLES} "
                        "(refine the surface)")
    if area.sum() < MIN_AREA_M2:
        raise MeshError(f"{where}: the surface's area is {1e4 * area.sum():.3g} cm^2; expected a face's skin of at "
                        f"least {1e4 * MIN_AREA_M2:g} cm^2")
    directed = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    undirected = np.sort(directed, axis=1)
    edges, count = np.unique(undirected, axis=0, return_counts=True)
    if (count > 2).any():
        e = edges[np.flatnonzero(count > 2)[0]]
        raise MeshError(f"{where}: non-manifold edge between points {e[0]} and {e[1]} "
                        f"(shared by {count.max()} triangles)")
    _, dcount = np.unique(directed, axis=0, return_counts=True)
    if (dcount > 1).any():
        e = np.unique(directed, axis=0)[np.flatnonzero(dcount > 1)[0]]
        raise MeshError(f"{where}: triangles on both sides of the edge {e[0]}-{e[1]} run the same way: "
                        "inconsistent orientation (some normals flipped)")
    normals = vertex_normals(points, triangles)
    if np.mean(np.einsum("ij,ij->i", normals, points - points.mean(axis=0))) < 0:
        raise MeshError(f"{where}: the normals point into the head; expected them out of the skin "
                        "(reverse the triangles' vertex order)")


def vertex_normals(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit normals at the points (the right-hand rule of each triangle)."""
    p = points[triangles]
    fn = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])  # length = twice the area
    n = np.zeros_like(points)
    for k in range(3):
        np.add.at(n, triangles[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)


def layers_under_skin(points: np.ndarray, triangles: np.ndarray, thickness_m: dict | None = None,
                      cells: tuple[int, ...] = (1, 1, 1, 1), landmarks: dict | None = None,
                      where: str = "surface", name: str = "imported face") -> TissueModel:
    """The layered TissueModel under a skin surface.

    ``thickness_m``: layer name -> thickness (m); missing layers take the LAYER_STACK defaults.
    ``cells``: cells through each layer, deep to superficial like LAYER_STACK.
    ``landmarks``: name -> (x, y, z) skin point; each is placed on the skin triangle nearest to it.
    """
    points = np.asarray(points, np.float64)
    triangles = np.asarray(triangles, np.int64)
    check_surface(points, triangles, where)
    thickness_m = dict(thickness_m or {})
    stack = lay.LAYER_STACK[::-1]  # skin first, growing inwards
    cells_in = tuple(cells)[::-1]
    depth = [0.0]
    level_layer = []
    for spec, k in zip(stack, cells_in):
        t = float(thickness_m.pop(spec.layer.name, spec.thickness_m))
        if not 0 < t < 0.05:
            raise MeshError(f"{where}: thickness of {spec.layer.name} must be in metres, between 0 and 0.05, "
                            f"got {t}" + (" (millimetres? divide by 1000)" if t >= 0.05 else ""))
        depth.extend(depth[-1] + t * np.arange(1, k + 1) / k)
        level_layer.extend([spec.layer] * k)
    if thickness_m:
        raise MeshError(f"{where}: unknown layer(s) in the thickness specification: {', '.join(thickness_m)}")
    n = len(points)
    inward = -vertex_normals(points, triangles)
    nodes = np.concatenate([points + d * inward for d in depth])
    tets, tet_level = _prism_tets(triangles, n, len(depth) - 1)
    e = first_fold(nodes, tets)
    if e is not None:
        raise MeshError(f"{where}: the layers fold under the skin near point {int(tets[e].min() % n)} "
                        f"(depth {1e3 * depth[tet_level[e] + 1]:.1f} mm exceeds the surface's radius of curvature there)")
    tet_layer = np.array([int(lay_) for lay_ in level_layer], np.int8)[tet_level]
    model = TissueModel(nodes=nodes, tets=tets, tet_layer=tet_layer, materials=dict(lay.DEFAULT_MATERIALS),
                        fixed=np.arange((len(depth) - 1) * n, len(depth) * n), skin_faces=triangles, name=name)
    if landmarks:
        model = model.with_(landmarks=_place(model, landmarks, where))
    return model


def _prism_tets(triangles: np.ndarray, n: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Three tetrahedra per prism, cut along the diagonals that start at each quad's smallest
    node index: the rule every neighbouring prism applies too, so the mesh conforms."""
    order = np.argsort(triangles, axis=1)
    tri = np.take_along_axis(triangles, order, axis=1)  # i < j < k
    # sorting reversed the winding of some triangles: their tetrahedra get one swap back, so
    # that every tetrahedron of a consistently wound surface has the same orientation
    odd = np.array([_is_odd(o) for o in order])
    out, lev = [], []
    for level in range(levels):
        v = tri + level * n
        w = v + n  # the same surface points one level deeper (larger indices)
        i, j, k = v.T
        wi, wj, wk = w.T
        t = np.stack([np.stack([i, j, k, wk], 1), np.stack([i, j, wk, wj], 1),
                      np.stack([i, wi, wj, wk], 1)], 1)
        t[odd] = t[odd][:, :, [0, 1, 3, 2]]
        out.append(t.reshape(-1, 4))
        lev.append(np.full(3 * len(tri), level))
    return np.concatenate(out), np.concatenate(lev)


def _is_odd(permutation: np.ndarray) -> bool:
    a, b, c = permutation
    return (a, b, c) in ((0, 2, 1), (1, 0, 2), (2, 1, 0))


#: how far a landmark given "on the skin" may lie from it (m) before it is refused rather than
#: moved onto the skin: a plausibility bound of the tool, not an anatomical number
MAX_LANDMARK_GAP = 0.01


def _place(model: TissueModel, landmarks: dict, where: str) -> dict[str, Landmark]:
    """Each named point on the skin triangle nearest to it (by centroid), as barycentric
    weights in the tetrahedron that owns that triangle."""
    centroid = model.nodes[model.skin_faces].mean(axis=1)
    owner = face_owners(model.tets, model.skin_faces)
    out = {}
    for name, xyz in landmarks.items():
        xyz = np.asarray(xyz, np.float64)
        if xyz.shape != (3,) or not np.isfinite(xyz).all():
            raise MeshError(f"{where}: landmark {name!r} must be three finite coordinates")
        f = int(np.argmin(np.linalg.norm(centroid - xyz, axis=1)))
        tri = model.skin_faces[f]
        a, b, c = model.nodes[tri]
        # barycentric of the projection onto the triangle's plane, clipped into it
        m = np.column_stack([b - a, c - a])
        uv = np.clip(np.linalg.lstsq(m, xyz - a, rcond=None)[0], 0.0, 1.0)
        if uv.sum() > 1:
            uv /= uv.sum()
        weights = np.array([1 - uv.sum(), uv[0], uv[1]])
        gap = float(np.linalg.norm(weights @ model.nodes[tri] - xyz))
        if gap > MAX_LANDMARK_GAP:
            raise MeshError(f"{where}: landmark {name!r} is {1e3 * gap:.0f} mm from the skin; expected a point on the "
                            f"skin (within {1e3 * MAX_LANDMARK_GAP:g} mm: metres, in the surface's frame)")
        e = int(owner[f])
        bary = np.zeros(4)
        for node, wgt in zip(tri, weights):
            bary[np.flatnonzero(model.tets[e] == node)[0]] = wgt
        out[name] = Landmark(tet=e, bary=bary)
    return out
