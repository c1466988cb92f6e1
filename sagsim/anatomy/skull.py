"""The skull inside the head: the vendored skull surface (CC BY 3.0, sagsim/data/skull/) scaled,
tilted and placed so that the soft tissue in front of it has the published depths.

The depth at a midline landmark is measured as the source measured it: from the skin point
straight back (parallel to the Frankfort plane, -z here) to the first bone met. The skull is
another person's, so its proportions are fitted too: seven unknowns (a scale along each axis, a
tilt about the ear-to-ear axis, a shear of the profile that brings the chin forward or back
against the brow, and the skull's height and depth; its own midplane is put on x = 0). The fit
minimises the depth errors in units of each norm's standard deviation with the skull kept under
the skin everywhere (no bone within :data:`MIN_COVER_M` of the surface: the skin itself, at the
thinnest site, is that thick). With six depths and seven unknowns the depths are matched, not
predicted: the cover constraint is what decides the rest. The result says every landmark's
residual; a fit that leaves one beyond :data:`MAX_Z` standard deviations is refused, naming it.
:func:`bony_landmarks` places the landmarks that need bone (gonion), each by a written rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import MeshError
from ..reference import row
from .head import Head

DATA = Path(__file__).resolve().parents[1] / "data" / "skull" / "skull.npz"
#: the midline landmarks with a published soft-tissue depth (rows of the literature table)
DEPTH_LANDMARKS = ("nasion", "subnasale", "labrale_superius", "labrale_inferius", "sublabiale", "pogonion")
#: the least soft tissue over any bone: the skin at its thinnest facial site (radix and dorsum,
#: 1.51 mm; Kim et al. 2019, the literature table's "skin thickness, radix/dorsum (thinnest)")
MIN_COVER_M = 1.51e-3
#: the cover is not judged against skin within this distance of an opening (eyes, mouth, the
#: neck's cut): a modelling choice, a little more than the lips' and lids' depth
OPENING_MARGIN_M = 0.015
#: the largest depth error a fit may leave at one landmark, in the norm's standard deviations
MAX_Z = 3.0
_SEX = {"female": "women", "male": "men"}


@dataclass(frozen=True)
class SkullFit:
    """The fitted skull (points (N, 3) m in the head's frame, triangles), its transform (scales
    along x, y, z in m per source unit, tilt in degrees, the profile's shear, offset m), a row
    per landmark (the model's depth, the norm's mean and SD in mm, the error in SDs) and the
    least soft tissue over the bone away from the openings (mm)."""

    points: np.ndarray
    triangles: np.ndarray
    scale: np.ndarray
    tilt_deg: float
    shear: float
    offset: np.ndarray
    residuals: list
    min_cover_mm: float


#: the landmarks placed on the fitted skull, and their rules
BONY_DEFINITIONS = {
    "gonion_bone": "per side, the mandibular angle: of the bone lateral to 20 mm from the midline, below stomion "
                   "by 5 mm or more (below the mastoid) and between 15 mm behind tragion and 20 mm behind cheilion "
                   "(the ramus, behind the teeth), the point furthest down and back (along (0, -1, -1))",
    "gonion": "per side, the skin point nearest to gonion_bone (soft-tissue gonion)",
}


def bony_landmarks(head: Head, fit: SkullFit) -> dict:
    """The landmarks of :data:`BONY_DEFINITIONS` (``_left`` and ``_right``), in the head's frame."""
    m, bone, out = head.landmarks, fit.points, {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        ramus = (sign * bone[:, 0] > 0.02) & (bone[:, 1] < m["stomion"][1] - 0.005) \
            & (bone[:, 2] > m[f"tragion_{side}"][2] - 0.015) & (bone[:, 2] < m[f"cheilion_{side}"][2] - 0.020)
        if not ramus.any():
            raise MeshError(f"skull: gonion_{side}: no bone where the mandibular angle should be (does the skull fit?)")
        idx = np.flatnonzero(ramus)
        angle = bone[idx[np.argmax(-bone[idx, 1] - bone[idx, 2])]]
        out[f"gonion_bone_{side}"] = angle.copy()
        out[f"gonion_{side}"] = head.points[np.argmin(np.linalg.norm(head.points - angle, axis=1))].copy()
    return out


@lru_cache(maxsize=1)
def _vendored() -> tuple:
    with np.load(DATA) as data:
        return data["points"].copy(), data["triangles"].astype(np.int64)


def depth_norms(variant: str) -> dict:
    """landmark -> (mean, SD) of its soft-tissue depth in metres, from the literature table."""
    out = {}
    for name in DEPTH_LANDMARKS:
        r = row(f"soft-tissue depth at {name.replace('_', ' ')}, young adult {_SEX[variant]}")
        out[name] = (1e-3 * r.value, 1e-3 * 0.5 * (r.high - r.low))
    return out


def fit_skull(head: Head, max_evaluations: int = 200) -> SkullFit:
    """The skull fitted inside ``head`` (see the module docstring), with at most
    ``max_evaluations`` steps of the least-squares fit."""
    from scipy.optimize import least_squares

    src, tris = _vendored()
    src = src - [0.5 * (src[:, 0].min() + src[:, 0].max()), 0.0, 0.0]  # its midplane on x = 0
    norms = depth_norms(head.variant)
    # the depth rays run in the midplane (x = 0), which neither scale, tilt nor shear moves:
    # only the triangles that straddle it can be hit
    xs = src[tris][:, :, 0]
    mid = tris[(xs.min(axis=1) <= 0.0) & (xs.max(axis=1) >= 0.0)]
    from scipy.spatial import cKDTree

    skin_n, skin_c = _triangle_frames(head.points, head.triangles, away_from_openings=OPENING_MARGIN_M)
    tree = cKDTree(skin_c)

    y_mid = 0.5 * (src[:, 1].min() + src[:, 1].max())

    def place(p: np.ndarray) -> np.ndarray:
        sx, sy, sz, tilt, ty, tz, shear = p
        c, si = np.cos(np.radians(tilt)), np.sin(np.radians(tilt))
        y, z = src[:, 1] * sy, src[:, 2] * sz - shear * (src[:, 1] - y_mid) * sy
        return np.column_stack([src[:, 0] * sx, c * y - si * z + ty, si * y + c * z + tz])

    def residuals(p: np.ndarray) -> np.ndarray:
        bone = place(p)
        r = [(_depth_behind(head.landmarks[n] * [0, 1, 1], bone, mid) - mean) / sd for n, (mean, sd) in norms.items()]
        cover = _cover(bone, skin_c, skin_n, tree)
        r.append(np.sqrt(np.sum(np.clip(MIN_COVER_M - cover, 0.0, None) ** 2)) / 2e-4)  # no bone through the skin
        return np.array(r)

    p0 = _initial(head, src)
    fit = least_squares(residuals, p0, x_scale=[1e-3, 1e-3, 1e-3, 1.0, 1e-3, 1e-3, 0.01], diff_step=1e-3,
                        ftol=1e-4, xtol=1e-4, max_nfev=max_evaluations)
    bone = place(fit.x)
    rows = []
    for name, (mean, sd) in norms.items():
        d = _depth_behind(head.landmarks[name] * [0, 1, 1], bone, mid)
        rows.append({"landmark": name, "model_mm": 1e3 * d, "norm_mm": 1e3 * mean, "sd_mm": 1e3 * sd,
                     "z": (d - mean) / sd})
    worst = max(rows, key=lambda r: abs(r["z"]))
    if not np.isfinite(worst["z"]) or abs(worst["z"]) > MAX_Z:
        raise MeshError(f"skull fit: {worst['landmark']}: the soft tissue is {worst['model_mm']:.1f} mm deep against "
                        f"{worst['norm_mm']:.1f} +- {worst['sd_mm']:.1f} mm published ({worst['z']:+.1f} SD); expected "
                        f"within {MAX_Z:g} SD: the skull does not fit this head")
    cover = _cover(bone, skin_c, skin_n, tree)
    return SkullFit(bone, tris, fit.x[:3].copy(), float(fit.x[3]), float(fit.x[6]), np.array([0.0, fit.x[4], fit.x[5]]),
                    rows, float(1e3 * cover.min()))


def _initial(head: Head, src: np.ndarray) -> np.ndarray:
    """A first placement: the skull as tall as the head from its top to menton less a
    centimetre of soft tissue, its top under the head's top and its front behind subnasale."""
    top = head.points[:, 1].max()
    s = (top - head.landmarks["menton"][1] - 0.010) / np.ptp(src[:, 1])
    ty = top - 0.006 - s * src[:, 1].max()
    tz = head.landmarks["subnasale"][2] - 0.014 - s * src[:, 2].max()
    return np.array([s, s, s, 0.0, ty, tz, 0.0])


def _depth_behind(point: np.ndarray, points: np.ndarray, triangles: np.ndarray) -> float:
    """Distance from ``point`` straight back (-z) to the first triangle it meets; a large
    number when it meets none (so that the fit pulls the bone under it)."""
    hit = ray_hits(point, np.array([0.0, 0.0, -1.0]), points, triangles)
    return float(hit.min()) if hit.size else 0.1


def ray_hits(origin: np.ndarray, direction: np.ndarray, points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Distances along the ray at which it crosses the triangles (Moller-Trumbore)."""
    a, b, c = points[triangles[:, 0]], points[triangles[:, 1]], points[triangles[:, 2]]
    e1, e2 = b - a, c - a
    h = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, h)
    ok = np.abs(det) > 1e-18
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - a
    u = inv * np.einsum("ij,ij->i", s, h)
    q = np.cross(s, e1)
    v = inv * (q @ direction)
    t = inv * np.einsum("ij,ij->i", e2, q)
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    return t[hit]


def _triangle_frames(points: np.ndarray, triangles: np.ndarray, away_from_openings: float = 0.0) -> tuple:
    """Unit normals and centres of the skin triangles, leaving out those within
    ``away_from_openings`` of the skin's border (the eyes, the mouth slit, the neck): the bone
    behind an opening is not outside the skin, though the lip or lid nearest it faces away."""
    from scipy.spatial import cKDTree

    from .head import boundary_loops

    p = points[triangles]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    n, c = n / np.linalg.norm(n, axis=1, keepdims=True), p.mean(axis=1)
    if away_from_openings > 0:
        border = points[np.concatenate(boundary_loops(triangles))]
        far = cKDTree(border).query(c)[0] > away_from_openings
        n, c = n[far], c[far]
    return n, c


def _cover(bone: np.ndarray, centres: np.ndarray, normals: np.ndarray, tree) -> np.ndarray:
    """Soft tissue over each bone point: its distance under the plane of the nearest skin
    triangle (negative where the bone stands outside the skin); ``tree`` a KD-tree of the
    triangles' centres."""
    _, k = tree.query(bone, workers=-1)
    return -np.einsum("ij,ij->i", bone - centres[k], normals[k])
