"""Render a lift results folder (from `sagsim lift`): the lifted face coloured by the lift with
the threads and their cogs coloured by the force each holds (front and three-quarter), the
tissue the lift over-tensions, the skin's unevenness with the dimpling cogs marked, the face
before (with the planned threads) and after side by side, a layer cut-away of the lifted face,
an interactive 3D view, and index.html with the report, the assessment, the tables and the
plots already in the folder (months, expression, thread-count sweep).

The mesh is rebuilt from the face the summary names (face_source); the shapes and fields come
from lift.vtu (positions after the lift, the lift itself, strain and unevenness), the cogs
from cogs.csv and the thread paths from summary.json (read by sagsim.results.lift). Also the
plots `sagsim lift` draws beside its data (write_pictures).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model import State
from ..results import lift as results
from ..threads.effects import DENT_THRESHOLD_MM, STRAIN_THRESHOLD
from . import page
from .aging import CUT, animate, side_by_side
from .interactive import surface_payload, write_view
from .layers import render_layers
from .plots import plot_expression, plot_months, plot_sweep
from .scene import save, screenshot
from .threads import (LIFT_BAR, LIFT_CMAP, ThreadsDrawn, overtension_plotter, plan_plotter, threads_plotter,
                      unevenness_plotter)

#: the plots `sagsim lift` writes beside its data
MONTHS_PLOT = "months.png"
EXPRESSION_PLOT = "expression.png"
SWEEP_PLOT = "sweep.png"


def write_pictures(out: str | Path, name: str, targets: tuple, extra: dict) -> list[Path]:
    """The plots of a lift beside its data in ``out``, from what lift_from_plan gathered in
    ``extra``: the months after (with targets), the smile probe, the sweep; returns the paths."""
    out = Path(out)
    paths = []
    if "months" in extra and targets:
        paths.append(plot_months(out / MONTHS_PLOT, extra["months"], targets, name))
    if "expression" in extra:
        paths.append(plot_expression(out / EXPRESSION_PLOT, extra["expression"], name))
    if "sweep" in extra:
        paths.append(plot_sweep(out / SWEEP_PLOT, *extra["sweep"], name))
    return paths


def drawn_threads(folder: results.LiftFolder, x: np.ndarray) -> ThreadsDrawn:
    """The threads of a lift folder as drawn in configuration ``x``: each from its cogs (moved
    with their elements) to its anchor, the cogs with their forces and dents."""
    cogs, threads = folder.cogs, folder.threads
    pos = folder.cog_positions(x)
    paths = []
    for t in threads:
        mine = pos[[j for j, c in enumerate(cogs) if c["thread"] == t["name"]]]
        anchor = np.asarray(t["path_m"][-1], float)
        paths.append(np.vstack([mine, anchor[None]]) if len(mine) else np.asarray(t["path_m"], float))
    return ThreadsDrawn(paths=paths, materials=[t["material"] for t in threads], cog_position=pos,
                        cog_force=np.array([float(c["force_N"]) for c in cogs]),
                        cog_dent_mm=np.array([float(c.get("dent_mm") or 0.0) for c in cogs]),
                        force_limit=max([float(c["holding_force_N"]) for c in cogs] or [1.0]))


def render_lift(folder: Path) -> list[Path]:
    """Render what a lift results folder holds into folder/render; returns the files."""
    opened = results.open_folder(folder)
    summary, model, before, after = opened.summary, opened.model, opened.before, opened.after
    pdata, cdata = opened.point_data, opened.cell_data
    out = folder / "render"
    out.mkdir(exist_ok=True)
    lift_mm = 1e3 * np.linalg.norm(pdata["lift"], axis=1)
    clim = (0.0, float(lift_mm.max()) or 1.0)
    name = summary.get("plan", "lift")
    on_after, on_before = drawn_threads(opened, after), drawn_threads(opened, before)
    shows, files = {}, []
    for camera, label in (("front", "front"), ("three_quarter", "three-quarter")):
        p = save(threads_plotter(model, before, after, on_after, camera=camera, clim=clim,
                                   title=f"{name}: lift and cog forces ({label})"), out / f"threads_{camera}.png")
        shows[p.name] = (f"The lifted face ({label} view), translucent and coloured by the lift (mm), with the threads "
                         "(tubes, in their material's colour) and each cog coloured by the force it holds (N; the "
                         "bar ends at the cogs' holding force).")
        files.append(p)
    strain = cdata["lift_strain"]
    p = save(overtension_plotter(model, after, strain, STRAIN_THRESHOLD, on_after, DENT_THRESHOLD_MM,
                                   title=f"{name}: tissue over-tensioned (lift strain > {STRAIN_THRESHOLD:.0%})"),
               out / "overtension.png")
    shows[p.name] = (f"Over-tension hot spots: the elements stretched by the lift beyond {STRAIN_THRESHOLD:.0%} "
                     "(coloured by their strain) inside the translucent face; cogs that dimple the skin in amber.")
    files.append(p)
    field = pdata["unevenness_mm"]
    p = save(unevenness_plotter(model, after, field, on_after, DENT_THRESHOLD_MM,
                                  title=f"{name}: unevenness of the skin (dents blue, bumps red)"),
               out / "unevenness.png")
    shows[p.name] = (f"The skin's unevenness after the lift (mm along the normal, the broad lift taken out); amber "
                     f"marks above the cogs that dent the skin by more than {DENT_THRESHOLD_MM:g} mm.")
    files.append(p)
    left = plan_plotter(model, before, on_before, title="before: the planned threads", window_size=(900, 700))
    right = threads_plotter(model, before, after, on_after, clim=clim, title="after: lift (mm) and cog forces",
                            window_size=(900, 700))
    p = side_by_side(out / "before_after.png", screenshot(left), screenshot(right))
    shows[p.name] = "Before the lift with the planned threads, and after it coloured by the lift (mm), side by side."
    files.append(p)
    p = render_layers(model, State(x=after, reference=before), out / "cutaway.png", camera="cutaway", cut=CUT,
                      title="the layers after the lift")
    shows[p.name] = ("A cut through the left mid-cheek after the lift: the layers (superficial fat compartments in "
                     "alternating shades) and, beyond the cut, the bone and the retaining ligaments.")
    files.append(p)
    months = opened.months()
    if months is not None:
        anim = animate_months(folder, model, before, clim, summary, months)
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


def animate_months(folder: Path, model, before: np.ndarray, clim, summary: dict, series: tuple,
                   fps: int = 2) -> list[Path]:
    """months.gif / months.mp4 from the months after (``series``: months and configurations, as
    LiftFolder.months gives them): the lift fading as the thread absorbs."""
    months, frames = series
    rows = {r["month"]: r for r in summary.get("months") or []}
    target = (summary.get("targets") or [None])[0]
    titles = []
    for m in months:
        left = rows.get(int(round(m)), {}).get(f"retained_pct:{target}") if target else None
        titles.append(f"month {m:g}" + (f": {target} keeps {left:.0f} % of its lift" if left is not None else ""))
    return animate(model, titles, frames, before, folder / "render" / "months", clim, fps,
                   cmap=LIFT_CMAP, bar_title=LIFT_BAR)


def write_page(folder: Path, summary: dict, rendered: list[Path], shows: dict[str, str]) -> Path:
    """index.html: the report, the assessment, the pictures, the plots, the tables and files."""
    parts = [page.paragraph(f"{summary.get('face', '')}; plan file {summary.get('file', '')}")]
    if "assessment" in summary:
        parts.append(page.paragraph("Assessment: " + summary["assessment"]["verdict"], cls="verdict"))
    lines = [line for line in summary.get("report", []) if not line.startswith(("wrote ", "assessment: "))]
    parts += [page.heading("Report"), "<ul>" + "".join(f"<li>{page.esc(line)}</li>" for line in lines) + "</ul>"]
    parts += page.rendered_parts(rendered, shows, "the months as a GIF")
    plots = {MONTHS_PLOT: "The lift retained over the months after, as the thread absorbs and collagen forms.",
             EXPRESSION_PLOT: "Expression: how far the mouth corner moves under a smile-like pull, with and "
                               "without the threads (over-tension stiffens it).",
             SWEEP_PLOT: "The sweep: lift, unevenness and over-tension against the number of threads or the pull."}
    parts += page.folder_plots(folder, plots)
    threads = summary.get("threads") or []
    if threads:
        cols = ["name", "material", "layer", "cogs", "pull_mm", "tension_N", "thread_strength_N",
                "anchor_tearing_force_N", "cogs_slipped"]
        parts += [page.heading("Threads"), page.table([cols] + [[t.get(c, "") for c in cols] for t in threads])]
    parts += [page.heading("Landmarks moved (mm)"), page.csv_table(folder / results.LANDMARKS)]
    parts += [page.heading("Cogs"), page.csv_table(folder / results.COGS, ["thread", "cog", "force_N", "holding_force_N",
                                                                           "slip_mm", "let_go", "dent_mm"])]
    for name, title in ((results.MONTHS, "Months after"), (results.SWEEP, "Sweep")):
        if (folder / name).exists():
            parts += [page.heading(title), page.csv_table(folder / name)]
    parts.append(page.files_list(folder, list(results.FILES)))
    return page.write_page(folder, summary.get("plan", "lift"), parts)
