"""A lift from a plan file, as a job: age the face as the plan says, lift it, probe the
expression, follow the months after, sweep and assess when asked, then write the results
folder (sagsim.results.lift) and its plots (sagsim.render.lift)."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from ..inputs.plan import parse_sweep
from ..model import State
from ..results.lift import write_lift
from .assessment import target_landmarks
from .effects import expression_motion, fixed_cogs
from .lift import solve_lift
from .months import months_after
from .sweep import sweep

#: the smile-like probe: mouth corner pulled towards the malar eminence (zygomaticus major's
#: line) by a small force; only the ratio with and without threads is reported
SMILE = ("oral_commissure_left", "malar_eminence_left", 0.05)
#: where a lift's aging checkpoints while it runs (inside the lift's folder)
AGING_CHECKPOINT = "aging"




def lift_from_plan(planfile, out: Path, load_face, progress: bool = False, sweep_spec: str | None = None,
                   assess: bool = False, target_lift_mm: float | None = None, months: bool = True,
                   age=None) -> dict:
    """Age the face as the plan says (or take it as it is), lift it, write the results; with
    ``sweep_spec`` ("threads=1:10" or "pull=1:8", mm) also the sweep curve, with ``assess``
    the suitability verdict. ``age(face, scenario)`` returns the AgingResult (default: run it;
    a sweep passes one that keeps the aged face for its next runs)."""
    from ..aging.run import captured_start, run_aging
    from ..inputs.scenario import check_against_model, load_scenario
    from ..solvers.fem import NewtonOptions

    out = Path(out)
    t0 = time.perf_counter()
    if planfile.aging is not None:
        scenario = load_scenario(planfile.aging)
        face = load_face(scenario.face)
        check_against_model(scenario, face)
        # the aging is the long part of a lift: it checkpoints into out/aging, so that an
        # interrupted lift resumes it where it stopped (removed once the lift is written)
        aged = (age(face, scenario) if age is not None
                else run_aging(face, scenario.mechanisms, scenario.settings, out / AGING_CHECKPOINT,
                               progress=progress))
        model, loads, growth = aged.final
        start = State(x=aged.frames[-1], reference=aged.reference, internal={"growth": growth})
        where = f"{face.name} aged {aged.ages[0]:g} -> {aged.ages[-1]:g} ({planfile.aging.name})"
        face_source = scenario.face
        young = aged.frames[0]
        laxity = next((m for m in scenario.mechanisms if m.name == "skin" and m.enabled), None)
        decades = (aged.ages[-1] - aged.ages[0]) / 10.0
        excess_skin = 100.0 * ((1.0 + laxity.laxity * decades) ** 2 - 1.0) if laxity else 0.0
    else:
        model, start = captured_start(load_face(planfile.face))
        loads, where = None, f"{model.name} as captured"
        face_source = planfile.face
        young, excess_skin = None, 0.0
    t_start = time.perf_counter() - t0
    from ..solvers.fem import FEMSystem
    opts = NewtonOptions(n_steps=1, formulation="anp")
    system = FEMSystem(model, start.reference, opts.formulation, linear=opts.linear_solver, linear_coords=model.nodes)
    t1 = time.perf_counter()
    result = solve_lift(model, start, planfile.plan, loads, opts, system=system)
    timings = {"start_s": t_start, "lift_s": time.perf_counter() - t1}
    targets = target_landmarks(model, planfile.plan)
    extra = {}
    t2 = time.perf_counter()
    without = expression_motion(model, start, loads, *SMILE, system=system)
    with_threads = expression_motion(model, result.state, loads, *SMILE, cogs=fixed_cogs(result), system=system)
    extra["expression"] = {"landmark": SMILE[0], "towards": SMILE[1], "probe_force_N": SMILE[2],
                           "motion_without_mm": without, "motion_with_mm": with_threads,
                           "restriction_pct": 100.0 * (1.0 - with_threads / without) if without > 0 else 0.0}
    timings["expression_s"] = time.perf_counter() - t2
    if months:
        t3 = time.perf_counter()
        extra["months_shapes"] = []
        extra["months"] = months_after(model, start, result, planfile.plan, loads, targets, system=system,
                                       shapes=extra["months_shapes"])
        timings["months_s"] = time.perf_counter() - t3
    if sweep_spec:
        kind, values = parse_sweep(sweep_spec)
        t4 = time.perf_counter()
        extra["sweep"] = (kind, sweep(model, start, planfile.plan, values, kind, loads, targets, progress))
        timings["sweep_s"] = time.perf_counter() - t4
    if assess:
        descent = None
        if young is not None:
            descent = float(np.mean([-1e3 * (model.landmark_position(t, start.x) - model.landmark_position(t, young))[1]
                                     for t in targets]))
        # the holding force is uncertain: does the plan still lift as much at the low end?
        spread = max(th.holding_spread for th in planfile.plan.threads)
        low = solve_lift(model, start, planfile.plan, loads, opts, strength=1.0 - spread, system=system)
        low_lift = float(np.mean([1e3 * (model.landmark_position(t, low.state.x) - model.landmark_position(t, start.x))[1]
                                  for t in targets])) if targets else None
        extra["assessment"] = {"target_lift_mm": target_lift_mm if target_lift_mm is not None else descent,
                               "descent_since_start_age_mm": descent, "excess_skin_pct": excess_skin,
                               "holding_force_low_end": 1.0 - spread, "lift_at_low_holding_mm": low_lift,
                               "cogs_slipping_at_low_holding": int(np.sum(low.slip > 0))}
    extra["face_source"] = str(face_source)  # what load_face takes: `sagsim render` rebuilds the mesh from it
    from ..render.lift import write_pictures  # here: loading a plan file imports this module
    summary, paths = write_lift(out, model, start, result, planfile, where, timings, targets, extra)
    paths += write_pictures(out, planfile.plan.name, targets, extra)
    summary["report"].append("wrote " + ", ".join(str(p) for p in paths))
    shutil.rmtree(out / AGING_CHECKPOINT, ignore_errors=True)  # the results hold what a rerun needs
    return summary

