"""A sweep's results folder: OUT/sweep.json (the resolved design), a folder per run under
OUT/runs/ holding its result.json (status, metrics, the one-line error of a failed run), and
the sweep's one table: a row per run (in design order) with its parameters, status ("ok" or
"failed"), one-line error, seconds and metrics, as Parquet (through pandas) and CSV. The
table is rebuilt from the run folders, so it always says what is on disk. The sensitivity
indices (sensitivity.csv) are written by sagsim.sweep.sensitivity, their plot by
sagsim.render.plots.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SagsimError
from ..io import atomic_path, read_json, write_json

if TYPE_CHECKING:  # sagsim.sweep imports this module: no import of it at run time
    from ..inputs.sweep import Sweep

DESIGN = "sweep.json"
RUNS = "runs"
RESULT = "result.json"
TABLE_PARQUET = "table.parquet"
TABLE_CSV = "table.csv"
SENSITIVITY = "sensitivity.csv"
LEADING = ("index", "run", "status", "error", "seconds")
#: sensitivity.csv per design: the SALib method and the index columns it holds (the first is the
#: main one, plotted and printed)
METHODS = {"morris": ("morris", ("mu_star", "mu_star_conf", "sigma", "mu")),
           "sobol": ("sobol", ("ST", "ST_conf", "S1", "S1_conf")),
           "lhs": ("rbd_fast", ("S1", "S1_conf"))}
#: what tells a sweep folder, as an error message says it
DESCRIPTION = f"{DESIGN} + {RUNS}/ from `sagsim sweep`"
#: the file a finished sweep writes last (and a new sweep on the folder removes first)
MARKER = TABLE_PARQUET
#: what a sweep leaves behind while it runs: with no MARKER, a sweep that did not finish
STARTED = (DESIGN, RUNS)


def write_run(folder: Path, record: dict) -> Path:
    """A run's record as FOLDER/result.json."""
    return write_json(Path(folder) / RESULT, record)


def read_run(folder: Path) -> dict:
    """The record of the run folder ``folder``; a SagsimError when it has none or it is broken."""
    return read_json(Path(folder) / RESULT)


def finished(folder: Path) -> dict | None:
    """The record of a successfully finished run folder, or None."""
    if not (Path(folder) / RESULT).exists():
        return None
    try:
        record = read_run(folder)
    except SagsimError:
        return None
    return record if record.get("status") == "ok" else None


def collect(sweep: Sweep, runs_dir: Path):
    """The table of ``sweep`` from the result.json of each run folder under ``runs_dir``."""
    import pandas as pd

    rows = []
    for i, params in enumerate(sweep.runs):
        key = sweep.run_key(i)
        try:
            record = read_run(Path(runs_dir) / key)
        except SagsimError:
            record = {"status": "failed", "error": "no result: the run did not finish", "metrics": {}}
        status = "ok" if record.get("status") == "ok" else "failed"
        rows.append({"index": i + 1, "run": key, "status": status, "error": record.get("error") or "",
                     "seconds": record.get("seconds"), **params, **(record.get("metrics") or {})})
    table = pd.DataFrame(rows)
    for col in LEADING:
        if col not in table:
            table[col] = None
    names = [p.key for p in sweep.parameters]
    metrics = [c for c in table.columns if c not in LEADING and c not in names]
    metrics.sort(key=lambda c: (":" in c, c))  # the summary metrics, then per-landmark ones
    return table[list(LEADING) + names + metrics]


def write_table(table, out: Path) -> list[Path]:
    """OUT/table.csv and OUT/table.parquet (the folder's completion marker: last), each written
    atomically."""
    out = Path(out)
    with atomic_path(out / TABLE_CSV) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / TABLE_PARQUET) as tmp:
        table.to_parquet(tmp, index=False)
    return [out / TABLE_PARQUET, out / TABLE_CSV]


def read_table(out: Path):
    """The table a sweep wrote into ``out``."""
    import pandas as pd
    return pd.read_parquet(Path(out) / TABLE_PARQUET)


def holds(folder: Path) -> bool:
    """Whether ``folder`` is a finished sweep's results folder."""
    return (folder / DESIGN).exists() and (folder / RUNS).is_dir() and (folder / MARKER).exists()


def open_folder(folder: str | Path):
    """The table of the sweep folder ``folder``."""
    return read_table(folder)


def main_index(indices) -> tuple:
    """(the name of the main index, its values as a DataFrame: a row per output, a column per
    input, in the order they first appear) of a sensitivity table."""
    main = {m: cols[0] for m, cols in METHODS.values()}[indices["method"].iloc[0]]
    pivot = indices.pivot(index="output", columns="input", values=main).reindex(
        index=list(dict.fromkeys(indices["output"])), columns=list(dict.fromkeys(indices["input"])))
    return main, pivot
