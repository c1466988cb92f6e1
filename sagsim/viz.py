"""Pictures of a TissueModel and its States, rendered off-screen with PyVista (VTK).

Nothing ever goes on screen: every Plotter is off-screen, so this works on a machine with
no display (VTK renders through EGL or OSMesa). Each picture has a ``*_plotter`` function
that builds the scene and returns the Plotter (for tests and for callers that want to add
to it), and a ``render_*`` function that writes the PNG atomically and closes the Plotter.
Coordinates stay metres; displacements are shown in mm, as the labels say.
"""
from __future__ import annotations

import os
import sys

if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    # With no display, VTK (>= 9.4) tries X first and logs "bad X server connection" before
    # falling back to EGL; asking for EGL first keeps the output clean. Read when a window
    # is created, so it must be set before any; setdefault: a user's choice wins.
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
import pyvista as pv
from vtkmodules.vtkRenderingAnnotation import vtkLegendBoxActor
from vtkmodules.vtkRenderingCore import vtkTextProperty

from .errors import ModelError, RenderError
from .io import atomic_path
from .model import Layer, State, TissueModel

#: One fixed colour per layer, the same in every picture.
LAYER_COLORS: dict[Layer, str] = {
    Layer.SKIN: "#e8b796",             # light skin tone
    Layer.SUPERFICIAL_FAT: "#f4d35e",  # fat yellow
    Layer.SMAS: "#d65a6f",             # pinkish red fascia
    Layer.DEEP_FAT: "#ee9b3b",         # deeper, orange fat
    Layer.MUSCLE: "#7f1d2d",           # dark red muscle
}

#: Names for legends.
LAYER_LABELS: dict[Layer, str] = {
    Layer.SKIN: "skin",
    Layer.SUPERFICIAL_FAT: "superficial fat",
    Layer.SMAS: "SMAS",
    Layer.DEEP_FAT: "deep fat",
    Layer.MUSCLE: "muscle",
}

#: Camera presets: direction from the focal point to the camera, and view-up. The face
#: looks along +z with y up (see sagsim.model), so "front" looks along -z.
CAMERAS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "iso": ((1.0, 1.0, 1.0), (0.0, 1.0, 0.0)),
    "front": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    "side": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "three_quarter": ((0.7, 0.15, 1.0), (0.0, 1.0, 0.0)),
    "profile": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "cutaway": ((1.0, 0.2, 0.45), (0.0, 1.0, 0.0)),  # onto the cut face and the dissected half
}

DISPLACEMENT_BAR_TITLE = "displacement [mm]"

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

# VTK's built-in sans font draws "[" like "(", so "[mm]" would read "(mm)"; DejaVu Sans
# ships with matplotlib (a dependency) and matches its plots. None: keep VTK's font.
_FONT_FILE: str | None = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
if not os.path.isfile(_FONT_FILE):
    _FONT_FILE = None


def _positions(model: TissueModel, x: np.ndarray | None, name: str) -> np.ndarray:
    if x is None:
        return np.asarray(model.nodes, np.float64)
    arr = np.asarray(x, np.float64)
    if arr.shape != (model.n_nodes, 3):
        raise ModelError(f"viz: field '{name}': expected shape ({model.n_nodes}, 3), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ModelError(f"viz: field '{name}': expected finite positions, found NaN or inf")
    return arr


def to_pyvista(model: TissueModel, x: np.ndarray | None = None, *,
               reference: np.ndarray | None = None) -> pv.UnstructuredGrid:
    """The tetrahedral mesh at positions ``x`` (default: the model's nodes) as a PyVista grid.

    Cell data ``layer`` and ``compartment``; point data ``displacement_mm`` (x - reference,
    in mm; reference defaults to the model's nodes) and ``displacement_magnitude_mm``.
    """
    pts = _positions(model, x, "x")
    ref = _positions(model, reference, "reference")
    grid = pv.UnstructuredGrid({pv.CellType.TETRA: np.array(model.tets, np.int64)}, pts.copy())
    grid.cell_data["layer"] = np.asarray(model.tet_layer, np.int32)
    grid.cell_data["compartment"] = np.asarray(model.tet_compartment, np.int32)
    disp_mm = (pts - ref) * 1e3
    grid.point_data["displacement_mm"] = disp_mm
    grid.point_data["displacement_magnitude_mm"] = np.linalg.norm(disp_mm, axis=1)
    return grid


def _surface(grid: pv.DataSet) -> pv.PolyData:
    return grid.extract_surface(algorithm=None, pass_pointid=False, pass_cellid=False)


def _outline(grid: pv.DataSet) -> pv.PolyData:
    """Sharp edges (> 30 degrees) of the grid's outer surface: an uncluttered outline."""
    return _surface(grid).extract_feature_edges(
        feature_angle=30.0, boundary_edges=True, non_manifold_edges=False,
        feature_edges=True, manifold_edges=False)


def _set_font(prop) -> None:
    """Use :data:`_FONT_FILE` for a vtkTextProperty."""
    if _FONT_FILE is not None:
        prop.SetFontFamily(vtkTextProperty.GetFontFamilyFromString("File"))
        prop.SetFontFile(_FONT_FILE)


def _apply_fonts(plotter: pv.Plotter) -> None:
    """Set the font of every text the plotter shows (colour bars, title, legend)."""
    for bar in plotter.scalar_bars.values():
        _set_font(bar.GetTitleTextProperty())
        _set_font(bar.GetLabelTextProperty())
    for name in ("title", "legend"):
        actor = plotter.actors.get(name)
        if actor is None:
            continue
        if isinstance(actor, vtkLegendBoxActor):
            _set_font(actor.GetEntryTextProperty())
        else:
            _set_font(actor.GetTextProperty())


def _plotter(window_size: Sequence[int]) -> pv.Plotter:
    # An explicit theme, so pictures do not depend on the global pyvista theme.
    size = [int(v) for v in window_size]
    if len(size) != 2 or min(size) < 16:
        raise RenderError(f"viz: field 'window_size': expected (width, height) of at least 16 px, got {window_size}")
    return pv.Plotter(off_screen=True, window_size=size, theme=pv.themes.DocumentTheme())


def _check_camera(camera: str) -> None:
    if camera not in CAMERAS:
        raise RenderError(f"viz: field 'camera': expected one of {', '.join(CAMERAS)}, got {camera!r}")


def set_camera(plotter: pv.Plotter, camera: str, bounds: Sequence[float], zoom: float = 0.95) -> None:
    """Point ``plotter`` at ``bounds`` from preset ``camera`` ("iso", "front", "side").

    The camera depends only on the preset and the bounds, so the same bounds give the same
    view in every picture (frames of an animation line up when given shared bounds).
    """
    _check_camera(camera)
    direction, up = (np.asarray(v) for v in CAMERAS[camera])
    b = np.asarray(bounds, np.float64)
    center = 0.5 * (b[0::2] + b[1::2])
    diag = float(np.linalg.norm(b[1::2] - b[0::2])) or 1.0
    position = center + 2.0 * diag * direction / np.linalg.norm(direction)
    plotter.camera_position = [tuple(position), tuple(center), tuple(up)]
    plotter.reset_camera(bounds=tuple(b))  # slides along the view direction to fit
    plotter.camera.zoom(zoom)  # < 1 leaves a margin around the fitted bounds


def finish(plotter: pv.Plotter, title: str | None, camera: str, bounds, zoom: float = 0.95) -> None:
    """The last steps every picture shares: its title, the camera on ``bounds``, the fonts."""
    if title:
        plotter.add_text(title, position="upper_edge", font_size=12, name="title")
    set_camera(plotter, camera, bounds, zoom=zoom)
    _apply_fonts(plotter)


def _union_bounds(*grids: pv.DataSet) -> tuple[float, ...]:
    b = np.array([g.bounds for g in grids], np.float64)
    return tuple(np.ravel(np.column_stack([b[:, 0::2].min(axis=0), b[:, 1::2].max(axis=0)])))


def displacement_plotter(model: TissueModel, state: State, *, camera: str = "iso",
                         title: str | None = None, window_size: Sequence[int] = (1200, 900),
                         show_reference: bool = True, clim: tuple[float, float] | None = None,
                         cmap: str = "viridis", opacity: float = 1.0,
                         bar_title: str = DISPLACEMENT_BAR_TITLE) -> pv.Plotter:
    """Build (not render) the displacement picture: the deformed outer surface coloured by
    displacement magnitude in mm.

    Parameters
    ----------
    show_reference
        Draw the undeformed outline (sharp edges at ``state.reference``) as grey lines.
    clim
        Colour range in mm; by default the range over the drawn surface. Give one to keep
        the colours of several pictures comparable.
    opacity
        Of the surface (below 1 shows what lies under the skin, e.g. threads).

    Returns
    -------
    An off-screen Plotter; the surface actor is ``plotter.actors["deformed"]``, the colour
    bar ``plotter.scalar_bars[bar_title]`` ("displacement [mm]" by default). Close it when done.
    """
    _check_camera(camera)
    grid = to_pyvista(model, state.x, reference=state.reference)
    surf = _surface(grid)
    mag = surf.point_data["displacement_magnitude_mm"]
    lo, hi = (float(mag.min()), float(mag.max())) if clim is None else (float(clim[0]), float(clim[1]))
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise RenderError(f"viz: field 'clim': expected finite (low, high) in mm with low <= high, got {(lo, hi)}")
    plotter = _plotter(window_size)
    try:
        # Mostly ambient light: faces turned away from the light would otherwise darken the
        # colour map enough to misread the displacement; a little diffuse keeps the shape.
        plotter.add_mesh(surf, scalars="displacement_magnitude_mm", clim=(lo, hi), cmap=cmap, name="deformed",
                         opacity=opacity, ambient=0.45, diffuse=0.55, specular=0.0,
                         scalar_bar_args={"title": bar_title, "fmt": "%.3g", "vertical": True,
                                          "position_x": 0.85, "position_y": 0.1, "height": 0.8, "width": 0.08})
        shown = [grid]
        if show_reference:
            ref = to_pyvista(model, state.reference)
            plotter.add_mesh(_outline(ref), color="#808080", line_width=1.5, name="reference")
            shown.append(ref)
        finish(plotter, title, camera, _union_bounds(*shown))
    except BaseException:
        plotter.close()
        raise
    return plotter


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
    _check_camera(camera)
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
    plotter = _plotter(window_size)
    try:
        for layer in present:
            mine = tags == layer
            kinds = np.unique(comps[mine])
            for i, k in enumerate(kinds):
                part = half.extract_cells(np.flatnonzero(mine & (comps == k)))
                shade = 0.0 if len(kinds) == 1 else COMPARTMENT_SHADE * (1 if i % 2 else -1)
                name = f"layer_{layer.name}" if len(kinds) == 1 else f"layer_{layer.name}_{int(k)}"
                plotter.add_mesh(part, color=_shade(LAYER_COLORS[layer], shade), lighting=False, name=name)
        plotter.add_mesh(_outline(half), color="black", line_width=1.5, name="edges")
        shown = [half]
        if dissect:
            shown += _dissection(plotter, model, grid.points, origin[0], entries)
        if legend:
            _legend(plotter, entries)
        finish(plotter, title, camera, _union_bounds(*shown), zoom=0.85)  # room for the legend and title
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
    side = 0.5 * (start[:, 0] + ends[:, 0]) >= middle
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


def _save(plotter: pv.Plotter, path: str | os.PathLike) -> Path:
    """Render ``plotter`` to ``path`` (format from its suffix, PNG intended) and close it."""
    try:
        with atomic_path(path) as tmp:
            plotter.screenshot(str(tmp))
    finally:
        plotter.close()
    return Path(path)


def render_displacement(model: TissueModel, state: State, path: str | os.PathLike, *, camera: str = "iso",
                        title: str | None = None, window_size: Sequence[int] = (1200, 900),
                        show_reference: bool = True, clim: tuple[float, float] | None = None) -> Path:
    """Write a PNG of the deformed surface coloured by displacement magnitude (mm).

    See :func:`displacement_plotter` for the options. Returns the path written.
    """
    plotter = displacement_plotter(model, state, camera=camera, title=title, window_size=window_size,
                                   show_reference=show_reference, clim=clim)
    return _save(plotter, path)


def render_layers(model: TissueModel, state: State | None, path: str | os.PathLike, *, camera: str = "iso",
                  title: str | None = None, window_size: Sequence[int] = (1200, 900),
                  legend: bool = True, dissect: bool = True, cut: float = 0.5) -> Path:
    """Write a PNG of the layer cut-away (see :func:`layers_plotter`). Returns the path."""
    plotter = layers_plotter(model, state, camera=camera, title=title, window_size=window_size, legend=legend,
                             dissect=dissect, cut=cut)
    return _save(plotter, path)
