"""Which inputs drive which outputs: SALib's indices from a sweep's runs.

A morris design gives elementary-effect indices (mu*: the mean absolute change of the output
over the input's whole range, in the output's unit; sigma: how much that change depends on the
other inputs), a sobol design Sobol indices (S1: the share of the output's variance due to the
input alone, ST: with all its interactions), a Latin hypercube RBD-FAST first-order indices
(S1). A log-scaled parameter is analysed on its log scale. The indices need every run of the
design: when some failed they are not computed, and the notes say so.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..inputs.designs import problem
from ..inputs.sweep import Sweep
from ..io import atomic_path
from ..results.sweep import METHODS, main_index



def analyse(sweep: Sweep, table) -> tuple:
    """(DataFrame with a row per output and input, or None; notes on what was left out)."""
    import pandas as pd

    if sweep.design not in METHODS:
        return None, [f"no sensitivity indices for a {sweep.design} design (use lhs, morris or sobol)"]
    if sweep.design == "lhs" and len(table) < 8:
        return None, ["no sensitivity indices: RBD-FAST needs at least 8 runs of a Latin hypercube"]
    failed = int((table["status"] != "ok").sum())
    if failed:
        return None, [f"sensitivity not computed: {failed} of {len(table)} runs failed and the {sweep.design} design "
                      "needs every run (see the error column)"]
    method, columns = METHODS[sweep.design]
    names = [p.key for p in sweep.parameters]
    outputs = list(sweep.outputs) or [c for c in table.columns if c not in ("index", "run", "status", "error", "seconds")
                                      and c not in names and pd.api.types.is_numeric_dtype(table[c])]
    notes, rows = [], []
    prob = problem(sweep.parameters)
    for out in outputs:
        if out not in table:
            notes.append(f"sensitivity: no metric {out!r} in the table")
            continue
        Y = pd.to_numeric(table[out], errors="coerce").to_numpy(float)
        if not np.isfinite(Y).all():
            notes.append(f"sensitivity: {out} is missing in some runs; left out")
            continue
        indices = _indices(method, prob, sweep, Y)
        for j, name in enumerate(names):
            rows.append({"output": out, "input": name, "method": method,
                         **{c: float(indices[c][j]) for c in columns}})
    if not rows:
        return None, notes
    return pd.DataFrame(rows), notes


def _indices(method: str, prob: dict, sweep: Sweep, Y: np.ndarray) -> dict:
    seed = sweep.options["seed"]
    if method == "morris":
        from SALib.analyze import morris
        return morris.analyze(prob, sweep.X, Y, num_levels=sweep.options["levels"], seed=seed)
    if method == "sobol":
        from SALib.analyze import sobol
        if np.ptp(Y) == 0.0:  # a constant output: no variance to share out
            zero = np.zeros(prob["num_vars"])
            return {"S1": zero, "S1_conf": zero, "ST": zero, "ST_conf": zero}
        return sobol.analyze(prob, Y, calc_second_order=False, seed=seed)
    from SALib.analyze import rbd_fast
    M = min(10, (len(Y) // 2 - 1) // 2)  # harmonics: its bootstrap, on half the runs, needs N / 2 > 2 M
    return rbd_fast.analyze(prob, sweep.X, Y, M=M, seed=seed)


def write_indices(indices, path: Path) -> Path:
    with atomic_path(path) as tmp:
        indices.to_csv(tmp, index=False)
    return Path(path)


def text_table(indices) -> str:
    """The main index as a Markdown table: a row per output, a column per input."""
    main, pivot = main_index(indices)
    lines = [f"| {main} | " + " | ".join(pivot.columns) + " |", "|---" * (len(pivot.columns) + 1) + "|"]
    for out, row in pivot.iterrows():
        lines.append(f"| {out} | " + " | ".join(f"{v:.3g}" for v in row) + " |")
    return "\n".join(lines)

