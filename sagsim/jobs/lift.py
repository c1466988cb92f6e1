"""The lift job: age the face as the plan says (or take it as captured), lift it, probe the
expression with and without the threads, follow the months after, sweep and assess when
asked, then write the results folder (sagsim.results.lift) and its plots (sagsim.render.lift).
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..aging.run import captured_start
from ..inputs import PlanFile, load_plan, parse_sweep
from ..meshfile import load_face
from ..model import Loads, State, TissueModel
from ..results.folder import claim
from ..results.lift import AGING_CHECKPOINT, MARKER, write_lift, write_summary
from ..solvers.fem import FEMSystem, NewtonOptions
from ..threads.assessment import target_landmarks
from ..threads.effects import expression_motion, fixed_cogs
from ..threads.lift import lift_options, solve_lift
from ..threads.months import months_after
from ..threads.curve import lift_curve
from .age import face_of, scenario_of
from .age import run as age_run

#: the smile-like probe: mouth corner pulled towards the malar eminence (zygomaticus major's
#: line) by a small force; only the ratio with and without threads is reported
SMILE = ("oral_commissure_left", "malar_eminence_left", 0.05)


@dataclass
class LiftStart:
    """The face a lift starts from: the (aged) model, its state and loads, how to name and
    rebuild it, and what the assessment reads of its aging (None / 0 on a captured face)."""

    model: TissueModel
    state: State
    loads: Loads | None
    where: str
    face_source: str
    young: np.ndarray | None = None
    excess_skin_pct: float = 0.0
    formulation: str | None = None  # the formulation the face was aged in (None: lift_options' default)


def lift(plan: PlanFile | str | Path, out: str | Path | None = None, *, progress: bool = False,
         sweep: str | None = None, assess: bool = False, target_lift_mm: float | None = None, months: bool = True,
         load=load_face, aged=None) -> dict:
    """Run the lift job into ``out`` (default results/<plan name>) and return its summary (also
    summary.json; ``summary["report"]`` is what `sagsim lift` prints). ``sweep``:
    "threads=1:10" or "pull=1:8" (mm), the curve of lift against unevenness (`sagsim lift`
    passes --sweep, else the plan's own ``sweep``); ``assess``: the suitability verdict against ``target_lift_mm`` (default: undo
    the aging). ``load(face)`` loads a face and ``aged(face, scenario)`` returns its
    AgingResult: a sweep passes ones that keep faces and agings for its next runs."""
    planfile = plan if isinstance(plan, PlanFile) else load_plan(plan)  # every plan error surfaces here
    curve = parse_sweep(sweep) if sweep else None  # a malformed --sweep is refused before any solve
    out = Path(out) if out is not None else Path("results") / planfile.plan.name
    with claim(out, MARKER):  # a folder sagsim can write, no other run is writing, not yet complete
        t0 = time.perf_counter()
        begin = lift_start(planfile, out, load, aged, progress)
        model, start, loads = begin.model, begin.state, begin.loads
        timings = {"start_s": time.perf_counter() - t0}
        opts = lift_options(formulation=begin.formulation)
        system = FEMSystem(model, start.reference, opts.formulation, linear=opts.linear_solver,
                           linear_coords=model.nodes)
        t1 = time.perf_counter()
        result = solve_lift(model, start, planfile.plan, loads, opts, system=system)
        timings["lift_s"] = time.perf_counter() - t1
        targets = target_landmarks(model, planfile.plan)
        t2 = time.perf_counter()
        extra = {"expression": smile_probe(model, start, result, loads, system)}
        timings["expression_s"] = time.perf_counter() - t2
        if months:
            t3 = time.perf_counter()
            extra["months_shapes"] = []
            extra["months"] = months_after(model, start, result, planfile.plan, loads, targets, system=system,
                                           shapes=extra["months_shapes"])
            timings["months_s"] = time.perf_counter() - t3
        if curve is not None:
            kind, values = curve
            t4 = time.perf_counter()
            extra["sweep"] = (kind, lift_curve(model, start, planfile.plan, values, kind, loads, targets, progress,
                                               opts.formulation))
            timings["sweep_s"] = time.perf_counter() - t4
        if assess:
            extra["assessment"] = assessment_inputs(begin, planfile, result, opts, system, targets, target_lift_mm)
        extra["face_source"] = begin.face_source  # what load_face takes: `sagsim render` rebuilds the mesh from it
        from ..render.lift import write_pictures  # pyvista and matplotlib: only when drawing
        summary, paths = write_lift(out, model, start, result, planfile, begin.where, timings, targets, extra)
        paths += write_pictures(out, planfile.plan.name, targets, extra)
        paths.append(write_summary(out, summary))  # last: the folder is complete
        summary["report"].append("wrote " + ", ".join(str(p) for p in paths))
        shutil.rmtree(out / AGING_CHECKPOINT, ignore_errors=True)  # the results hold what a rerun needs
    return summary


def lift_start(planfile: PlanFile, out: Path, load=load_face, aged=None, progress: bool = False) -> LiftStart:
    """The face aged as the plan's scenario says (checkpointing into out/aging, so that an
    interrupted lift resumes its aging: the long part), or as captured when it names none."""
    if planfile.aging is None:
        model, start = captured_start(load(planfile.face))
        return LiftStart(model, start, None, f"{model.name} as captured", str(planfile.face))
    scenario = scenario_of(planfile.aging)
    face = face_of(scenario, load(scenario.face))
    result = (aged(face, scenario) if aged is not None
              else age_run(scenario, out / AGING_CHECKPOINT, model=face, progress=progress)[2])
    model, loads, growth = result.final
    state = State(x=result.frames[-1], reference=result.reference,
                  internal={**result.state(-1).internal, "growth": growth})  # curved edges too
    skin = next((m for m in scenario.mechanisms if m.name == "skin" and m.enabled), None)
    decades = (result.ages[-1] - result.ages[0]) / 10.0
    excess_skin = 100.0 * ((1.0 + skin.laxity * decades) ** 2 - 1.0) if skin else 0.0
    where = f"{face.name} aged {result.ages[0]:g} -> {result.ages[-1]:g} ({planfile.aging.name})"
    return LiftStart(model, state, loads, where, str(scenario.face), result.frames[0], excess_skin,
                     scenario.settings.formulation)


def smile_probe(model: TissueModel, start: State, result, loads, system: FEMSystem) -> dict:
    """How far the smile probe moves the mouth corner without and with the threads' cogs held."""
    without = expression_motion(model, start, loads, *SMILE, system=system)
    with_threads = expression_motion(model, result.state, loads, *SMILE, cogs=fixed_cogs(result), system=system)
    return {"landmark": SMILE[0], "towards": SMILE[1], "probe_force_N": SMILE[2],
            "motion_without_mm": without, "motion_with_mm": with_threads,
            "restriction_pct": 100.0 * (1.0 - with_threads / without) if without > 0 else 0.0}


def assessment_inputs(begin: LiftStart, planfile: PlanFile, result, opts: NewtonOptions, system: FEMSystem,
                      targets: tuple, target_lift_mm: float | None) -> dict:
    """What the verdict weighs: the target (default: the descent since the start age), the
    excess skin, and the lift at the low end of the cogs' uncertain holding force."""
    model, start = begin.model, begin.state
    descent = None
    if begin.young is not None:
        descent = float(np.mean([-1e3 * (model.landmark_position(t, start.x) - model.landmark_position(t, begin.young))[1]
                                 for t in targets]))
    # the holding force is uncertain: does the plan still lift as much at the low end?
    spread = max(th.holding_spread for th in planfile.plan.threads)
    low = solve_lift(model, start, planfile.plan, begin.loads, opts, strength=1.0 - spread, system=system)
    low_lift = float(np.mean([1e3 * (model.landmark_position(t, low.state.x) - model.landmark_position(t, start.x))[1]
                              for t in targets])) if targets else None
    return {"target_lift_mm": target_lift_mm if target_lift_mm is not None else descent,
            "descent_since_start_age_mm": descent, "excess_skin_pct": begin.excess_skin_pct,
            "holding_force_low_end": 1.0 - spread, "lift_at_low_holding_mm": low_lift,
            "cogs_slipping_at_low_holding": int(np.sum(low.slip > 0))}
