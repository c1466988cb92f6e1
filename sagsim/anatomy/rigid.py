"""The rigid part of registration: a scan's orientation, position and size against the template.

A scan comes in its own frame (a scanner's, a modelling tool's), so up and front are found
from the anatomy: the template's skin is fitted to the scan by trimmed iterative closest points
with scale (Umeyama 1991 for each step) from many starting orientations, and the orientation
that leaves the smallest gaps wins. The orientations are the 24 rotations of a cube in the
scan's own axes and the same 24 about its principal axes (the nearest start is then within about 60
degrees of the answer, inside the basin of a face's shape). Given three or more landmarks,
the start is their own similarity fit instead. Each orientation starts at the template's size
(the scan is in metres by then) from two placements: centroids together, and the most forward
points (nose tip) together, which finds the face on a scan of the whole head.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..errors import MeshError
from .closest import Surface

#: the gap of the closest pairs a start is scored by: the template's points best matched (its
#: face may extend beyond a scan's, a scan beyond its face) and the scan's best matched
TRIM_TEMPLATE, TRIM_SCAN = 0.7, 0.5
#: iterations of each start, and of the refinement of the best one
START_ITERATIONS, REFINE_ITERATIONS = 12, 30
#: two orientations whose scores are within this fraction of each other, and which differ by
#: more than AMBIGUOUS_DEG, leave up and front undecided: the scan is refused with a reason
AMBIGUOUS_SCORE, AMBIGUOUS_DEG = 0.05, 30.0
#: points sampled from each surface for the starts
SAMPLES = 400


@dataclass(frozen=True)
class Similarity:
    """x -> scale * R x + shift (row vectors: scale * x @ R.T + shift)."""

    scale: float
    rotation: np.ndarray
    shift: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.scale * x @ self.rotation.T + self.shift

    def inverse_rigid(self, y: np.ndarray) -> np.ndarray:
        """y brought back by the rotation and shift only (the scan into the template's frame,
        keeping its size): R^T (y - shift)."""
        return (y - self.shift) @ self.rotation


def umeyama(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, scale: bool = True) -> Similarity:
    """The similarity moving points x onto y in the weighted least-squares sense (Umeyama 1991)."""
    w = np.ones(len(x)) if w is None else np.asarray(w, float)
    w = w / w.sum()
    mx, my = w @ x, w @ y
    xc, yc = x - mx, y - my
    cov = (yc * w[:, None]).T @ xc
    u, d, vt = np.linalg.svd(cov)
    flip = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        flip[2, 2] = -1.0
    rot = u @ flip @ vt
    var = float(w @ np.einsum("ij,ij->i", xc, xc))
    s = float(np.trace(np.diag(d) @ flip) / var) if scale and var > 0 else 1.0
    return Similarity(scale=s, rotation=rot, shift=my - s * mx @ rot.T)


def cube_rotations() -> list[np.ndarray]:
    """The 24 proper rotations that map the coordinate axes onto themselves."""
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[np.arange(3), perm] = signs
            if np.linalg.det(m) > 0:
                out.append(m)
    return out


def _principal_axes(points: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = weights / weights.sum()
    centre = w @ points
    c = points - centre
    _, vecs = np.linalg.eigh((c * w[:, None]).T @ c)
    if np.linalg.det(vecs) < 0:
        vecs[:, 0] *= -1
    return centre, vecs


def _trimmed_mean(d: np.ndarray, keep: float) -> float:
    if len(d) == 0:
        return np.inf
    k = max(1, int(keep * len(d)))
    return float(np.mean(np.partition(d, k - 1)[:k]))


def _icp(t_pts, t_border, scan: Surface, s_pts, sim: Similarity, iterations: int, exact: bool) -> tuple[Similarity, float]:
    """Trimmed ICP with scale from ``sim``: template points ``t_pts`` (their border flags
    ``t_border``) against the scan (``s_pts`` sampled from it). Returns the fit and its score,
    the trimmed mean gaps both ways divided by the scale (m of the template)."""
    score = np.inf
    for it in range(iterations + 1):
        moved = sim(t_pts)
        if exact:
            hit = scan.closest(moved)
            d1, y1, off = hit["distance"], hit["point"], hit["on_border"]
        else:
            d1, j = scan.nearest_vertex(moved)
            y1, off = scan.points[j], scan.border_vertex[j]
        d2, i2 = cKDTree(moved).query(s_pts)
        score = (_trimmed_mean(d1[~off], TRIM_TEMPLATE) + _trimmed_mean(d2[~t_border[i2]], TRIM_SCAN)) / sim.scale
        if it == iterations:
            break
        keep1 = ~off & (d1 <= max(2.5 * np.median(d1[~off]) if (~off).any() else 0.0, 1e-9))
        keep2 = ~t_border[i2] & (d2 <= max(2.5 * np.median(d2), 1e-9))
        x = np.concatenate([t_pts[keep1], t_pts[i2[keep2]]])
        y = np.concatenate([y1[keep1], s_pts[keep2]])
        if len(x) < 10:
            return sim, np.inf
        sim = umeyama(x, y)
    return sim, score


def rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """The angle (degrees) of the rotation between rotation matrices a and b."""
    return float(np.degrees(np.arccos(np.clip((np.trace(a.T @ b) - 1.0) / 2.0, -1.0, 1.0))))


def fit_similarity(template: Surface, t_areas: np.ndarray, scan: Surface, s_areas: np.ndarray,
                   landmark_pairs: tuple[np.ndarray, np.ndarray] | None = None, where: str = "scan",
                   rng: np.random.Generator | None = None) -> tuple[Similarity, dict]:
    """The similarity moving the template's skin onto the scan, and what the search found:
    ``score_mm_per_m`` (the trimmed gaps both ways, mm per m of template), ``starts`` and
    ``runner_up_deg`` (how far the next-best orientation is, and its score). Raises MeshError where up and front stay ambiguous."""
    rng = rng or np.random.default_rng(0)
    t_used = np.flatnonzero(t_areas > 0)
    s_used = np.flatnonzero(s_areas > 0)
    t_pick = rng.choice(t_used, size=min(SAMPLES, len(t_used)), replace=False, p=t_areas[t_used] / t_areas[t_used].sum())
    s_pick = rng.choice(s_used, size=min(SAMPLES, len(s_used)), replace=False, p=s_areas[s_used] / s_areas[s_used].sum())
    t_pts, t_border = template.points[t_pick], template.border_vertex[t_pick]
    s_pts = scan.points[s_pick]
    tc, tv = _principal_axes(template.points[t_used], t_areas[t_used])
    sc, sv = _principal_axes(scan.points[s_used], s_areas[s_used])
    if landmark_pairs is not None:
        starts = [umeyama(*landmark_pairs)]
    else:
        # at the template's size (the scan is in metres, and adults differ by tens of per cent),
        # each orientation placed two ways: centroid on centroid, and the template's most
        # forward point (the nose tip) on the scan's most forward point along the same direction
        # (a scan of the whole head has its centroid far behind the face)
        starts = []
        tip_t = template.points[t_used][np.argmax(template.points[t_used, 2])]  # the template faces +z
        for r in [*cube_rotations(), *(sv @ c @ tv.T for c in cube_rotations())]:
            tip_s = scan.points[s_used][np.argmax(scan.points[s_used] @ r[:, 2])]  # r turns +z to the scan's front
            starts += [Similarity(1.0, r, sc - tc @ r.T), Similarity(1.0, r, tip_s - tip_t @ r.T)]
    results = sorted((_icp(t_pts, t_border, scan, s_pts, s, START_ITERATIONS, exact=False) for s in starts),
                     key=lambda r: r[1])
    best, score = results[0]
    runner = next((r for r in results[1:] if rotation_angle_deg(r[0].rotation, best.rotation) > AMBIGUOUS_DEG), None)
    if landmark_pairs is None and runner is not None and runner[1] < (1 + AMBIGUOUS_SCORE) * score:
        raise MeshError(f"{where}: cannot tell up and front: two orientations {rotation_angle_deg(runner[0].rotation, best.rotation):.0f}"
                        f" degrees apart fit the template equally well (gaps {1e3 * score:.1f} and {1e3 * runner[1]:.1f} mm"
                        " per m); give landmarks (--landmarks) or a surface with more of the face")
    sim, score = _icp(template.points[t_used], template.border_vertex[t_used], scan, s_pts, best, REFINE_ITERATIONS,
                      exact=True)
    return sim, {"score_mm_per_m": 1e3 * score, "starts": len(starts),
                 "runner_up_deg": None if runner is None else rotation_angle_deg(runner[0].rotation, best.rotation),
                 "runner_up_score_mm_per_m": None if runner is None else 1e3 * runner[1]}
