"""Render an aging results folder (from `sagsim age`): the face coloured by its change since the
start age from three cameras (one colour range for all), a cut-away of the layers at the end
age with the other cheek dissected down to bone and ligaments, the start and end ages side by
side, the aging as a GIF and an MP4 with the age on every frame, an interactive 3D view, and
index.html gathering them with the plots and tables already in the folder. The model is
rebuilt from the face the scenario names (meshes are deterministic); the shapes come from the
time series.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataFileError
from ..io import atomic_path
from ..model import State
from . import page
from .interactive import surface_payload, write_view

VIEWS = (("front", "front"), ("three_quarter", "three-quarter"), ("profile", "profile"))
CUT = 0.7  # the sagittal cut through the left mid-cheek, where the compartments and ligaments are


def render_aging(folder: Path, fps: int = 6) -> list[Path]:
    """Render what an aging results folder holds into folder/render; returns the files."""
    from ..meshfile import load_face
    from ..viz import render_displacement, render_layers

    summary = json.loads((folder / "summary.json").read_text())
    scenario = summary.get("scenario") or {}
    model = load_face(scenario.get("face", "default"))
    ages, frames = read_series(folder / "series.xdmf", model.n_nodes)
    out = folder / "render"
    out.mkdir(exist_ok=True)
    end = State(x=frames[-1], reference=frames[0])  # coloured by the change since the start age
    change = 1e3 * np.linalg.norm(frames[-1] - frames[0], axis=1)
    clim = (0.0, float(change.max()) or 1.0)
    span = f"{ages[0]:g} to {ages[-1]:g}"
    shows, files = {}, []
    for camera, label in VIEWS:
        p = render_displacement(model, end, out / f"change_{camera}.png", camera=camera, clim=clim,
                                title=f"change from age {span} ({label})")
        shows[p.name] = f"The face at age {ages[-1]:g} ({label} view), coloured by how far each point moved since age {ages[0]:g} (mm)."
        files.append(p)
    p = render_layers(model, end, out / "cutaway.png", camera="cutaway", cut=CUT,
                      title=f"the layers at age {ages[-1]:g}")
    shows[p.name] = ("A cut through the left mid-cheek at the end age: skin, superficial fat (its compartments in "
                     "alternating shades), SMAS and deep fat; beyond the cut, the tissue removed down to the bone, "
                     "with the retaining ligaments as lines from their bony origin to their insertion.")
    files.append(p)
    p = before_after(model, frames[0], frames[-1], ages, out / "before_after.png", clim)
    shows[p.name] = f"Age {ages[0]:g} and age {ages[-1]:g} side by side, one colour range (change since age {ages[0]:g}, mm)."
    files.append(p)
    anim = animate(model, [f"age {a:.0f}" for a in ages], frames, frames[0], out / "aging", clim, fps)
    for p in anim:
        shows[p.name] = f"The aging from {span}, one frame per step, the age written on each frame."
    files += anim
    skin = model.skin_faces
    view = write_view(out / "view3d.html", f"{scenario.get('name', 'aging')}: age {ages[-1]:g}",
                      surface_payload(frames[-1], skin, change, clim, "viridis"),
                      f"change since age {ages[0]:g} [mm]", clim, "viridis")
    shows[view.name] = "Interactive 3D view of the skin at the end age, coloured by the change (drag to turn)."
    files.append(view)
    files.append(page.write_manifest(folder, "aging", shows, {"change_mm": list(clim)}))
    files.append(write_page(folder, summary, files, shows))
    return files


def read_series(path: Path, n_nodes: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Ages and configurations (reference + warp) of an XDMF time series written by sagsim."""
    from ..io import read_xdmf_series
    ages, points, warps = read_xdmf_series(path, "warp")
    if points.shape[0] != n_nodes:
        raise DataFileError(f"{path}: {points.shape[0]} points, but the scenario's face has {n_nodes} nodes")
    return ages, [points + w for w in warps]


def _frame(model, x, x0, clim, title: str, window_size=(900, 700), cmap: str = "viridis",
           bar_title: str = "displacement [mm]") -> np.ndarray:
    from ..viz import displacement_plotter
    plotter = displacement_plotter(model, State(x=x, reference=x0), camera="three_quarter", title=title,
                                   window_size=window_size, show_reference=False, clim=clim, cmap=cmap,
                                   bar_title=bar_title)
    try:
        return np.asarray(plotter.screenshot(return_img=True))
    finally:
        plotter.close()


def side_by_side(path: Path, left: np.ndarray, right: np.ndarray) -> Path:
    """Two screenshots of one size joined left to right into a PNG."""
    import imageio.v3 as iio
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.concatenate([left, right], axis=1), extension=".png")
    return path


def before_after(model, x0, x1, ages, path: Path, clim) -> Path:
    """The face at the start and end ages side by side, one colour range."""
    return side_by_side(path, _frame(model, x0, x0, clim, f"age {ages[0]:g}"),
                        _frame(model, x1, x0, clim, f"age {ages[-1]:g}"))


def animate(model, titles: list[str], frames, x0, stem: Path, clim, fps: int, **style) -> list[Path]:
    """``frames`` (positions) as stem.gif and stem.mp4, each coloured by its displacement from
    ``x0`` on one colour range, its title (the age, the month) written on it."""
    import imageio.v2 as iio2
    images = [_frame(model, x, x0, clim, t, **style) for t, x in zip(titles, frames, strict=True)]
    paths = []
    gif = stem.with_suffix(".gif")
    with atomic_path(gif) as tmp:
        iio2.mimsave(tmp, images, format="GIF", duration=1.0 / fps, loop=0)
    paths.append(gif)
    mp4 = stem.with_suffix(".mp4")
    with atomic_path(mp4) as tmp:
        even = [im[: im.shape[0] // 2 * 2, : im.shape[1] // 2 * 2] for im in images]  # H.264 wants even sizes
        iio2.mimsave(tmp, even, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1)
    paths.append(mp4)
    return paths


def write_page(folder: Path, summary: dict, rendered: list[Path], shows: dict[str, str]) -> Path:
    """index.html: pictures, animation, 3D view, the run's plots, the metric table and files."""
    scenario = summary.get("scenario") or {}
    parts = [page.paragraph(scenario.get("description", ""))]
    parts += page.rendered_parts(rendered, shows, "the animation as a GIF")
    plots = {"metrics.png": "The metrics against age.", "diagnosis.png": "What causes the sag: each mechanism's share "
             "(Shapley values) of each outcome.", "change.png": "The skin coloured by its change (from `sagsim age`)."}
    parts += page.folder_plots(folder, plots)
    if (folder / "metrics.csv").exists():
        parts += [page.heading("Metrics per age"), page.csv_table(folder / "metrics.csv")]
    if (folder / "diagnosis.csv").exists():
        parts += [page.heading("Diagnosis"), page.csv_table(folder / "diagnosis.csv")]
    parts.append(page.files_list(folder, ["metrics.csv", "landmarks.csv", "diagnosis.csv", "summary.json",
                                          "series.xdmf", "result.vtu"]))
    return page.write_page(folder, scenario.get("name", "aging"), parts)
