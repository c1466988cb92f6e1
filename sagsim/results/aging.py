"""An aging run's results folder (from `sagsim age`): metrics per age (CSV), landmark paths
(CSV), the time series (XDMF + HDF5, ParaView's time controls), the last state (VTU), with a
diagnosis its table (CSV), and a JSON summary; every file written atomically (complete or
absent). The reader gives back what `sagsim render` needs: the summary, the face it names and
the series of shapes. The plots of a run are drawn by sagsim.render.aging.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..aging.mechanisms import mechanism_record
from ..aging.settings import CHECKPOINT
from ..errors import DataFileError
from ..io import read_json, read_xdmf_series, write_csv, write_json, write_vtu, write_xdmf_series
from ..model import State
from ..version import __version__

METRICS = "metrics.csv"
LANDMARKS = "landmarks.csv"
SERIES = "series.xdmf"
LAST = "result.vtu"
DIAGNOSIS = "diagnosis.csv"
SUMMARY = "summary.json"
#: what the folder holds, in the order a page lists it
FILES = (METRICS, LANDMARKS, DIAGNOSIS, SUMMARY, SERIES, LAST)
#: the file a finished run writes last (and a new run on the folder removes first): a folder
#: without it was interrupted
MARKER = SUMMARY
#: what only an aging run leaves behind while it runs (its checkpoint, its first files): a
#: folder with one of these and no MARKER is an aging run that did not finish
STARTED = (CHECKPOINT, METRICS, SERIES)
#: what tells an aging folder, as an error message says it
DESCRIPTION = f"{SERIES} + {SUMMARY} from `sagsim age`"


def landmark_rows(result) -> list[dict]:
    """Per age and landmark: displacement from the start (mm) and its downward part."""
    model, x0 = result.model, result.frames[0]
    rows = []
    for age, x in zip(result.ages, result.frames):
        for name in sorted(model.landmarks):
            d = 1e3 * (model.landmark_position(name, x) - model.landmark_position(name, x0))
            rows.append({"age": float(age), "landmark": name, "dx_mm": d[0], "dy_mm": d[1], "dz_mm": d[2],
                         "descent_mm": -d[1], "magnitude_mm": float(np.linalg.norm(d))})
    return rows


def summary(result, scenario=None, diagnosis=None) -> dict:
    """The summary.json of an AgingResult (with its scenario and Diagnosis when given)."""
    steps = result.timings.get("steps_s", [])
    first, last = result.rows[0], result.rows[-1]
    out = {
        "sagsim": __version__, "python": platform.python_version(),
        "scenario": scenario.record() if scenario is not None else None,
        "mechanisms": [mechanism_record(m) for m in result.mechanisms],
        "model": {"name": result.model.name, "nodes": result.model.n_nodes, "tetrahedra": result.model.n_tets},
        "ages": [float(a) for a in result.ages],
        "end": {k: v for k, v in last.items() if k not in ("newton_iterations", "step_seconds")},
        "start_age": first["age"],
        "landmark_displacement_mm": {k: [float(c) for c in v] for k, v in result.landmarks.items()},
        "timing": {"start_s": result.timings.get("start_s", 0.0), "steps": len(steps),
                   "median_step_s": float(np.median(steps)) if steps else 0.0,
                   "total_steps_s": float(np.sum(steps)),
                   "newton_iterations": int(np.sum(result.timings.get("newton_iterations", [])))},
    }
    if diagnosis is not None:
        out["diagnosis"] = {"mechanisms": diagnosis.labels, "rows": diagnosis.rows()}
    return out


def write_results(out: str | Path, result, scenario=None, diagnosis=None, finish: bool = True) -> list[Path]:
    """Write an AgingResult's data files into ``out`` (no pictures: see
    sagsim.render.aging.write_pictures); returns their paths. summary.json, the folder's mark of
    completion, comes last; with ``finish=False`` it is left for :func:`write_summary` (a job
    that draws pictures writes it after them)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model, x0 = result.model, result.frames[0]
    paths = [write_csv(out / METRICS, result.rows), write_csv(out / LANDMARKS, landmark_rows(result))]

    def change(state: State) -> dict:
        return {"change_from_start": state.x - x0}

    states = [(float(a), State(x=x, reference=result.reference)) for a, x in zip(result.ages, result.frames)]
    paths.append(write_xdmf_series(out / SERIES, model, states, change))
    last = result.state(-1)  # with its curved edges, if any
    paths.append(write_vtu(out / LAST, model, last, point_data=change(last)))
    if diagnosis is not None:
        paths.append(write_csv(out / DIAGNOSIS, diagnosis.rows()))
    if finish:
        paths.append(write_summary(out, result, scenario, diagnosis))
    return paths


def write_summary(out: str | Path, result, scenario=None, diagnosis=None) -> Path:
    """OUT/summary.json: written last, so a folder that has it is complete (see :data:`MARKER`)."""
    return write_json(Path(out) / SUMMARY, summary(result, scenario, diagnosis))


def holds(folder: Path) -> bool:
    """Whether ``folder`` looks like an aging results folder."""
    return (folder / SERIES).exists() and (folder / SUMMARY).exists()


@dataclass(frozen=True)
class AgingFolder:
    """An aging results folder as `sagsim render` reads it."""

    path: Path
    summary: dict

    kind = "aging"

    @property
    def scenario(self) -> dict:
        """The scenario's record (empty when the run had none)."""
        return self.summary.get("scenario") or {}

    @property
    def face_source(self) -> str:
        """What load_face takes to rebuild the run's mesh (meshes are deterministic)."""
        return self.scenario.get("face", "default")

    def series(self, n_nodes: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Ages and configurations (reference + warp) of the time series; a DataFileError when
        its mesh has not ``n_nodes`` points."""
        path = self.path / SERIES
        ages, points, warps = read_xdmf_series(path, "warp")
        if points.shape[0] != n_nodes:
            raise DataFileError(f"{path}: {points.shape[0]} points, but the scenario's face has {n_nodes} nodes")
        return ages, [points + w for w in warps]


def open_folder(folder: str | Path) -> AgingFolder:
    """The aging results folder ``folder`` (its summary read)."""
    folder = Path(folder)
    return AgingFolder(folder, read_json(folder / SUMMARY))
