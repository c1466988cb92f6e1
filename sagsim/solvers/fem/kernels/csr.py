"""CSR sparsity pattern with 3x3 node blocks, scatter maps, element partitions, Dirichlet rows.

The pattern is built once per mesh. Every dof row of node A holds the same columns (the three
dofs of each neighbour B, sorted), so the entry (3A+i, 3B+j) lives at
    bptr[A] + i * deg3[A] + 3 * k + j,
with k the position of B among A's neighbours. A scatter map therefore needs one small integer
k per (element, node pair), not one per matrix entry.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit, prange


def node_adjacency(n_nodes: int, tets: np.ndarray, pairs: np.ndarray | None = None,
                   rings: int = 1) -> sp.csr_matrix:
    """Node-to-node pattern, diagonal included: nodes sharing an element (``tets`` (M,k), any
    number of nodes each; ``rings`` = 2 adds nodes sharing a neighbour), plus the explicit node
    ``pairs`` (S,2) of springs."""
    m, k = tets.shape
    inc = sp.csr_matrix((np.ones(k * m, np.int32), tets.ravel(), np.arange(0, k * m + 1, k)),
                        shape=(m, n_nodes))
    adj = _binary((inc.T @ inc).tocsr())
    for _ in range(rings - 1):
        adj = _binary((adj @ adj).tocsr())
    if pairs is not None and len(pairs):
        p = np.asarray(pairs, np.int64)
        extra = sp.csr_matrix((np.ones(2 * len(p), np.int32), (np.r_[p[:, 0], p[:, 1]], np.r_[p[:, 1], p[:, 0]])),
                              shape=(n_nodes, n_nodes))
        adj = adj + extra
    adj = _binary((adj + sp.eye(n_nodes, dtype=np.int32, format="csr")).tocsr())
    adj.sort_indices()
    return adj


def _binary(a: sp.csr_matrix) -> sp.csr_matrix:
    a.data[:] = 1
    return a


class BlockPattern:
    """The dof-level CSR pattern of a node adjacency, and where each node block starts."""

    def __init__(self, adj: sp.csr_matrix):
        n = adj.shape[0]
        self.n_nodes = n
        self.nptr = adj.indptr.astype(np.int64)
        self.nind = adj.indices.astype(np.int64)
        deg = np.diff(self.nptr)
        self.deg3 = 3 * deg
        # each node contributes 3 rows of 3*deg entries
        row_len = np.repeat(self.deg3, 3)
        indptr = np.zeros(3 * n + 1, np.int64)
        np.cumsum(row_len, out=indptr[1:])
        self.nnz = int(indptr[-1])
        idx_t = np.int32 if self.nnz < 2**31 - 1 and 3 * n < 2**31 - 1 else np.int64
        self.indptr = indptr.astype(idx_t)
        self.bptr = indptr[0:-1:3].copy()  # start of row 3A
        self.indices = _dof_columns(self.nptr, self.nind, indptr).astype(idx_t)

    def block_positions(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """k such that node ``cols`` is the k-th neighbour of node ``rows`` (same shapes)."""
        r = np.ascontiguousarray(rows, np.int64).ravel()
        c = np.ascontiguousarray(cols, np.int64).ravel()
        k = find_in_rows(self.nptr, self.nind, r, c)
        if (k < 0).any():
            raise ValueError("block_positions: a node pair is missing from the pattern")
        dtype = np.int16 if self.deg3.max(initial=0) // 3 < 2**15 else np.int32
        return k.astype(dtype).reshape(np.shape(rows))

    def pair_positions(self, ptr: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For groups of nodes (group g: ``nodes[ptr[g]:ptr[g+1]]``, a nodal patch or a smoothing
        domain's support), the block positions of every (row node, column node) pair of each
        group, row-major, and where each group's pairs start (``kpos_ptr``, one more than groups)."""
        sizes = np.diff(ptr)
        kpos_ptr = np.zeros(len(sizes) + 1, np.int64)
        np.cumsum(sizes * sizes, out=kpos_ptr[1:])
        owner = np.repeat(np.arange(len(sizes)), sizes * sizes)
        local = np.arange(kpos_ptr[-1]) - kpos_ptr[owner]
        start = ptr[owner]
        return kpos_ptr, self.block_positions(nodes[start + local // sizes[owner]], nodes[start + local % sizes[owner]])

    def matrix(self, data: np.ndarray) -> sp.csr_matrix:
        """A scipy CSR matrix over ``data`` (no copy)."""
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(3 * self.n_nodes,) * 2, copy=False)

    def dirichlet_positions(self, dofs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Data positions of all entries in the rows and columns of ``dofs``, and of their
        diagonal entries: zero the first, put one on the second, and the constrained system
        decouples while staying symmetric positive definite."""
        dofs = np.unique(np.asarray(dofs, np.int64))
        if dofs.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        ip = self.indptr.astype(np.int64)
        starts, ends = ip[dofs], ip[dofs + 1]
        row_pos = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
        cols = self.indices[row_pos].astype(np.int64)
        rows = np.repeat(dofs, ends - starts)
        col_pos = self.position(cols, rows)  # the transposed entries
        diag = self.position(dofs, dofs)
        return np.unique(np.concatenate([row_pos, col_pos])), diag

    def position(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Data position of dof entries (rows[i], cols[i])."""
        rows = np.asarray(rows, np.int64)
        cols = np.asarray(cols, np.int64)
        A, i = np.divmod(rows, 3)
        B, j = np.divmod(cols, 3)
        k = self.block_positions(A, B).astype(np.int64)
        return self.bptr[A] + i * self.deg3[A] + 3 * k + j


@njit(cache=True, parallel=True)
def find_in_rows(nptr, nind, rows, cols):
    """Position of cols[i] within the sorted neighbour list of rows[i], or -1."""
    out = np.empty(rows.shape[0], np.int64)
    for i in prange(rows.shape[0]):
        lo, hi = nptr[rows[i]], nptr[rows[i] + 1]
        j = lo + np.searchsorted(nind[lo:hi], cols[i])
        out[i] = j - lo if j < hi and nind[j] == cols[i] else -1
    return out


@njit(cache=True)
def _dof_columns(nptr, nind, indptr):
    out = np.empty(indptr[-1], np.int64)
    for A in range(nptr.shape[0] - 1):
        for i in range(3):
            p = indptr[3 * A + i]
            for q in range(nptr[A], nptr[A + 1]):
                B = nind[q]
                out[p] = 3 * B
                out[p + 1] = 3 * B + 1
                out[p + 2] = 3 * B + 2
                p += 3
    return out


def partition_elements(tets: np.ndarray, n_nodes: int, n_parts: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split elements into ``n_parts`` groups over disjoint, contiguous node ranges, plus a last
    group of the elements that straddle two ranges. Groups never share a node with another
    group of the first ``n_parts``, so they can be assembled in parallel without races.

    Returns ``order`` (elements sorted by group, mesh order kept inside a group),
    ``part_ptr`` (n_parts + 2 bounds into it) and ``node_ptr`` (n_parts + 1 node range bounds). Range bounds balance the element counts; a
    mesh numbered with locality (structured, or RCM-ordered) leaves few straddlers.
    """
    return partition_groups(tets.min(axis=1), tets.max(axis=1), n_nodes, n_parts)


def partition_groups(lo: np.ndarray, hi: np.ndarray, n_nodes: int, n_parts: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`partition_elements` for items whose nodes span ``lo``..``hi`` (each item's smallest
    and largest node): elements, or smoothing domains with any number of support nodes."""
    cuts = np.quantile(lo, np.arange(1, n_parts) / n_parts).astype(np.int64) if n_parts > 1 else np.zeros(0, np.int64)
    part_lo = np.searchsorted(cuts, lo, side="right")
    part_hi = np.searchsorted(cuts, hi, side="right")
    group = np.where(part_lo == part_hi, part_lo, n_parts)
    order = np.argsort(group, kind="stable")
    part_ptr = np.searchsorted(group[order], np.arange(n_parts + 2)).astype(np.int64)
    node_ptr = np.concatenate([[0], cuts, [n_nodes]]).astype(np.int64)
    return order, part_ptr, node_ptr


@njit(cache=True)
def apply_dirichlet(data, R, zero_pos, diag_pos, dofs):
    """Decouple constrained dofs: zero their rows and columns, unit diagonal, zero residual."""
    for p in zero_pos:
        data[p] = 0.0
    for p in diag_pos:
        data[p] = 1.0
    for d in dofs:
        R[d] = 0.0
