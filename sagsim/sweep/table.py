"""The sweep's one table: a row per run (in design order) with its parameters, status
("ok" or "failed"), one-line error, seconds and metrics, as Parquet (through pandas) and CSV.
It is rebuilt from the run folders, so it always says what is on disk."""
from __future__ import annotations

from pathlib import Path

from ..errors import SagsimError
from ..inputs.sweep import Sweep
from ..io import atomic_path, read_json
from .task import RESULT

LEADING = ("index", "run", "status", "error", "seconds")


def collect(sweep: Sweep, runs_dir: Path):
    """The table of ``sweep`` from the result.json of each run folder under ``runs_dir``."""
    import pandas as pd

    rows = []
    for i, params in enumerate(sweep.runs):
        key = sweep.run_key(i)
        try:
            record = read_json(Path(runs_dir) / key / RESULT)
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
    """OUT/table.parquet and OUT/table.csv, each written atomically."""
    out = Path(out)
    paths = []
    with atomic_path(out / "table.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    paths.append(out / "table.parquet")
    with atomic_path(out / "table.csv") as tmp:
        table.to_csv(tmp, index=False)
    paths.append(out / "table.csv")
    return paths


def read_table(out: Path):
    """The table a sweep wrote into ``out``."""
    import pandas as pd
    return pd.read_parquet(Path(out) / "table.parquet")
