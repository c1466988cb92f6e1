"""Render a lift results folder (from `sagsim lift`): the lifted face coloured by the lift with
the threads and their cogs coloured by the force each holds (front and three-quarter), the
tissue the lift over-tensions, the skin's unevenness with the dimpling cogs marked, the face
before (with the planned threads) and after side by side, a layer cut-away of the lifted face,
an interactive 3D view, and index.html with the report, the assessment, the tables and the
plots already in the folder (months, expression, thread-count sweep).

The mesh is rebuilt from the face the summary names (face_source); the shapes and fields come
from lift.vtu (positions after the lift, the lift itself, strain and unevenness), the cogs
from cogs.csv and the thread paths from summary.json.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import DataFileError
from ..io import read_vtu
from ..threads.effects import DENT_THRESHOLD_MM, STRAIN_THRESHOLD
from ..viz_threads import LIFT_BAR, LIFT_CMAP
from . import page
from .aging import CUT, animate, side_by_side
from .interactive import surface_payload, write_view


def load_lift(folder: Path):
    """The model, the positions before and after the lift, the lift.vtu fields, the cogs and
    the threads as drawn; a DataFileError naming the file for anything missing."""
    from ..meshfile import load_face
    from ..viz_threads import ThreadsDrawn

    summary = json.loads((folder / "summary.json").read_text())
    source = summary.get("face_source")
    if not source:
        raise DataFileError(f"{folder / 'summary.json'}: field 'face_source' missing (an older `sagsim lift` "
                            "wrote this folder: run it again to render it)")
    model = load_face(source)
    points, tets, pdata, cdata = read_vtu(folder / "lift.vtu")
    if points.shape[0] != model.n_nodes or not np.array_equal(tets, model.tets):
        raise DataFileError(f"{folder / 'lift.vtu'}: its mesh is not the face {source!r} the summary names")
    for key, where in (("lift", pdata), ("unevenness_mm", pdata), ("lift_strain", cdata)):
        if key not in where:
            raise DataFileError(f"{folder / 'lift.vtu'}: field '{key}' missing")
    after = points
    before = after - pdata["lift"]
    with open(folder / "cogs.csv", newline="") as f:
        cogs = list(csv.DictReader(f))
    threads = summary.get("threads") or []
    if any("path_m" not in t for t in threads):
        raise DataFileError(f"{folder / 'summary.json'}: field 'threads.path_m' missing (run `sagsim lift` again)")

    def cog_positions(x):
        # the cogs move with their element: its centroid, in configuration x
        return np.array([x[model.tets[int(c["element"])]].mean(axis=0) for c in cogs]).reshape(-1, 3)

    def drawn(x):
        pos = cog_positions(x)
        paths = []
        for i, t in enumerate(threads):
            mine = pos[[j for j, c in enumerate(cogs) if c["thread"] == t["name"]]]
            anchor = np.asarray(t["path_m"][-1], float)
            paths.append(np.vstack([mine, anchor[None]]) if len(mine) else np.asarray(t["path_m"], float))
        return ThreadsDrawn(paths=paths, materials=[t["material"] for t in threads], cog_position=pos,
                            cog_force=np.array([float(c["force_N"]) for c in cogs]),
                            cog_dent_mm=np.array([float(c.get("dent_mm") or 0.0) for c in cogs]),
                            force_limit=max([float(c["holding_force_N"]) for c in cogs] or [1.0]))
    return summary, model, before, after, pdata, cdata, cogs, drawn


def render_lift(folder: Path) -> list[Path]:
    """Render what a lift results folder holds into folder/render; returns the files."""
    from ..model import State
    from ..viz import render_layers
    from ..viz_threads import overtension_plotter, plan_plotter, render, threads_plotter, unevenness_plotter

    summary, model, before, after, pdata, cdata, cogs, drawn = load_lift(folder)
    out = folder / "render"
    out.mkdir(exist_ok=True)
    lift_mm = 1e3 * np.linalg.norm(pdata["lift"], axis=1)
    clim = (0.0, float(lift_mm.max()) or 1.0)
    name = summary.get("plan", "lift")
    on_after, on_before = drawn(after), drawn(before)
    shows, files = {}, []
    for camera, label in (("front", "front"), ("three_quarter", "three-quarter")):
        p = render(threads_plotter(model, before, after, on_after, camera=camera, clim=clim,
                                   title=f"{name}: lift and cog forces ({label})"), out / f"threads_{camera}.png")
        shows[p.name] = (f"The lifted face ({label} view), translucent and coloured by the lift (mm), with the threads "
                         "(tubes, in their material's colour) and each cog coloured by the force it holds (N; the "
                         "bar ends at the cogs' holding force).")
        files.append(p)
    strain = cdata["lift_strain"]
    p = render(overtension_plotter(model, after, strain, STRAIN_THRESHOLD, on_after, DENT_THRESHOLD_MM,
                                   title=f"{name}: tissue over-tensioned (lift strain > {STRAIN_THRESHOLD:.0%})"),
               out / "overtension.png")
    shows[p.name] = (f"Over-tension hot spots: the elements stretched by the lift beyond {STRAIN_THRESHOLD:.0%} "
                     "(coloured by their strain) inside the translucent face; cogs that dimple the skin in amber.")
    files.append(p)
    field = pdata["unevenness_mm"]
    p = render(unevenness_plotter(model, after, field, on_after, DENT_THRESHOLD_MM,
                                  title=f"{name}: unevenness of the skin (dents blue, bumps red)"),
               out / "unevenness.png")
    shows[p.name] = (f"The skin's unevenness after the lift (mm along the normal, the broad lift taken out); amber "
                     f"marks above the cogs that dent the skin by more than {DENT_THRESHOLD_MM:g} mm.")
    files.append(p)
    left = plan_plotter(model, before, on_before, title="before: the planned threads", window_size=(900, 700))
    right = threads_plotter(model, before, after, on_after, clim=clim, title="after: lift (mm) and cog forces",
                            window_size=(900, 700))
    p = side_by_side(out / "before_after.png", _shot(left), _shot(right))
    shows[p.name] = "Before the lift with the planned threads, and after it coloured by the lift (mm), side by side."
    files.append(p)
    p = render_layers(model, State(x=after, reference=before), out / "cutaway.png", camera="cutaway", cut=CUT,
                      title="the layers after the lift")
    shows[p.name] = ("A cut through the left mid-cheek after the lift: the layers (superficial fat compartments in "
                     "alternating shades) and, beyond the cut, the bone and the retaining ligaments.")
    files.append(p)
    if (folder / "months.xdmf").exists():
        anim = animate_months(folder, model, before, clim, summary)
        for p in anim:
            shows[p.name] = ("The months after the lift: the face coloured by what remains of the lift (mm, one range), "
                             "one frame per check-up, the month and the share of the lift left written on each.")
        files += anim
    marks = on_after.cog_position[on_after.cog_dent_mm > DENT_THRESHOLD_MM]
    view = write_view(out / "view3d.html", f"{name}: lift", surface_payload(
        after, model.skin_faces, lift_mm, clim, LIFT_CMAP, lines=list(on_after.paths), marks=marks), "lift [mm]",
        clim, LIFT_CMAP)
    shows[view.name] = "Interactive 3D view: the skin coloured by the lift, the threads, the dimpling cogs."
    files.append(view)
    files.append(page.write_manifest(folder, "lift", shows, {"lift_mm": list(clim),
                                                              "cog_force_N": [0.0, on_after.force_limit]}))
    files.append(write_page(folder, summary, files, shows))
    return files


def animate_months(folder: Path, model, before: np.ndarray, clim, summary: dict, fps: int = 2) -> list[Path]:
    """months.gif / months.mp4 from the months.xdmf series: the lift fading as the thread absorbs."""
    from ..io import read_xdmf_series
    months, points, warps = read_xdmf_series(folder / "months.xdmf", "warp")
    if points.shape[0] != model.n_nodes:
        raise DataFileError(f"{folder / 'months.xdmf'}: its mesh is not the face the summary names")
    rows = {r["month"]: r for r in summary.get("months") or []}
    target = (summary.get("targets") or [None])[0]
    titles = []
    for m in months:
        left = rows.get(int(round(m)), {}).get(f"retained_pct:{target}") if target else None
        titles.append(f"month {m:g}" + (f": {target} keeps {left:.0f} % of its lift" if left is not None else ""))
    return animate(model, titles, [points + w for w in warps], before, folder / "render" / "months", clim, fps,
                   cmap=LIFT_CMAP, bar_title=LIFT_BAR)


def _shot(plotter) -> np.ndarray:
    try:
        return np.asarray(plotter.screenshot(return_img=True))
    finally:
        plotter.close()


def write_page(folder: Path, summary: dict, rendered: list[Path], shows: dict[str, str]) -> Path:
    """index.html: the report, the assessment, the pictures, the plots, the tables and files."""
    parts = [page.paragraph(f"{summary.get('face', '')}; plan file {summary.get('file', '')}")]
    if "assessment" in summary:
        parts.append(page.paragraph("Assessment: " + summary["assessment"]["verdict"], cls="verdict"))
    lines = [line for line in summary.get("report", []) if not line.startswith(("wrote ", "assessment: "))]
    parts += [page.heading("Report"), "<ul>" + "".join(f"<li>{page.esc(line)}</li>" for line in lines) + "</ul>"]
    parts += page.rendered_parts(rendered, shows, "the months as a GIF")
    plots = {"months.png": "The lift retained over the months after, as the thread absorbs and collagen forms.",
             "expression.png": "Expression: how far the mouth corner moves under a smile-like pull, with and "
                               "without the threads (over-tension stiffens it).",
             "sweep.png": "The sweep: lift, unevenness and over-tension against the number of threads or the pull."}
    parts += page.folder_plots(folder, plots)
    threads = summary.get("threads") or []
    if threads:
        cols = ["name", "material", "layer", "cogs", "pull_mm", "tension_N", "thread_strength_N",
                "anchor_tearing_force_N", "cogs_slipped"]
        parts += [page.heading("Threads"), page.table([cols] + [[t.get(c, "") for c in cols] for t in threads])]
    parts += [page.heading("Landmarks moved (mm)"), page.csv_table(folder / "landmarks.csv")]
    parts += [page.heading("Cogs"), page.csv_table(folder / "cogs.csv", ["thread", "cog", "force_N", "holding_force_N",
                                                                           "slip_mm", "let_go", "dent_mm"])]
    for name, title in (("months.csv", "Months after"), ("sweep.csv", "Sweep")):
        if (folder / name).exists():
            parts += [page.heading(title), page.csv_table(folder / name)]
    parts.append(page.files_list(folder, ["summary.json", "landmarks.csv", "cogs.csv", "months.csv", "months.xdmf",
                                          "sweep.csv", "lift.vtu"]))
    return page.write_page(folder, summary.get("plan", "lift"), parts)
