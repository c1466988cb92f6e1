"""Springs from points embedded in elements to fixed targets: the cogs of a lifting thread.

A cog sits at p = sum_a w_a x_a inside its tetrahedron (w_a the element's shape functions at
the cog: its barycentric coordinates over the corners for linear elements, the quadratic ones
over corners and midsides for ten-node ones) and is pulled towards a target t by a linear
spring of zero rest length (the thread, far stiffer than tissue, sets where the cog must go;
see sagsim/threads):
  energy  k/2 |t - p|^2,   force on node a  -dE/dx_a = k w_a (t - p),
  tangent K_ab = k w_a w_b I (3x3 blocks between the element's nodes).
Linear, so there is no separate NumPy twin to keep: this is it, vectorised over cogs (they are
few); tests check it against a dense assembly and finite differences.
"""
from __future__ import annotations

import numpy as np


def assemble_cogs(x: np.ndarray, nodes: np.ndarray, weights: np.ndarray, targets: np.ndarray,
                  stiffness: np.ndarray, kpos: np.ndarray, bptr: np.ndarray, deg3: np.ndarray,
                  R: np.ndarray, data: np.ndarray, want_K: bool) -> float:
    """Add cog forces to R (3N,) and tangents to ``data``; return their energy. ``nodes``
    (S,k) node indices, ``weights`` (S,k), ``targets`` (S,3), ``stiffness`` (S,), ``kpos``
    (S,k*k) block positions of the node pairs (a, b) at index k a + b."""
    k = nodes.shape[1]
    p = np.einsum("sa,sai->si", weights, x[nodes])
    d = targets - p
    energy = 0.5 * float(np.sum(stiffness * np.einsum("si,si->s", d, d)))
    grad = -(stiffness[:, None, None] * weights[:, :, None]) * d[:, None, :]  # dE/dx_a, (S,k,3)
    np.add.at(R.reshape(-1, 3), nodes.ravel(), grad.reshape(-1, 3))
    if want_K:
        kab = stiffness[:, None, None] * weights[:, :, None] * weights[:, None, :]  # (S,k,k)
        rows = np.repeat(nodes, k, axis=1)  # row node of pair k a + b
        base = bptr[rows] + 3 * kpos
        for i in range(3):
            np.add.at(data, base + i * deg3[rows] + i, kab.reshape(len(nodes), k * k))
    return energy
