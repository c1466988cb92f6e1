"""The explicit spring step on a banded layout: vector loops for structured meshes.

On a structured mesh in its natural (lexicographic) node order, almost every spring joins a
node i to node i + o for one of a few offsets o (a hexahedral grid split into tetrahedra has
seven: along x, y, z and the diagonals). The springs of one offset are a *band*: stiffness
and rest length stored by their lower node i (0 where node i has no such spring), so that
one band's springs over a run of nodes read x[i] and x[i + o] contiguously. With positions
stored by component (X[q, i], "structure of arrays"), the loops over a band compile to SIMD
vector instructions (square root and division included); the scattered loop of
forces.py cannot be vectorised (its partner indices are arbitrary and two springs of
a row may update the same node).

Per band and run of nodes [lo, h): a vector pass computes the spring forces into a small
buffer, a second adds them to F[lo:h], a third subtracts them from F[lo+o:h+o]; the buffer
stays in the level-1/2 cache. Springs outside the bands (an unstructured remainder) and the
volume term's tetrahedra are scattered as in forces.py.

Parallel without races by the same even/odd slabs as forces.py (the slab width is at
least the largest offset, so a slab's items touch only it and the next slab), with the node
update fused at the end of each odd slab. docs/springs.md has the measurements.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from .forces import scatter_row_springs, scatter_tet_forces

#: nodes per run of a band pass: the three force buffers (3 x 8 B x BLOCK) stay in L1/L2
BLOCK = 2048

#: a band's padded entries (k = 0) must not divide 0 by 0 if two unrelated nodes meet
_TINY = 1e-300


@njit(cache=True, inline="always", error_model="numpy")
def _band_run(X, F, lo, h, o, kb, Lb, tmp):
    """The springs (i, i + o), lo <= i < h, of one band: forces into F. X, F: (3, N)."""
    m = h - lo
    xa, ya, za = X[0, lo:h], X[1, lo:h], X[2, lo:h]
    xb, yb, zb = X[0, lo + o:h + o], X[1, lo + o:h + o], X[2, lo + o:h + o]
    kk, LL = kb[lo:h], Lb[lo:h]
    t0, t1, t2 = tmp[0], tmp[1], tmp[2]
    # slices (not X[q, i + o]): an index the compiler cannot prove >= 0 gets a wrap-around
    # test that stops the loop from vectorising (7x slower, measured)
    for i in range(m):
        d0 = xb[i] - xa[i]
        d1 = yb[i] - ya[i]
        d2 = zb[i] - za[i]
        l = math.sqrt(max(d0 * d0 + d1 * d1 + d2 * d2, _TINY))
        t = kk[i] * (l - LL[i]) / l
        t0[i] = t * d0
        t1[i] = t * d1
        t2[i] = t * d2
    for q in range(3):
        fa = F[q, lo:h]
        fb = F[q, lo + o:h + o]
        tq = tmp[q]
        for i in range(m):
            fa[i] += tq[i]
        for i in range(m):
            fb[i] -= tq[i]


@njit(cache=True, inline="always", error_model="numpy")
def _slab(X, F, sl, width, offs, kb, Lb, row_ptr, b, k, rest, tet_ptr, tets, ptet, tmp, g):
    """All forces of slab ``sl``: its band springs, its other springs, its tets."""
    N = X.shape[1]
    s_lo = sl * width
    s_hi = min(N, s_lo + width)
    for lo in range(s_lo, s_hi, BLOCK):
        hi = min(s_hi, lo + BLOCK)
        for ob in range(offs.shape[0]):
            o = offs[ob]
            h = min(hi, N - o)
            if h > lo:
                _band_run(X, F, lo, h, o, kb[ob], Lb[ob], tmp)
    scatter_row_springs(X.T, F.T, s_lo, s_hi, row_ptr, b, k, rest)
    scatter_tet_forces(X.T, F.T, tet_ptr[sl], tet_ptr[sl + 1], tets, ptet, g)


@njit(cache=True, inline="always", error_model="numpy")
def _update(X, V, F, Fext, inv_m, gamma, lo, hi, kick, drift, theta):
    """forces._update_nodes on (3, N) arrays (the same arithmetic), vectorised."""
    im, ga = inv_m[lo:hi], gamma[lo:hi]
    for q in range(3):
        xq, vq, fq, eq = X[q, lo:hi], V[q, lo:hi], F[q, lo:hi], Fext[q, lo:hi]
        for i in range(hi - lo):
            gk = kick * ga[i]
            c0 = 1.0 - (1.0 - theta) * gk
            c1 = 1.0 if theta == 0.0 else 1.0 / (1.0 + theta * gk)
            vi = (vq[i] * c0 + kick * im[i] * (fq[i] + eq[i])) * c1
            vq[i] = vi
            xq[i] += drift * vi
            fq[i] = 0.0


@njit(cache=True, parallel=True, error_model="numpy")
def band_step(X, V, F, Fext, inv_m, gamma, kick, drift, theta, width, offs, kb, Lb,
              row_ptr, b, k, rest, tet_ptr, tets, ptet):
    """One fused explicit step on (3, N) positions, velocities, forces and external forces
    (kernels' node order): slab_step of forces.py with the band springs in vector
    loops. F holds any other force on entry (ligaments) and is zero on exit; fixed nodes have
    inv_m = 0 and v = 0."""
    n = X.shape[1]
    n_slabs = tet_ptr.shape[0] - 1
    for q in prange((n_slabs + 1) // 2):
        tmp = np.empty((3, BLOCK))
        g = np.empty((4, 3))
        _slab(X, F, 2 * q, width, offs, kb, Lb, row_ptr, b, k, rest, tet_ptr, tets, ptet, tmp, g)
    for q in prange(max(1, n_slabs // 2)):
        tmp = np.empty((3, BLOCK))
        g = np.empty((4, 3))
        sl = 2 * q + 1
        if sl < n_slabs:
            _slab(X, F, sl, width, offs, kb, Lb, row_ptr, b, k, rest, tet_ptr, tets, ptet, tmp, g)
        lo = 0 if q == 0 else sl * width
        hi = min(n, (sl + 2) * width)
        _update(X, V, F, Fext, inv_m, gamma, lo, hi, kick, drift, theta)


@dataclass(frozen=True)
class Bands:
    """The banded layout's arrays (kernels' node order): the band offsets (B,); per band and
    lower node the stiffness (0: no spring) and rest length (B, N); the springs outside the
    bands as rows (their partners above node i: other_b[other_row_ptr[i]:other_row_ptr[i+1]]);
    and the share of the springs the bands hold."""

    offsets: np.ndarray
    stiffness: np.ndarray
    rest: np.ndarray
    other_row_ptr: np.ndarray
    other_b: np.ndarray
    other_stiffness: np.ndarray
    other_rest: np.ndarray
    share: float

    @property
    def nbytes(self) -> int:
        """What one step reads of the springs: bands (padding included) and the other rows."""
        return int(self.stiffness.nbytes + self.rest.nbytes + self.other_b.nbytes
                   + self.other_stiffness.nbytes + self.other_rest.nbytes)


def band_layout(a: np.ndarray, b: np.ndarray, n: int, min_fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Split springs (a < b, kernels' order) into bands and the rest: the offsets o = b - a
    held by at least ``min_fill`` x n springs. Returns the offsets (B,) and the band index of
    each spring (-1: not in a band)."""
    off = np.asarray(b, np.int64) - np.asarray(a, np.int64)
    if len(off) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    uo, cnt = np.unique(off, return_counts=True)
    offs = uo[cnt >= min_fill * n].astype(np.int64)
    if len(offs) == 0:
        return offs, np.full(len(off), -1, np.int64)
    pos = np.minimum(np.searchsorted(offs, off), len(offs) - 1)
    return offs, np.where(offs[pos] == off, pos, -1)


def build_bands(a: np.ndarray, b: np.ndarray, k: np.ndarray, rest: np.ndarray, n: int, min_fill: float) -> Bands:
    """The Bands of springs (a < b, sorted by a; kernels' order) on n nodes."""
    offs, which = band_layout(a, b, n, min_fill)
    inb = which >= 0
    stiffness = np.zeros((len(offs), n))
    rest_b = np.ones((len(offs), n))  # padding: any length > 0
    stiffness[which[inb], a[inb]] = k[inb]
    rest_b[which[inb], a[inb]] = rest[inb]
    out = ~inb
    row_ptr = np.concatenate([[0], np.cumsum(np.bincount(a[out], minlength=n))]).astype(np.int64)
    return Bands(offs, stiffness, rest_b, row_ptr, np.ascontiguousarray(b[out]), np.ascontiguousarray(k[out]),
                 np.ascontiguousarray(rest[out]), float(inb.mean()) if len(inb) else 0.0)
