"""The default aging run (40 -> 70, yearly steps, every default mechanism) on the faces of
each resolution: time to the start state (unloaded-shape recovery), time per simulated year,
and how it grows with mesh size. Each face runs in a fresh process after a short warm-up run
on the coarse face (so JIT compilation is excluded); no results are written.

Run it as `sagsim bench aging [--faces coarse default ...] [--formulation anp es-anp] [--years N]
[--json FILE]`; with several formulations each face runs in each, one after the other, and the
time of each against the first formulation's is printed (ratios in one run, not times across
runs: the machine is noisy).
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


def record(face: str, years: float, formulation: str | None = None) -> dict:
    formulation = formulation or AgingSettings().formulation
    run_aging(load_face("coarse"), default_mechanisms(),
              AgingSettings(end_age=42, step_years=2, formulation=formulation))  # compile
    model = load_face(face)
    t0 = time.perf_counter()
    result = run_aging(model, default_mechanisms(), AgingSettings(end_age=40 + years, step_years=1, formulation=formulation))
    total = time.perf_counter() - t0
    steps = result.timings["steps_s"]
    return {"face": face, "formulation": formulation, "tetrahedra": model.n_tets, "dofs": 3 * model.n_nodes, "years": years,
            "total_s": total, "start_s": result.timings["start_s"], "median_year_s": float(np.median(steps)),
            "mean_year_s": float(np.mean(steps)),
            "newton_iterations_per_year": float(np.mean(result.timings["newton_iterations"])),
            "quasi_newton_iterations_per_year": float(np.mean(result.timings["quasi_newton_iterations"])),
            "jowl_descent_mm": result.rows[-1]["jowl_descent_mm"]}


def fitted_exponent(sizes, values) -> float:
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0]) if len(sizes) > 1 else float("nan")


def main(faces=("coarse", "default"), years: float = 30.0, json_path: Path | None = None,
         formulations=(None,)) -> int:
    records = []
    for face in faces:
        first = None
        for formulation in formulations:
            cmd = [sys.executable, "-m", __spec__.name, "--one", face, str(years)] + ([formulation] if formulation else [])
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            first = first or rec
            rec["total_against_first"] = rec["total_s"] / first["total_s"]
            records.append(rec)
            print(f"{face:8s} {rec['formulation']:8s} {rec['tetrahedra']:8d} tets  start {rec['start_s']:6.1f} s  "
                  f"{rec['median_year_s']:6.2f} s/year (median)  total {rec['total_s']:6.1f} s "
                  f"({rec['total_against_first']:.2f}x {first['formulation']})  "
                  f"{rec['newton_iterations_per_year']:.1f} its/year "
                  f"({rec['quasi_newton_iterations_per_year']:.1f} quasi-Newton)  jowl {rec['jowl_descent_mm']:.3f} mm")
    for formulation in {r["formulation"] for r in records}:
        mine = [r for r in records if r["formulation"] == formulation]
        if len(mine) > 1:
            k = fitted_exponent([r["tetrahedra"] for r in mine], [r["median_year_s"] for r in mine])
            print(f"{formulation}: time per year ~ tets^{k:.2f}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) in (4, 5) and sys.argv[1] == "--one":
        print(json.dumps(record(sys.argv[2], float(sys.argv[3]), *sys.argv[4:])))
    else:
        sys.exit(main())
