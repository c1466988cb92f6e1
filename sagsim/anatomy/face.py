"""The procedural face: bone and skin of the lower two thirds of the face, both cheeks from
tragus to tragus, the midface, the perioral region, the jawline and the chin.

Geometry is a function of a few parameters a researcher can change (face width, depth and
height, jaw angle, bone projection, regional tissue thickness). The bone surface is a
curved sheet over a cylindrical parameter grid (azimuth from the midline, height); the soft
tissue layers stack on it along its smoothed normals (mesh.layered_tets), so every layer
follows the bone and the skin inherits the face's shape. Sizes are adult proportions in
metres and modelling choices; tissue thickness comes from the reference table (layers.py).
Axes: x lateral (patient's left), y up, z anterior; y = 0 at subnasale.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MeshError
from ..model import Landmark, Layer, TissueModel
from . import layers as lay
from . import ligaments as lig
from .mesh import face_owners, layered_tets


@dataclass(frozen=True)
class FaceParams:
    """Shape parameters (metres, radians). Defaults are a modelling choice for an adult face,
    not measurements; calibrate them to a subject where one is at hand."""

    half_width: float = 0.068          # bizygomatic half-width at the bone (head breadth ~ 0.14 m)
    depth: float = 0.090               # centre-to-front distance at the midline
    azimuth_max: float = np.radians(80.0)  # from the midline to just in front of the tragus
    chin_y: float = -0.068             # menton below subnasale (lower face height)
    gonion_y: float = -0.045           # mandibular angle height
    top_y: float = 0.040               # upper border: the lower orbital rim and zygomatic arch
    jaw_angle: float = np.radians(122.0)  # gonial angle; larger = steeper, longer-looking jaw
    malar_projection: float = 0.009    # zygomatic body prominence
    chin_projection: float = 0.008     # mental protuberance
    maxilla_projection: float = 0.012  # tooth-bearing arch in front of the cylinder
    nose_projection: float = 0.020     # nasal pyramid (treated as rigid, with the bone)
    thickness_scale: dict = field(default_factory=dict)  # layer name -> multiplier

    def bone_radius(self, phi: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Distance of the bone surface from the vertical axis at azimuth ``phi``, height ``y``.
        The features are Gaussian bumps whose sizes and places are modelling choices for an
        average adult face (no measurement in the reference table), parameters where a
        researcher is likely to vary them."""
        a, b = self.half_width, self.depth
        r = a * b / np.sqrt((b * np.sin(phi)) ** 2 + (a * np.cos(phi)) ** 2)  # elliptic section
        s = r * phi  # arc length from the midline, so bumps keep their size at any width
        bump = _gauss
        r = r + self.maxilla_projection * bump(s, 0.0, 0.030) * bump(y, -0.018, 0.020)
        r = r + self.chin_projection * bump(s, 0.0, 0.018) * bump(y, self.chin_y + 0.014, 0.012)
        r = r + self.nose_projection * bump(s, 0.0, 0.009) * bump(y, 0.012, 0.016)
        for side in (-1.0, 1.0):
            r = r + self.malar_projection * bump(s, side * 0.052, 0.016) * bump(y, 0.018, 0.013)
            r = r - 0.006 * bump(s, side * 0.055, 0.014) * bump(y, -0.012, 0.012)  # submalar hollow
            r = r + 0.004 * bump(s, side * 0.095, 0.025) * bump(y, 0.022, 0.006)  # zygomatic arch
            r = r + 0.004 * bump(s, side * 0.100, 0.012) * bump(y, self.gonion_y + 0.006, 0.010)  # angle flare
        return r

    def lower_border(self, phi: np.ndarray) -> np.ndarray:
        """Height of the mandibular border: from menton at the midline up to gonion, then the
        posterior border of the ramus rising towards the ear."""
        t = np.abs(phi) / self.azimuth_max
        k = 0.85  # where along the azimuth the angle sits
        body = self.chin_y + (self.gonion_y - self.chin_y) * np.clip(t / k, 0, 1) ** 1.6
        ramus_rise = np.tan(self.jaw_angle - np.pi / 2) * 0.045 * np.clip((t - k) / (1 - k), 0, 1)
        return body + ramus_rise


def _gauss(v: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((v - centre) / width) ** 2)


RESOLUTIONS = {"coarse": (20, 10), "default": (56, 28), "fine": (128, 64)}


def face_surfaces(params: FaceParams, nu: int, nv: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bone grid (nu+1, nv+1, 3), its outward stacking directions, and the parameter
    arrays phi, y of the grid."""
    u = np.linspace(-1.0, 1.0, nu + 1)
    v = np.linspace(0.0, 1.0, nv + 1)
    U, V = np.meshgrid(u, v, indexing="ij")
    phi = U * params.azimuth_max
    y = params.lower_border(phi) + V * (params.top_y - params.lower_border(phi))
    r = params.bone_radius(phi, y)
    base = np.stack([r * np.sin(phi), y, r * np.cos(phi)], axis=-1)
    return base, _smoothed_normals(base), phi, y


def _smoothed_normals(base: np.ndarray, passes: int = 20) -> np.ndarray:
    """Outward unit normals of the grid surface, smoothed so that layers a centimetre thick do
    not cross over tight concave bends (the submalar hollow, the chin groove)."""
    du = np.gradient(base, axis=0)
    dv = np.gradient(base, axis=1)
    n = np.cross(du, dv)  # u runs towards the patient's left (+x at the front), v upwards: outwards
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    for _ in range(passes):
        m = n.copy()
        m[1:-1, 1:-1] = (n[:-2, 1:-1] + n[2:, 1:-1] + n[1:-1, :-2] + n[1:-1, 2:] + 4 * n[1:-1, 1:-1]) / 8
        n = m / np.linalg.norm(m, axis=-1, keepdims=True)
    return n


def build_face(resolution: str = "default", params: FaceParams | None = None,
               ligament_stiffness: float = lig.LIGAMENT_STIFFNESS) -> TissueModel:
    """The default face as a TissueModel: layers tagged, bone fixed, skin surface, landmarks,
    retaining ligaments (``ligament_stiffness`` N/m per bundle: an estimate to calibrate)."""
    params = params or FaceParams()
    nu, nv = RESOLUTIONS[resolution]
    base, normal, phi, y = face_surfaces(params, nu, nv)
    s = params.bone_radius(phi, y) * phi
    thickness = lay.thickness_maps(s, y, params)
    cells = lay.cells_through_thickness(resolution)
    nodes, tets, index = layered_tets(base, normal, thickness, cells)
    tet_layer = np.array([spec.layer for spec in lay.LAYER_STACK], np.int8)[index]
    n_base = (nu + 1) * (nv + 1)
    fixed = np.arange(n_base)  # level 0 is the bone surface
    faces = _skin_faces(nu, nv, len(nodes) - n_base)
    column = tets.min(axis=1) % n_base  # every tet's lowest node sits in its grid column
    compartment = lay.assign_compartments(tet_layer, s.T.ravel()[column], y.T.ravel()[column])
    model = TissueModel(nodes=nodes, tets=tets, tet_layer=tet_layer, materials=dict(lay.DEFAULT_MATERIALS),
                        fixed=fixed, skin_faces=faces, tet_compartment=compartment,
                        compartment_names=lay.COMPARTMENT_NAMES, name=f"procedural face ({resolution})")
    landmarks = _landmarks(model, params)
    model = model.with_(landmarks=landmarks)
    levels = np.cumsum((0,) + cells)  # level index where each layer ends, deep to superficial
    smas_top = int(levels[[spec.layer for spec in lay.LAYER_STACK].index(Layer.SMAS) + 1])
    springs = _ligaments(model, params, s, y, (smas_top, int(levels[-2])), ligament_stiffness)
    return model.with_(springs=springs)


def _ligaments(model: TissueModel, params: FaceParams, s: np.ndarray, y: np.ndarray,
               insertion_levels: tuple[int, int], stiffness: float):
    """Both sides' retaining ligaments as spring fans (see ligaments.py)."""
    n_base = s.size
    skin0 = model.n_nodes - n_base
    s_flat, y_flat = s.T.ravel(), y.T.ravel()  # node order: i fastest

    def skin_sy(point: np.ndarray) -> tuple[float, float]:
        k = int(np.argmin(np.linalg.norm(model.nodes[skin0:] - point, axis=1)))
        return float(s_flat[k]), float(y_flat[k])

    marks = {k: model.landmark_position(k) for k in ("tragus_left", "oral_commissure_left")}
    columns = {}
    for site in lig.ligament_sites(params, marks, skin_sy):
        for side, tag in ((1.0, "left"), (-1.0, "right")):
            near = np.flatnonzero(np.hypot(s_flat - side * site.s, y_flat - site.y) <= site.radius)
            if near.size == 0:  # a coarse grid: take the nearest column
                near = np.array([np.argmin(np.hypot(s_flat - side * site.s, y_flat - site.y))])
            columns[f"{site.name}_{tag}"] = [(k % s.shape[0], k // s.shape[0]) for k in near]
    return lig.build_springs(s.shape, model.nodes, columns, insertion_levels, stiffness)


def layer_surfaces(model: TissueModel, resolution: str) -> dict[str, np.ndarray]:
    """Triangle surfaces (F,3) of the bone and of the outer side of each layer, keyed "bone"
    and the layer names ("SKIN" is the skin surface), oriented outwards. The grid's levels
    repeat the skin's triangulation, so each surface is the skin's shifted down its levels."""
    n_base = len(model.fixed)
    levels = np.cumsum((0,) + lay.cells_through_thickness(resolution))
    bone = model.skin_faces - levels[-1] * n_base
    out = {"bone": bone}
    for spec, level in zip(lay.LAYER_STACK, levels[1:]):
        out[spec.layer.name] = bone + level * n_base
    return out


def _skin_faces(nu: int, nv: int, offset: int) -> np.ndarray:
    """Two triangles per cell of the outermost level, oriented outwards."""
    i, j = np.meshgrid(np.arange(nu), np.arange(nv), indexing="ij")
    a = offset + i + (nu + 1) * j
    b, c, d = a + 1, a + (nu + 1), a + (nu + 2)
    # split along a-d, the diagonal the tetrahedra use (mesh._KUHN_TETS), so each triangle is a
    # tetrahedron's face; u runs towards the patient's left and v upwards: these turn outwards
    return np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])


def _landmarks(model: TissueModel, params: FaceParams) -> dict[str, Landmark]:
    """Named points on the skin: each anatomical target, seen from the vertical axis, is
    placed where that ray meets the skin surface, as barycentric weights in the tetrahedron
    that owns the skin triangle there (so it survives as a material point)."""
    face_tet = face_owners(model.tets, model.skin_faces)
    p = model.nodes[model.skin_faces]
    out = {}
    for name, (phi, y) in lay.landmark_targets(params).items():
        direction = np.array([np.sin(phi), 0.0, np.cos(phi)])
        origin = np.array([0.0, y, 0.0])
        hit = _ray_triangles(origin, direction, p)
        if hit is None:
            raise MeshError(f"{model.name}: landmark {name} (azimuth {np.degrees(phi):.0f} deg, "
                            f"height {1e3 * y:.0f} mm) misses the skin surface")
        f, w = hit
        e = face_tet[f]
        bary = np.zeros(4)
        for node, weight in zip(model.skin_faces[f], w):
            bary[np.flatnonzero(model.tets[e] == node)[0]] = weight
        out[name] = Landmark(tet=int(e), bary=bary)
    return out


def _ray_triangles(origin: np.ndarray, direction: np.ndarray, p: np.ndarray):
    """First triangle (of p (F,3,3)) a ray hits, and the barycentric weights of the hit
    (Moller-Trumbore, all triangles at once); None if it hits none."""
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    h = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, h)
    ok = np.abs(det) > 1e-18
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    sv = origin - p[:, 0]
    u = np.einsum("ij,ij->i", sv, h) * inv
    q = np.cross(sv, e1)
    v = (q @ direction) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    hit = ok & (u >= -1e-12) & (v >= -1e-12) & (u + v <= 1 + 1e-12) & (t > 0)
    if not hit.any():
        return None
    f = int(np.flatnonzero(hit)[np.argmin(t[hit])])
    return f, np.array([1.0 - u[f] - v[f], u[f], v[f]])
