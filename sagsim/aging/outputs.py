"""An aging run as files a researcher opens: metrics per age (CSV), landmark paths (CSV), the
time series (XDMF + HDF5, ParaView's time controls), the last state (VTU), a JSON summary,
a plot of the metrics against age and a picture of the change; with a diagnosis, its table
(CSV) and bar chart. Every file is written atomically (complete or absent).
"""
from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from .. import __version__
from ..io import save_figure, write_csv, write_json, write_vtu, write_xdmf_series
from ..model import State
from .diagnosis import Diagnosis
from .mechanisms import mechanism_record
from .run import AgingResult

#: the metrics plotted against age, with their axis labels
PLOTTED = (("jowl_descent_mm", "jowl descent (mm)"), ("jawline_overhang_change_mm", "jawline overhang change (mm)"),
           ("fold_depth_change_mm_nasolabial_2_left", "nasolabial fold depth change (mm)"),
           ("fat_moved_below_subnasale_ml", "fat moved below subnasale (mL)"))


def landmark_rows(result: AgingResult) -> list[dict]:
    """Per age and landmark: displacement from the start (mm) and its downward part."""
    model, x0 = result.model, result.frames[0]
    rows = []
    for age, x in zip(result.ages, result.frames):
        for name in sorted(model.landmarks):
            d = 1e3 * (model.landmark_position(name, x) - model.landmark_position(name, x0))
            rows.append({"age": float(age), "landmark": name, "dx_mm": d[0], "dy_mm": d[1], "dz_mm": d[2],
                         "descent_mm": -d[1], "magnitude_mm": float(np.linalg.norm(d))})
    return rows


def summary(result: AgingResult, scenario=None, diagnosis: Diagnosis | None = None) -> dict:
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


def write_results(out: str | Path, result: AgingResult, scenario=None, diagnosis: Diagnosis | None = None,
                  pictures: bool = True) -> list[Path]:
    """Write the run's files into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model, x0 = result.model, result.frames[0]
    paths = [write_csv(out / "metrics.csv", result.rows), write_csv(out / "landmarks.csv", landmark_rows(result))]

    def change(state: State) -> dict:
        return {"change_from_start": state.x - x0}

    states = [(float(a), State(x=x, reference=result.reference)) for a, x in zip(result.ages, result.frames)]
    paths.append(write_xdmf_series(out / "series.xdmf", model, states, change))
    paths.append(write_vtu(out / "result.vtu", model, states[-1][1], point_data=change(states[-1][1])))
    if diagnosis is not None:
        paths.append(write_csv(out / "diagnosis.csv", diagnosis.rows()))
    if pictures:
        paths.append(plot_metrics(result, out / "metrics.png"))
        paths.append(_render_change(result, out / "change.png"))
        if diagnosis is not None:
            paths.append(diagnosis.bar_chart(out / "diagnosis.png", _diagnosis_outcomes(diagnosis)))
    paths.append(write_json(out / "summary.json", summary(result, scenario, diagnosis)))
    return paths


def plot_metrics(result: AgingResult, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [(k, label) for k, label in PLOTTED if k in result.rows[0]]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.0))
    for ax, (key, label) in zip(np.atleast_1d(axes), shown):
        ax.plot(result.metric("age"), result.metric(key), "o-", ms=3)
        ax.set_xlabel("age (years)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result.model.name}: aging from {result.ages[0]:g} to {result.ages[-1]:g}", fontsize=10)
    return save_figure(path, fig)


def _render_change(result: AgingResult, path: Path) -> Path:
    from ..viz import render_displacement

    state = State(x=result.frames[-1], reference=result.frames[0])  # colour: change since the start age
    return render_displacement(result.model, state, path, camera="front",
                               title=f"change from age {result.ages[0]:g} to {result.ages[-1]:g}")


def _diagnosis_outcomes(diagnosis: Diagnosis) -> list[str]:
    """The outcomes worth a bar: the clinical metrics and the left-side landmarks."""
    keep = [o for o in diagnosis.outcomes if not o.startswith("descent_mm:") and "right" not in o
            and not o.startswith("max_")]
    keep += [o for o in diagnosis.outcomes if o.startswith("descent_mm:") and o.endswith("_left")]
    return keep
