"""Closest points on a triangulated surface, and whether they fall off its border.

Registration pairs each point with the nearest point of another surface. Pairing with the
nearest *vertex* is biased on a coarse scan (a few hundred vertices a centimetre apart pull the
template onto its vertices), so :class:`Surface` finds the nearest point on the triangles:
candidates are the triangles round the nearest vertex and those with the nearest centroids, each
solved exactly (Ericson, Real-Time Collision Detection, 2005, section 5.1.5). A pair whose
closest point lies on the surface's border (an open edge, a hole's rim) means the surface has
no data there, and registration drops it (Amberg et al. 2007, non-rigid ICP).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .head import border_edges

#: candidate triangles per query by centroid distance, beside those round the nearest vertex:
#: enough that a long sliver next to the query is not missed on a decimated scan
CENTROID_CANDIDATES = 6
#: a closest point within this fraction of its triangle's size of an edge or a vertex is on it
ON_FEATURE = 1e-6


def closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest points of triangles (a, b, c) to points p, all (M, 3), and their barycentric
    coordinates (M, 3): Ericson's region tests, vectorised."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = np.einsum("ij,ij->i", ab, ap), np.einsum("ij,ij->i", ac, ap)
    bp = p - b
    d3, d4 = np.einsum("ij,ij->i", ab, bp), np.einsum("ij,ij->i", ac, bp)
    cp = p - c
    d5, d6 = np.einsum("ij,ij->i", ab, cp), np.einsum("ij,ij->i", ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    bary = np.empty((len(p), 3))
    # the face's interior first; the regions below overwrite where they hold
    denom = va + vb + vc
    denom = np.where(np.abs(denom) > 0, denom, 1.0)
    bary[:, 1], bary[:, 2] = vb / denom, vc / denom
    bary[:, 0] = 1.0 - bary[:, 1] - bary[:, 2]
    done = np.zeros(len(p), bool)

    def put(mask, w0, w1, w2):
        m = mask & ~done
        bary[m, 0], bary[m, 1], bary[m, 2] = w0[m], w1[m], w2[m]
        done[m] = True

    zero, one = np.zeros(len(p)), np.ones(len(p))
    safe = lambda x: np.where(np.abs(x) > 0, x, 1.0)  # noqa: E731 - a zero-safe divisor
    put((d1 <= 0) & (d2 <= 0), one, zero, zero)  # vertex a
    put((d3 >= 0) & (d4 <= d3), zero, one, zero)  # vertex b
    put((d6 >= 0) & (d5 <= d6), zero, zero, one)  # vertex c
    v = d1 / safe(d1 - d3)
    put((vc <= 0) & (d1 >= 0) & (d3 <= 0), 1 - v, v, zero)  # edge ab
    w = d2 / safe(d2 - d6)
    put((vb <= 0) & (d2 >= 0) & (d6 <= 0), 1 - w, zero, w)  # edge ac
    u = (d4 - d3) / safe((d4 - d3) + (d5 - d6))
    put((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), zero, 1 - u, u)  # edge bc
    q = bary[:, :1] * a + bary[:, 1:2] * b + bary[:, 2:] * c
    return q, bary


class Surface:
    """A triangulated surface ready for closest-point queries: points (N, 3), triangles (F, 3)."""

    def __init__(self, points: np.ndarray, triangles: np.ndarray):
        self.points = np.asarray(points, np.float64)
        self.triangles = np.asarray(triangles, np.int64)
        p = self.points[self.triangles]
        normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        self.triangle_normals = normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-300)
        self._centroids = cKDTree(p.mean(axis=1))
        used = np.unique(self.triangles)
        self._vertex_ids = used
        self._vertices = cKDTree(self.points[used])
        # the triangles round each vertex, padded with -1
        order = np.argsort(self.triangles.ravel(), kind="stable")
        vert = self.triangles.ravel()[order]
        counts = np.bincount(vert, minlength=len(self.points))
        width = int(counts.max()) if len(counts) else 0
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(len(vert)) - start[vert]
        self._ring = np.full((len(self.points), max(width, 1)), -1, np.int64)
        self._ring[vert, rank] = order // 3
        border = border_edges(self.triangles)
        n = len(self.points)
        self._border_keys = np.sort(np.sort(border, axis=1) @ np.array([n, 1])) if len(border) else np.zeros(0, np.int64)
        self.border_vertex = np.zeros(n, bool)
        self.border_vertex[border.ravel()] = True

    def nearest_vertex(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance to and index of the nearest used vertex of each query point."""
        d, i = self._vertices.query(query)
        return d, self._vertex_ids[i]

    def closest(self, query: np.ndarray) -> dict:
        """For each query point: ``point`` (the closest point on the surface), ``distance``,
        ``triangle``, ``bary`` (the point's barycentric coordinates in it), ``normal`` (that
        triangle's unit normal) and ``on_border`` (the closest point lies on an open edge or a
        border vertex: the surface has no data there)."""
        query = np.asarray(query, np.float64)
        m = len(query)
        _, near = self.nearest_vertex(query)
        k = min(CENTROID_CANDIDATES, len(self.triangles))
        _, by_centroid = self._centroids.query(query, k=k)
        cand = np.concatenate([self._ring[near], np.asarray(by_centroid).reshape(m, -1)], axis=1)
        valid = cand >= 0
        cand = np.where(valid, cand, cand[:, :1])
        tri = self.triangles[cand]  # (m, c, 3)
        rep = np.repeat(query, cand.shape[1], axis=0)
        q, bary = closest_on_triangles(rep, *(self.points[tri[..., i].ravel()] for i in range(3)))
        dist = np.linalg.norm(q - rep, axis=1).reshape(m, -1)
        best = np.argmin(np.where(valid, dist, np.inf), axis=1)
        rows = np.arange(m)
        flat = rows * cand.shape[1] + best
        triangle = cand[rows, best]
        point, bary = q[flat], bary[flat]
        return {"point": point, "distance": dist[rows, best], "triangle": triangle, "bary": bary,
                "normal": self.triangle_normals[triangle], "on_border": self._on_border(self.triangles[triangle], bary)}

    def _on_border(self, corners: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """Whether the points with barycentric ``bary`` in triangles ``corners`` lie on the border."""
        zero = bary <= ON_FEATURE
        at_vertex = zero.sum(axis=1) == 2
        vertex = corners[np.arange(len(bary)), np.argmax(bary, axis=1)]
        out = at_vertex & self.border_vertex[vertex]
        on_edge = zero.sum(axis=1) == 1
        if on_edge.any() and len(self._border_keys):
            k = np.argmax(zero, axis=1)  # the corner opposite the edge
            e0, e1 = corners[np.arange(len(bary)), (k + 1) % 3], corners[np.arange(len(bary)), (k + 2) % 3]
            key = np.minimum(e0, e1) * len(self.points) + np.maximum(e0, e1)
            pos = np.clip(np.searchsorted(self._border_keys, key), 0, len(self._border_keys) - 1)
            out |= on_edge & (self._border_keys[pos] == key)
        return out
