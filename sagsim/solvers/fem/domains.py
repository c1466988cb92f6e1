"""The smoothing domains of the edge-smoothed shear ("es-anp", kernels/smoothed.py): their
topology, built once per mesh, and their volumes, gradients and growth terms, which follow the
stress-free shape. A FEMSystem owns one when its formulation is "es-anp"."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...model import tet_quality
from .kernels import smoothed
from .kernels.csr import find_in_rows, partition_groups
from .kernels.smoothed import ELEMENT_SHARE, SLIVER_DIHEDRAL_DEG

__all__ = ["EdgeDomains", "ELEMENT_SHARE", "element_share"]


class EdgeDomains:
    """The smoothing domains of the "es-anp" formulation (kernels/smoothed.py): one per (edge,
    material) pair, their support nodes, and the block positions of the support pairs; the
    volumes, gradients and growth terms follow the stress-free shape (:meth:`average`)."""

    def __init__(self, system):
        tets, n, nm = system.tets, system.n_nodes, len(system.mat_kind)
        corners = np.array([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])
        ends = np.sort(tets[:, corners], axis=2)  # (M, 6, 2)
        key = ((ends[..., 0] * n + ends[..., 1]) * nm + system.elem_mat[:, None]).ravel()
        _, dom = np.unique(key, return_inverse=True)
        elem = np.repeat(np.arange(len(tets)), 6)
        D = int(dom.max()) + 1
        # support nodes: the corners of each domain's elements
        inc = sp.csr_matrix((np.ones(len(dom)), (dom, elem)), shape=(D, len(tets)))
        elem_nodes = sp.csr_matrix((np.ones(4 * len(tets)), tets.ravel(), np.arange(0, 4 * len(tets) + 1, 4)),
                                   shape=(len(tets), n))
        sup = (inc @ elem_nodes).tocsr()
        sup.sort_indices()
        ptr, nodes = sup.indptr.astype(np.int64), sup.indices.astype(np.int64)
        # group the domains over disjoint node ranges, as the elements, for a parallel assembly
        order, self.part_ptr, _ = partition_groups(nodes[ptr[:-1]], nodes[ptr[1:] - 1], n, len(system.part_ptr) - 2)
        sup = sup[order]
        self.ptr, self.nodes = sup.indptr.astype(np.int64), sup.indices.astype(np.int64)
        rank = np.empty(D, np.int64)
        rank[order] = np.arange(D)
        dom = rank[dom]
        o = np.argsort(dom, kind="stable")
        self.inc_elem = elem[o]
        self.inc_ptr = np.searchsorted(dom[o], np.arange(D + 1)).astype(np.int64)
        where = find_in_rows(self.ptr, self.nodes, np.repeat(dom[o], 4), tets[self.inc_elem].ravel())
        self.inc_loc = where.reshape(-1, 4)
        self.mat = np.empty(D, np.int64)
        self.mat[dom] = np.repeat(system.elem_mat, 6)
        self.max_support = int(np.diff(self.ptr).max())
        self.kpos_ptr, self.kpos = system.pattern.pair_positions(self.ptr, self.nodes)
        self.share = element_share(system.model.nodes, tets)  # a property of the mesh, not of a reference
        self.vol = np.empty(D)
        self.grad = np.empty((len(self.nodes), 3))
        self.hoff = np.empty((D, 3, 3))

    def average(self, system) -> None:
        smoothed.domain_averages(self.inc_ptr, self.inc_elem, self.inc_loc, self.ptr, system.dminv, system.hoff,
                                 system.vol0, self.share, self.vol, self.grad, self.hoff)

    def assemble(self, system, u: np.ndarray, R: np.ndarray, data: np.ndarray, want_tangent: bool):
        return smoothed.assemble_domains(u, self.ptr, self.nodes, self.grad, self.hoff, self.vol, self.mat,
                                         system.mat_kind, system.mat_par, self.part_ptr, self.kpos_ptr, self.kpos,
                                         self.max_support, system.pattern.bptr, system.pattern.deg3, R, data,
                                         want_tangent)


def element_share(nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """The share of its shear energy each element keeps (the domains carry the rest): a
    well-shaped element ELEMENT_SHARE, a sliver more, up to all of it (SLIVER_DIHEDRAL_DEG),
    from its shape in the mesh ``nodes``."""
    dihedral, _ = tet_quality(nodes, tets)
    lo, hi = SLIVER_DIHEDRAL_DEG
    return ELEMENT_SHARE + (1.0 - ELEMENT_SHARE) * np.clip((hi - dihedral) / (hi - lo), 0.0, 1.0)
