"""Quadratic tetrahedron with a mean dilatation (P2/P0): internal force, consistent tangent and
energy, assembled into CSR.

Ten nodes: the four corners and the six edge midpoints in VTK's order (edges 01, 12, 02, 03,
13, 23). The shear part of the law is integrated at the four-point Gauss rule (exact for the
quadratic integrands of a small strain), each point a "support" of ten nodes for tet4's
kinematics and tangent scatter. The volumetric part U(J) = k/2 (ln J)^2 is taken once per
element, of its mean dilatation Jbar = v / V0 (v the same rule's current volume): a constant
pressure per element, condensed, so the tangent stays a displacement-only, symmetric one on
the element's own nodes. With quadratic displacements a constant pressure per element (P2/P0)
no longer over-constrains the volume as the tissue nears incompressibility, and needs no nodal
patches (docs/elements.md has the measurements that chose it: the cube at nu = 0.49, the
cantilever at 0.499, a stiff skin over fat).

Derivatives, with w = V0/4, J_q, c_q (spatial gradients) at Gauss point q:
  energy   sum_q w W_s(F_q) + V0 U(Jbar),           Jbar = sum_q J_q / 4
  force    sum_q w [shear_q + J_q U'(Jbar) c_q]      (tet4's a1 = J_q U'(Jbar))
  tangent  sum_q w [shear_q + J_q U'(Jbar) (c c - c^T c)] + V0 U''(Jbar) g g^T,
           g_a = dJbar/dx_a = sum_q J_q c_qa / 4
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ....model import TET_EDGES
from .tet4 import NEO_HOOKEAN, _kinematics, _scatter_tangent, _shear_coefficients

#: the midside nodes' edges, VTK's quadratic tetrahedron order
EDGES = TET_EDGES
_A, _B = 0.5854101966249685, 0.1381966011250105
#: the four-point Gauss rule (degree 2) in barycentric coordinates; each point weighs V0 / 4
GAUSS = np.array([[_A, _B, _B, _B], [_B, _A, _B, _B], [_B, _B, _A, _B], [_B, _B, _B, _A]])


def shape_coefficients(points: np.ndarray = GAUSS) -> np.ndarray:
    """(Q,10,4): grad N_a at barycentric point q = sum_i C[q,a,i] grad lambda_i.
    Corners N_a = L_a (2 L_a - 1); midsides N = 4 L_i L_j."""
    C = np.zeros((len(points), 10, 4))
    for q, L in enumerate(points):
        for a in range(4):
            C[q, a, a] = 4.0 * L[a] - 1.0
        for k, (i, j) in enumerate(EDGES):
            C[q, 4 + k, j] += 4.0 * L[i]
            C[q, 4 + k, i] += 4.0 * L[j]
    return C


def shape_values(L: np.ndarray) -> np.ndarray:
    """(10,) the shape functions at barycentric point L (4,)."""
    return np.concatenate([L * (2.0 * L - 1.0), [4.0 * L[i] * L[j] for i, j in EDGES]])


#: the rule's shape gradient coefficients, for the kernels
COEF = shape_coefficients()
#: integral of each shape function over an element, per unit volume: corners -1/20, midsides 1/5
#: (the consistent body force: a corner pulls against the load, its edges carry it)
LOAD_SHARE = np.array([-0.05] * 4 + [0.2] * 6)


@njit(cache=True, inline="always")
def _corner_gradients(dminv, Gl):
    """Gl (4,3): the corners' reference gradients (rows of ``dminv``, growth included)."""
    for j in range(3):
        Gl[1, j] = dminv[0, j]
        Gl[2, j] = dminv[1, j]
        Gl[3, j] = dminv[2, j]
        Gl[0, j] = -(dminv[0, j] + dminv[1, j] + dminv[2, j])


@njit(cache=True, inline="always")
def _gradients(coef, q, Gl, Gq):
    """Gq (10,3): the shape gradients at Gauss point q from the corners' ``Gl``."""
    for a in range(10):
        for j in range(3):
            Gq[a, j] = (coef[q, a, 0] * Gl[0, j] + coef[q, a, 1] * Gl[1, j]
                        + coef[q, a, 2] * Gl[2, j] + coef[q, a, 3] * Gl[3, j])


@njit(cache=True, parallel=True)
def assemble(u, tets, dminv, hoff, vol0, mat_kind, mat_par, elem_mat, part_ptr, coef,
             bptr, deg3, kpos, R, data, want_K):
    """Element forces into R (3N,) and tangents into CSR ``data`` (both zeroed by the caller) at
    displacements ``u`` (N,3) of all nodes, corners and midsides; ``tets`` (M,10). Returns
    (energy, number of elements with a Gauss point turned inside out). Partitions as in
    tet4.assemble: ``part_ptr[t]:part_ptr[t+1]`` for t < T never share a node with another
    partition; the last range runs after them."""
    T = part_ptr.shape[0] - 2
    energy = np.zeros(T + 1)
    inverted = np.zeros(T + 1, np.int64)
    for t in prange(T):
        energy[t], inverted[t] = _assemble_range(part_ptr[t], part_ptr[t + 1], u, tets, dminv, hoff, vol0,
                                                 mat_kind, mat_par, elem_mat, coef, bptr, deg3, kpos, R, data,
                                                 want_K)
    energy[T], inverted[T] = _assemble_range(part_ptr[T], part_ptr[T + 1], u, tets, dminv, hoff, vol0,
                                             mat_kind, mat_par, elem_mat, coef, bptr, deg3, kpos, R, data, want_K)
    return energy.sum(), inverted.sum()


@njit(cache=True)
def _assemble_range(e0, e1, u, tets, dminv, hoff, vol0, mat_kind, mat_par, elem_mat, coef,
                    bptr, deg3, kpos, R, data, want_K):
    Q = coef.shape[0]
    Gl = np.empty((4, 3))
    Gq = np.empty((Q, 10, 3)); f = np.empty((Q, 10, 3)); c = np.empty((Q, 10, 3)); m = np.empty((Q, 10, 3))
    Jq = np.empty(Q); lnJq = np.empty(Q); I1q = np.empty(Q)
    g = np.empty((10, 3))
    row = np.empty((10, 4, 3))
    energy = 0.0
    inverted = 0
    for e in range(e0, e1):
        mat = elem_mat[e]
        kind = mat_kind[mat]
        p0, p1, kv = mat_par[mat, 0], mat_par[mat, 1], mat_par[mat, 2]
        tet = tets[e]
        V0 = vol0[e]
        w = V0 / Q
        ok = True
        Jbar = 0.0
        _corner_gradients(dminv[e], Gl)
        for q in range(Q):
            _gradients(coef, q, Gl, Gq[q])
            Jq[q], lnJq[q], I1q[q] = _kinematics(u, tet, 10, Gq[q], hoff[e], f[q], c[q], m[q])
            if Jq[q] <= 0.0:
                ok = False
            Jbar += Jq[q] / Q
        if not ok:
            inverted += 1
            continue
        lnJ = math.log(Jbar)
        d1 = kv * lnJ / Jbar  # U'(Jbar)
        d2 = kv * (1.0 - lnJ) / (Jbar * Jbar)  # U''(Jbar)
        energy += V0 * 0.5 * kv * lnJ * lnJ
        for a in range(10):
            for i in range(3):
                g[a, i] = 0.0
        for q in range(Q):
            es, sm, sc, kd, kfc, kcc, kx, dd = _shear_coefficients(kind, p0, p1, Jq[q], lnJq[q], I1q[q])
            energy += w * es
            a1 = Jq[q] * d1
            for a in range(10):
                A = tet[a]
                for i in range(3):
                    R[3 * A + i] += w * (sm * m[q, a, i] + (sc + a1) * c[q, a, i])
                    g[a, i] += Jq[q] * c[q, a, i] / Q
            if want_K:
                _scatter_tangent(tet, 10, w, kcc + a1, kx - a1, kfc, kd, dd, sm, sc, kind != NEO_HOOKEAN,
                                 Gq[q], f[q], c[q], m[q], row, kpos[e], bptr, deg3, data)
        if want_K:
            _scatter_rank_one(tet, V0 * d2, g, kpos[e], bptr, deg3, data)
    return energy, inverted


@njit(cache=True, inline="always")
def _scatter_rank_one(tet, s, g, kp, bptr, deg3, data):
    """Add s g g^T over the element's ten nodes (the mean dilatation's U'' term)."""
    for a in range(10):
        A = tet[a]
        strideA = deg3[A]
        for b in range(10):
            p = bptr[A] + 3 * kp[10 * a + b]
            for i in range(3):
                si = s * g[a, i]
                data[p + i * strideA] += si * g[b, 0]
                data[p + i * strideA + 1] += si * g[b, 1]
                data[p + i * strideA + 2] += si * g[b, 2]


@njit(cache=True)
def element_force_tangent(kind, p0, p1, kv, ue, dminv, V0, hoff, coef):
    """One element's force (10,3), tangent (30,30) and energy at node displacements ``ue``
    (10,3), growth term ``hoff`` (3,3; zeros: none). For tests and tools: the same range
    assembly on a one-element pattern."""
    tets = np.arange(10).reshape(1, 10)
    kpos = (np.arange(100) % 10).reshape(1, 100)  # block (a, b) sits at column block b of row a
    bptr = np.arange(10) * 90  # each node's block row: 3 rows of 30 entries
    deg3 = np.full(10, 30)
    R = np.zeros(30)
    data = np.zeros(900)
    mat_par = np.array([[p0, p1, kv]])
    e, inv = _assemble_range(0, 1, ue, tets, dminv.reshape(1, 3, 3), hoff.reshape(1, 3, 3), np.array([V0]),
                             np.array([kind]), mat_par, np.zeros(1, np.int64), coef, bptr, deg3, kpos, R, data, True)
    if inv:
        return R.reshape(10, 3), data.reshape(30, 30), np.nan
    return R.reshape(10, 3), data.reshape(30, 30), e
