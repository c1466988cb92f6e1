"""Pictures of a thread lift, off-screen like every picture (see scene.py): the threads and their cogs coloured
by the force each holds, the tissue a lift over-tensions, and the dents it leaves in the skin.

The threads lie a few millimetres under the skin, so the skin is drawn translucent where they
must show. Each ``*_plotter`` returns an off-screen Plotter (close it when done); the
``render_*`` functions write the PNG atomically. Forces in N, lengths on pictures in mm.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib
import numpy as np
import pyvista as pv
from matplotlib.colors import ListedColormap

from ..errors import RenderError
from ..model import Layer, State, TissueModel
from .displacement import displacement_plotter
from .layers import LAYER_COLORS
from .scene import apply_fonts, finish, make_plotter, surface, to_pyvista, union_bounds

#: Thread colours by material: PDO threads are dyed violet; PLLA and PCL are undyed (drawn dark
#: so they show on skin).
THREAD_COLORS = {"PDO": "#6a2c91", "PLLA": "#3c3c3c", "PCL": "#1d4e89"}
COG_FORCE_BAR = "cog force [N]"
LIFT_BAR = "lift [mm]"
STRAIN_BAR = "lift strain [-]"
UNEVENNESS_BAR = "unevenness [mm]"
DIMPLE_COLOR = "#ffc000"  # amber: stands out on the dark blue of a dent and on the reds
LIFT_CMAP = "YlGn"  # light where nothing moved, so the threads and the force-coloured cogs show
THREAD_RADIUS = 0.5e-3  # m, drawn (a 2-0 thread is ~0.35 mm thick; thinner would vanish)
COG_RADIUS = 1.0e-3  # m, drawn


# matplotlib's Reds without its near-white start: the least over-tensioned element must still
# stand out against the pale translucent skin
_HOT = ListedColormap(matplotlib.colormaps["Reds"](np.linspace(0.35, 1.0, 256)), name="hot_reds")


@dataclass(frozen=True)
class ThreadsDrawn:
    """What a picture shows of a plan: per thread its polyline (entry .. anchor, m) and
    material; per cog its position (m), the force it holds (N) and its dent (mm, > 0 inward)."""

    paths: Sequence[np.ndarray]
    materials: Sequence[str]
    cog_position: np.ndarray
    cog_force: np.ndarray
    cog_dent_mm: np.ndarray
    force_limit: float

    def __post_init__(self):
        if len(self.paths) != len(self.materials):
            raise RenderError("viz_threads: field 'materials': expected one per thread path")
        n = len(self.cog_position)
        if self.cog_force.shape != (n,) or self.cog_dent_mm.shape != (n,):
            raise RenderError("viz_threads: fields 'cog_force', 'cog_dent_mm': expected one value per cog")


def add_threads(plotter: pv.Plotter, drawn: ThreadsDrawn, *, cog_colors: bool = True, cogs: bool = True) -> list:
    """Threads as tubes in their material's colour and cogs as spheres coloured by their force
    (colour bar COG_FORCE_BAR from 0 to the largest holding force); returns the data added."""
    shown = []
    for i, (path, material) in enumerate(zip(drawn.paths, drawn.materials)):
        tube = pv.MultipleLines(points=np.asarray(path, float)).tube(radius=THREAD_RADIUS, n_sides=12)
        plotter.add_mesh(tube, color=THREAD_COLORS.get(material, "#3c3c3c"), ambient=0.4, name=f"thread_{i}")
        shown.append(tube)
    if cogs and len(drawn.cog_position):
        pts = pv.PolyData(np.asarray(drawn.cog_position, float))
        pts.point_data["force_N"] = drawn.cog_force
        balls = pts.glyph(geom=pv.Sphere(radius=COG_RADIUS, theta_resolution=12, phi_resolution=12), scale=False,
                          orient=False)
        if cog_colors:
            plotter.add_mesh(balls, scalars="force_N", cmap="plasma", clim=(0.0, drawn.force_limit), name="cogs",
                             ambient=0.5, scalar_bar_args={"title": COG_FORCE_BAR, "fmt": "%.2g", "vertical": True,
                                                           "position_x": 0.07, "position_y": 0.1, "height": 0.6,
                                                           "width": 0.06})
        else:
            plotter.add_mesh(balls, color="#444444", ambient=0.5, name="cogs")
        shown.append(balls)
    return shown


def threads_plotter(model: TissueModel, before: np.ndarray, after: np.ndarray, drawn: ThreadsDrawn, *,
                    camera: str = "three_quarter", title: str | None = None, clim=None,
                    window_size: Sequence[int] = (1200, 900), opacity: float = 0.55) -> pv.Plotter:
    """The lifted face coloured by the lift (mm), translucent, with the threads and the cogs
    coloured by the force each holds."""
    plotter = displacement_plotter(model, State(x=after, reference=before), camera=camera, title=title,
                                   window_size=window_size, show_reference=False, clim=clim, opacity=opacity,
                                   cmap=LIFT_CMAP, bar_title=LIFT_BAR)
    try:
        add_threads(plotter, drawn)
        apply_fonts(plotter)
    except BaseException:
        plotter.close()
        raise
    return plotter


def overtension_plotter(model: TissueModel, x: np.ndarray, strain: np.ndarray, threshold: float,
                        drawn: ThreadsDrawn, dent_threshold_mm: float, *, camera: str = "three_quarter", title: str | None = None,
                        window_size: Sequence[int] = (1200, 900)) -> pv.Plotter:
    """Where the lift over-tensions the tissue: the elements whose lift strain is above
    ``threshold``, coloured by it, inside the translucent face, with the threads; the cogs that
    dimple the skin (dent above ``dent_threshold_mm``) drawn amber, the others grey."""
    strain = np.asarray(strain, float)
    if strain.shape != (model.n_tets,):
        raise RenderError(f"viz_threads: field 'strain': expected one value per tetrahedron ({model.n_tets}), "
                          f"got shape {strain.shape}")
    grid = to_pyvista(model, x)
    grid.cell_data["lift_strain"] = strain
    plotter = make_plotter(window_size)
    try:
        plotter.add_mesh(surface(grid), color="#d9d9d9", opacity=0.25, name="skin", ambient=0.5)
        hot = np.flatnonzero(strain > threshold)
        top = max(float(strain.max()), threshold * 1.0001)
        if len(hot):
            plotter.add_mesh(grid.extract_cells(hot), scalars="lift_strain", cmap=_HOT, clim=(threshold, top),
                             name="over_tension", ambient=0.4,
                             scalar_bar_args={"title": STRAIN_BAR, "fmt": "%.2f", "vertical": True,
                                              "position_x": 0.85, "position_y": 0.1, "height": 0.8, "width": 0.08})
        add_threads(plotter, drawn, cogs=False)
        _cog_marks(plotter, drawn, drawn.cog_dent_mm > dent_threshold_mm)
        finish(plotter, title, camera, grid.bounds)
    except BaseException:
        plotter.close()
        raise
    return plotter


def _cog_marks(plotter: pv.Plotter, drawn: ThreadsDrawn, dimpling: np.ndarray) -> None:
    for name, sel, color in (("cogs_dimpling", dimpling, DIMPLE_COLOR), ("cogs", ~dimpling, "#9a9a9a")):
        if sel.any():
            balls = pv.PolyData(drawn.cog_position[sel]).glyph(geom=pv.Sphere(radius=COG_RADIUS), scale=False,
                                                                orient=False)
            plotter.add_mesh(balls, color=color, name=name)


def unevenness_plotter(model: TissueModel, x: np.ndarray, field_mm: np.ndarray, drawn: ThreadsDrawn,
                       dent_threshold_mm: float, *, camera: str = "front", title: str | None = None,
                       window_size: Sequence[int] = (1200, 900)) -> pv.Plotter:
    """The skin coloured by the lift's unevenness (mm along the outward normal, the broad lift
    taken out: blue dents, red bumps, one symmetric range), the cogs that dimple the skin by
    more than ``dent_threshold_mm`` marked amber above it."""
    field_mm = np.asarray(field_mm, float)
    if field_mm.shape != (model.n_nodes,):
        raise RenderError(f"viz_threads: field 'field_mm': expected one value per node ({model.n_nodes}), "
                          f"got shape {field_mm.shape}")
    grid = to_pyvista(model, x)
    grid.point_data["unevenness_mm"] = field_mm
    surf = surface(grid)
    skin = np.zeros(model.n_nodes, bool)
    skin[model.skin_nodes] = True
    span = max(float(np.abs(field_mm[skin]).max()) if skin.any() else 0.0, dent_threshold_mm)
    plotter = make_plotter(window_size)
    try:
        plotter.add_mesh(surf, scalars="unevenness_mm", cmap="RdBu_r", clim=(-span, span), name="skin",
                         ambient=0.45, diffuse=0.55, specular=0.0,
                         scalar_bar_args={"title": UNEVENNESS_BAR, "fmt": "%.2f", "vertical": True,
                                          "position_x": 0.85, "position_y": 0.1, "height": 0.8, "width": 0.08})
        dimpling = drawn.cog_dent_mm > dent_threshold_mm
        if dimpling.any():
            # marked on the skin straight above each cog, so that the mark is not hidden
            skin_pts = x[model.skin_nodes]
            near = np.argmin(((skin_pts[None, :, :] - drawn.cog_position[dimpling][:, None, :]) ** 2).sum(-1), axis=1)
            marks = pv.PolyData(skin_pts[near]).glyph(geom=pv.Sphere(radius=1.3 * COG_RADIUS), scale=False,
                                                      orient=False)
            plotter.add_mesh(marks, color=DIMPLE_COLOR, name="dimples")
        finish(plotter, title, camera, grid.bounds)
    except BaseException:
        plotter.close()
        raise
    return plotter


def plan_plotter(model: TissueModel, x: np.ndarray, drawn: ThreadsDrawn, *, camera: str = "three_quarter",
                 title: str | None = None, window_size: Sequence[int] = (1200, 900)) -> pv.Plotter:
    """The face before the lift in skin tone, translucent, with the planned threads and cogs."""
    grid = to_pyvista(model, x)
    plotter = make_plotter(window_size)
    try:
        plotter.add_mesh(surface(grid), color=LAYER_COLORS[Layer.SKIN], opacity=0.55, name="skin",
                         ambient=0.45, diffuse=0.55, specular=0.0)
        shown = [grid] + add_threads(plotter, drawn, cog_colors=False)
        finish(plotter, title, camera, union_bounds(*shown))
    except BaseException:
        plotter.close()
        raise
    return plotter

