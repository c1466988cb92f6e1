"""The mass-spring core: a TissueModel as springs on its mesh edges, a volume term, ligaments
and lumped masses. Integrators and the static solver are in integrators.py.

Calibration (how the springs get their stiffness)
-------------------------------------------------
A lattice of central springs obeys the Cauchy relations: an isotropic one has Poisson's
ratio exactly 1/4, whatever the stiffnesses. Following Golec et al. 2020 ("Hybrid 3D
mass-spring system for simulation of isotropic materials with any Poisson's ratio", The
Visual Computer 36:809), the springs carry the shear and a volume term U = b/2 V (J - 1)^2
carries the rest of the bulk modulus, so that any Poisson's ratio up to 1/2 is reachable.

The springs are identified per tetrahedron from the isotropic linear elastic reference, as
Lloyd, Szekely and Harders 2007 (IEEE TVCG 13:1081) propose, in edge-strain space: a tet's
six edge strains s_q = n_q . eps n_q determine its homogeneous strain eps (s = B eps, B
invertible for any non-flat tet), so the element's deviatoric energy 1/2 V eps:C_dev:eps
(C_dev = 2 mu (I - 1/3 d d)) is a quadratic form 1/2 s^T M s with M = V B^-T C_dev B^-1.
Springs store 1/2 sum_q k_q l_q^2 s_q^2, a diagonal form; the springs take its diagonal,
k_q l_q^2 = M_qq: the element's stiffness against a change of edge q's length alone. M_qq >= 0
always. A spring's stiffness is the sum over the tets sharing its edge. The springs' own bulk
modulus in a tet is sum_q k_q l_q^2 / (9 V); the tet's volume modulus b = K - that (clamped at
0) restores the material's bulk modulus K exactly.

What a diagonal form cannot hold (the couplings between edges) is the lattice's error. Other
identifications were measured against the FEM core and rejected (docs/springs.md): the least-
squares fit of the elasticity tensor leaves the face's flat tets 4-26 % of their transverse
shear stiffness (the face under gravity then sags 4 times too far), the compliance diagonal
1/(M^-1)_qq is too soft everywhere, their geometric mean is right on a cube but twice too
soft on thin layers. The edge-space diagonal is 15-30 % too stiff on layered meshes, the
best of them there.

The volume term is taken per patch: by default the tets of one layer around a node (``volume
= "nodal"``, the averaged nodal pressure the FEM core's "anp" formulation uses, so that nearly
incompressible layers do not lock), or each tet alone (``"tet"``). Its patch volumes are
current volumes, so a collapsing tetrahedron is pushed back (a spring lattice alone lets a tet
flatten through a plane at little cost).

Masses are lumped: a quarter of each tet's mass rho V to each of its corners (the FEM core's
gravity load uses the same masses). Ligaments are the model's tension-only springs, as they are.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import get_num_threads, set_num_threads
from scipy.sparse.csgraph import reverse_cuthill_mckee
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from ...errors import ModelError
from ...model import Loads, TissueModel, tet_volumes
from ..truss import assemble_springs
from .kernels import forces as K
from .kernels.bands import Bands, band_layout, build_bands

_PAIRS = np.array([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])

#: springs + tets from which the kernels run on all threads (below: one thread)
PARALLEL_MIN_ITEMS = 50_000

#: the banded layout (kernels/bands.py): an offset is a band when at least this share
#: of the nodes has a spring of it (the rest of the band is padding, read for nothing), and
#: "auto" takes the layout when bands hold at least BAND_MIN_SHARE of the springs
BAND_MIN_FILL = 0.5
BAND_MIN_SHARE = 0.75
LAYOUTS = ("auto", "bands", "rows")

#: Rayleigh mass-proportional damping of face soft tissue, 40 1/s (quoted in ArtiSynth
#: BadinFaceDemo.java from Buchaillard 2009; tissue_parameters.csv). The default damping rate
#: (c / m) of dynamic runs; static solves do not depend on it.
FACE_DAMPING_RATE = 40.0


# --------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------

def _strain_basis() -> tuple[np.ndarray, np.ndarray]:
    """Six symmetric basis strains E_a (eps = sum_a e_a E_a: e = eps11, eps22, eps33, eps23,
    eps13, eps12) and the deviatoric elasticity per unit shear modulus in that basis."""
    E = np.zeros((6, 3, 3))
    for a, (i, j) in enumerate([(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]):
        E[a, i, j] = E[a, j, i] = 1.0
    tr = np.trace(E, axis1=1, axis2=2)
    C = 2.0 * np.einsum("aij,bij->ab", E, E) - (2.0 / 3.0) * np.outer(tr, tr)
    return E, C


def tet_edge_weights(nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Weights w (M,6) = k l^2 per unit shear modulus of each tet's six edges (order of
    ``_PAIRS``): the diagonal of the element's deviatoric energy in edge-strain space."""
    p = nodes[tets]
    e = p[:, _PAIRS[:, 1]] - p[:, _PAIRS[:, 0]]
    n = e / np.linalg.norm(e, axis=2, keepdims=True)
    E, C = _strain_basis()
    B = np.einsum("mqi,mqj,aij->mqa", n, n, E)  # edge strains from strain components
    Binv = np.linalg.inv(B)
    vol = np.abs(tet_volumes(nodes, tets))
    return vol[:, None] * np.einsum("maq,ab,mbq->mq", Binv, C, Binv)


def unique_edges(tets: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """The unique edges (E,2) (lower index first, sorted) of a tet mesh, and the edge index of
    each tet's six edges (M,6)."""
    e = np.sort(tets[:, _PAIRS].reshape(-1, 2), axis=1).astype(np.int64)
    key = e[:, 0] * n_nodes + e[:, 1]
    uniq, inverse = np.unique(key, return_inverse=True)
    edges = np.stack([uniq // n_nodes, uniq % n_nodes], axis=1)
    return edges, inverse.reshape(-1, 6)


def calibrated_springs(nodes: np.ndarray, tets: np.ndarray, shear_modulus: np.ndarray):
    """Edge springs of a tet mesh calibrated to per-tet shear moduli (Pa): edges (E,2),
    stiffness (E,) N/m, rest length (E,) m, and each tet's springs' bulk modulus (M,) Pa."""
    edges, which = unique_edges(tets, len(nodes))
    rest = np.linalg.norm(nodes[edges[:, 1]] - nodes[edges[:, 0]], axis=1)
    w = tet_edge_weights(nodes, tets) * np.asarray(shear_modulus, np.float64)[:, None]
    k = np.bincount(which.ravel(), weights=(w / rest[which] ** 2).ravel(), minlength=len(edges))
    spring_bulk = w.sum(axis=1) / (9.0 * np.abs(tet_volumes(nodes, tets)))
    return edges, k, rest, spring_bulk


# --------------------------------------------------------------------------------------------
# the system
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpringOptions:
    """How a TissueModel becomes springs. ``volume``: "nodal" (patches of one layer around a
    node), "tet" or "none". ``reorder``: "auto" (the mesh's own order where it makes bands,
    else reverse Cuthill-McKee where that narrows the node bandwidth), "rcm" or "none".
    ``damping_rate``: c/m of dynamic runs, 1/s. ``layout`` of the explicit step: "bands"
    (vector loops, for structured meshes in their own order), "rows" (scattered rows) or
    "auto" (bands where they hold most springs)."""

    volume: str = "nodal"
    reorder: str = "auto"
    damping_rate: float = FACE_DAMPING_RATE
    layout: str = "auto"

    def __post_init__(self) -> None:
        if self.volume not in ("nodal", "tet", "none"):
            raise ModelError(f"SpringOptions.volume: expected 'nodal', 'tet' or 'none', got {self.volume!r}")
        if self.reorder not in ("auto", "rcm", "none"):
            raise ModelError(f"SpringOptions.reorder: expected 'auto', 'rcm' or 'none', got {self.reorder!r}")
        if self.layout not in LAYOUTS:
            raise ModelError(f"SpringOptions.layout: expected one of {LAYOUTS}, got {self.layout!r}")
        if not (np.isfinite(self.damping_rate) and self.damping_rate >= 0):
            raise ModelError(f"SpringOptions.damping_rate: expected a rate >= 0 1/s, got {self.damping_rate!r}")


@dataclass
class Ligaments:
    """Springs outside the lattice (model order): node pairs (-1: to ``anchors``)."""

    nodes: np.ndarray
    anchors: np.ndarray
    stiffness: np.ndarray
    rest: np.ndarray
    tension_only: np.ndarray

    @classmethod
    def empty(cls) -> Ligaments:
        return cls(np.zeros((0, 2), np.int64), np.zeros((0, 3)), np.zeros(0), np.zeros(0), np.zeros(0, bool))


@dataclass
class VolumeTerm:
    """Tets (M,4), each corner's patch (M,4), and per patch its reference volume (m^3) and
    modulus b (Pa). Model node numbering."""

    tets: np.ndarray
    tet_patch: np.ndarray
    patch_volume: np.ndarray
    patch_modulus: np.ndarray


def _check_nonneg(owner: str, name: str, arr: np.ndarray, unit: str) -> None:
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ModelError(f"{owner}.{name}: expected finite values, entry {i} is {arr[i]}")
    if (arr < 0).any():
        i = int(np.flatnonzero(arr < 0)[0])
        raise ModelError(f"{owner}.{name}: expected >= 0 {unit}, entry {i} has {arr[i]}")


class SpringSystem:
    """The arrays the spring kernels read, in the kernels' node order.

    Build one from a TissueModel with :meth:`from_model`, or from plain arrays (a lattice of
    edges with stiffness and rest length, masses, fixed nodes) with the constructor. Public
    methods take and return positions in the caller's (model) node order; attributes with a
    leading ``k_`` are in the kernels' order (``perm[i]`` is the model node of kernel node i).
    """

    def __init__(self, nodes, edges, stiffness, rest, mass, fixed=(), *, volume: VolumeTerm | None = None,
                 ligaments: Ligaments | None = None, gravity=(0.0, 0.0, 0.0), damping_rate: float = 0.0,
                 reorder: str = "auto", layout: str = "auto", name: str = "springs"):
        o = "SpringSystem"
        self.name = name
        X = np.ascontiguousarray(nodes, np.float64)
        n = len(X)
        if X.ndim != 2 or X.shape[1] != 3 or not np.isfinite(X).all():
            raise ModelError(f"{o}.nodes: expected finite (N, 3) coordinates")
        edges = np.asarray(edges, np.int64).reshape(-1, 2)
        k = np.asarray(stiffness, np.float64).reshape(-1)
        rest = np.asarray(rest, np.float64).reshape(-1)
        mass = np.asarray(mass, np.float64).reshape(-1)
        if len(k) != len(edges) or len(rest) != len(edges):
            raise ModelError(f"{o}.stiffness: expected one stiffness and rest length per edge ({len(edges)})")
        _check_nonneg(o, "stiffness", k, "N/m")
        _check_nonneg(o, "rest", rest, "m")
        if len(mass) != n or not (np.isfinite(mass).all() and (mass > 0).all()):
            raise ModelError(f"{o}.mass: expected ({n},) masses > 0 kg")
        if len(edges) and ((edges < 0).any() or (edges >= n).any() or (edges[:, 0] == edges[:, 1]).any()):
            raise ModelError(f"{o}.edges: expected pairs of distinct node indices in [0, {n})")
        fixed = np.unique(np.asarray(fixed, np.int64).reshape(-1))
        if len(fixed) and (fixed[0] < 0 or fixed[-1] >= n):
            raise ModelError(f"{o}.fixed: expected node indices in [0, {n})")
        self.n_nodes = n
        self.reference = X
        self.mass = mass
        self.fixed = fixed
        self.gravity = np.asarray(gravity, np.float64).reshape(3)
        self.damping_rate = float(damping_rate)
        self.edges, self.stiffness, self.rest = edges, k, rest
        self.volume = volume
        self.spring_bulk: np.ndarray | None = None  # per tet, the bulk modulus its springs give (from_model)
        self.ligaments = ligaments or Ligaments.empty()
        _check_nonneg(o, "ligaments.stiffness", self.ligaments.stiffness, "N/m")
        _check_nonneg(o, "ligaments.rest", self.ligaments.rest, "m")
        ln = np.asarray(self.ligaments.nodes, np.int64).reshape(-1, 2)
        if len(ln) and ((ln[:, 0] < 0) | (ln >= n).any(axis=1) | (ln[:, 1] < -1)).any():
            raise ModelError(f"{o}.ligaments.nodes: expected node indices in [0, {n}) (-1: to the anchor point)")

        if layout not in LAYOUTS:
            raise ModelError(f"{o}.layout: expected one of {LAYOUTS}, got {layout!r}")
        # node order: narrow bandwidth, so that slabs of consecutive nodes can work in parallel;
        # a structured mesh keeps its own order where that makes bands (kernels/bands.py)
        tets = volume.tets if volume is not None else np.zeros((0, 4), np.int64)
        if layout != "rows" and reorder == "auto" and len(edges) and \
                _band_share(np.sort(edges, axis=1), n) >= BAND_MIN_SHARE:
            reorder = "none"
        self.perm = _node_order(n, edges, tets, reorder)
        self.iperm = np.empty(n, np.int64)
        self.iperm[self.perm] = np.arange(n)
        ke = self.iperm[edges] if len(edges) else edges
        ke = np.sort(ke, axis=1)
        kt = self.iperm[tets] if len(tets) else tets
        span = max(int((ke[:, 1] - ke[:, 0]).max()) if len(ke) else 0,
                   int((kt.max(axis=1) - kt.min(axis=1)).max()) if len(kt) else 0)
        self.width = max(span, 1)
        self.n_slabs = max(1, -(-n // self.width))
        # items of a slab: by lowest node; within a slab by lowest then highest node (locality)
        eo = np.lexsort((ke[:, 1], ke[:, 0])) if len(ke) else np.zeros(0, np.int64)
        self.edge_order = eo
        self.k_a = np.ascontiguousarray(ke[eo, 0], np.int32)
        self.k_b = np.ascontiguousarray(ke[eo, 1], np.int32)
        self.k_stiffness = np.ascontiguousarray(k[eo])
        self.k_rest = np.ascontiguousarray(rest[eo])
        # the springs of kernel node i (its partners above it): k_b[k_row_ptr[i]:k_row_ptr[i+1]]
        self.k_row_ptr = np.concatenate([[0], np.cumsum(np.bincount(self.k_a, minlength=n))]).astype(np.int64)
        self._set_bands(layout)
        self.k_X = np.ascontiguousarray(X[self.perm])
        self.k_mass = np.ascontiguousarray(mass[self.perm])
        inv_m = 1.0 / self.k_mass
        inv_m[self.iperm[fixed]] = 0.0
        self.k_inv_m = inv_m  # 0 on fixed nodes
        self._set_volume(volume, kt)
        L = self.ligaments
        self.k_lig_nodes = np.where(L.nodes >= 0, self.iperm[np.maximum(L.nodes, 0)], -1).astype(np.int64) \
            if len(L.stiffness) else np.zeros((0, 2), np.int64)
        # below ~5e4 springs and tets a step takes microseconds: a parallel region's start and
        # barrier would cost more than the work (and much more on cores shared with other work)
        self.threads = get_num_threads() if self.n_springs + len(self.k_tets) >= PARALLEL_MIN_ITEMS else 1
        self._lig_dummy = (np.zeros((len(L.stiffness), 4), np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64),
                           np.zeros(0))

    # -- construction from a model ----------------------------------------------------------

    @classmethod
    def from_model(cls, model: TissueModel, options: SpringOptions | None = None,
                   reference: np.ndarray | None = None) -> SpringSystem:
        """The calibrated spring model of ``model`` (see the module docstring); ``reference``:
        the stress-free configuration (default: the model's nodes)."""
        opts = options or SpringOptions()
        X = model.nodes if reference is None else np.asarray(reference, np.float64)
        if X.shape != model.nodes.shape or not np.isfinite(X).all():
            raise ModelError(f"SpringSystem.reference: expected finite {model.nodes.shape} coordinates")
        tets = model.tets
        layers = model.tet_layer.astype(np.int64)
        moduli = {int(lay): (float(m.shear_modulus), float(m.bulk_modulus)) for lay, m in model.materials.items()}
        vol = tet_volumes(X, tets)
        if (vol <= 0).any():
            raise ModelError(f"SpringSystem.reference: tet {int(np.flatnonzero(vol <= 0)[0])} has a volume <= 0")
        edges, k, rest, spring_bulk = calibrated_springs(X, tets, np.array([moduli[int(v)][0] for v in layers]))
        rho = np.array([model.materials[int(v)].density for v in layers])
        mass = np.bincount(tets.ravel(), weights=np.repeat(0.25 * vol * rho, 4), minlength=model.n_nodes)
        volume = None
        if opts.volume != "none":
            # the volume term restores each tet's bulk modulus (a lattice cannot go below
            # Poisson's ratio 1/4: where the springs alone are stiffer in bulk, b = 0)
            b_t = np.maximum(0.0, np.array([moduli[int(v)][1] for v in layers]) - spring_bulk)
            if opts.volume == "tet":
                tet_patch = np.repeat(np.arange(len(tets))[:, None], 4, axis=1)
                pv, pb = vol.copy(), b_t
            else:
                key = tets * (int(layers.max()) + 1) + layers[:, None]
                uniq, inv = np.unique(key.ravel(), return_inverse=True)
                tet_patch = inv.reshape(-1, 4)
                pv = np.bincount(tet_patch.ravel(), weights=np.repeat(0.25 * vol, 4), minlength=len(uniq))
                # a patch's modulus: the volume average of its tets' (one layer: nearly one value)
                pb = np.bincount(tet_patch.ravel(), weights=np.repeat(0.25 * vol * b_t, 4), minlength=len(uniq)) / pv
            if (pb > 0).any():
                volume = VolumeTerm(tets, tet_patch, pv, pb)
        s = model.springs
        lig = Ligaments(s.nodes.copy(), s.anchors.copy(), s.stiffness.copy(), s.rest_length.copy(),
                        s.tension_only.copy())
        system = cls(X, edges, k, rest, mass, model.fixed, volume=volume, ligaments=lig, gravity=model.gravity,
                     damping_rate=opts.damping_rate, reorder=opts.reorder, layout=opts.layout,
                     name=f"{model.name} (springs)")
        system.spring_bulk = spring_bulk
        return system

    def _set_bands(self, layout: str) -> None:
        """self.layout, and self.bands (kernels/bands.py) when it is "bands"."""
        self.bands: Bands | None = None
        self.layout = "rows"
        if layout == "rows":
            return
        bands = build_bands(self.k_a.astype(np.int64), self.k_b, self.k_stiffness, self.k_rest, self.n_nodes,
                            BAND_MIN_FILL)
        if layout == "bands" or bands.share >= BAND_MIN_SHARE:
            self.layout, self.bands = "bands", bands

    def _set_volume(self, volume: VolumeTerm | None, kt: np.ndarray) -> None:
        if volume is None or len(kt) == 0:
            self.k_tets = np.zeros((0, 4), np.int32)
            self.k_tet_ptr = np.zeros(self.n_slabs + 1, np.int64)
            self.k_tet_patch = np.zeros((0, 4), np.int32)
            self.k_patch_ptr = np.zeros(1, np.int64)
            self.k_patch_tets = np.zeros(0, np.int32)
            self.patch_volume = np.zeros(0)
            self.patch_modulus = np.zeros(0)
            self._vt = self._vp = self._ptet = self._qtet = np.zeros(0)
            return
        lo = kt.min(axis=1)
        to = np.lexsort((kt.max(axis=1), lo))
        self.tet_order = to
        self.k_tets = np.ascontiguousarray(kt[to], np.int32)
        self.k_tet_ptr = np.searchsorted(lo[to] // self.width, np.arange(self.n_slabs + 1)).astype(np.int64)
        self.k_tet_patch = np.ascontiguousarray(volume.tet_patch[to], np.int32)
        P = len(volume.patch_volume)
        flat = self.k_tet_patch.ravel()
        order = np.argsort(flat, kind="stable")
        self.k_patch_tets = np.ascontiguousarray(order // 4, np.int32)
        self.k_patch_ptr = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=P))]).astype(np.int64)
        self.patch_volume = np.asarray(volume.patch_volume, np.float64)
        self.patch_modulus = np.asarray(volume.patch_modulus, np.float64)
        m = len(kt)
        self._vt, self._vp = np.empty(m), np.empty(P)
        self._ptet, self._qtet = np.empty(m), np.empty(m)

    # -- sizes and conversions --------------------------------------------------------------

    @contextmanager
    def threading(self):
        """Run the kernels inside on ``self.threads`` threads."""
        before = get_num_threads()
        if before == self.threads:
            yield
            return
        set_num_threads(min(self.threads, before) if self.threads > 1 else 1)
        try:
            yield
        finally:
            set_num_threads(before)

    @property
    def n_springs(self) -> int:
        return len(self.k_a)

    def to_kernel(self, x: np.ndarray) -> np.ndarray:
        """Positions (N,3) in model order -> the kernels' order (a new C-contiguous array)."""
        return np.ascontiguousarray(np.asarray(x, np.float64)[self.perm])

    def to_model(self, xk: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(xk[self.iperm])

    def check_positions(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        x = np.asarray(x, np.float64)
        if x.shape != (self.n_nodes, 3):
            raise ModelError(f"{self.name}.{name}: expected shape ({self.n_nodes}, 3), got {x.shape}")
        if not np.isfinite(x).all():
            i = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            raise ModelError(f"{self.name}.{name}: expected finite positions, node {i} is {x[i].tolist()}")
        return x

    def external_force(self, loads: Loads | None = None) -> np.ndarray:
        """Gravity on the lumped masses plus nodal forces (N,3), kernels' order."""
        loads = loads or Loads()
        f = self.k_mass[:, None] * (self.gravity * loads.gravity_scale)[None, :]
        if loads.nodal_forces is not None:
            f = f + np.asarray(loads.nodal_forces, np.float64)[self.perm]
        return np.ascontiguousarray(f)

    # -- volume coefficients ----------------------------------------------------------------

    def _pressures(self, xk: np.ndarray) -> None:
        """Per-tet force coefficients P_t = sum_c b_c (J_c - 1)/4 into self._ptet."""
        K.tet_volumes(xk, self.k_tets, self._vt)
        K.patch_sums(self._vt, self.k_patch_ptr, self.k_patch_tets, self._vp)
        K.tet_averages(self.patch_modulus * (self._vp / self.patch_volume - 1.0), self.k_tet_patch, self._ptet)

    @property
    def has_volume(self) -> bool:
        return len(self.k_tets) > 0

    # -- forces, energy, Hessian (kernels' order) -------------------------------------------

    def ligament_forces(self, xk: np.ndarray, F: np.ndarray) -> float:
        """Add the ligament forces to F (kernels' order); return their energy."""
        L = self.ligaments
        if not len(L.stiffness):
            return 0.0
        R = np.zeros(3 * self.n_nodes)
        kpos, bptr, deg3, data = self._lig_dummy
        e = assemble_springs(xk, self.k_lig_nodes, L.anchors, L.stiffness, L.rest, L.tension_only,
                             kpos, bptr, deg3, R, data, False)
        F -= R.reshape(-1, 3)
        return float(e)

    def kernel_forces(self, xk: np.ndarray, F: np.ndarray | None = None) -> np.ndarray:
        """Internal force (springs, volume term, ligaments) at kernel-ordered positions."""
        with self.threading():
            return self._kernel_forces(xk, F)

    def _kernel_forces(self, xk, F):
        if F is None:
            F = np.zeros_like(xk)
        else:
            F[:] = 0.0
        self.ligament_forces(xk, F)
        if self.has_volume:
            self._pressures(xk)
        for phase in (0, 1):
            K.slab_forces(xk, F, phase, self.width, self.k_row_ptr, self.k_b, self.k_stiffness, self.k_rest,
                          self.k_tet_ptr, self.k_tets, self._ptet)
        return F

    def kernel_energy(self, xk: np.ndarray) -> float:
        with self.threading():
            return self._kernel_energy(xk)

    def _kernel_energy(self, xk):
        e = float(K.spring_energy(xk, self.k_a, self.k_b, self.k_stiffness, self.k_rest)) if self.n_springs else 0.0
        if self.has_volume:
            K.tet_volumes(xk, self.k_tets, self._vt)
            K.patch_sums(self._vt, self.k_patch_ptr, self.k_patch_tets, self._vp)
            e += float(0.5 * np.sum(self.patch_modulus * self.patch_volume * (self._vp / self.patch_volume - 1.0) ** 2))
        if len(self.ligaments.stiffness):
            e += self.ligament_forces(xk, np.zeros_like(xk))
        return e

    def kernel_hessvec(self, xk: np.ndarray, w: np.ndarray, project: bool = True) -> np.ndarray:
        """H w, H the Hessian of the stored energy at kernel-ordered positions. ``project``:
        the positive semi-definite part (compressed springs' transverse term and the volume
        term's second derivative dropped), what CG needs."""
        with self.threading():
            return self._kernel_hessvec(xk, w, project)

    def _kernel_hessvec(self, xk, w, project):
        out = np.zeros_like(xk)
        if self.has_volume:
            self._pressures(xk)
            K.tet_gradient_dot(xk, w, self.k_tets, self._vt)
            K.patch_sums(self._vt, self.k_patch_ptr, self.k_patch_tets, self._vp)
            K.tet_averages(self.patch_modulus / self.patch_volume * self._vp, self.k_tet_patch, self._qtet)
        for phase in (0, 1):
            K.slab_hessvec(xk, w, out, phase, self.width, self.k_row_ptr, self.k_a, self.k_b, self.k_stiffness,
                           self.k_rest, self.k_tet_ptr, self.k_tets, self._qtet, self._ptet, project)
        L = self.ligaments
        if len(L.stiffness):
            K.point_spring_hessvec(xk, w, self.k_lig_nodes, L.anchors, L.stiffness, L.rest, L.tension_only, out)
        return out

    # -- the same in model order ------------------------------------------------------------

    def forces(self, x: np.ndarray) -> np.ndarray:
        """Internal force (N,3) at positions ``x`` (model order), N."""
        return self.to_model(self.kernel_forces(self.to_kernel(self.check_positions(x))))

    def energy(self, x: np.ndarray) -> float:
        """Stored energy at positions ``x`` (model order), J."""
        return self.kernel_energy(self.to_kernel(self.check_positions(x)))

    def hessvec(self, x: np.ndarray, w: np.ndarray, project: bool = False) -> np.ndarray:
        """Hessian of the stored energy at ``x`` times ``w`` (model order)."""
        return self.to_model(self.kernel_hessvec(self.to_kernel(self.check_positions(x)), self.to_kernel(w), project))

    # -- stiffness bounds and time steps ----------------------------------------------------

    def stiffness_bound(self) -> np.ndarray:
        """Per node (kernels' order) an upper bound of the block row sum of the Hessian at the
        reference (block Gershgorin): what a node's stable step and a fictitious mass need."""
        n = self.n_nodes
        G = np.bincount(self.k_a, weights=2 * self.k_stiffness, minlength=n) \
            + np.bincount(self.k_b, weights=2 * self.k_stiffness, minlength=n)
        L = self.ligaments
        if len(L.stiffness):
            two = L.nodes[:, 1] >= 0
            G += np.bincount(self.k_lig_nodes[:, 0], weights=np.where(two, 2, 1) * L.stiffness, minlength=n)
            G += np.bincount(self.k_lig_nodes[two, 1], weights=2 * L.stiffness[two], minlength=n)
        if self.has_volume:
            X = self.k_X
            t = self.k_tets.astype(np.int64)
            g = np.zeros((len(t), 4, 3))
            # dv/dx of each tet at the reference (the formula of K._volume_gradient, vectorised)
            a, b, c = (X[t[:, i]] - X[t[:, 0]] for i in (1, 2, 3))
            g[:, 1] = np.cross(b, c) / 6.0
            g[:, 2] = np.cross(c, a) / 6.0
            g[:, 3] = np.cross(a, b) / 6.0
            g[:, 0] = -g[:, 1:].sum(axis=1)
            P = len(self.patch_volume)
            rows = np.repeat(self.k_tet_patch.astype(np.int64), 4, axis=1).ravel()   # (patch of corner c', node a)
            cols = np.tile(t, (1, 4)).ravel()
            blocks = [sp.csr_matrix((0.25 * np.tile(g[:, :, q], (1, 4)).ravel(), (rows, cols)), shape=(P, n))
                      for q in range(3)]
            for B in blocks:
                B.sum_duplicates()
            norm = np.sqrt(blocks[0].data ** 2 + blocks[1].data ** 2 + blocks[2].data ** 2)
            Nm = sp.csr_matrix((norm, blocks[0].indices, blocks[0].indptr), shape=(P, n))
            rowsum = np.asarray(Nm.sum(axis=1)).ravel() * self.patch_modulus / self.patch_volume
            G += np.asarray(Nm.T @ rowsum).ravel()
        return G

    def max_frequency(self, xk: np.ndarray | None = None, tol: float = 1e-3) -> float:
        """Largest angular frequency sqrt(lambda_max(M^-1 H)) of the free nodes (rad/s), by
        Lanczos on M^-1/2 H M^-1/2 with the projected Hessian at ``xk`` (default reference)."""
        xk = self.k_X if xk is None else xk
        s = np.repeat(np.sqrt(self.k_inv_m), 3)  # 0 on fixed nodes
        n3 = 3 * self.n_nodes

        def mv(v):
            w = (s * v.ravel()).reshape(-1, 3)
            return s * self.kernel_hessvec(xk, w, project=True).ravel()

        if not s.any():
            return 0.0
        op = LinearOperator((n3, n3), matvec=mv, dtype=np.float64)
        v0 = np.random.default_rng(0).standard_normal(n3) * (s > 0)
        try:
            lam = eigsh(op, k=1, which="LA", tol=tol, v0=v0, maxiter=max(300, n3 // 10), return_eigenvectors=False)[0]
        except ArpackNoConvergence as exc:  # the bound then: never an unsafe step
            lam = exc.eigenvalues[0] if len(exc.eigenvalues) else float(np.max(self.stiffness_bound() * self.k_inv_m))
        return float(np.sqrt(max(lam, 0.0) * (1.0 + 10 * tol)))

    def stable_time_step(self, damping_rate: float | None = None, theta: float = 0.0,
                         xk: np.ndarray | None = None) -> float:
        """The largest stable step of the explicit integrators (s): for the oscillator of the
        highest frequency w with damping rate g, explicit damping (theta = 0, symplectic
        Euler) is stable for h < (sqrt(g^2 + 4 w^2) - g) / w^2, trapezoidal damping (theta =
        1/2, velocity Verlet) for h < 2 / w."""
        w = self.max_frequency(xk)
        if w == 0.0:
            return np.inf
        g = self.damping_rate if damping_rate is None else float(damping_rate)
        if theta > 0.0:
            return 2.0 / w
        return (np.sqrt(g * g + 4.0 * w * w) - g) / (w * w)


def _band_share(sorted_edges: np.ndarray, n: int) -> float:
    """The share of the springs the bands would hold in the given node order."""
    _, which = band_layout(sorted_edges[:, 0], sorted_edges[:, 1], n, BAND_MIN_FILL)
    return float((which >= 0).mean()) if len(which) else 0.0


def _node_order(n: int, edges: np.ndarray, tets: np.ndarray, how: str) -> np.ndarray:
    """A node permutation (kernel node i is model node perm[i])."""
    ident = np.arange(n)
    if how == "none" or n < 3 or len(edges) == 0:
        return ident
    A = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    A = (A + A.T).tocsr()
    perm = np.asarray(reverse_cuthill_mckee(A, symmetric_mode=True), np.int64)
    if how == "rcm":
        return perm

    def bandwidth(p):
        inv = np.empty(n, np.int64)
        inv[p] = np.arange(n)
        e = inv[edges]
        return int(np.abs(e[:, 1] - e[:, 0]).max())

    return perm if bandwidth(perm) < 0.9 * bandwidth(ident) else ident
