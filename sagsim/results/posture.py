"""A posture's results folder (from `sagsim settle`): OUT/landmarks.csv (each landmark's
position in the posture and its move from upright, mm), result.vtu (the settled face, with
its displacement from upright) and summary.json (the largest moves; written last, the
folder's completion marker)."""
from __future__ import annotations

from pathlib import Path

from ..io import read_json, write_csv, write_json, write_vtu

LANDMARKS = "landmarks.csv"
RESULT = "result.vtu"
SUMMARY = "summary.json"
FILES = (LANDMARKS, RESULT, SUMMARY)
MARKER = SUMMARY
STARTED = (LANDMARKS, RESULT)
DESCRIPTION = f"{LANDMARKS} + {SUMMARY} from `sagsim settle`"


def write_posture(out: str | Path, model, state, move, rows: list, summary: dict) -> list[Path]:
    """The folder's files, the summary (its marker) last; ``move`` (N, 3) m from upright."""
    out = Path(out)
    return [write_csv(out / LANDMARKS, rows), write_vtu(out / RESULT, model, state, point_data={"from_upright": move}),
            write_json(out / SUMMARY, summary)]


def holds(folder: Path) -> bool:
    """Whether ``folder`` is a finished posture folder."""
    return (folder / LANDMARKS).exists() and (folder / SUMMARY).exists()


def open_folder(folder: str | Path) -> dict:
    """The summary.json of ``folder``."""
    return read_json(Path(folder) / SUMMARY)
