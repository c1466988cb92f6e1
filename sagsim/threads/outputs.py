"""A lift as files: the landmark repositioning table and the cog table (CSV), the lift map over
the face (VTU, point data ``lift`` in m), and a JSON summary with the thread tensions checked
against the fixation's tearing force and the thread's strength."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..io import write_csv, write_json, write_vtu
from ..model import State
from .lift import LiftResult, solve_lift
from .materials import MATERIALS, TEMPORAL_FASCIA_TEARING


def lift_from_plan(planfile, out: Path, load_face, progress: bool = False) -> dict:
    """Age the face as the plan says (or take it as it is), lift it, write the results."""
    from ..aging.run import AgingSettings, run_aging, start_state
    from ..aging.scenario import check_against_model, load_scenario
    from ..solvers.fem import NewtonOptions

    t0 = time.perf_counter()
    if planfile.aging is not None:
        scenario = load_scenario(planfile.aging)
        face = load_face(scenario.face)
        check_against_model(scenario, face)
        aged = run_aging(face, scenario.mechanisms, scenario.settings, progress=progress)
        model, loads, growth = aged.final
        start = State(x=aged.frames[-1], reference=aged.reference, internal={"growth": growth})
        where = f"{face.name} aged {aged.ages[0]:g} -> {aged.ages[-1]:g} ({planfile.aging.name})"
    else:
        model = load_face(planfile.face)
        X0, x0 = start_state(model, AgingSettings())
        start, loads, where = State(x=x0, reference=X0), None, f"{model.name} as captured"
    t_start = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = solve_lift(model, start, planfile.plan, loads, NewtonOptions(n_steps=1, formulation="anp"))
    t_lift = time.perf_counter() - t1
    return write_lift(out, model, start, result, planfile, where, {"start_s": t_start, "lift_s": t_lift})


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


def write_lift(out: Path, model, start: State, result: LiftResult, planfile, where: str, timings: dict) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = planfile.plan
    marks = landmark_table(model, start, result)
    paths = [write_csv(out / "landmarks.csv", marks), write_csv(out / "cogs.csv", cog_table(plan, result))]
    lifted = State(x=result.state.x, reference=start.x)
    paths.append(write_vtu(out / "lift.vtu", model, lifted, point_data={"lift": result.state.x - start.x}))
    threads = []
    for i, th in enumerate(plan.threads):
        t = float(result.tension[i])
        strength = MATERIALS[th.material].breaking_force
        threads.append({"name": th.name, "material": th.material, "layer": th.layer, "cogs": th.cogs,
                        "pull_mm": 1e3 * th.pull, "tension_N": t, "anchor_tearing_force_N": TEMPORAL_FASCIA_TEARING,
                        "anchor_safe": t < TEMPORAL_FASCIA_TEARING, "thread_strength_N": strength,
                        "thread_safe": t < strength,
                        "cogs_slipped": int(np.sum((result.slip > 0) & (result.cogs.thread == i)))})
    summary = {"plan": plan.name, "file": str(planfile.path), "face": where, "threads": threads,
               "landmarks_mm": {r["landmark"]: [r["dx_mm"], r["dy_mm"], r["dz_mm"]] for r in marks},
               "max_lift_mm": float(1e3 * np.abs(result.state.x - start.x).max()),
               "equilibrium_solves": result.iterations, "timing_s": timings}
    top = sorted(marks, key=lambda r: -r["lift_mm"])[:3]
    summary["report"] = [
        f"{plan.name}: {len(plan.threads)} threads, {len(result.cogs.tet)} cogs on {where}; lift solved in "
        f"{timings['lift_s']:.1f} s ({result.iterations} equilibrium solves)",
        "most lifted: " + ", ".join(f"{r['landmark']} {r['lift_mm']:.2f} mm" for r in top),
        f"thread tensions {min(t['tension_N'] for t in threads):.2f} to {max(t['tension_N'] for t in threads):.2f} N; "
        f"{int(np.sum(result.slip > 0))} cogs slipped, {int(result.released.sum())} let go",
    ]
    paths.append(write_json(out / "summary.json", summary))
    summary["report"].append("wrote " + ", ".join(str(p) for p in paths))
    return summary
