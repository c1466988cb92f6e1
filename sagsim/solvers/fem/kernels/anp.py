"""Averaged nodal pressure (after Bonet and Burton 1998): a locking-free linear tetrahedron.

The volumetric energy U(J) = k/2 (ln J)^2 is evaluated per nodal patch instead of per
element: Pi_vol = sum_p V_p U(v_p / V_p), where a patch p is a (node, material) pair, V_p and
v_p a quarter of the reference and current volumes of the patch's elements. A mesh has about
five times fewer nodes than tetrahedra, so the incompressibility constraints no longer
outnumber the degrees of freedom, and the element stops locking. Patches do not cross
material boundaries, so each layer keeps its own bulk modulus.

Derivatives, with g_p = dv_p/dx = sum_{e in p} v_e c^e / 4:
  force    sum_p U'(J_p) g_p                 -> per element: v_e q_e c_a, q_e = mean of U'(J_p)
  tangent  sum_p U''(J_p)/V_p g_p g_p^T      (this file, couples a patch's neighbours)
         + sum_e q_e d2v_e/dx2               (element part, in tet4.py with a1 = a2 = J q_e)
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .tet4 import _element_kinematics


@njit(cache=True, parallel=True)
def patch_volumes(u, tets, dminv, hoff, vol0, elem_patch, part_ptr, n_patches):
    """Volume changes v_p - V_p of the patches (kept apart from V_p so that small volumetric
    strains stay exact), over the element partitions of tet4.assemble.
    Returns (dv_p, inverted count)."""
    v = np.zeros(n_patches)  # patches follow no node range, so no parallel zeroing here
    T = part_ptr.shape[0] - 2
    inverted = np.zeros(T + 1, np.int64)
    for t in prange(T):
        inverted[t] = _patch_volumes_range(part_ptr[t], part_ptr[t + 1], u, tets, dminv, hoff, vol0, elem_patch, v)
    inverted[T] = _patch_volumes_range(part_ptr[T], part_ptr[T + 1], u, tets, dminv, hoff, vol0, elem_patch, v)
    return v, inverted.sum()


@njit(cache=True)
def _patch_volumes_range(e0, e1, u, tets, dminv, hoff, vol0, elem_patch, v):
    G = np.empty((4, 3)); f = np.empty((4, 3)); c = np.empty((4, 3)); m = np.empty((4, 3))
    inverted = 0
    for e in range(e0, e1):
        J, _, _ = _element_kinematics(u, tets[e], dminv[e], hoff[e], G, f, c, m)
        if J <= 0.0:
            inverted += 1
        for a in range(4):
            v[elem_patch[e, a]] += 0.25 * vol0[e] * (J - 1.0)
    return inverted


@njit(cache=True)
def patch_pressures(dv, V, k):
    """U'(J_p), U''(J_p) and the volumetric energy for U = k/2 (ln J)^2 per patch, from the
    volume changes dv_p and reference volumes V_p."""
    n = dv.shape[0]
    d1 = np.empty(n)
    d2 = np.empty(n)
    energy = 0.0
    for p in range(n):
        Jm1 = dv[p] / V[p]
        J = 1.0 + Jm1
        lnJ = math.log1p(Jm1) if J > 0.0 else -np.inf
        d1[p] = k[p] * lnJ / J
        d2[p] = k[p] * (1.0 - lnJ) / (J * J)
        energy += V[p] * 0.5 * k[p] * lnJ * lnJ
    return d1, d2, energy


@njit(cache=True)
def element_pressure(elem_patch, d1):
    """q_e: the mean U'(J_p) over an element's four patches."""
    q = np.empty(elem_patch.shape[0])
    for e in range(elem_patch.shape[0]):
        q[e] = 0.25 * (d1[elem_patch[e, 0]] + d1[elem_patch[e, 1]] + d1[elem_patch[e, 2]] + d1[elem_patch[e, 3]])
    return q


@njit(cache=True, parallel=True)
def assemble_patch_tangent(u, tets, dminv, hoff, vol0, patch_elem_ptr, patch_elems, patch_node_ptr,
                           patch_nodes, patch_kpos, patch_kpos_ptr, patch_order, patch_part_ptr, d2, V,
                           bptr, deg3, data):
    """Add sum_p U''(J_p)/V_p g_p g_p^T. ``patch_nodes`` lists each patch's support nodes and
    ``patch_kpos[patch_kpos_ptr[p]:patch_kpos_ptr[p+1]]`` the block positions of every (row node,
    column node) pair of patch p's list, row-major. The patches ``patch_order[patch_part_ptr[t]:
    patch_part_ptr[t+1]]`` span disjoint node ranges for t < T and run in parallel; the last
    range, the patches between them, runs after (csr.partition_groups)."""
    T = patch_part_ptr.shape[0] - 2
    for t in prange(T):
        _patch_tangent_range(patch_part_ptr[t], patch_part_ptr[t + 1], u, tets, dminv, hoff, vol0,
                             patch_elem_ptr, patch_elems, patch_node_ptr, patch_nodes, patch_kpos,
                             patch_kpos_ptr, patch_order, d2, V, bptr, deg3, data)
    _patch_tangent_range(patch_part_ptr[T], patch_part_ptr[T + 1], u, tets, dminv, hoff, vol0,
                         patch_elem_ptr, patch_elems, patch_node_ptr, patch_nodes, patch_kpos,
                         patch_kpos_ptr, patch_order, d2, V, bptr, deg3, data)


@njit(cache=True)
def _patch_tangent_range(i0, i1, u, tets, dminv, hoff, vol0, patch_elem_ptr, patch_elems, patch_node_ptr,
                         patch_nodes, patch_kpos, patch_kpos_ptr, patch_order, d2, V, bptr, deg3, data):
    G = np.empty((4, 3)); f = np.empty((4, 3)); c = np.empty((4, 3)); mv = np.empty((4, 3))
    gbuf = np.zeros((64, 3))
    for i in range(i0, i1):
        p = patch_order[i]
        n0, n1 = patch_node_ptr[p], patch_node_ptr[p + 1]
        m = n1 - n0
        if m > gbuf.shape[0]:
            gbuf = np.zeros((2 * m, 3))
        g = gbuf[:m]
        g[:] = 0.0
        nodes = patch_nodes[n0:n1]
        for q in range(patch_elem_ptr[p], patch_elem_ptr[p + 1]):
            e = patch_elems[q]
            J, _, _ = _element_kinematics(u, tets[e], dminv[e], hoff[e], G, f, c, mv)
            w = 0.25 * vol0[e] * J
            for a in range(4):
                loc = np.searchsorted(nodes, tets[e, a])
                for k in range(3):
                    g[loc, k] += w * c[a, k]
        coef = d2[p] / V[p]
        kp = patch_kpos_ptr[p]
        for r in range(m):
            A = nodes[r]
            stride = deg3[A]
            for s in range(m):
                base = bptr[A] + 3 * patch_kpos[kp]
                kp += 1
                for k in range(3):
                    gk = coef * g[r, k]
                    for j in range(3):
                        data[base + k * stride + j] += gk * g[s, j]
