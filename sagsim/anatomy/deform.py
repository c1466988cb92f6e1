"""Smooth deformations of space: the fields registration moves the template with.

A :class:`KernelField` is a displacement d(x) = sum_k w_k phi(|x - c_k| / R) with centres c_k on
the template's skin and Wendland's compactly supported kernel phi(r) = (1 - r)^4 (4 r + 1) for
r < 1, zero beyond (Wendland 1995: positive definite in three dimensions, twice continuously
differentiable, so the matrices are sparse and the field has no seam where the kernel ends; a
Gaussian cut off at a few sigma has one, and with the large alternating weights of a fitted
field that seam inverted thin skin elements). It is defined everywhere in space, so the one
field that moves the skin onto a scan also moves every node beneath it: a wide field (a radius
of a decimetre) carries the skull and the layers with the skin, a narrow one moves the skin's
details (a nose, lips) and fades within its radius of depth, changing the tissue's thickness
there instead. Fitting it is the regularised least-squares problem of coherent point drift
(Myronenko and Song 2010): min sum_i a_i |x_i + d(x_i) - y_i|^2 + lam tr(W^T G W), G the kernel
between the centres (the field's norm in its reproducing-kernel space, which penalises
roughness), solved exactly.

An :class:`AffineField` is x -> x + (A - I)(x - o) + t, for a face's proportions (wider,
longer), regularised towards the identity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from scipy.spatial import cKDTree


def farthest_points(points: np.ndarray, spacing: float, seed: int = 0) -> np.ndarray:
    """Indices of a subset of ``points`` no two closer than ``spacing`` that covers them all
    within ``spacing`` (greedy farthest-point sampling from point ``seed``)."""
    chosen = [seed]
    dist = np.linalg.norm(points - points[seed], axis=1)
    while True:
        i = int(np.argmax(dist))
        if dist[i] < spacing:
            return np.array(chosen)
        chosen.append(i)
        dist = np.minimum(dist, np.linalg.norm(points - points[i], axis=1))


def wendland_kernel(x: np.ndarray, centres: np.ndarray, radius: float) -> sp.csr_matrix:
    """The kernel matrix (len(x), len(centres)), sparse: phi(|x - c| / radius)."""
    # the "ndarray" output lists every pair within the radius, a point on a centre included
    pairs = cKDTree(x).sparse_distance_matrix(cKDTree(centres), radius, output_type="ndarray")
    r = pairs["v"] / radius
    values = (1.0 - r) ** 4 * (4.0 * r + 1.0)
    return sp.csr_matrix((values, (pairs["i"], pairs["j"])), shape=(len(x), len(centres)))


@dataclass(frozen=True)
class KernelField:
    centres: np.ndarray  # (m, 3) m
    radius: float  # m
    weights: np.ndarray  # (m, 3) m

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The displaced points x + d(x)."""
        return x + wendland_kernel(x, self.centres, self.radius) @ self.weights

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, a: np.ndarray, centres: np.ndarray, radius: float,
            stiffness: float) -> "KernelField":
        """The field that moves points ``x`` towards ``y`` with weights ``a`` (all (n, ...)),
        roughness penalised by ``stiffness`` (relative: times the mean weight per centre)."""
        phi = wendland_kernel(x, centres, radius)
        gram = wendland_kernel(centres, centres, radius)
        lam = stiffness * a.sum() / len(centres)
        lhs = (phi.T @ sp.diags(a) @ phi + lam * gram).tocsc()
        rhs = phi.T @ (a[:, None] * (y - x))
        weights = spsolve(lhs, rhs)
        return cls(centres=centres, radius=radius, weights=np.asarray(weights).reshape(len(centres), 3))


@dataclass(frozen=True)
class AffineField:
    matrix: np.ndarray  # (3, 3)
    origin: np.ndarray  # (3,)
    shift: np.ndarray  # (3,)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.origin) @ self.matrix.T + self.origin + self.shift

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, a: np.ndarray, stiffness: float) -> "AffineField":
        """The affine map moving ``x`` towards ``y`` (weights ``a``), with ``stiffness`` times
        the weighted second moment of x penalising its departure from the identity."""
        w = a / a.sum()
        origin = w @ x
        xc = x - origin
        moment = (xc * w[:, None]).T @ xc
        reg = stiffness * np.trace(moment) / 3.0 * np.eye(3)
        # rows: y - origin = A (x - origin) + t; solve for [A | t] by weighted least squares
        design = np.column_stack([xc, np.ones(len(x))])
        lhs = (design * w[:, None]).T @ design
        lhs[:3, :3] += reg
        rhs = (design * w[:, None]).T @ (y - origin)
        rhs[:3] += reg  # the identity, towards which A is pulled
        sol = np.linalg.solve(lhs, rhs)
        return cls(matrix=sol[:3].T, origin=origin, shift=sol[3])
