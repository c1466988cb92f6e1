"""Render an aging results folder (from `sagsim age`): the face coloured by its change since the
start age from three cameras (one colour range for all), a cut-away of the layers at the end
age with the other cheek dissected down to bone and ligaments, the start and end ages side by
side, the aging as a GIF and an MP4 with the age on every frame, an interactive 3D view, and
index.html gathering them with the plots and tables already in the folder. The model is
rebuilt from the face the scenario names (meshes are deterministic); the shapes come from the
time series. Also the plots `sagsim age` draws beside its data (write_pictures).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_path
from ..meshfile import load_face
from ..model import State
from ..results import aging as results
from . import page
from .displacement import displacement_plotter, render_displacement
from .interactive import surface_payload, write_view
from .layers import render_layers
from .plots import plot_diagnosis, plot_metrics
from .scene import screenshot

VIEWS = (("front", "front"), ("three_quarter", "three-quarter"), ("profile", "profile"))
CUT = 0.7  # the sagittal cut through the left mid-cheek, where the compartments and ligaments are
#: the plots `sagsim age` writes beside its data
METRICS_PLOT = "metrics.png"
CHANGE_PLOT = "change.png"
DIAGNOSIS_PLOT = "diagnosis.png"


def write_pictures(out: str | Path, result, diagnosis=None) -> list[Path]:
    """The plots of an AgingResult beside its data in ``out``: the metrics against age, the
    change since the start age (front view) and, with a Diagnosis, its bars; returns the paths."""
    out = Path(out)
    paths = [plot_metrics(result, out / METRICS_PLOT)]
    state = State(x=result.frames[-1], reference=result.frames[0])  # colour: change since the start age
    paths.append(render_displacement(result.model, state, out / CHANGE_PLOT, camera="front",
                                     title=f"change from age {result.ages[0]:g} to {result.ages[-1]:g}"))
    if diagnosis is not None:
        paths.append(plot_diagnosis(diagnosis, out / DIAGNOSIS_PLOT, diagnosis_outcomes(diagnosis)))
    return paths


def diagnosis_outcomes(diagnosis) -> list[str]:
    """The outcomes worth a bar: the clinical metrics and the left-side landmarks."""
    keep = [o for o in diagnosis.outcomes if not o.startswith("descent_mm:") and "right" not in o
            and not o.startswith("max_")]
    keep += [o for o in diagnosis.outcomes if o.startswith("descent_mm:") and o.endswith("_left")]
    return keep


def render_aging(folder: Path, fps: int = 6) -> list[Path]:
    """Render what an aging results folder holds into folder/render; returns the files."""
    opened = results.open_folder(folder)
    summary, scenario = opened.summary, opened.scenario
    model = load_face(opened.face_source)
    ages, frames = opened.series(model.n_nodes)
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


def _frame(model, x, x0, clim, title: str, window_size=(900, 700), cmap: str = "viridis",
           bar_title: str = "displacement [mm]") -> np.ndarray:
    plotter = displacement_plotter(model, State(x=x, reference=x0), camera="three_quarter", title=title,
                                   window_size=window_size, show_reference=False, clim=clim, cmap=cmap,
                                   bar_title=bar_title)
    return screenshot(plotter)


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
    plots = {METRICS_PLOT: "The metrics against age.", DIAGNOSIS_PLOT: "What causes the sag: each mechanism's share "
             "(Shapley values) of each outcome.", CHANGE_PLOT: "The skin coloured by its change (from `sagsim age`)."}
    parts += page.folder_plots(folder, plots)
    if (folder / results.METRICS).exists():
        parts += [page.heading("Metrics per age"), page.csv_table(folder / results.METRICS)]
    if (folder / results.DIAGNOSIS).exists():
        parts += [page.heading("Diagnosis"), page.csv_table(folder / results.DIAGNOSIS)]
    parts.append(page.files_list(folder, list(results.FILES)))
    return page.write_page(folder, scenario.get("name", "aging"), parts)
