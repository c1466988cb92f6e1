"""Numbers a clinician reads off a simulated face, each defined where it is computed.

Every metric compares a State with the model's reference (its own ``state.reference`` for
the stress-free shape, or another State passed as ``before``): positive descent is downwards,
lengths are reported in mm and volumes in mL, as their names say.
"""
from __future__ import annotations

import numpy as np

from .model import Layer, State, TissueModel, tet_volumes

FAT_LAYERS = (Layer.SUPERFICIAL_FAT, Layer.DEEP_FAT)


def landmark_displacement_mm(model: TissueModel, state: State, before: State | None = None) -> dict[str, np.ndarray]:
    """Displacement (mm, (3,): x lateral, y up, z forward) of every landmark from ``before``
    (default: the reference shape) to ``state``; its vertical part is element 1."""
    x0 = model.nodes if before is None else before.x
    return {k: 1e3 * (model.landmark_position(k, state.x) - model.landmark_position(k, x0)) for k in model.landmarks}


def descent_mm(model: TissueModel, state: State, names: tuple[str, ...], before: State | None = None) -> float:
    """Mean downward movement (mm, positive = down) of the named landmarks, e.g. the jowls."""
    disp = landmark_displacement_mm(model, state, before)
    return float(-np.mean([disp[n][1] for n in names]))


def fold_depth_mm(model: TissueModel, x: np.ndarray, name: str, half_width: float = 0.008) -> float:
    """Depth of the skin groove at landmark ``name`` in configuration ``x`` (mm).

    The landmark and two skin nodes ``half_width`` either side of it along the horizontal
    tangent of the skin (chosen in the reference shape, then followed as material points):
    the depth is how far the landmark lies behind the chord between them, along the outward
    skin normal at the landmark. Positive is a groove (a nasolabial fold); deepening with age
    is the fold becoming more marked.
    """
    p0 = model.landmark_position(name)
    n = _skin_normal(model, p0)
    t = np.cross([0.0, 1.0, 0.0], n)  # horizontal and tangent to the skin
    t /= np.linalg.norm(t)
    skin = model.skin_nodes
    ref = model.nodes[skin]
    sides = [skin[np.argmin(np.linalg.norm(ref - (p0 + s * half_width * t), axis=1))] for s in (-1.0, 1.0)]
    p = model.landmark_position(name, x)
    mid = 0.5 * (x[sides[0]] + x[sides[1]])
    return float(1e3 * (mid - p) @ n)


def jawline_overhang_mm(model: TissueModel, x: np.ndarray, bins: int = 12) -> float:
    """How far the skin hangs below the mandibular border (mm), averaged along the jaw.

    The border is the lowest bone (fixed) node in each of ``bins`` lateral strips; the skin's
    lowest point in the same strip is compared with it. A sharp young jawline keeps this near
    the soft-tissue thickness; a blurred one (jowls over the border) increases it.
    """
    bone = model.nodes[model.fixed]
    skin_nodes = model.skin_nodes
    skin = x[skin_nodes]
    edges = np.linspace(bone[:, 0].min(), bone[:, 0].max(), bins + 1)
    overhang = []
    for a, b in zip(edges[:-1], edges[1:]):
        in_bone = (bone[:, 0] >= a) & (bone[:, 0] < b)
        in_skin = (model.nodes[skin_nodes, 0] >= a) & (model.nodes[skin_nodes, 0] < b)  # followed materially
        if in_bone.any() and in_skin.any():
            overhang.append(bone[in_bone, 1].min() - skin[in_skin, 1].min())
    return float(1e3 * np.mean(overhang))


def fat_volume_below_ml(model: TissueModel, x: np.ndarray, level_y: float) -> float:
    """Volume of fat (superficial and deep, mL) whose element centroids lie below height
    ``level_y`` in configuration ``x``: fat moving down across the level raises it (the
    midface volume shift of aging)."""
    fat = np.isin(model.tet_layer, [int(layer) for layer in FAT_LAYERS])
    centroid_y = x[model.tets[fat]].mean(axis=1)[:, 1]
    vol = tet_volumes(x, model.tets[fat])
    return float(1e6 * vol[centroid_y < level_y].sum())


def fat_moved_below_ml(model: TissueModel, x_before: np.ndarray, x_after: np.ndarray, level_y: float) -> float:
    """Fat volume (mL, in ``x_after``) that moved down across height ``level_y``: elements
    whose centroid was above the level in ``x_before`` and is below it in ``x_after``, minus
    those that moved up across it. Unlike the change of the volume below the level, this
    does not count fat that deflated where it was: it is the midface volume *shift*."""
    fat = np.isin(model.tet_layer, [int(layer) for layer in FAT_LAYERS])
    tets = model.tets[fat]
    y0 = x_before[tets].mean(axis=1)[:, 1]
    y1 = x_after[tets].mean(axis=1)[:, 1]
    vol = tet_volumes(x_after, tets)
    down = (y0 >= level_y) & (y1 < level_y)
    up = (y0 < level_y) & (y1 >= level_y)
    return float(1e6 * (vol[down].sum() - vol[up].sum()))


def fat_centroid_descent_mm(model: TissueModel, x_before: np.ndarray, x_after: np.ndarray) -> float:
    """How far the volume-weighted centroid of all fat moved down (mm, positive = down)."""
    fat = np.isin(model.tet_layer, [int(layer) for layer in FAT_LAYERS])
    tets = model.tets[fat]

    def centroid_y(x: np.ndarray) -> float:
        v = tet_volumes(x, tets)
        return float((v * x[tets].mean(axis=1)[:, 1]).sum() / v.sum())

    return 1e3 * (centroid_y(x_before) - centroid_y(x_after))


def summary(model: TissueModel, state: State, before: State | None = None) -> dict[str, float]:
    """The standard metrics of a face state, change from ``before`` (default: reference)."""
    x0 = model.nodes if before is None else before.x
    out = {}
    marks = model.landmarks
    jowls = tuple(n for n in ("jowl_left", "jowl_right") if n in marks)
    if jowls:
        out["jowl_descent_mm"] = descent_mm(model, state, jowls, before)
    for name in sorted(marks):
        if name.startswith("nasolabial_"):
            out[f"fold_depth_change_mm_{name}"] = fold_depth_mm(model, state.x, name) - fold_depth_mm(model, x0, name)
    out["jawline_overhang_change_mm"] = jawline_overhang_mm(model, state.x) - jawline_overhang_mm(model, x0)
    level = model.landmark_position("subnasale")[1] if "subnasale" in marks else float(np.median(model.nodes[:, 1]))
    out["fat_below_subnasale_change_ml"] = fat_volume_below_ml(model, state.x, level) - fat_volume_below_ml(model, x0, level)
    out["fat_moved_below_subnasale_ml"] = fat_moved_below_ml(model, x0, state.x, level)
    out["fat_centroid_descent_mm"] = fat_centroid_descent_mm(model, x0, state.x)
    return out


def _skin_normal(model: TissueModel, point: np.ndarray) -> np.ndarray:
    """Outward unit normal of the skin triangle nearest to ``point`` (reference shape)."""
    p = model.nodes[model.skin_faces]
    f = int(np.argmin(np.linalg.norm(p.mean(axis=1) - point, axis=1)))
    n = np.cross(p[f, 1] - p[f, 0], p[f, 2] - p[f, 0])
    return n / np.linalg.norm(n)
