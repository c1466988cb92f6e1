"""Structured tetrahedral meshes: boxes (the benchmark cube, verification problems), layers
stacked on a surface grid (the slab, and the face), and the quality figures of any mesh."""
from __future__ import annotations

import numpy as np

from ..errors import MeshError
from ..model import tet_quality, tet_volumes  # noqa: F401  (tet_quality: this module's name for it too)

# The six tetrahedra of a unit cell around its diagonal from corner (0,0,0) to (1,1,1):
# one per order in which the path steps along x, y and z (Kuhn's triangulation). Corners
# are numbered c = dx + 2 dy + 4 dz. Neighbouring cells then share their face diagonals,
# so the mesh is conforming.
_KUHN_TETS = np.array(
    [
        [0, 1, 3, 7],  # x, y, z
        [0, 1, 5, 7],  # x, z, y
        [0, 2, 3, 7],  # y, x, z
        [0, 2, 6, 7],  # y, z, x
        [0, 4, 5, 7],  # z, x, y
        [0, 4, 6, 7],  # z, y, x
    ],
    dtype=np.int64,
)


def box_tets(
    shape: tuple[int, int, int],
    size: tuple[float, float, float] = (1.0, 1.0, 1.0),
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Mesh an axis-aligned box with ``nx*ny*nz`` equal cells of six tetrahedra each.

    Node ``(i, j, k)`` has index ``i + (nx+1) * (j + (ny+1) * k)``; every cell is split into
    six tetrahedra around its diagonal from ``(i, j, k)`` to ``(i+1, j+1, k+1)``. All
    tetrahedra are positively oriented.

    Returns
    -------
    nodes : (N, 3) float64 coordinates, tets : (M, 4) int64 node indices.
    """
    nx, ny, nz = (int(s) for s in shape)
    if min(nx, ny, nz) < 1:
        raise ValueError(f"box_tets: every cell count must be >= 1, got {shape}")
    axes = [origin[a] + np.linspace(0.0, size[a], n + 1) for a, n in enumerate((nx, ny, nz))]
    return grid_tets(*axes)


def grid_tets(xs: np.ndarray, ys: np.ndarray, zs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`box_tets`, over a rectilinear grid with the given increasing node coordinates
    along each axis (graded layers, for instance)."""
    xs, ys, zs = (np.asarray(a, np.float64) for a in (xs, ys, zs))
    for name, a in (("xs", xs), ("ys", ys), ("zs", zs)):
        if a.ndim != 1 or len(a) < 2 or not (np.diff(a) > 0).all():
            raise ValueError(f"grid_tets: {name} must be increasing with at least 2 values")
    nx, ny, nz = len(xs) - 1, len(ys) - 1, len(zs) - 1
    z, y, x = np.meshgrid(zs, ys, xs, indexing="ij")
    nodes = np.column_stack([x.ravel(), y.ravel(), z.ravel()])

    i, j, k = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    i, j, k = (a.transpose(2, 1, 0).ravel() for a in (i, j, k))  # cells ordered like nodes
    corner = np.empty((i.size, 8), dtype=np.int64)
    for c in range(8):
        dx, dy, dz = c & 1, (c >> 1) & 1, (c >> 2) & 1
        corner[:, c] = (i + dx) + (nx + 1) * ((j + dy) + (ny + 1) * (k + dz))
    tets = corner[:, _KUHN_TETS].reshape(-1, 4)
    _orient_positive(nodes, tets)
    return nodes, tets


def cube_tets(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit cube with ``n`` cells a side: the mesh of ``sagsim bench fem``."""
    return box_tets((n, n, n))


def first_fold(nodes: np.ndarray, tets: np.ndarray) -> int | None:
    """For tetrahedra stacked in one handedness or the other (a grid, layered columns): the
    index of the first one turned against the majority (a fold), or None, in which case all of
    them are made positively oriented (in place)."""
    vol = tet_volumes(nodes, tets)
    sign = np.sign(np.median(vol))
    bad = ~(vol * sign > 0)
    if bad.any():
        return int(np.flatnonzero(bad)[0])
    if sign < 0:
        tets[:, [2, 3]] = tets[:, [3, 2]]
    return None


def _orient_positive(nodes: np.ndarray, tets: np.ndarray) -> None:
    neg = tet_volumes(nodes, tets) < 0.0
    tets[neg, 2], tets[neg, 3] = tets[neg, 3].copy(), tets[neg, 2].copy()


def layered_tets(base: np.ndarray, direction: np.ndarray, thickness: np.ndarray,
                 cells: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layers stacked on a structured surface grid, as conforming tetrahedra.

    Parameters
    ----------
    base : (nu+1, nv+1, 3) the deepest surface (bone), a structured grid of points.
    direction : (nu+1, nv+1, 3) unit vectors along which the layers stack (outwards).
    thickness : (L, nu+1, nv+1) thickness of each layer at each grid point, > 0.
    cells : (L,) cells through the thickness of each layer.

    Returns nodes (N,3), tets (M,4) positively oriented, and the layer index (0..L-1, deepest
    first) of each tet. Node (i, j, k) is ``i + (nu+1) * (j + (nv+1) * k)``, k counting
    levels from the base; cells split into six tetrahedra as in :func:`grid_tets`, so
    neighbouring cells share faces and layers share their interface nodes (no tearing).

    Raises MeshError when the stacking folds the mesh (some tetrahedra would be inverted
    relative to the others), naming the first such cell.
    """
    base = np.asarray(base, np.float64)
    direction = np.asarray(direction, np.float64)
    thickness = np.asarray(thickness, np.float64)
    nu, nv = base.shape[0] - 1, base.shape[1] - 1
    if base.ndim != 3 or base.shape[2] != 3 or min(nu, nv) < 1 or direction.shape != base.shape:
        raise MeshError(f"layered_tets: base and direction must be (nu+1, nv+1, 3) grids, got {base.shape} and {direction.shape}")
    if thickness.shape != (len(cells), nu + 1, nv + 1) or min(cells, default=0) < 1:
        raise MeshError(f"layered_tets: thickness must be ({len(cells)}, {nu + 1}, {nv + 1}) with cells >= 1, got {thickness.shape}")
    if not (np.isfinite(thickness).all() and (thickness > 0).all()):
        raise MeshError("layered_tets: every layer thickness must be finite and > 0")
    levels = [np.zeros((nu + 1, nv + 1))]
    layer_of_level = []
    for lay, (t, k) in enumerate(zip(thickness, cells)):
        start = levels[-1]
        levels.extend([start + t * (s / k) for s in range(1, k + 1)])
        layer_of_level.extend([lay] * k)
    depth = np.stack(levels)  # (K+1, nu+1, nv+1)
    points = base[None] + depth[..., None] * direction[None]  # indexed [k, i, j]
    nodes = points.transpose(0, 2, 1, 3).reshape(-1, 3)  # i fastest, then j, then k
    K = len(layer_of_level)
    _, tets = grid_tets(np.arange(nu + 1.0), np.arange(nv + 1.0), np.arange(K + 1.0))
    fold = first_fold(nodes, tets)  # the grid's handedness, whichever way it runs
    if fold is not None:
        cell = fold // 6
        i, j, k = cell % nu, (cell // nu) % nv, cell // (nu * nv)
        raise MeshError(f"layered_tets: the layers fold at grid cell (i={i}, j={j}, level {k}); "
                        "the base surface or the stacking directions cross there")
    tet_layer = np.repeat(np.asarray(layer_of_level, np.int64), 6 * nu * nv)
    return nodes, tets, tet_layer


def quality_report(nodes: np.ndarray, tets: np.ndarray) -> dict:
    """Mesh quality in a few numbers: the worst and typical element."""
    dihedral, aspect = tet_quality(nodes, tets)
    vol = tet_volumes(nodes, tets)
    return {
        "tetrahedra": int(len(tets)),
        "min_dihedral_deg": float(dihedral.min()),
        "median_min_dihedral_deg": float(np.median(dihedral)),
        "max_aspect_ratio": float(aspect.max()),
        "median_aspect_ratio": float(np.median(aspect)),
        "inverted": int((vol <= 0).sum()),
    }


def face_owners(tets: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """For each boundary triangle of ``faces`` (F,3), the tetrahedron that has it as a face
    (-1 if none): matched on sorted node triples, all at once."""
    n = int(max(tets.max(), faces.max())) + 1
    local = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])
    tri = np.sort(tets[:, local].reshape(-1, 3), axis=1)
    key = (tri[:, 0] * n + tri[:, 1]) * n + tri[:, 2]  # < 2^63 for meshes below ~2e6 nodes
    want = np.sort(faces, axis=1)
    want_key = (want[:, 0] * n + want[:, 1]) * n + want[:, 2]
    order = np.argsort(key, kind="stable")
    pos = np.clip(np.searchsorted(key[order], want_key), 0, len(key) - 1)
    found = key[order][pos] == want_key
    return np.where(found, order[pos] // 4, -1)


def point_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Each point's share of a triangulated surface's area (a third of each triangle round it)."""
    p = points[triangles]
    a = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
    out = np.zeros(len(points))
    for k in range(3):  # in this order: the shipped faces' support stiffnesses are summed so
        np.add.at(out, triangles[:, k], a / 3.0)
    return out
