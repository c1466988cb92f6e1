"""The PyVista plumbing every picture shares, rendered off-screen: the mesh as a PyVista grid,
an off-screen Plotter with a fixed theme, the camera presets, the fonts, the bounds of what is
shown and the atomic PNG save.

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

from ..errors import ModelError, RenderError
from ..io import atomic_path
from ..model import TissueModel

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


def surface(grid: pv.DataSet) -> pv.PolyData:
    return grid.extract_surface(algorithm=None, pass_pointid=False, pass_cellid=False)


def outline(grid: pv.DataSet) -> pv.PolyData:
    """Sharp edges (> 30 degrees) of the grid's outer surface: an uncluttered outline."""
    return surface(grid).extract_feature_edges(
        feature_angle=30.0, boundary_edges=True, non_manifold_edges=False,
        feature_edges=True, manifold_edges=False)


def _set_font(prop) -> None:
    """Use :data:`_FONT_FILE` for a vtkTextProperty."""
    if _FONT_FILE is not None:
        prop.SetFontFamily(vtkTextProperty.GetFontFamilyFromString("File"))
        prop.SetFontFile(_FONT_FILE)


def apply_fonts(plotter: pv.Plotter) -> None:
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


def make_plotter(window_size: Sequence[int]) -> pv.Plotter:
    # An explicit theme, so pictures do not depend on the global pyvista theme.
    size = [int(v) for v in window_size]
    if len(size) != 2 or min(size) < 16:
        raise RenderError(f"viz: field 'window_size': expected (width, height) of at least 16 px, got {window_size}")
    return pv.Plotter(off_screen=True, window_size=size, theme=pv.themes.DocumentTheme())


def check_camera(camera: str) -> None:
    if camera not in CAMERAS:
        raise RenderError(f"viz: field 'camera': expected one of {', '.join(CAMERAS)}, got {camera!r}")


def set_camera(plotter: pv.Plotter, camera: str, bounds: Sequence[float], zoom: float = 0.95) -> None:
    """Point ``plotter`` at ``bounds`` from preset ``camera`` ("iso", "front", "side").

    The camera depends only on the preset and the bounds, so the same bounds give the same
    view in every picture (frames of an animation line up when given shared bounds).
    """
    check_camera(camera)
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
    apply_fonts(plotter)


def union_bounds(*grids: pv.DataSet) -> tuple[float, ...]:
    b = np.array([g.bounds for g in grids], np.float64)
    return tuple(np.ravel(np.column_stack([b[:, 0::2].min(axis=0), b[:, 1::2].max(axis=0)])))



def screenshot(plotter: pv.Plotter) -> np.ndarray:
    """Render ``plotter`` into an image array (height, width, RGB) and close it."""
    try:
        return np.asarray(plotter.screenshot(return_img=True))
    finally:
        plotter.close()


def save(plotter: pv.Plotter, path: str | os.PathLike) -> Path:
    """Render ``plotter`` to ``path`` (format from its suffix, PNG intended) and close it."""
    try:
        with atomic_path(path) as tmp:
            plotter.screenshot(str(tmp))
    finally:
        plotter.close()
    return Path(path)
