"""What the aging mechanisms read from a face (computed once) and what they write (per age).

`AgingContext` holds the model's geometry as the mechanisms need it: the depth direction of
every element (the outward normal of the nearest skin), the elements of each layer and
compartment, and the bone regions that resorb. `AgedParameters` collects the changed
parameters at one age; `aged_model` turns them into the model and loads to solve.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from ..errors import ScenarioError
from ..model import Layer, Loads, TissueModel

FAT_LAYERS = (Layer.SUPERFICIAL_FAT, Layer.DEEP_FAT)


@dataclass
class AgedParameters:
    """Model parameters at one age: materials per layer, spring stiffness and rest length, the
    age-driven growth tensor of every element (M,3,3) and the displacement of every bone
    (fixed) node (n_fixed,3). Mechanisms modify it in place."""

    materials: dict
    spring_stiffness: np.ndarray
    spring_rest: np.ndarray
    growth: np.ndarray
    bone_displacement: np.ndarray


class AgingContext:
    """Geometry of ``model`` as the mechanisms use it (reference configuration)."""

    def __init__(self, model: TissueModel):
        self.model = model
        X = model.nodes
        centroids = X[model.tets].mean(axis=1)
        self.depth_normal = self._depth_normals(model, centroids)
        self.fat_elements = np.flatnonzero(np.isin(model.tet_layer, [int(v) for v in FAT_LAYERS]))
        self._bone_regions(model)

    # -- what mechanisms ask for --------------------------------------------------------------

    def elements_of_layer(self, layer: Layer) -> np.ndarray:
        return np.flatnonzero(self.model.tet_layer == int(layer))

    def elements_of_compartment(self, name: str) -> np.ndarray:
        names = self.model.compartment_names
        if self.model.tet_compartment is None or name not in names:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.model.tet_compartment == names.index(name))

    def base_parameters(self) -> AgedParameters:
        m = self.model
        return AgedParameters(materials=dict(m.materials), spring_stiffness=m.springs.stiffness.copy(),
                              spring_rest=m.springs.rest_length.copy(),
                              growth=np.broadcast_to(np.eye(3), (m.n_tets, 3, 3)).copy(),
                              bone_displacement=np.zeros((len(m.fixed), 3)))

    # -- set-up -------------------------------------------------------------------------------

    @staticmethod
    def _depth_normals(model: TissueModel, centroids: np.ndarray) -> np.ndarray:
        """Unit outward normal of the skin triangle nearest each element: the direction in
        which a layer is thick (thinning and deflation act along it)."""
        if not len(model.skin_faces):
            raise ScenarioError(f"{model.name}: aging needs the skin surface (skin_faces) to know each layer's depth")
        tri = model.nodes[model.skin_faces]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        n /= np.linalg.norm(n, axis=1)[:, None]
        face_c = tri.mean(axis=1)
        if len(model.fixed):  # orient away from the bone
            _, near_bone = cKDTree(model.nodes[model.fixed]).query(face_c)
            flip = np.einsum("ij,ij->i", n, face_c - model.nodes[model.fixed][near_bone]) < 0
            n[flip] *= -1.0
        _, nearest = cKDTree(face_c).query(centroids)
        return n[nearest]

    def _bone_regions(self, model: TissueModel) -> None:
        """Weights (0/1) of the fixed nodes in the maxilla and the mandible, and the inward
        horizontal direction at each, from the landmarks: maxilla between the mouth corners'
        height and the malar eminences, within the malar width; mandible below the mouth."""
        bone = model.nodes[model.fixed]
        n_b = len(bone)
        self.maxilla_weight = np.zeros(n_b)
        self.mandible_weight = np.zeros(n_b)
        self.bone_inward = np.zeros((n_b, 3))
        marks = model.landmarks
        need = ("oral_commissure_left", "malar_eminence_left")
        if n_b == 0 or not all(k in marks for k in need):
            self.has_bone_regions = False
            return
        self.has_bone_regions = True
        mouth_y = model.landmark_position("oral_commissure_left")[1]
        malar = model.landmark_position("malar_eminence_left")
        self.maxilla_weight = ((bone[:, 1] >= mouth_y) & (bone[:, 1] <= malar[1])
                               & (np.abs(bone[:, 0]) <= abs(malar[0]))).astype(float)
        self.mandible_weight = (bone[:, 1] < mouth_y - 0.01).astype(float)
        axis = bone.mean(axis=0)
        d = axis - bone
        d[:, 1] = 0.0
        norm = np.linalg.norm(d, axis=1)
        self.bone_inward = np.where(norm[:, None] > 0, d / np.maximum(norm, 1e-300)[:, None], 0.0)
        # the bone end of each ligament fibre follows the bone node it sits on
        springs = model.springs
        to_point = springs.nodes[:, 1] < 0
        self.anchor_bone = np.full(len(springs), -1)
        if to_point.any():
            dist, idx = cKDTree(bone).query(springs.anchors[to_point])
            self.anchor_bone[np.flatnonzero(to_point)] = np.where(dist < 1e-9, idx, -1)


def aged_model(ctx: AgingContext, params: AgedParameters) -> tuple[TissueModel, Loads]:
    """The model and loads (bone displacements as prescriptions) at one age."""
    m = ctx.model
    springs = m.springs
    anchors = springs.anchors
    if np.any(params.bone_displacement) and hasattr(ctx, "anchor_bone"):
        moved = ctx.anchor_bone >= 0
        anchors = anchors.copy()
        anchors[moved] += params.bone_displacement[ctx.anchor_bone[moved]]
    springs = replace(springs, stiffness=params.spring_stiffness, rest_length=params.spring_rest, anchors=anchors)
    model = m.with_(materials=params.materials, springs=springs)
    loads = Loads()
    if np.any(params.bone_displacement):
        dofs = (3 * m.fixed[:, None] + np.arange(3)).ravel()
        loads = Loads(prescribed_dofs=dofs, prescribed_values=params.bone_displacement.ravel())
    return model, loads
