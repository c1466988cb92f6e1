"""A lift's results folder (from `sagsim lift`): the landmark repositioning table and the cog
table (CSV), the lift map over the face (VTU: point data ``lift`` in m and ``unevenness_mm``,
cell data ``lift_strain`` and the stresses), the months after (CSV, and the fading lift as an
XDMF series), the sweep (CSV), and a JSON summary with the thread tensions checked against the
fixation's tearing force and the thread's strength. The reader gives back what `sagsim render`
needs. The plots of a lift are drawn by sagsim.render.lift.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataFileError
from ..io import read_json, read_vtu, read_xdmf_series, write_csv, write_json, write_vtu, write_xdmf_series
from ..meshfile import load_face
from ..model import State, TissueModel, tet_volumes
from ..threads.assessment import assess
from ..threads.effects import (DENT_THRESHOLD_MM, STRAIN_THRESHOLD, cog_dents_mm, element_gradients, lift_strain,
                               unevenness, von_mises)
from ..threads.lift import LiftResult
from ..threads.catalogue import MATERIALS, TEMPORAL_FASCIA_TEARING
from ..threads.plan import point

LANDMARKS = "landmarks.csv"
COGS = "cogs.csv"
LIFT = "lift.vtu"
MONTHS = "months.csv"
MONTHS_SERIES = "months.xdmf"
SWEEP = "sweep.csv"
SUMMARY = "summary.json"
#: what the folder holds, in the order a page lists it
FILES = (SUMMARY, LANDMARKS, COGS, MONTHS, MONTHS_SERIES, SWEEP, LIFT)
#: the file a finished lift writes last (and a new run on the folder removes first)
MARKER = SUMMARY
#: where a lift's aging checkpoints while it runs (inside the lift's folder)
AGING_CHECKPOINT = "aging"
#: what only a lift leaves behind while it runs: a folder with one of these and no MARKER is
#: a lift that did not finish
STARTED = (COGS, LIFT, AGING_CHECKPOINT)
#: what tells a lift folder, as an error message says it
DESCRIPTION = f"{LIFT} + {COGS} + {SUMMARY} from `sagsim lift`"


def landmark_table(model, start: State, result: LiftResult) -> list[dict]:
    """Per landmark: repositioning (mm; x lateral, y up, z forward), its upward part and size."""
    rows = []
    for name in sorted(model.landmarks):
        d = 1e3 * (model.landmark_position(name, result.state.x) - model.landmark_position(name, start.x))
        rows.append({"landmark": name, "dx_mm": d[0], "dy_mm": d[1], "dz_mm": d[2], "lift_mm": d[1],
                     "magnitude_mm": float(np.linalg.norm(d))})
    return rows


def cog_table(plan, result: LiftResult) -> list[dict]:
    c = result.cogs
    rows = []
    for s in range(len(c.tet)):
        th = plan.threads[c.thread[s]]
        rows.append({"thread": th.name, "cog": int(s), "element": int(c.tet[s]), "x_m": c.position[s, 0],
                     "y_m": c.position[s, 1], "z_m": c.position[s, 2], "pull_mm": 1e3 * result.pull[s],
                     "force_N": result.force[s], "holding_force_N": c.holding_force[s],
                     "slip_mm": 1e3 * result.slip[s], "let_go": bool(result.released[s])})
    return rows


def write_lift(out: Path, model, start: State, result: LiftResult, planfile, where: str, timings: dict,
               targets: tuple = (), extra: dict | None = None) -> tuple[dict, list[Path]]:
    """Write a LiftResult's data files into ``out`` (no pictures: see
    sagsim.render.lift.write_pictures); returns the summary (its report without the files
    written; :func:`write_summary` writes it, last) and the paths written. ``extra``: expression, months (and months_shapes),
    sweep (kind, rows), assessment, face_source, as lift_from_plan gathers them."""
    extra = extra or {}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = planfile.plan
    marks = landmark_table(model, start, result)
    growth = start.internal.get("growth")
    # quadratic elements: each one's mean deformation, not its corners' (None: the corners')
    F0, F1 = element_gradients(model, start, result.state)
    strain = lift_strain(model, start.x, result.state.x, None if F0 is None else (F0, F1))
    vm_before = von_mises(model, start.reference, start.x, growth, F0)
    vm_after = von_mises(model, start.reference, result.state.x, growth, F1)
    uneven = unevenness(model, start.x, result.state.x)
    dents = cog_dents_mm(model, result.cogs, uneven["field_mm"], start.x)
    cogs = cog_table(plan, result)
    for row, d in zip(cogs, dents, strict=True):
        row["dent_mm"] = float(d)
    paths = [write_csv(out / LANDMARKS, marks), write_csv(out / COGS, cogs)]
    lifted = State(x=result.state.x, reference=start.x)
    field = np.zeros(model.n_nodes)
    field[model.skin_nodes] = uneven["field_mm"]
    over = strain > STRAIN_THRESHOLD
    paths.append(write_vtu(out / LIFT, model, lifted,
                           point_data={"lift": result.state.x - start.x, "unevenness_mm": field},
                           cell_data={"lift_strain": strain, "over_tension": over.astype(np.int8),
                                      "von_mises_kPa": 1e-3 * vm_after,
                                      "von_mises_change_kPa": 1e-3 * (vm_after - vm_before)}))
    vol = np.abs(tet_volumes(start.x, model.tets))
    if "months" in extra:
        paths.append(write_csv(out / MONTHS, extra["months"]))
        if extra.get("months_shapes"):  # the fading lift as a time series (in months) for ParaView
            paths.append(write_xdmf_series(out / MONTHS_SERIES, model, [(m, State(x=x, reference=start.x))
                                                                         for m, x in extra["months_shapes"]]))
    if "sweep" in extra:
        paths.append(write_csv(out / SWEEP, extra["sweep"][1]))
    threads = []
    for i, th in enumerate(plan.threads):
        t = float(result.tension[i])
        strength = MATERIALS[th.material].breaking_force_of(th.size)
        threads.append({"name": th.name, "material": th.material, "layer": th.layer, "cogs": th.cogs,
                        "pull_mm": 1e3 * th.pull, "tension_N": t, "anchor_tearing_force_N": TEMPORAL_FASCIA_TEARING,
                        "anchor_safe": t < TEMPORAL_FASCIA_TEARING, "thread_strength_N": strength,
                        "thread_safe": t < strength,
                        "cogs_slipped": int(np.sum((result.slip > 0) & (result.cogs.thread == i))),
                        "path_m": [point(model, p, start.x, th.name, "path").tolist()
                                   for p in (th.entry, *th.via, th.anchor)]})
    summary = {"plan": plan.name, "file": str(planfile.path), "face": where, "face_source": extra.get("face_source"),
               "threads": threads,
               "landmarks_mm": {r["landmark"]: [r["dx_mm"], r["dy_mm"], r["dz_mm"]] for r in marks},
               "max_lift_mm": float(1e3 * np.abs(result.state.x - start.x).max()),
               "targets": list(targets),
               "target_lift_mm": float(np.mean([r["lift_mm"] for r in marks if r["landmark"] in targets]))
               if targets else None,
               "over_tension": {"strain_threshold": STRAIN_THRESHOLD, "max_strain": float(strain.max()),
                                "volume_ml": float(1e6 * vol[over].sum()),
                                "max_von_mises_increase_kPa": float(1e-3 * (vm_after - vm_before).max())},
               "unevenness": {"index_mm": uneven["index_mm"], "dents": uneven["dents"],
                              "dent_threshold_mm": DENT_THRESHOLD_MM,
                              "cogs_dimpling": int(np.sum(dents > DENT_THRESHOLD_MM))},
               "equilibrium_solves": result.iterations, "timing_s": timings}
    for key in ("expression", "months"):
        if key in extra:
            summary[key] = extra[key]
    if "assessment" in extra:
        summary["assessment"] = assess(summary, result, extra["assessment"])
    top = sorted(marks, key=lambda r: -r["lift_mm"])[:3]
    summary["report"] = [
        f"{plan.name}: {len(plan.threads)} threads, {len(result.cogs.tet)} cogs on {where}; lift solved in "
        f"{timings['lift_s']:.1f} s ({result.iterations} equilibrium solves)",
        "most lifted: " + ", ".join(f"{r['landmark']} {r['lift_mm']:.2f} mm" for r in top),
        f"thread tensions {min(t['tension_N'] for t in threads):.2f} to {max(t['tension_N'] for t in threads):.2f} N; "
        f"{int(np.sum(result.slip > 0))} cogs slipped, {int(result.released.sum())} let go",
        f"over-tension: max lift strain {strain.max():.3f}, {summary['over_tension']['volume_ml']:.3f} mL above "
        f"{STRAIN_THRESHOLD:.0%}; unevenness {uneven['index_mm']:.3f} mm, {uneven['dents']} dents, "
        f"{summary['unevenness']['cogs_dimpling']} cogs dimpling",
    ]
    if "expression" in extra:
        e = extra["expression"]
        summary["report"].append(f"smile probe: mouth corner moves {e['motion_with_mm']:.3f} mm with the threads "
                                 f"against {e['motion_without_mm']:.3f} mm without ({e['restriction_pct']:.0f} % less)")
    if "months" in extra and targets:
        t = targets[0]
        summary["report"].append("lift retained at " + t + ": " + ", ".join(
            f"{r['month']} mo {r[f'retained_pct:{t}']:.0f} %" for r in extra["months"]))
    if "assessment" in summary:
        summary["report"].append("assessment: " + summary["assessment"]["verdict"])
    return summary, paths


def write_summary(out: str | Path, summary: dict) -> Path:
    """OUT/summary.json: written last, after the pictures, so a folder that has it is complete
    (see :data:`MARKER`)."""
    return write_json(Path(out) / SUMMARY, summary)


def holds(folder: Path) -> bool:
    """Whether ``folder`` looks like a lift results folder."""
    return (folder / LIFT).exists() and (folder / COGS).exists() and (folder / SUMMARY).exists()


@dataclass(frozen=True)
class LiftFolder:
    """A lift results folder as `sagsim render` reads it: the summary, the face it names
    (rebuilt: meshes are deterministic), the positions before and after the lift (m), the
    lift.vtu fields, the cog table (rows of strings) and the threads of the summary."""

    path: Path
    summary: dict
    model: TissueModel
    before: np.ndarray
    after: np.ndarray
    point_data: dict
    cell_data: dict
    cogs: list
    threads: list

    kind = "lift"

    def cog_positions(self, x: np.ndarray) -> np.ndarray:
        """The cogs in configuration ``x``: they move with their element, at its centroid."""
        return np.array([x[self.model.tets[int(c["element"])]].mean(axis=0) for c in self.cogs]).reshape(-1, 3)

    def months(self) -> tuple[np.ndarray, list[np.ndarray]] | None:
        """Months and configurations of the months-after series, or None when there is none."""
        path = self.path / MONTHS_SERIES
        if not path.exists():
            return None
        months, points, warps = read_xdmf_series(path, "warp")
        if points.shape[0] != self.model.n_nodes:
            raise DataFileError(f"{path}: its mesh is not the face the summary names")
        return months, [points + w for w in warps]


def open_folder(folder: str | Path) -> LiftFolder:
    """The lift results folder ``folder``, read; a DataFileError naming the file for anything
    missing (an older `sagsim lift` wrote no face_source and no thread paths)."""
    folder = Path(folder)
    summary = read_json(folder / SUMMARY)
    source = summary.get("face_source")
    if not source:
        raise DataFileError(f"{folder / SUMMARY}: field 'face_source' missing (an older `sagsim lift` "
                            "wrote this folder: run it again to render it)")
    model = load_face(source)
    points, tets, pdata, cdata = read_vtu(folder / LIFT)
    if points.shape[0] != model.n_nodes or not np.array_equal(tets, model.tets):
        raise DataFileError(f"{folder / LIFT}: its mesh is not the face {source!r} the summary names")
    for key, where in (("lift", pdata), ("unevenness_mm", pdata), ("lift_strain", cdata)):
        if key not in where:
            raise DataFileError(f"{folder / LIFT}: field '{key}' missing")
    after = points
    before = after - pdata["lift"]
    with open(folder / COGS, newline="") as f:
        cogs = list(csv.DictReader(f))
    threads = summary.get("threads") or []
    if any("path_m" not in t for t in threads):
        raise DataFileError(f"{folder / SUMMARY}: field 'threads.path_m' missing (run `sagsim lift` again)")
    return LiftFolder(folder, summary, model, before, after, pdata, cdata, cogs, threads)
