"""The model in quadratic tetrahedra: `QuadraticSystem`, the FEMSystem of ``formulation="tet10"``.

Each of the model's four-node tetrahedra becomes a ten-node one, with a node at the middle of
each edge (straight-sided, so the geometry is the model's). The midside nodes are the system's
own: the model, its springs, landmarks and results stay on the corner nodes (the vertices), and
solve_static carries the midside positions in the state's ``internal["midside"]``. Nodes
0..N-1 of the system are the model's; midside k sits on edge ``edges[k]``.

What differs from FEMSystem is only what an element is: the kernel (kernels/tet10.py), the
consistent body force (a corner of a uniformly loaded quadratic element takes -1/20 of its
weight, each midside 1/5) and the constraints (a midside node is held where both its edge's
ends are, and moves with their mean).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import get_num_threads

from ...errors import ModelError
from ...model import State, TissueModel, midside_edges, state_gradients
from ..linear import LinearSolver
from ..linear.amg import CoarseSpace, midside_prolongation
from .kernels import tet10
from .kernels.csr import BlockPattern, node_adjacency, partition_groups
from .kernels.small import det3
from .loads import Trusses
from .system import Evaluation, FEMSystem, growth_tensors

#: (6,2) the corners of each edge, in the kernel's midside order
EDGE_CORNERS = np.array(tet10.EDGES)


class QuadraticSystem(FEMSystem):
    """FEMSystem's interface over quadratic tetrahedra (P2 displacements, a mean dilatation
    per element). ``reference`` and ``set_reference`` take the model's nodes; positions and
    displacements given to ``evaluate`` and returned force vectors cover all nodes, midsides
    after the model's (``extended`` makes them from the model's)."""

    quadratic = True

    def __init__(self, model: TissueModel, reference: np.ndarray | None = None,
                 formulation: str = "tet10", *, linear: str | LinearSolver = "auto",
                 linear_coords: np.ndarray | None = None):
        self.model = model
        self.formulation = formulation
        n = model.n_nodes
        self.n_vertices = n
        tets = np.asarray(model.tets, np.int64)
        self.edges, self.tet_edges = midside_edges(tets)  # model order: each element's edges, as its midsides
        tets10 = np.concatenate([tets, n + self.tet_edges], axis=1)
        self.n_nodes = n + len(self.edges)
        self.ndof = 3 * self.n_nodes
        X = model.nodes if reference is None else np.asarray(reference, np.float64)
        if X.shape != (n, 3) or not np.isfinite(X).all():
            raise ModelError(f"FEMSystem.reference: expected finite ({n}, 3) coordinates")
        self.reference = X
        corners = X if linear_coords is None else linear_coords
        coarse = CoarseSpace(midside_prolongation(n, self.edges), np.asarray(corners, np.float64))
        self.linear = linear if isinstance(linear, LinearSolver) else LinearSolver(
            linear, coords=self.extended(corners), coarse=coarse)

        # partitions over the corners' node ranges: two elements that share a midside share its
        # edge's corners, so elements of different partitions never write the same rows
        self.order, self.part_ptr, self.node_ptr = partition_groups(
            tets.min(axis=1), tets.max(axis=1), n, max(get_num_threads(), 1))
        self.tets = np.ascontiguousarray(tets10[self.order])
        self._material_tables(model)

        springs = model.springs
        node_pairs = springs.nodes[~springs.to_point] if len(springs) else None
        self.nodal_pressure = False
        self.pattern = BlockPattern(node_adjacency(self.n_nodes, self.tets, node_pairs, 1))
        t = self.tets
        self.kpos = self.pattern.block_positions(np.repeat(t, 10, axis=1), np.tile(t, (1, 10)))
        self.spring_kpos = self._spring_positions()
        self.trusses = Trusses(springs)
        self.elem_patch = self.patch_key = None
        self.domains = None
        self.element_bulk = np.zeros(0)
        self.vol0 = self.vol_ref = self.dminv = self.hoff = self.lumped_mass = None
        self.growth: np.ndarray | None = None
        self._shape_cache = None
        self.set_reference(X)
        self._data: np.ndarray | None = None
        self._dirichlet_cache: dict = {}
        self._element_cache: dict = {}

    # -- the midside nodes ------------------------------------------------------------------

    def extended(self, x: np.ndarray) -> np.ndarray:
        """(n_nodes, 3): the model's node positions ``x`` (N,3) and the midpoints of the edges."""
        x = np.asarray(x, np.float64)
        return np.concatenate([x, 0.5 * (x[self.edges[:, 0]] + x[self.edges[:, 1]])])

    def all_positions(self, x: np.ndarray, internal: dict) -> np.ndarray:
        mid = internal.get("midside")
        if mid is None or len(mid) != len(self.edges):
            return self.extended(x)  # a state of linear elements: straight edges
        return np.concatenate([np.asarray(x, np.float64), mid])

    def embedding_weights(self, bary: np.ndarray, whole: bool = False) -> np.ndarray:
        """The quadratic shape functions at ``bary`` (S, 4): L_a (2 L_a - 1) at the corners,
        4 L_i L_j at the midside of edge ij (tet10.EDGES order); with ``whole``, their volume
        means (corners -1/20, midsides 1/5: each element's mean position)."""
        L = np.asarray(bary, np.float64)
        if whole:
            return np.tile(tet10.LOAD_SHARE, (len(L), 1))
        return np.concatenate([L * (2.0 * L - 1.0), 4.0 * L[:, EDGE_CORNERS[:, 0]] * L[:, EDGE_CORNERS[:, 1]]], axis=1)

    def _element_nodes(self, tets: np.ndarray) -> np.ndarray:
        return np.concatenate([self.model.tets[tets], self.n_vertices + self.tet_edges[tets]], axis=1)

    def extended_constraints(self, dofs: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's constrained dofs and their target displacements, and the midside dofs
        whose edge has both ends constrained in the same direction: held there at the mean of
        the ends' targets (the edge stays straight, as the constraint's surface is)."""
        n = self.n_vertices
        t = np.full(3 * n, np.nan)
        t[dofs] = target
        ta = t.reshape(n, 3)[self.edges[:, 0]]
        tb = t.reshape(n, 3)[self.edges[:, 1]]
        both = np.isfinite(ta) & np.isfinite(tb)
        k, comp = np.nonzero(both)
        mid = 3 * (n + k) + comp
        out = np.concatenate([np.asarray(dofs, np.int64), mid])
        vals = np.concatenate([np.asarray(target, np.float64), 0.5 * (ta[k, comp] + tb[k, comp])])
        o = np.argsort(out, kind="stable")
        return out[o], vals[o]

    def mean_deformation_gradients(self, x: np.ndarray, midside: np.ndarray) -> np.ndarray:
        """(M,3,3) each element's volume mean of dx/dX (model order, from the system's reference,
        before growth), given the model's node positions ``x`` and the midside positions
        (model.state_gradients: an affine field's is its corners' gradient, as it should be)."""
        return state_gradients(self.model.tets, self.reference,
                               State(x=x, reference=self.reference, internal={"midside": midside}),
                               (self.edges, self.tet_edges))

    # -- reference-dependent data -------------------------------------------------------------

    def set_reference(self, X: np.ndarray, growth: np.ndarray | None = None) -> None:
        self._element_shapes(X, growth)
        self.reference_ext = self.extended(self.reference)
        self.lumped_mass = self._load_mass(self.vol0)

    def _load_mass(self, vol: np.ndarray) -> np.ndarray:
        """Each node's share of the elements' mass under a uniform body force (consistent:
        corners -1/20, midsides 1/5 of their elements'; the total is the whole mass)."""
        w = (vol * self.density[self.elem_mat])[:, None] * tet10.LOAD_SHARE[None, :]
        return np.bincount(self.tets.ravel(), weights=w.ravel(), minlength=self.n_nodes)

    def gravity_force(self, gravity: np.ndarray, growth: np.ndarray | None = None) -> np.ndarray:
        mass = self.lumped_mass
        if growth is not None:
            det = det3(growth_tensors(growth, len(self.tets)))[self.order]
            mass = self._load_mass(self.vol_ref * det)
        return (mass[:, None] * np.asarray(gravity, np.float64)[None, :]).ravel()

    # -- evaluation ----------------------------------------------------------------------------

    def evaluate(self, x: np.ndarray | None = None, want_tangent: bool = True,
                 constrained: np.ndarray | None = None, *, u: np.ndarray | None = None,
                 items: Sequence = ()) -> Evaluation:
        """As FEMSystem.evaluate, with ``x`` or ``u`` (n_nodes, 3) over all nodes."""
        if (x is None) == (u is None):
            raise ValueError("FEMSystem.evaluate: give exactly one of x (positions) or u (displacements)")
        u = np.ascontiguousarray(x - self.reference_ext if u is None else u, dtype=np.float64)
        R = np.zeros(self.ndof)
        data = self._tangent_buffer() if want_tangent else np.zeros(0)
        data.fill(0.0)
        energy, inverted = tet10.assemble(u, self.tets, self.dminv, self.hoff, self.vol0, self.mat_kind, self.mat_par,
                                          self.elem_mat, self.part_ptr, tet10.COEF, self.pattern.bptr,
                                          self.pattern.deg3, self.kpos, R, data, want_tangent)
        if inverted:
            R[:] = np.nan
            return Evaluation(R, np.inf, None, int(inverted))
        return self._finish(self.reference_ext + u, R, data, energy, want_tangent, constrained, items)


def edge_bend(system: FEMSystem, x: np.ndarray, internal: dict) -> np.ndarray | None:
    """A solved state's midside offsets from its edges' midpoints (the quadratic elements'
    bend), to carry to the next solve's warm start; None for linear elements."""
    mid = internal.get("midside")
    return None if mid is None else mid - system.extended(x)[len(x):]


def bent_midsides(system: FEMSystem, x: np.ndarray, bend: np.ndarray | None) -> dict:
    """A warm start ``x``'s midside positions as a state's ``internal`` entry: each edge bent
    as ``bend`` says. Without it a quadratic element restarts straight-edged and Newton spends
    its first iterations bending it again. Empty for linear elements."""
    return {} if bend is None else {"midside": system.extended(x)[len(x):] + bend}


def element_deformation(system: FEMSystem, x: np.ndarray, internal: dict) -> np.ndarray | None:
    """Each element's mean deformation gradient where the elements are quadratic (what creep
    relaxes: aging.mechanisms.relax's ``F``); None for linear ones, whose corners give it."""
    mid = internal.get("midside")
    return None if mid is None else system.mean_deformation_gradients(x, mid)

