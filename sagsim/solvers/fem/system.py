"""The discretised model: the arrays the kernels read, prepared once per mesh.

`FEMSystem` turns a TissueModel into colour-sorted elements, reference shape gradients,
material tables, a CSR pattern with scatter maps, and lumped gravity; `evaluate` then returns
the internal force, energy and tangent at any configuration, with load items (loads.py) added.
It also owns the LinearSolver for its tangents, so that whoever holds the system holds the
caches a sequence of solves on one mesh reuses (pattern, factorisation, AMG hierarchy). The Newton loop (newton.py) and the
tests use it; nothing here knows about load steps or convergence.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import get_num_threads

from ...errors import MeshError, ModelError
from ...formulations import FORMULATIONS, NODAL_PRESSURE, QUADRATIC
from ...model import TissueModel
from .kernels import anp as anp_k
from .domains import EdgeDomains
from .kernels.smoothed import ELEMENT_BULK
from .kernels.csr import BlockPattern, apply_dirichlet, node_adjacency, partition_elements, partition_groups
from .kernels.small import det3, inv3
from ..linear import LinearSolver
from .kernels.tet4 import assemble
from .loads import Trusses


@dataclass
class Evaluation:
    """Internal force (3N,), stored energy (J), tangent (CSR, or None) and inverted count."""

    force: np.ndarray
    energy: float
    tangent: sp.csr_matrix | None
    inverted: int


def growth_tensors(growth: np.ndarray, n_tets: int) -> np.ndarray:
    """(M,3,3) growth tensors from (M,) volume factors or (M,3,3) tensors, checked: finite,
    and each with a positive determinant (a growth cannot turn an element inside out)."""
    g = np.asarray(growth, np.float64)
    if g.shape == (n_tets,):
        if not (np.isfinite(g).all() and (g > 0).all()):
            raise ModelError(f"growth: expected ({n_tets},) finite volume factors > 0")
        return np.cbrt(g)[:, None, None] * np.eye(3)
    if g.shape != (n_tets, 3, 3) or not np.isfinite(g).all():
        raise ModelError(f"growth: expected ({n_tets},) volume factors or ({n_tets}, 3, 3) finite growth tensors, "
                         f"got shape {g.shape}")
    det = det3(g)
    if not (det > 0).all():
        e = int(np.flatnonzero(~(det > 0))[0])
        raise ModelError(f"growth: tensor of tet {e} has determinant {det[e]:.3e}; expected > 0")
    return g.copy()


class FEMSystem:
    """Everything the kernels need for one model, reference configuration and formulation.

    Parameters
    ----------
    model : the TissueModel.
    reference : (N,3) stress-free configuration; the model's nodes by default.
    formulation : one of :data:`FORMULATIONS`: "standard" linear tetrahedra, "anp" (averaged
        nodal pressure, free of volumetric locking) or "es-anp" (and edge-smoothed shear).
    linear : the linear solver of its tangents: a LinearSolver method name ("auto", ...; one is
        made here) or a LinearSolver. Kept in ``self.linear`` and reused by every solve given
        this system.
    linear_coords : (N,3) coordinates whose rigid-body modes AMG takes as near-nullspace; the
        reference by default.
    """

    #: whether the elements have nodes of their own at the edges' midpoints (QuadraticSystem)
    quadratic = False

    def __new__(cls, model: TissueModel = None, reference: np.ndarray | None = None,
                formulation: str = "standard", **kwargs):
        # quadratic elements have their own nodes, so their own class (quadratic.py); every
        # caller that names a formulation gets the right one from FEMSystem(...)
        if cls is FEMSystem and formulation in QUADRATIC:
            from .quadratic import QuadraticSystem
            return super().__new__(QuadraticSystem)
        return super().__new__(cls)

    def __init__(self, model: TissueModel, reference: np.ndarray | None = None,
                 formulation: str = "standard", *, linear: str | LinearSolver = "auto",
                 linear_coords: np.ndarray | None = None):
        if formulation not in FORMULATIONS:
            raise ModelError(f"FEMSystem.formulation: expected one of {FORMULATIONS}, got {formulation!r}")
        self.model = model
        self.formulation = formulation
        n = model.n_nodes
        self.n_nodes = n
        self.ndof = 3 * n
        X = model.nodes if reference is None else np.asarray(reference, np.float64)
        if X.shape != (n, 3) or not np.isfinite(X).all():
            raise ModelError(f"FEMSystem.reference: expected finite ({n}, 3) coordinates")
        self.reference = X
        self.linear = linear if isinstance(linear, LinearSolver) else LinearSolver(
            linear, coords=X if linear_coords is None else linear_coords)

        # element e here is model tet order[e]; see partition_elements
        self.order, self.part_ptr, self.node_ptr = partition_elements(model.tets, n, max(get_num_threads(), 1))
        self.tets = np.ascontiguousarray(model.tets[self.order])

        self._material_tables(model)

        springs = model.springs
        node_pairs = springs.nodes[~springs.to_point] if len(springs) else None
        # a nodal patch or an edge's smoothing domain couples its nodes with each other: two rings
        self.nodal_pressure = formulation in NODAL_PRESSURE
        self.pattern = BlockPattern(node_adjacency(n, self.tets, node_pairs, 2 if self.nodal_pressure else 1))
        t = self.tets
        self.kpos = self.pattern.block_positions(np.repeat(t, 4, axis=1), np.tile(t, (1, 4)))
        self.spring_kpos = self._spring_positions()
        self.trusses = Trusses(springs)  # the model's own springs, assembled in every evaluation
        # patches of the averaged nodal pressure (their topology; "anp" only, see _build_patches)
        self.elem_patch = self.patch_key = self.patch_elems = self.patch_elem_ptr = None
        self.patch_node_ptr = self.patch_nodes = self.patch_kpos = None
        if self.nodal_pressure:
            self._build_patches()
        self.domains = EdgeDomains(self) if formulation == "es-anp" else None
        self._no_share = np.zeros(0)  # every element keeps all of its shear energy
        #: the bulk modulus each element keeps of its own, per material (kernels/smoothed.py,
        #: ELEMENT_BULK; set_reference); empty: none (the patches carry all of it)
        self.element_bulk = np.zeros(0)
        # what depends on the stress-free shape (set_reference)
        self.vol0 = self.vol_ref = self.dminv = self.hoff = self.lumped_mass = None
        self.growth: np.ndarray | None = None
        self.patch_V = self.patch_k = None
        self._shape_cache = None  # (reference, its volumes, its Dm^-1): what set_reference reuses
        self.set_reference(X)
        self._data: np.ndarray | None = None  # the tangent buffer, allocated on first use
        self._dirichlet_cache: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._element_cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    # -- reference-dependent data ---------------------------------------------------------------

    def set_reference(self, X: np.ndarray, growth: np.ndarray | None = None) -> None:
        """Recompute what depends on the stress-free shape (it remodels with age); the pattern
        stays. ``growth``, in model tet order, maps each element's reference shape to its
        stress-free shape: (M,) volume factors (0.8 = deflated by a fifth, the same in every
        direction) or (M,3,3) growth tensors Fg (thinning along a normal, creep). Neighbours
        that grow differently no longer fit together; the mismatch is residual stress."""
        self._element_shapes(X, growth)
        # lumped body force per unit gravity: a quarter of each element's mass to each node
        w = np.repeat(0.25 * self.vol0 * self.density[self.elem_mat], 4)
        self.lumped_mass = np.bincount(self.tets.ravel(), weights=w, minlength=self.n_nodes)
        if self.domains is not None:
            self.domains.average(self)
        if self.nodal_pressure:
            self.patch_V = np.bincount(self.elem_patch.ravel(), weights=np.repeat(0.25 * self.vol0, 4),
                                       minlength=len(self.patch_key))
            bulk = self.mat_par[:, 2]
            if self.domains is not None:
                self.element_bulk = np.minimum(bulk, ELEMENT_BULK * self.mat_mu)
                bulk = bulk - self.element_bulk
            self.patch_k = bulk[self.patch_key % len(self.mat_kind)]

    def _element_shapes(self, X: np.ndarray, growth: np.ndarray | None) -> None:
        """The reference ``X`` and, from its elements' corners, their volumes and inverse edge
        matrices before and after ``growth`` (and the growth term ``hoff``)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        cached = self._shape_cache is not None and np.array_equal(self._shape_cache[0], X)
        if not cached:  # an aging run keeps one reference and changes only the growth
            p = X[self.tets[:, :4]]
            Dm = np.transpose(p[:, 1:, :] - p[:, :1, :], (0, 2, 1))  # columns are edges
            vol = det3(Dm) / 6.0
            bad = ~(vol > 0)
            if bad.any():
                e = int(self.order[np.flatnonzero(bad)[0]])
                raise MeshError(f"{self.model.name}: reference tet {e} has volume {vol[bad][0]:.3e} m^3; expected > 0")
            self._shape_cache = (X.copy(), vol, inv3(Dm))
        self.reference = X
        self.vol_ref = self._shape_cache[1].copy()  # before growth
        self.vol0 = self.vol_ref.copy()
        self.dminv = self._shape_cache[2].copy()
        self.hoff = np.zeros((len(self.tets), 3, 3))
        self.growth = None
        if growth is not None:
            Fg = growth_tensors(growth, len(self.tets))
            self.growth = Fg
            Fg = Fg[self.order]
            Fg_inv = inv3(Fg)
            self.dminv = np.ascontiguousarray(self.dminv @ Fg_inv)
            self.vol0 = self.vol0 * det3(Fg)
            self.hoff = np.ascontiguousarray(Fg_inv - np.eye(3))

    def update_parameters(self, model: TissueModel) -> None:
        """Take new material parameters and spring properties (aging changes them) from a
        model with the same mesh and springs topology, keeping the pattern and partitions."""
        old = self.model
        same = (model.nodes.shape == old.nodes.shape and np.array_equal(model.tets, old.tets)
                and np.array_equal(model.tet_layer, old.tet_layer)
                and np.array_equal(model.springs.nodes, old.springs.nodes))
        if not same:
            raise ModelError(f"FEMSystem.update_parameters: {model.name} has another mesh or springs topology")
        self.model = model
        self._material_tables(model)
        self.trusses = Trusses(model.springs)
        self.set_reference(self.reference, self.growth)

    def _material_tables(self, model: TissueModel) -> None:
        """Per material (the layers present, in order): kernel kind and parameters, shear
        modulus, density; and each element's (system order) material index."""
        layers = sorted({int(v) for v in np.unique(model.tet_layer)})
        mats = [model.materials[lay] for lay in layers]
        lookup = np.full(max(layers) + 1, -1, np.int64)
        lookup[layers] = np.arange(len(layers))
        self.elem_mat = lookup[model.tet_layer[self.order].astype(np.int64)]
        params = [m.kernel_params() for m in mats]
        self.mat_kind = np.array([p[0] for p in params], np.int64)
        self.mat_par = np.array([p[1:] for p in params], np.float64)
        self.mat_mu = np.array([m.shear_modulus for m in mats])
        self.density = np.array([m.density for m in mats])

    def gravity_force(self, gravity: np.ndarray, growth: np.ndarray | None = None) -> np.ndarray:
        """Nodal body force (3N,) of the given gravity acceleration (m/s^2): the lumped mass of
        the current stress-free shape, or of the reference grown by ``growth`` (model order;
        a deflated pad weighs less)."""
        mass = self.lumped_mass
        if growth is not None:
            det = det3(growth_tensors(growth, len(self.tets)))[self.order]
            w = np.repeat(0.25 * self.vol_ref * det * self.density[self.elem_mat], 4)
            mass = np.bincount(self.tets.ravel(), weights=w, minlength=self.n_nodes)
        return (mass[:, None] * np.asarray(gravity, np.float64)[None, :]).ravel()

    # -- evaluation ----------------------------------------------------------------------------

    def evaluate(self, x: np.ndarray | None = None, want_tangent: bool = True,
                 constrained: np.ndarray | None = None, *, u: np.ndarray | None = None,
                 items: Sequence = ()) -> Evaluation:
        """Internal force, energy and tangent at positions ``x`` (N,3), or at displacements
        ``u`` (N,3) from the reference (exact for small ``u``, which positions far from the
        origin are not: the solver passes ``u``): the elements', the model's springs'
        (``self.trusses``) and those of the spring items in ``items`` (loads.py, e.g. CogSprings).

        With ``constrained`` dofs, their rows and columns of the tangent become identity rows
        and their force entries zero (the tangent stays symmetric positive definite).
        The tangent lives in a buffer this system reuses (a fresh 40 MB array per Newton
        iteration costs more in page faults than the assembly): it is valid until the next
        ``evaluate`` with a tangent; copy it to keep it.
        """
        if (x is None) == (u is None):
            raise ValueError("FEMSystem.evaluate: give exactly one of x (positions) or u (displacements)")
        u = np.ascontiguousarray(x - self.reference if u is None else u, dtype=np.float64)
        R = np.empty(self.ndof)
        data = self._tangent_buffer() if want_tangent else np.zeros(0)
        energy = 0.0
        inverted = 0
        qvol = np.zeros(0)
        if self.nodal_pressure:
            v, inverted = anp_k.patch_volumes(u, self.tets, self.dminv, self.hoff, self.vol0, self.elem_patch,
                                              self.part_ptr, len(self.patch_V))
            if inverted == 0:
                d1, d2, e_vol = anp_k.patch_pressures(v, self.patch_V, self.patch_k)
                energy += e_vol
                qvol = anp_k.element_pressure(self.elem_patch, d1)
        if inverted == 0:
            e_el, inverted = assemble(u, self.tets, self.dminv, self.hoff, self.vol0, self.mat_kind, self.mat_par,
                                      self.elem_mat, self.part_ptr, self.node_ptr, qvol, self.pattern.bptr,
                                      self.pattern.deg3, self.kpos, R, data, want_tangent,
                                      self._no_share if self.domains is None else self.domains.share,
                                      self.element_bulk)
            energy += e_el
        if inverted == 0 and self.domains is not None:
            e_sh, inverted = self.domains.assemble(self, u, R, data, want_tangent)
            energy += e_sh
        if inverted:
            R[:] = np.nan  # the assembly stopped part-way; nothing here is usable
            return Evaluation(R, np.inf, None, int(inverted))
        if self.nodal_pressure and want_tangent:
            anp_k.assemble_patch_tangent(u, self.tets, self.dminv, self.hoff, self.vol0, self.patch_elem_ptr,
                                         self.patch_elems, self.patch_node_ptr, self.patch_nodes,
                                         self.patch_kpos, self.patch_kpos_ptr, self.patch_order,
                                         self.patch_part_ptr, d2, self.patch_V, self.pattern.bptr,
                                         self.pattern.deg3, data)
        return self._finish(self.reference + u, R, data, energy, want_tangent, constrained, items)

    def _finish(self, x: np.ndarray, R: np.ndarray, data: np.ndarray, energy: float, want_tangent: bool,
                constrained: np.ndarray | None, items: Sequence) -> Evaluation:
        """The elements' force, tangent and energy at positions ``x`` completed: the model's
        springs and the spring ``items`` added, the constrained dofs decoupled."""
        for item in (self.trusses, *items):
            energy += item.assemble(self, x, R, data, want_tangent)
        if constrained is not None and len(constrained):
            zero_pos, diag_pos, dofs = self.dirichlet(constrained)
            apply_dirichlet(data if want_tangent else np.zeros(0), R, zero_pos if want_tangent else zero_pos[:0],
                            diag_pos if want_tangent else diag_pos[:0], dofs)
        K = self.pattern.matrix(data) if want_tangent else None
        return Evaluation(R, float(energy), K, 0)

    def _tangent_buffer(self) -> np.ndarray:
        if self._data is None:
            self._data = np.empty(self.pattern.nnz)
        return self._data

    def dirichlet(self, dofs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cached data positions that decouple the given constrained dofs."""
        dofs = np.unique(np.asarray(dofs, np.int64))
        key = dofs.tobytes()
        if key not in self._dirichlet_cache:
            zero_pos, diag_pos = self.pattern.dirichlet_positions(dofs)
            self._dirichlet_cache = {key: (zero_pos, diag_pos, dofs)}  # keep only the latest set
        return self._dirichlet_cache[key]

    def embedding_weights(self, bary: np.ndarray, whole: bool = False) -> np.ndarray:
        """(S, k): the weights of element_positions' nodes that give the points at barycentric
        ``bary`` (S, 4): the barycentric coordinates themselves for linear elements; with
        ``whole``, each element's volume mean position instead (its centroid, here)."""
        bary = np.asarray(bary, np.float64)
        return np.full_like(bary, 0.25) if whole else bary

    def all_positions(self, x: np.ndarray, internal: dict) -> np.ndarray:
        """(n_nodes, 3): every node's position in a state with node positions ``x`` and
        ``internal`` variables (quadratic elements add their midsides)."""
        return np.asarray(x, np.float64)

    def embedded_points(self, x: np.ndarray, internal: dict, tets: np.ndarray, bary: np.ndarray,
                        whole: bool = False) -> np.ndarray:
        """(S, 3): where the points at barycentric ``bary`` (S, 4) of elements ``tets`` (model
        order) are in the state (``x``, ``internal``), by the elements' own shape functions
        (``whole``: the elements' volume means, see embedding_weights)."""
        nodes, _ = self.element_positions(tets)
        w = self.embedding_weights(bary, whole)
        return np.einsum("sa,sai->si", w, self.all_positions(x, internal)[nodes])

    def element_positions(self, tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nodes (S,k) of elements ``tets`` (model order: k = 4 corners, or 10 with midsides)
        and the block positions (S,k*k) of their node pairs (a, b) at k a + b; cached for the
        latest ``tets`` (a lift solves many times with the same cogs)."""
        tets = np.asarray(tets, np.int64)
        key = tets.tobytes()
        if key not in self._element_cache:
            nodes = self._element_nodes(tets)
            k = nodes.shape[1]
            kpos = self.pattern.block_positions(np.repeat(nodes, k, axis=1).ravel(),
                                                np.tile(nodes, (1, k)).ravel()).reshape(-1, k * k)
            self._element_cache = {key: (nodes, kpos)}  # keep only the latest set
        return self._element_cache[key]

    def _element_nodes(self, tets: np.ndarray) -> np.ndarray:
        return self.model.tets[tets]

    # -- set-up helpers -----------------------------------------------------------------------

    def _spring_positions(self) -> np.ndarray:
        s = self.model.springs
        kpos = np.zeros((len(s), 4), np.int64)
        if len(s):
            A = s.nodes[:, 0]
            B = np.where(s.nodes[:, 1] >= 0, s.nodes[:, 1], A)  # to-point springs use (A, A) only
            kpos[:, 0] = self.pattern.block_positions(A, A)
            kpos[:, 1] = self.pattern.block_positions(A, B)
            kpos[:, 2] = self.pattern.block_positions(B, A)
            kpos[:, 3] = self.pattern.block_positions(B, B)
        return kpos

    def _build_patches(self) -> None:
        """Patches are (node, material) pairs; see kernels/anp.py. Only their topology here:
        their volumes and bulk moduli follow the reference and materials (set_reference)."""
        nm = len(self.mat_kind)
        key = self.tets * nm + self.elem_mat[:, None]
        uniq, inv = np.unique(key.ravel(), return_inverse=True)
        self.elem_patch = inv.reshape(-1, 4).astype(np.int64)
        n_p = len(uniq)
        self.patch_key = uniq
        # elements of each patch
        flat_p = self.elem_patch.ravel()
        flat_e = np.repeat(np.arange(len(self.tets)), 4)
        o = np.argsort(flat_p, kind="stable")
        self.patch_elems = flat_e[o]
        self.patch_elem_ptr = np.searchsorted(flat_p[o], np.arange(n_p + 1)).astype(np.int64)
        # support nodes of each patch (sorted), and the block positions of all their pairs
        inc = sp.csr_matrix((np.ones(len(o)), self.patch_elems, self.patch_elem_ptr), shape=(n_p, len(self.tets)))
        elem_nodes = sp.csr_matrix((np.ones(4 * len(self.tets)), self.tets.ravel(),
                                    np.arange(0, 4 * len(self.tets) + 1, 4)), shape=(len(self.tets), self.n_nodes))
        sup = (inc @ elem_nodes).tocsr()
        sup.sort_indices()
        self.patch_node_ptr = sup.indptr.astype(np.int64)
        self.patch_nodes = sup.indices.astype(np.int64)
        self.patch_kpos_ptr, self.patch_kpos = self.pattern.pair_positions(self.patch_node_ptr, self.patch_nodes)
        # patches grouped over disjoint node ranges, as the elements, for a parallel tangent
        self.patch_order, self.patch_part_ptr, _ = partition_groups(
            self.patch_nodes[self.patch_node_ptr[:-1]], self.patch_nodes[self.patch_node_ptr[1:] - 1],
            self.n_nodes, len(self.part_ptr) - 2)

