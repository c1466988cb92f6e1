"""The layer cut-away: the mesh cut by a sagittal plane, each layer in its fixed colour (fat
compartments in alternating shades), the other side dissected down to the bone and the
retaining ligaments, with a legend."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pyvista as pv
from vtkmodules.vtkRenderingAnnotation import vtkLegendBoxActor

from ..errors import RenderError
from ..model import Layer, State, TissueModel
from .scene import check_camera, finish, make_plotter, outline, save, to_pyvista, union_bounds

#: One fixed colour per layer, the same in every picture.
LAYER_COLORS: dict[Layer, str] = {
    Layer.SKIN: "#e8b796",             # light skin tone
    Layer.SUPERFICIAL_FAT: "#f4d35e",  # fat yellow
    Layer.SMAS: "#d65a6f",             # pinkish red fascia
    Layer.DEEP_FAT: "#ee9b3b",         # deeper, orange fat
    Layer.MUSCLE: "#7f1d2d",           # dark red muscle
    Layer.LOOSE_AREOLAR: "#b9e3f0",    # pale blue gliding space
    Layer.CARTILAGE: "#8fb8de",        # blue-grey cartilage
}

#: Names for legends.
LAYER_LABELS: dict[Layer, str] = {
    Layer.SKIN: "skin",
    Layer.SUPERFICIAL_FAT: "superficial fat",
    Layer.SMAS: "SMAS",
    Layer.DEEP_FAT: "deep fat",
    Layer.MUSCLE: "muscle",
    Layer.LOOSE_AREOLAR: "gliding space",
    Layer.CARTILAGE: "cartilage",
}

#: Bone, drawn lit in a pale ivory grey (it must stand out from the white background).
BONE_COLOR = "#cfc8b4"

#: One colour per retaining ligament (left and right share it), apart from the layer colours.
LIGAMENT_COLORS: dict[str, str] = {
    "zygomatic": "#1f5fa8",
    "upper_masseteric": "#2a9d8f",
    "lower_masseteric": "#6a4c93",
    "mandibular": "#264653",
    "orbicularis_retaining": "#00a6d6",
}
_OTHER_LIGAMENT_COLOR = "#4a4a4a"

#: How much lighter or darker each fat compartment is drawn than its layer's colour: enough to
#: tell neighbours apart, little enough that the layer's colour stays recognisable.
COMPARTMENT_SHADE = 0.10


def _legend(plotter: pv.Plotter, entries: Sequence[tuple[str, str]]) -> None:
    """A legend box of (label, colour) entries: swatches in their colours, black text.

    pyvista's add_legend draws each label in its entry colour, which is unreadable for the
    pale fat yellow on white; here the entry colour (text) is black and the swatch carries
    its colour as RGB cell scalars, which the legend draws as they are.
    """
    legend = vtkLegendBoxActor()
    legend.SetNumberOfEntries(len(entries))
    for i, (label, color) in enumerate(entries):
        swatch = pv.PolyData(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float64), faces=[4, 0, 1, 2, 3])
        swatch.cell_data.set_array(np.array([pv.Color(color).int_rgb], np.uint8), "rgb")
        swatch.cell_data.active_scalars_name = "rgb"
        legend.SetEntry(i, swatch, label, (0.0, 0.0, 0.0))
    legend.ScalarVisibilityOn()
    legend.UseBackgroundOn()
    legend.SetBackgroundColor(1.0, 1.0, 1.0)
    legend.BorderOn()
    height = min(0.05 * len(entries) + 0.02, 0.6)
    legend.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPositionCoordinate().SetValue(0.74, 0.97 - height)
    legend.GetPosition2Coordinate().SetValue(0.24, height)  # width, height (relative to Position)
    plotter.add_actor(legend, name="legend", reset_camera=False)


def bone_faces(model: TissueModel) -> np.ndarray:
    """Boundary triangles (F,3) whose three nodes are all fixed: the bone the tissue sits on."""
    t = np.asarray(model.tets)
    faces = np.concatenate([t[:, [0, 1, 2]], t[:, [0, 1, 3]], t[:, [0, 2, 3]], t[:, [1, 2, 3]]])
    key = np.sort(faces, axis=1)
    _, first, count = np.unique(key, axis=0, return_index=True, return_counts=True)
    boundary = faces[first[count == 1]]
    fixed = np.zeros(model.n_nodes, bool)
    fixed[model.fixed] = True
    return boundary[fixed[boundary].all(axis=1)]


def ligament_color(name: str) -> str:
    """The colour of ligament ``name`` ("zygomatic_left" and "zygomatic_right" share one)."""
    base = name.removesuffix("_left").removesuffix("_right")
    return LIGAMENT_COLORS.get(base, _OTHER_LIGAMENT_COLOR)


def _shade(color: str, amount: float) -> tuple[float, float, float]:
    """``color`` lightened (amount > 0) or darkened (< 0) by ``amount`` of the way to white/black."""
    rgb = np.asarray(pv.Color(color).float_rgb)
    rgb = rgb + amount * (1.0 - rgb) if amount > 0 else rgb * (1.0 + amount)
    return tuple(float(v) for v in rgb)


def layers_plotter(model: TissueModel, state: State | None = None, *, camera: str = "iso",
                   title: str | None = None, window_size: Sequence[int] = (1200, 900),
                   legend: bool = True, dissect: bool = True, cut: float = 0.5) -> pv.Plotter:
    """Build (not render) the layer cut-away: the mesh at ``state.x`` (default: reference)
    clipped by the sagittal plane x = x_cut, ``cut`` of the way across the mesh's width
    (0.5: the middle; about 0.7 cuts through the left mid-cheek, where the fat compartments
    and ligaments are), the part x < x_cut kept (its cut face looks towards +x, so the
    "iso", "side" and "cutaway" cameras see it), cells in their
    :data:`LAYER_COLORS`, each fat compartment a shade lighter or darker than its layer, and
    a legend naming what is shown.

    With ``dissect`` the other part is taken down to the bone: the bone surface (fixed
    boundary, :data:`BONE_COLOR`) and each retaining ligament's springs as lines from their
    bony origin to where they insert in the tissue, in :data:`LIGAMENT_COLORS`.

    Tissue colours are drawn unlit, so each layer shows exactly its colour; black sharp edges
    give the shape. Layer ``L`` is ``plotter.actors["layer_<L.name>"]`` (``..._<k>`` per
    compartment ``k`` of a layer with several). Close the Plotter when done.
    """
    check_camera(camera)
    x = None if state is None else state.x
    grid = to_pyvista(model, x)
    b = np.asarray(grid.bounds)
    if not 0.0 < cut < 1.0:
        raise RenderError(f"viz: field 'cut': expected a fraction of the width in (0, 1), got {cut}")
    origin = b[0::2] + cut * (b[1::2] - b[0::2])
    half = grid.clip(normal="x", origin=origin, invert=True)
    if half.n_cells == 0:
        raise RenderError(f"viz: model {model.name}: expected cells on the x < x_cut side of the cut, found none")
    tags = np.asarray(half.cell_data["layer"])
    comps = np.asarray(half.cell_data["compartment"])
    present = [Layer(int(v)) for v in np.unique(tags)]
    entries = [(LAYER_LABELS[layer], LAYER_COLORS[layer]) for layer in present]
    plotter = make_plotter(window_size)
    try:
        for layer in present:
            mine = tags == layer
            kinds = np.unique(comps[mine])
            for i, k in enumerate(kinds):
                part = half.extract_cells(np.flatnonzero(mine & (comps == k)))
                shade = 0.0 if len(kinds) == 1 else COMPARTMENT_SHADE * (1 if i % 2 else -1)
                name = f"layer_{layer.name}" if len(kinds) == 1 else f"layer_{layer.name}_{int(k)}"
                plotter.add_mesh(part, color=_shade(LAYER_COLORS[layer], shade), lighting=False, name=name)
        plotter.add_mesh(outline(half), color="black", line_width=1.5, name="edges")
        shown = [half]
        if dissect:
            shown += _dissection(plotter, model, grid.points, origin[0], entries)
        if legend:
            _legend(plotter, entries)
        finish(plotter, title, camera, union_bounds(*shown), zoom=0.85)  # room for the legend and title
    except BaseException:
        plotter.close()
        raise
    return plotter


def _dissection(plotter: pv.Plotter, model: TissueModel, x: np.ndarray, middle: float,
                entries: list) -> list[pv.DataSet]:
    """Bone and ligaments of the removed part (x >= middle); appends their legend entries."""
    shown = []
    faces = bone_faces(model)
    bone = pv.PolyData(x, np.column_stack([np.full(len(faces), 3), faces]).ravel()).clean() if len(faces) else None
    if bone is not None:  # cut by the same plane as the tissue, so the two meet along the cut
        bone = bone.clip(normal="x", origin=(middle, 0.0, 0.0), invert=False)
    if bone is not None and bone.n_cells:
        plotter.add_mesh(bone, color=BONE_COLOR, ambient=0.6, diffuse=0.4, specular=0.0, smooth_shading=True,
                         name="bone")
        entries.append(("bone", BONE_COLOR))
        shown.append(bone)
    springs = model.springs
    if len(springs) == 0:
        return shown
    ends = np.where((springs.nodes[:, 1] >= 0)[:, None], x[np.maximum(springs.nodes[:, 1], 0)], springs.anchors)
    start = x[springs.nodes[:, 0]]
    side = (0.5 * (start[:, 0] + ends[:, 0]) >= middle) & springs.is_ligament  # supports are no ligament
    named = {}
    for g in np.unique(springs.group[side]):
        name = springs.names[g] if g < len(springs.names) else f"ligament {g}"
        named.setdefault(name.removesuffix("_left").removesuffix("_right"), []).append(g)
    for base, groups in named.items():
        sel = side & np.isin(springs.group, groups)
        pts = np.concatenate([ends[sel], start[sel]])
        n = int(sel.sum())
        lines = pv.PolyData(pts, lines=np.column_stack([np.full(n, 2), np.arange(n), np.arange(n) + n]).ravel())
        color = ligament_color(base)
        plotter.add_mesh(lines, color=color, line_width=3, render_lines_as_tubes=True, lighting=False,
                         name=f"ligament_{base}")
        entries.append((base.replace("_", " ") + " ligament", color))
        shown.append(lines)
    return shown



def render_layers(model: TissueModel, state: State | None, path: str | os.PathLike, *, camera: str = "iso",
                  title: str | None = None, window_size: Sequence[int] = (1200, 900),
                  legend: bool = True, dissect: bool = True, cut: float = 0.5) -> Path:
    """Write a PNG of the layer cut-away (see :func:`layers_plotter`). Returns the path."""
    plotter = layers_plotter(model, state, camera=camera, title=title, window_size=window_size, legend=legend,
                             dissect=dissect, cut=cut)
    return save(plotter, path)
