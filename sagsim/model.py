"""TissueModel and State: the one data structure every part of sagsim shares.

A TissueModel is data, validated once on construction and not changed afterwards; a solver
reads it and returns a new State. Coordinates are metres. The axes: x lateral (towards the
patient's left), y superior (up), z anterior (out of the face); upright gravity is -y.
"""
from __future__ import annotations

from functools import cached_property
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Mapping

import numpy as np

from .errors import ModelError

STANDARD_GRAVITY = 9.80665  # m/s^2 (CGPM 1901 conventional value)


class Layer(IntEnum):
    """Tissue layers, from the surface down to bone."""

    SKIN = 0
    SUPERFICIAL_FAT = 1
    SMAS = 2
    DEEP_FAT = 3
    MUSCLE = 4
    LOOSE_AREOLAR = 5  # the sub-SMAS gliding spaces (prezygomatic, premasseteric)
    CARTILAGE = 6  # the nose's


def _array(owner: str, name: str, value, dtype, shape: tuple) -> np.ndarray:
    """``value`` as an array of ``dtype`` whose shape matches ``shape`` (-1 = any length)."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{owner}.{name}: expected {np.dtype(dtype).name} array, got {type(value).__name__} ({exc})") from None
    ok = arr.ndim == len(shape) and all(s == -1 or s == a for s, a in zip(shape, arr.shape))
    if not ok:
        want = "(" + ", ".join("n" if s == -1 else str(s) for s in shape) + ")"
        raise ModelError(f"{owner}.{name}: expected shape {want}, got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        where = f" at row {int(np.flatnonzero((~np.isfinite(arr.reshape(len(arr), -1))).any(axis=1))[0])}" if arr.ndim else ""
        raise ModelError(f"{owner}.{name}: expected finite values, found NaN or inf{where}")
    return arr


def _indices(owner: str, name: str, arr: np.ndarray, n: int, allow: int | None = None) -> None:
    bad = (arr < 0) | (arr >= n)
    if allow is not None:
        bad &= arr != allow
    if bad.any():
        i = np.flatnonzero(bad.reshape(len(arr), -1).any(axis=-1))[0]
        raise ModelError(f"{owner}.{name}: expected node indices in [0, {n}), row {i} has {arr[i].tolist()}")


#: spring groups whose names start with this are supports (the teeth under the lips and
#: cheeks), not ligaments: aging does not loosen them, pre-strain does not shorten them
SUPPORT_PREFIX = "contact_"


@dataclass(frozen=True)
class Springs:
    """Springs between two nodes, or from a node to a fixed point (``nodes[:, 1] == -1``).

    ``stiffness`` N/m, ``rest_length`` m; a tension-only spring pulls when longer than its rest
    length and does nothing when shorter (a ligament). ``group`` indexes ``names``: the springs
    of one ligament share a name.
    """

    nodes: np.ndarray
    anchors: np.ndarray
    stiffness: np.ndarray
    rest_length: np.ndarray
    tension_only: np.ndarray
    group: np.ndarray
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        o = "Springs"
        s = len(np.asarray(self.stiffness).reshape(-1))
        object.__setattr__(self, "nodes", _array(o, "nodes", self.nodes, np.int64, (s, 2)))
        object.__setattr__(self, "anchors", _array(o, "anchors", self.anchors, np.float64, (s, 3)))
        object.__setattr__(self, "stiffness", _array(o, "stiffness", self.stiffness, np.float64, (s,)))
        object.__setattr__(self, "rest_length", _array(o, "rest_length", self.rest_length, np.float64, (s,)))
        object.__setattr__(self, "tension_only", _array(o, "tension_only", self.tension_only, bool, (s,)))
        object.__setattr__(self, "group", _array(o, "group", self.group, np.int64, (s,)))
        object.__setattr__(self, "names", tuple(self.names))
        if (self.stiffness < 0).any():
            i = int(np.flatnonzero(self.stiffness < 0)[0])
            raise ModelError(f"Springs.stiffness: expected >= 0 N/m, spring {i} has {self.stiffness[i]}")
        if (self.rest_length < 0).any():
            i = int(np.flatnonzero(self.rest_length < 0)[0])
            raise ModelError(f"Springs.rest_length: expected >= 0 m, spring {i} has {self.rest_length[i]}")
        if s and (self.nodes[:, 0] < 0).any():
            raise ModelError("Springs.nodes: expected a node index >= 0 in the first column")
        if s and ((self.group < 0) | (self.group >= max(len(self.names), 1))).any():
            raise ModelError(f"Springs.group: expected indices into names ({len(self.names)} names)")

    @classmethod
    def empty(cls) -> "Springs":
        return cls(np.zeros((0, 2), np.int64), np.zeros((0, 3)), np.zeros(0), np.zeros(0),
                   np.zeros(0, bool), np.zeros(0, np.int64), ())

    def __len__(self) -> int:
        return len(self.stiffness)

    @property
    def to_point(self) -> np.ndarray:
        """Mask of the springs anchored to a fixed point rather than to a second node."""
        return self.nodes[:, 1] < 0

    @property
    def is_ligament(self) -> np.ndarray:
        """Mask of the springs that are ligaments (not in a support group, SUPPORT_PREFIX)."""
        support = np.array([n.startswith(SUPPORT_PREFIX) for n in self.names] or [False], bool)
        return ~support[self.group]

    def select(self, name: str) -> np.ndarray:
        """Indices of the springs of the named group."""
        if name not in self.names:
            raise KeyError(f"no spring group named {name!r}; groups: {', '.join(self.names) or 'none'}")
        return np.flatnonzero(self.group == self.names.index(name))


@dataclass(frozen=True)
class Landmark:
    """A named material point: barycentric coordinates ``bary`` (4,) in tetrahedron ``tet``."""

    tet: int
    bary: np.ndarray


@dataclass(frozen=True)
class TissueModel:
    """The layered tissue: mesh, layers, materials, springs, supports, landmarks, gravity.

    Fields are validated on construction: a malformed one raises :class:`ModelError` naming it.
    """

    nodes: np.ndarray
    tets: np.ndarray
    tet_layer: np.ndarray
    materials: Mapping[Layer, object]
    springs: Springs = field(default_factory=Springs.empty)
    fixed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    skin_faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    landmarks: Mapping[str, Landmark] = field(default_factory=dict)
    gravity: np.ndarray = field(default_factory=lambda: np.array([0.0, -STANDARD_GRAVITY, 0.0]))
    tet_compartment: np.ndarray | None = None
    compartment_names: tuple[str, ...] = ()
    name: str = "model"

    def __post_init__(self) -> None:
        o = f"TissueModel({self.name})"
        nodes = _array(o, "nodes", self.nodes, np.float64, (-1, 3))
        tets = _array(o, "tets", self.tets, np.int64, (-1, 4))
        n, m = len(nodes), len(tets)
        if n < 4 or m < 1:
            raise ModelError(f"{o}.tets: expected at least one tetrahedron over 4 nodes, got {m} over {n}")
        _indices(o, "tets", tets, n)
        if (np.sort(tets, axis=1)[:, 1:] == np.sort(tets, axis=1)[:, :-1]).any():
            i = int(np.flatnonzero((np.sort(tets, axis=1)[:, 1:] == np.sort(tets, axis=1)[:, :-1]).any(axis=1))[0])
            raise ModelError(f"{o}.tets: expected 4 distinct nodes per tetrahedron, tet {i} is {tets[i].tolist()}")
        vol = tet_volumes(nodes, tets)
        scale = np.ptp(nodes, axis=0).max() ** 3
        if (vol <= 1e-14 * scale).any():
            i = int(np.flatnonzero(vol <= 1e-14 * scale)[0])
            raise ModelError(f"{o}.tets: expected positive volumes, tet {i} has volume {vol[i]:.3e} m^3 (inverted or flat)")
        layer = _array(o, "tet_layer", self.tet_layer, np.int8, (m,))
        try:
            present = {Layer(int(v)) for v in np.unique(layer)}
        except ValueError as exc:
            raise ModelError(f"{o}.tet_layer: expected Layer values, {exc}") from None
        mats = {Layer(k): v for k, v in dict(self.materials).items()}
        for lay in sorted(present):
            if lay not in mats:
                raise ModelError(f"{o}.materials: expected a material for layer {lay.name}, which tets use")
            if not hasattr(mats[lay], "kernel_params"):
                raise ModelError(f"{o}.materials[{lay.name}]: expected a material (NeoHookean, MooneyRivlin), got {type(mats[lay]).__name__}")
        springs = self.springs
        if not isinstance(springs, Springs):
            raise ModelError(f"{o}.springs: expected Springs, got {type(springs).__name__}")
        _indices(o, "springs.nodes", springs.nodes, n, allow=-1)
        fixed = np.unique(_array(o, "fixed", self.fixed, np.int64, (-1,)))
        _indices(o, "fixed", fixed, n)
        faces = _array(o, "skin_faces", self.skin_faces, np.int64, (-1, 3))
        _indices(o, "skin_faces", faces, n)
        for key, lm in dict(self.landmarks).items():
            bary = _array(o, f"landmarks[{key}].bary", lm.bary, np.float64, (4,))
            if not 0 <= int(lm.tet) < m or abs(bary.sum() - 1.0) > 1e-9 or (bary < -1e-9).any():
                raise ModelError(f"{o}.landmarks[{key}]: expected a tet index in [0, {m}) and barycentric weights >= 0 summing to 1")
        gravity = _array(o, "gravity", self.gravity, np.float64, (3,))
        comp = np.zeros(m, np.int16) if self.tet_compartment is None else _array(o, "tet_compartment", self.tet_compartment, np.int16, (m,))
        for k, v in (("nodes", nodes), ("tets", tets), ("tet_layer", layer), ("materials", mats),
                     ("fixed", fixed), ("skin_faces", faces), ("gravity", gravity), ("tet_compartment", comp)):
            if isinstance(v, np.ndarray):
                v.setflags(write=False)
            object.__setattr__(self, k, v)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_tets(self) -> int:
        return len(self.tets)

    @property
    def volumes(self) -> np.ndarray:
        """Reference volume of each tetrahedron, m^3."""
        return tet_volumes(self.nodes, self.tets)

    @cached_property
    def skin_nodes(self) -> np.ndarray:
        """Sorted indices of the nodes on the skin surface (computed once)."""
        return np.unique(self.skin_faces)

    def with_(self, **changes) -> "TissueModel":
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    def landmark_position(self, name: str, x: np.ndarray | None = None) -> np.ndarray:
        """Position of landmark ``name`` in configuration ``x`` (default: reference)."""
        lm = self.landmarks[name]
        pts = (self.nodes if x is None else x)[self.tets[lm.tet]]
        return lm.bary @ pts


@dataclass(frozen=True)
class State:
    """What changes: current positions ``x`` (N,3), the stress-free ``reference`` (N,3; it
    remodels with age), scenario time, and named internal variables."""

    x: np.ndarray
    reference: np.ndarray
    time: float = 0.0
    internal: Mapping[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def initial(cls, model: TissueModel) -> "State":
        return cls(x=model.nodes.copy(), reference=model.nodes.copy())

    @property
    def displacement(self) -> np.ndarray:
        return self.x - self.reference


@dataclass(frozen=True)
class Loads:
    """What a solver is asked to apply.

    ``gravity_scale`` multiplies the model's gravity (body force density * g); ``nodal_forces``
    (N,3) in N; ``prescribed_dofs`` (dof = 3*node + axis) get ``prescribed_values`` as
    displacements from the reference; fixed nodes not listed there stay at their reference.
    Everything is ramped by the load factor in load steps.
    """

    gravity_scale: float = 1.0
    nodal_forces: np.ndarray | None = None
    prescribed_dofs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    prescribed_values: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def validate(self, model: TissueModel) -> None:
        o = "Loads"
        if not np.isfinite(self.gravity_scale):
            raise ModelError(f"{o}.gravity_scale: expected a finite number, got {self.gravity_scale}")
        if self.nodal_forces is not None:
            _array(o, "nodal_forces", self.nodal_forces, np.float64, (model.n_nodes, 3))
        dofs = _array(o, "prescribed_dofs", self.prescribed_dofs, np.int64, (-1,))
        _array(o, "prescribed_values", self.prescribed_values, np.float64, (len(dofs),))
        if ((dofs < 0) | (dofs >= 3 * model.n_nodes)).any():
            raise ModelError(f"{o}.prescribed_dofs: expected dof indices in [0, {3 * model.n_nodes})")


#: a tetrahedron's edges, as its corner pairs, in the order of VTK's quadratic tetrahedron
#: (and meshio's "tetra10"): the midside nodes of quadratic elements follow it
TET_EDGES = ((0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3))


def midside_edges(tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mesh's edges (E, 2), each once with its lower node first, sorted, and each
    element's edges (M, 6) as indices into them, in TET_EDGES order: edge k of all of them is
    midside node N + k of a quadratic mesh over N corners."""
    tets = np.asarray(tets, np.int64)
    pairs = np.sort(tets[:, np.array(TET_EDGES)].reshape(-1, 2), axis=1)
    edges, inv = np.unique(pairs, axis=0, return_inverse=True)
    return edges, inv.reshape(-1, 6)


def deformation_gradients(tets: np.ndarray, X: np.ndarray, x: np.ndarray) -> np.ndarray:
    """F = dx/dX of each tetrahedron (M,3,3), from reference corners X and current corners x."""
    P, Q = X[tets], x[tets]
    Dm = np.transpose(P[:, 1:] - P[:, :1], (0, 2, 1))
    Ds = np.transpose(Q[:, 1:] - Q[:, :1], (0, 2, 1))
    return Ds @ np.linalg.inv(Dm)


def state_gradients(tets: np.ndarray, X: np.ndarray, state: State, edges: tuple | None = None) -> np.ndarray:
    """Each element's deformation gradient (M,3,3) from reference corners X to ``state``: its
    corners' for linear elements; for quadratic ones (``state.internal["midside"]``) the
    element's volume mean of dx/dX. A corner's quadratic shape function has no mean gradient
    and the midside of edge ij has grad L_i + grad L_j, so the mean is I plus the midsides'
    displacements (from their edges' reference midpoints) times those. ``edges``: the mesh's
    midside_edges, where the caller has them already (an aging run asks every step)."""
    mid = state.internal.get("midside")
    if mid is None:
        return deformation_gradients(tets, X, state.x)
    edges, tet_edges = midside_edges(tets) if edges is None else edges
    P = X[tets]
    Dinv = np.linalg.inv(np.transpose(P[:, 1:] - P[:, :1], (0, 2, 1)))  # rows: grad L_1..3
    grad = np.concatenate([-Dinv.sum(axis=1, keepdims=True), Dinv], axis=1)  # (M,4,3) grad L_a
    pair = grad[:, [i for i, _ in TET_EDGES]] + grad[:, [j for _, j in TET_EDGES]]  # (M,6,3)
    u_mid = (np.asarray(mid) - 0.5 * (X[edges[:, 0]] + X[edges[:, 1]]))[tet_edges]  # (M,6,3)
    return np.eye(3) + np.einsum("mki,mkj->mij", u_mid, pair)


def tet_volumes(nodes: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Signed volume of each tetrahedron."""
    p = nodes[tets]
    d = p[:, 1:, :] - p[:, :1, :]
    return np.einsum("ij,ij->i", d[:, 0], np.cross(d[:, 1], d[:, 2])) / 6.0


def tet_quality(nodes: np.ndarray, tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum dihedral angle (degrees) and aspect ratio of each tetrahedron.

    The aspect ratio is R / (3 r), circumradius over three times the inradius: 1 for the
    regular tetrahedron, growing without bound as a tetrahedron flattens.
    """
    p = nodes[tets]
    faces = ((1, 2, 3), (0, 3, 2), (0, 1, 3), (0, 2, 1))  # face i is opposite vertex i, outward
    normals = np.stack([np.cross(p[:, b] - p[:, a], p[:, c] - p[:, a]) for a, b, c in faces], axis=1)
    areas = 0.5 * np.linalg.norm(normals, axis=2)
    unit = normals / np.maximum(2.0 * areas[..., None], 1e-300)
    dihedral = [np.pi - np.arccos(np.clip(np.einsum("ij,ij->i", unit[:, a], unit[:, b]), -1.0, 1.0))
                for a in range(4) for b in range(a + 1, 4)]
    min_dihedral = np.degrees(np.min(dihedral, axis=0))
    vol = np.abs(tet_volumes(nodes, tets))
    inradius = 3.0 * vol / np.maximum(areas.sum(axis=1), 1e-300)
    a, b, c = (p[:, m] - p[:, 0] for m in (1, 2, 3))
    num = (np.einsum("ij,ij->i", a, a)[:, None] * np.cross(b, c) + np.einsum("ij,ij->i", b, b)[:, None] * np.cross(c, a)
           + np.einsum("ij,ij->i", c, c)[:, None] * np.cross(a, b))
    circumradius = np.linalg.norm(num, axis=1) / np.maximum(12.0 * vol, 1e-300)
    return min_dihedral, circumradius / np.maximum(3.0 * inradius, 1e-300)


