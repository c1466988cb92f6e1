"""Spring internal force and tangent (ligaments, threads), assembled into the same CSR.

Shared by both cores, as blas.py is: the FEM core assembles the model's ligaments with it
(fem/loads.py, Ligaments) and the mass-spring core its ligaments' tangent (springs/system.py).
It lives outside fem/ so that the mass-spring core, which runs on a bare GPU image without
pyamg, never imports the FEM package and its linear solvers.

Energy of one spring of stiffness k and rest length L0 at length l: k/2 (l - L0)^2, except a
tension-only spring carries nothing while l <= L0. With n the unit vector from A to B:
  gradient  g_A = -k (l - L0) n,  g_B = -g_A
  Hessian   H_AA = H_BB = -H_AB = k [n n^T + (1 - L0/l) (I - n n^T)]
A spring to a fixed point has only the A terms. Springs are few, so the loop is serial.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def assemble_springs(x, nodes, anchors, stiffness, rest, tension_only, kpos,
                     bptr, deg3, R, data, want_K):
    """Add spring forces to R and tangents to ``data``; return the spring energy.
    ``kpos`` (S,4): block positions of (A,A), (A,B), (B,A), (B,B) (B entries unused for
    springs to a point)."""
    energy = 0.0
    H = np.empty((3, 3))
    for s in range(stiffness.shape[0]):
        A = nodes[s, 0]
        B = nodes[s, 1]
        if B >= 0:
            d0 = x[B, 0] - x[A, 0]; d1 = x[B, 1] - x[A, 1]; d2 = x[B, 2] - x[A, 2]
        else:
            d0 = anchors[s, 0] - x[A, 0]; d1 = anchors[s, 1] - x[A, 1]; d2 = anchors[s, 2] - x[A, 2]
        l = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
        k = stiffness[s]
        L0 = rest[s]
        if tension_only[s] and l <= L0:
            continue
        energy += 0.5 * k * (l - L0) ** 2
        if l > 1e-300:
            n0, n1, n2 = d0 / l, d1 / l, d2 / l
        else:
            n0 = n1 = n2 = 0.0
        t = k * (l - L0)
        R[3 * A] -= t * n0; R[3 * A + 1] -= t * n1; R[3 * A + 2] -= t * n2
        if B >= 0:
            R[3 * B] += t * n0; R[3 * B + 1] += t * n1; R[3 * B + 2] += t * n2
        if not want_K:
            continue
        # below the rest length of a two-way spring the transverse term is negative; near l = 0
        # the direction is undefined, so use the isotropic k I there
        geo = 1.0 - L0 / l if l > 1e-300 else 1.0
        nv = (n0, n1, n2)
        for i in range(3):
            for j in range(3):
                nn = nv[i] * nv[j]
                H[i, j] = k * (nn + geo * ((1.0 if i == j else 0.0) - nn))
        blocks = 4 if B >= 0 else 1
        for q in range(blocks):
            row_node = A if q < 2 else B
            sign = 1.0 if (q == 0 or q == 3) else -1.0
            base = bptr[row_node] + 3 * kpos[s, q]
            stride = deg3[row_node]
            for i in range(3):
                for j in range(3):
                    data[base + i * stride + j] += sign * H[i, j]
    return energy
