"""The displacement picture: the deformed outer surface coloured by how far each point moved
(mm), with the undeformed outline."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pyvista as pv

from ..errors import RenderError
from ..model import State, TissueModel
from .scene import check_camera, finish, make_plotter, outline, save, surface, to_pyvista, union_bounds

DISPLACEMENT_BAR_TITLE = "displacement [mm]"


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
    check_camera(camera)
    grid = to_pyvista(model, state.x, reference=state.reference)
    surf = surface(grid)
    mag = surf.point_data["displacement_magnitude_mm"]
    lo, hi = (float(mag.min()), float(mag.max())) if clim is None else (float(clim[0]), float(clim[1]))
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise RenderError(f"viz: field 'clim': expected finite (low, high) in mm with low <= high, got {(lo, hi)}")
    plotter = make_plotter(window_size)
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
            plotter.add_mesh(outline(ref), color="#808080", line_width=1.5, name="reference")
            shown.append(ref)
        finish(plotter, title, camera, union_bounds(*shown))
    except BaseException:
        plotter.close()
        raise
    return plotter


def render_displacement(model: TissueModel, state: State, path: str | os.PathLike, *, camera: str = "iso",
                        title: str | None = None, window_size: Sequence[int] = (1200, 900),
                        show_reference: bool = True, clim: tuple[float, float] | None = None) -> Path:
    """Write a PNG of the deformed surface coloured by displacement magnitude (mm).

    See :func:`displacement_plotter` for the options. Returns the path written.
    """
    plotter = displacement_plotter(model, state, camera=camera, title=title, window_size=window_size,
                                   show_reference=show_reference, clim=clim)
    return save(plotter, path)
