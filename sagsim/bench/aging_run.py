"""The default aging run (40 -> 70, yearly steps, every default mechanism) on the faces of
each resolution: time to the start state (unloaded-shape recovery), time per simulated year,
and how it grows with mesh size. Each face runs in a fresh process after a short warm-up run
on the coarse face (so JIT compilation is excluded); no results are written.

Run it as `sagsim bench aging [--faces coarse default ...] [--years N] [--json FILE]`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..aging import AgingSettings, default_mechanisms, run_aging
from ..meshfile import load_face


def record(face: str, years: float) -> dict:

    run_aging(load_face("coarse"), default_mechanisms(), AgingSettings(end_age=42, step_years=2))  # compile
    model = load_face(face)
    t0 = time.perf_counter()
    result = run_aging(model, default_mechanisms(), AgingSettings(end_age=40 + years, step_years=1))
    total = time.perf_counter() - t0
    steps = result.timings["steps_s"]
    return {"face": face, "tetrahedra": model.n_tets, "dofs": 3 * model.n_nodes, "years": years,
            "total_s": total, "start_s": result.timings["start_s"], "median_year_s": float(np.median(steps)),
            "mean_year_s": float(np.mean(steps)),
            "newton_iterations_per_year": float(np.mean(result.timings["newton_iterations"])),
            "jowl_descent_mm": result.rows[-1]["jowl_descent_mm"]}


def fitted_exponent(sizes, values) -> float:
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0]) if len(sizes) > 1 else float("nan")


def main(faces=("coarse", "default"), years: float = 30.0, json_path: Path | None = None) -> int:
    records = []
    for face in faces:
        cmd = [sys.executable, "-m", __spec__.name, "--one", face, str(years)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rec = json.loads(out.stdout.strip().splitlines()[-1])
        records.append(rec)
        print(f"{face:8s} {rec['tetrahedra']:8d} tets  start {rec['start_s']:6.1f} s  "
              f"{rec['median_year_s']:6.2f} s/year (median)  total {rec['total_s']:6.1f} s  "
              f"{rec['newton_iterations_per_year']:.1f} Newton its/year  jowl {rec['jowl_descent_mm']:.2f} mm")
    if len(records) > 1:
        k = fitted_exponent([r["tetrahedra"] for r in records], [r["median_year_s"] for r in records])
        print(f"time per year ~ tets^{k:.2f}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(record(sys.argv[2], float(sys.argv[3]))))
    else:
        sys.exit(main())
