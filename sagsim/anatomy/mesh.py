"""Structured tetrahedral meshes of boxes (the slab, the benchmark cube, verification problems)."""
from __future__ import annotations

import numpy as np

from ..model import tet_volumes

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


def _orient_positive(nodes: np.ndarray, tets: np.ndarray) -> None:
    neg = tet_volumes(nodes, tets) < 0.0
    tets[neg, 2], tets[neg, 3] = tets[neg, 3].copy(), tets[neg, 2].copy()
