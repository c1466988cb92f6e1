"""The layered slab: a patch of cheek as a block of skin, superficial fat, SMAS and deep fat on
bone. A small, honest test bed (`sagsim demo --model slab`): the same layers, materials and
gravity as the face, in a shape whose behaviour is easy to read.

Axes as everywhere in sagsim: x lateral, y superior (up), z anterior; bone is the plane z = 0,
the skin faces +z, gravity pulls along -y, so the tissue shears downward over the bone.
"""
from __future__ import annotations

import numpy as np

from ..model import Landmark, TissueModel
from .layers import DEFAULT_MATERIALS, LAYER_STACK, LayerSpec
from .mesh import layered_tets

# One place for the literature values: the slab stacks the same layers as the face.
DEFAULT_LAYERS = LAYER_STACK

RESOLUTIONS = {"coarse": 8, "default": 16, "fine": 32}


def layered_slab(width_m: float = 0.04, height_m: float = 0.04, cells: int | str = "default",
                 layers: tuple[LayerSpec, ...] = DEFAULT_LAYERS,
                 materials: dict | None = None, thickness_refinement: int = 1) -> TissueModel:
    """A ``width x height`` patch of layered tissue on bone (z = 0, fixed), skin on top.

    ``cells``: cells along x and y, or one of "coarse", "default", "fine";
    ``thickness_refinement`` multiplies the cells through each layer.
    Landmarks: "skin_centre" and "skin_lower_edge" on the skin surface.
    """
    n = RESOLUTIONS[cells] if isinstance(cells, str) else int(cells)
    xs = np.linspace(-width_m / 2, width_m / 2, n + 1)
    ys = np.linspace(-height_m / 2, height_m / 2, n + 1)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    base = np.stack([X, Y, np.zeros_like(X)], axis=-1)  # the bone plane
    up = np.broadcast_to([0.0, 0.0, 1.0], base.shape)
    thickness = np.stack([np.full((n + 1, n + 1), spec.thickness_m) for spec in layers])
    nodes, tets, index = layered_tets(base, up, thickness, tuple(spec.cells * thickness_refinement for spec in layers))
    tet_layer = np.array([spec.layer for spec in layers], np.int8)[index]
    top_z = sum(spec.thickness_m for spec in layers)
    fixed = np.flatnonzero(nodes[:, 2] == 0.0)
    top = nodes[:, 2] == nodes[:, 2].max()
    faces = _top_faces(nodes, tets, top)
    landmarks = {
        "skin_centre": _surface_landmark(nodes, tets, np.array([0.0, 0.0, top_z])),
        "skin_lower_edge": _surface_landmark(nodes, tets, np.array([0.0, -0.4 * height_m, top_z])),
    }
    return TissueModel(nodes=nodes, tets=tets, tet_layer=tet_layer,
                       materials=dict(materials or DEFAULT_MATERIALS), fixed=fixed,
                       skin_faces=faces, landmarks=landmarks, name="layered slab")


def _top_faces(nodes: np.ndarray, tets: np.ndarray, on_top: np.ndarray) -> np.ndarray:
    """Triangles of the skin surface, oriented outward (+z)."""
    faces = np.concatenate([tets[:, [1, 2, 3]], tets[:, [0, 3, 2]], tets[:, [0, 1, 3]], tets[:, [0, 2, 1]]])
    faces = faces[on_top[faces].all(axis=1)]
    p = nodes[faces]
    nz = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])[:, 2]
    faces[nz < 0] = faces[nz < 0][:, ::-1]
    return faces


def _surface_landmark(nodes: np.ndarray, tets: np.ndarray, point: np.ndarray) -> Landmark:
    """The landmark at ``point``: barycentric in the tet whose weights are all >= 0 (the first
    found), falling back to the nearest node."""
    p = nodes[tets]
    T = np.transpose(p[:, 1:] - p[:, :1], (0, 2, 1))
    lam = np.linalg.solve(T, (point - p[:, 0])[..., None])[..., 0]
    bary = np.column_stack([1 - lam.sum(axis=1), lam])
    inside = np.flatnonzero((bary >= -1e-9).all(axis=1))
    if len(inside):
        e = int(inside[0])
        b = np.clip(bary[e], 0.0, None)
        return Landmark(tet=e, bary=b / b.sum())
    node = int(np.argmin(np.linalg.norm(nodes - point, axis=1)))
    e = int(np.flatnonzero((tets == node).any(axis=1))[0])
    return Landmark(tet=e, bary=(tets[e] == node).astype(float))
