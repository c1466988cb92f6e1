"""A calibration's results folder (from `sagsim calibrate`): OUT/calibration.json (the fitted
parameters with their uncertainty, the correlation, the fit's statistics), residuals.csv (a
row per measured value: measured, model, residual) and history.csv (every model run of the
fit). The fit's plot (fit.png) is drawn by sagsim.render.plots.
"""
from __future__ import annotations

from pathlib import Path

from ..io import read_json, write_csv, write_json

SUMMARY = "calibration.json"
RESIDUALS = "residuals.csv"
HISTORY = "history.csv"
FILES = (SUMMARY, RESIDUALS, HISTORY)
#: what tells a calibration folder, as an error message says it
DESCRIPTION = f"{SUMMARY} + {RESIDUALS} from `sagsim calibrate`"
#: the file a finished calibration writes last (and a new one on the folder removes first)
MARKER = SUMMARY
#: what a calibration writes before its marker: with no MARKER, one that did not finish
STARTED = (RESIDUALS, HISTORY)


def write_calibration(out: str | Path, summary: dict, residuals: list, history: list,
                      finish: bool = True) -> list[Path]:
    """OUT/residuals.csv, history.csv and calibration.json (the completion marker: last; with
    ``finish=False`` left for :func:`write_summary`), each written atomically; returns their
    paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [write_csv(out / RESIDUALS, residuals), write_csv(out / HISTORY, history)]
    return paths + [write_summary(out, summary)] if finish else paths


def write_summary(out: str | Path, summary: dict) -> Path:
    """OUT/calibration.json: written last, so a folder that has it is complete."""
    return write_json(Path(out) / SUMMARY, summary)


def holds(folder: Path) -> bool:
    """Whether ``folder`` looks like a calibration's results folder."""
    return (folder / SUMMARY).exists() and (folder / RESIDUALS).exists()


def open_folder(folder: str | Path) -> dict:
    """The calibration.json of ``folder``."""
    return read_json(Path(folder) / SUMMARY)
