"""Springs from points embedded in elements to fixed targets: the cogs of a lifting thread.

A cog sits at p = sum_a b_a x_a inside its tetrahedron (barycentric b, corner positions x_a)
and is pulled towards a target t by a linear spring of zero rest length (the thread, far
stiffer than tissue, sets where the cog must go; see sagsim/threads):
  energy  k/2 |t - p|^2,   force on corner a  -dE/dx_a = k b_a (t - p),
  tangent K_ab = k b_a b_b I (3x3 blocks between the element's corners).
Linear, so there is no separate NumPy twin to keep: this is it, vectorised over cogs (they are
few); tests check it against a dense assembly and finite differences.
"""
from __future__ import annotations

import numpy as np


def assemble_cogs(x: np.ndarray, corners: np.ndarray, bary: np.ndarray, targets: np.ndarray,
                  stiffness: np.ndarray, kpos: np.ndarray, bptr: np.ndarray, deg3: np.ndarray,
                  R: np.ndarray, data: np.ndarray, want_K: bool) -> float:
    """Add cog forces to R (3N,) and tangents to ``data``; return their energy. ``corners``
    (S,4) node indices, ``bary`` (S,4), ``targets`` (S,3), ``stiffness`` (S,), ``kpos`` (S,16)
    block positions of the corner pairs (a, b) at index 4a + b."""
    p = np.einsum("sa,sai->si", bary, x[corners])
    d = targets - p
    energy = 0.5 * float(np.sum(stiffness * np.einsum("si,si->s", d, d)))
    grad = -(stiffness[:, None, None] * bary[:, :, None]) * d[:, None, :]  # dE/dx_a, (S,4,3)
    np.add.at(R.reshape(-1, 3), corners.ravel(), grad.reshape(-1, 3))
    if want_K:
        kab = stiffness[:, None, None] * bary[:, :, None] * bary[:, None, :]  # (S,4,4)
        rows = np.repeat(corners, 4, axis=1)  # row node of pair 4a + b
        base = bptr[rows] + 3 * kpos
        for i in range(3):
            np.add.at(data, base + i * deg3[rows] + i, kab.reshape(len(corners), 16))
    return energy
