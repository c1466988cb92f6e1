"""`sagsim render RESULTS_DIR`: pictures, an animation and one HTML page for a results folder.

An aging folder (series.xdmf, metrics.csv, summary.json from `sagsim age`) gets, in
RESULTS_DIR/render/: the face coloured by its change since the start age from three cameras
(front, three-quarter, profile; one colour range for all), a cut-away of the layers at the end
age, the start and end ages side by side, the aging as a GIF and an MP4 with the age on every
frame, and index.html gathering them with the plots and tables already in the folder. The
model is rebuilt from the face the scenario names (meshes are deterministic), the shapes come
from the time series.
"""
from __future__ import annotations

import csv
import html
import json
from pathlib import Path

import numpy as np

from .errors import DataFileError
from .io import atomic_path
from .model import State

VIEWS = (("front", "front"), ("three_quarter", "three-quarter"), ("profile", "profile"))


def render_folder(folder: str | Path, fps: int = 6) -> list[Path]:
    """Render what an aging results folder holds into folder/render; returns the files."""
    folder = Path(folder)
    if not (folder / "series.xdmf").exists() or not (folder / "summary.json").exists():
        raise DataFileError(f"{folder}: not an aging results folder (expected series.xdmf and summary.json)")
    from .meshfile import load_face
    from .viz import render_displacement, render_layers

    summary = json.loads((folder / "summary.json").read_text())
    face = (summary.get("scenario") or {}).get("face", "default")
    model = load_face(face)
    ages, frames = read_series(folder / "series.xdmf", model.n_nodes)
    out = folder / "render"
    out.mkdir(exist_ok=True)
    end = State(x=frames[-1], reference=frames[0])  # coloured by the change since the start age
    change = 1e3 * np.linalg.norm(frames[-1] - frames[0], axis=1)
    clim = (0.0, float(change.max()) or 1.0)
    files = []
    for camera, label in VIEWS:
        files.append(render_displacement(model, end, out / f"change_{camera}.png", camera=camera, clim=clim,
                                         title=f"change from age {ages[0]:g} to {ages[-1]:g} ({label})"))
    files.append(render_layers(model, end, out / "cutaway.png", camera="iso",
                               title=f"the layers at age {ages[-1]:g}"))
    files.append(before_after(model, frames[0], frames[-1], ages, out / "before_after.png", clim))
    files += animate(model, ages, frames, out / "aging", clim, fps)
    files.append(write_page(folder, summary, files))
    return files


def read_series(path: Path, n_nodes: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Ages and configurations (reference + warp) of an XDMF time series written by sagsim."""
    from .io import read_xdmf_series
    ages, points, warps = read_xdmf_series(path, "warp")
    if points.shape[0] != n_nodes:
        raise DataFileError(f"{path}: {points.shape[0]} points, but the scenario's face has {n_nodes} nodes")
    return ages, [points + w for w in warps]


def _frame(model, x, x0, clim, title: str, window_size=(900, 700)) -> np.ndarray:
    from .viz import displacement_plotter
    plotter = displacement_plotter(model, State(x=x, reference=x0), camera="three_quarter", title=title,
                                   window_size=window_size, show_reference=False, clim=clim)
    try:
        return np.asarray(plotter.screenshot(return_img=True))
    finally:
        plotter.close()


def before_after(model, x0, x1, ages, path: Path, clim) -> Path:
    """The face at the start and end ages side by side, one colour range."""
    import imageio.v3 as iio
    left = _frame(model, x0, x0, clim, f"age {ages[0]:g}")
    right = _frame(model, x1, x0, clim, f"age {ages[-1]:g}")
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.concatenate([left, right], axis=1), extension=".png")
    return path


def animate(model, ages, frames, stem: Path, clim, fps: int) -> list[Path]:
    """The aging as stem.gif and stem.mp4, the age written on every frame."""
    import imageio.v2 as iio2
    images = [_frame(model, x, frames[0], clim, f"age {a:.0f}") for a, x in zip(ages, frames, strict=True)]
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


def write_page(folder: Path, summary: dict, rendered: list[Path]) -> Path:
    """index.html: the pictures, the animation, the plots and the metric table, all by relative
    links inside the folder (self-contained: no network needed to view it)."""
    esc = html.escape
    scenario = summary.get("scenario") or {}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(scenario.get('name', 'sagsim'))}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}img,video{max-width:100%}"
             "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}</style>"
             "</head><body>",
             f"<h1>{esc(scenario.get('name', 'aging'))}</h1><p>{esc(scenario.get('description', ''))}</p>"]
    for p in rendered:
        rel = p.name  # the page lives in render/ beside them
        if p.suffix == ".png":
            parts.append(f"<figure><img src='{esc(rel)}' alt='{esc(p.stem)}'><figcaption>{esc(p.stem)}"
                         "</figcaption></figure>")
        elif p.suffix == ".mp4":
            parts.append(f"<video src='{esc(rel)}' controls loop></video>")
        elif p.suffix == ".gif":
            parts.append(f"<p><a href='{esc(rel)}'>animation (GIF)</a></p>")
    for name in ("metrics.png", "diagnosis.png", "change.png"):
        if (folder / name).exists():
            parts.append(f"<figure><img src='../{name}' alt='{name}'><figcaption>{name}</figcaption></figure>")
    if (folder / "metrics.csv").exists():
        rows = list(csv.reader(open(folder / "metrics.csv")))
        parts.append("<h2>Metrics per age</h2><table>" + "".join(
            "<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{esc(_fmt(c))}</{'th' if i == 0 else 'td'}>" for c in r)
            + "</tr>" for i, r in enumerate(rows)) + "</table>")
    links = [n for n in ("metrics.csv", "landmarks.csv", "diagnosis.csv", "summary.json", "series.xdmf", "result.vtu")
             if (folder / n).exists()]
    parts.append("<h2>Files</h2><ul>" + "".join(f"<li><a href='../{n}'>{n}</a></li>" for n in links) + "</ul>")
    parts.append("</body></html>")
    page = folder / "render" / "index.html"
    with atomic_path(page) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return page


def _fmt(cell: str) -> str:
    try:
        return f"{float(cell):.3g}"
    except ValueError:
        return cell
