"""A lift as files: the landmark repositioning table and the cog table (CSV), the lift map over
the face (VTU, point data ``lift`` in m), and a JSON summary with the thread tensions checked
against the fixation's tearing force and the thread's strength."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from ..inputs.plan import parse_sweep
from ..io import write_csv, write_json, write_vtu, write_xdmf_series
from ..model import State, tet_volumes
from .effects import (DENT_THRESHOLD_MM, STRAIN_THRESHOLD, cog_dents_mm, expression_motion, fixed_cogs, lift_strain,
                      unevenness, von_mises)
from .lift import LiftResult, solve_lift
from .materials import MATERIALS, TEMPORAL_FASCIA_TEARING
from .months import months_after
from .plan import point
from .sweep import sweep

#: the smile-like probe: mouth corner pulled towards the malar eminence (zygomaticus major's
#: line) by a small force; only the ratio with and without threads is reported
SMILE = ("oral_commissure_left", "malar_eminence_left", 0.05)
#: excess skin (stress-free area growth since the start age, %) beyond which threads alone are
#: not advised: ESTIMATE (clinical judgement has no number in the reference table)
EXCESS_SKIN_LIMIT_PCT = 8.0
#: over-tensioned tissue (mL) or dimpling cogs (share) beyond which a plan counts as pulling too
#: hard: ESTIMATES, like the thresholds they count
OVER_TENSION_ML = 1.0
DIMPLING_SHARE = 0.1
#: where a lift's aging checkpoints while it runs (inside the lift's folder)
AGING_CHECKPOINT = "aging"


def target_landmarks(model, plan) -> tuple:
    """The landmarks a plan aims at: its threads' entry landmarks."""
    return tuple(dict.fromkeys(th.entry for th in plan.threads if isinstance(th.entry, str)))


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
    summary = write_lift(out, model, start, result, planfile, where, timings, targets, extra)
    shutil.rmtree(out / AGING_CHECKPOINT, ignore_errors=True)  # the results hold what a rerun needs
    return summary


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


def write_lift(out: Path, model, start: State, result: LiftResult, planfile, where: str, timings: dict,
               targets: tuple = (), extra: dict | None = None) -> dict:
    extra = extra or {}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = planfile.plan
    marks = landmark_table(model, start, result)
    strain = lift_strain(model, start.x, result.state.x)
    growth = start.internal.get("growth")
    vm_before = von_mises(model, start.reference, start.x, growth)
    vm_after = von_mises(model, start.reference, result.state.x, growth)
    uneven = unevenness(model, start.x, result.state.x)
    dents = cog_dents_mm(model, result.cogs, uneven["field_mm"], start.x)
    cogs = cog_table(plan, result)
    for row, d in zip(cogs, dents, strict=True):
        row["dent_mm"] = float(d)
    paths = [write_csv(out / "landmarks.csv", marks), write_csv(out / "cogs.csv", cogs)]
    lifted = State(x=result.state.x, reference=start.x)
    field = np.zeros(model.n_nodes)
    field[model.skin_nodes] = uneven["field_mm"]
    over = strain > STRAIN_THRESHOLD
    paths.append(write_vtu(out / "lift.vtu", model, lifted,
                           point_data={"lift": result.state.x - start.x, "unevenness_mm": field},
                           cell_data={"lift_strain": strain, "over_tension": over.astype(np.int8),
                                      "von_mises_kPa": 1e-3 * vm_after,
                                      "von_mises_change_kPa": 1e-3 * (vm_after - vm_before)}))
    vol = np.abs(tet_volumes(start.x, model.tets))
    if "months" in extra:
        paths.append(write_csv(out / "months.csv", extra["months"]))
        if extra.get("months_shapes"):  # the fading lift as a time series (in months) for ParaView
            paths.append(write_xdmf_series(out / "months.xdmf", model, [(m, State(x=x, reference=start.x))
                                                                         for m, x in extra["months_shapes"]]))
        if targets:
            paths.append(plot_months(out / "months.png", extra["months"], targets, plan.name))
    if "expression" in extra:
        paths.append(plot_expression(out / "expression.png", extra["expression"], plan.name))
    if "sweep" in extra:
        paths.append(write_csv(out / "sweep.csv", extra["sweep"][1]))
        paths.append(plot_sweep(out / "sweep.png", *extra["sweep"], plan.name))
    threads = []
    for i, th in enumerate(plan.threads):
        t = float(result.tension[i])
        strength = MATERIALS[th.material].breaking_force_of(th.size)
        threads.append({"name": th.name, "material": th.material, "layer": th.layer, "cogs": th.cogs,
                        "pull_mm": 1e3 * th.pull, "tension_N": t, "anchor_tearing_force_N": TEMPORAL_FASCIA_TEARING,
                        "anchor_safe": t < TEMPORAL_FASCIA_TEARING, "thread_strength_N": strength,
                        "thread_safe": t < strength,
                        "cogs_slipped": int(np.sum((result.slip > 0) & (result.cogs.thread == i))),
                        "path_m": [point(model, p, start.x, th.name, "path").tolist()
                                   for p in (th.entry, *th.via, th.anchor)]})
    summary = {"plan": plan.name, "file": str(planfile.path), "face": where, "face_source": extra.get("face_source"),
               "threads": threads,
               "landmarks_mm": {r["landmark"]: [r["dx_mm"], r["dy_mm"], r["dz_mm"]] for r in marks},
               "max_lift_mm": float(1e3 * np.abs(result.state.x - start.x).max()),
               "targets": list(targets),
               "target_lift_mm": float(np.mean([r["lift_mm"] for r in marks if r["landmark"] in targets]))
               if targets else None,
               "over_tension": {"strain_threshold": STRAIN_THRESHOLD, "max_strain": float(strain.max()),
                                "volume_ml": float(1e6 * vol[over].sum()),
                                "max_von_mises_increase_kPa": float(1e-3 * (vm_after - vm_before).max())},
               "unevenness": {"index_mm": uneven["index_mm"], "dents": uneven["dents"],
                              "dent_threshold_mm": DENT_THRESHOLD_MM,
                              "cogs_dimpling": int(np.sum(dents > DENT_THRESHOLD_MM))},
               "equilibrium_solves": result.iterations, "timing_s": timings}
    for key in ("expression", "months"):
        if key in extra:
            summary[key] = extra[key]
    if "assessment" in extra:
        summary["assessment"] = assess(summary, result, extra["assessment"])
    top = sorted(marks, key=lambda r: -r["lift_mm"])[:3]
    summary["report"] = [
        f"{plan.name}: {len(plan.threads)} threads, {len(result.cogs.tet)} cogs on {where}; lift solved in "
        f"{timings['lift_s']:.1f} s ({result.iterations} equilibrium solves)",
        "most lifted: " + ", ".join(f"{r['landmark']} {r['lift_mm']:.2f} mm" for r in top),
        f"thread tensions {min(t['tension_N'] for t in threads):.2f} to {max(t['tension_N'] for t in threads):.2f} N; "
        f"{int(np.sum(result.slip > 0))} cogs slipped, {int(result.released.sum())} let go",
        f"over-tension: max lift strain {strain.max():.3f}, {summary['over_tension']['volume_ml']:.3f} mL above "
        f"{STRAIN_THRESHOLD:.0%}; unevenness {uneven['index_mm']:.3f} mm, {uneven['dents']} dents, "
        f"{summary['unevenness']['cogs_dimpling']} cogs dimpling",
    ]
    if "expression" in extra:
        e = extra["expression"]
        summary["report"].append(f"smile probe: mouth corner moves {e['motion_with_mm']:.3f} mm with the threads "
                                 f"against {e['motion_without_mm']:.3f} mm without ({e['restriction_pct']:.0f} % less)")
    if "months" in extra and targets:
        t = targets[0]
        summary["report"].append("lift retained at " + t + ": " + ", ".join(
            f"{r['month']} mo {r[f'retained_pct:{t}']:.0f} %" for r in extra["months"]))
    if "assessment" in summary:
        summary["report"].append("assessment: " + summary["assessment"]["verdict"])
    paths.append(write_json(out / "summary.json", summary))
    summary["report"].append("wrote " + ", ".join(str(p) for p in paths))
    return summary


def assess(summary: dict, result: LiftResult, info: dict) -> dict:
    """Whether the plan reaches the target lift without over-tension, and when the sag is too
    large for threads alone. Rules (stated, not learned): reached and no over-tension or
    dimpling -> suitable; not reached while cogs slip or tissue is over-tensioned, or excess
    skin above EXCESS_SKIN_LIMIT_PCT -> threads alone cannot hold it, a facelift would serve
    better; not reached otherwise -> more pull or threads may (run the sweep)."""
    target = info.get("target_lift_mm")
    lift = summary.get("target_lift_mm") or 0.0
    over = (summary["over_tension"]["volume_ml"] > OVER_TENSION_ML
            or summary["unevenness"]["cogs_dimpling"] > DIMPLING_SHARE * len(result.cogs.tet))
    slipping = bool(np.any(result.slip > 0))
    excess = info.get("excess_skin_pct") or 0.0
    if target is None:
        verdict = "no target: give --target-lift or age the face in the plan"
    elif excess > EXCESS_SKIN_LIMIT_PCT:
        verdict = (f"excess skin {excess:.1f} % (> {EXCESS_SKIN_LIMIT_PCT:g} %): threads alone will not hold it; "
                   "a facelift would serve better")
    elif lift >= target and not over:
        verdict = f"suitable: {lift:.2f} mm of the {target:.2f} mm target without over-tension"
    elif lift >= target:
        verdict = f"reaches {lift:.2f} mm of {target:.2f} mm but over-tensions the tissue: use more threads with less pull"
    elif slipping or over:
        verdict = (f"reaches only {lift:.2f} mm of {target:.2f} mm with cogs at their limit or tissue over-tensioned: "
                   "the sag is too large for threads alone; a facelift would serve better")
    else:
        verdict = f"reaches {lift:.2f} mm of {target:.2f} mm: more pull or more threads may reach it (run --sweep)"
    low = info.get("lift_at_low_holding_mm")
    if low is not None and target is not None and lift >= target and low < target:
        verdict += (f"; but with cogs holding {info['holding_force_low_end']:.0%} of the estimate it reaches only "
                    f"{low:.2f} mm: not robust")
    return {**info, "lift_mm": lift, "over_tension_or_dimpling": over, "cogs_slipping": slipping,
            "verdict": verdict}


def _figure(path: Path, fig) -> Path:
    from ..io import save_figure
    return save_figure(path, fig)


def plot_months(path: Path, rows: list, targets: tuple, name: str) -> Path:
    """Lift retained (%) at each target against months after the lift."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for t in targets:
        ax.plot([r["month"] for r in rows], [r[f"retained_pct:{t}"] for r in rows], "o-", label=t)
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_xlabel("months after the lift")
    ax.set_ylabel("lift retained (%)")
    ax.set_title(f"{name}: the months after", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _figure(path, fig)


def plot_expression(path: Path, e: dict, name: str) -> Path:
    """The smile probe: mouth-corner motion without and with the threads."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3.0))
    ax.bar(["without threads", "with threads"], [e["motion_without_mm"], e["motion_with_mm"]],
           color=["#8aa", "#c66"])
    ax.set_ylabel(f"{e['landmark']} motion (mm)")
    ax.set_title(f"{name}: smile probe, {e['restriction_pct']:.0f} % less motion", fontsize=9)
    return _figure(path, fig)


def plot_sweep(path: Path, kind: str, rows: list, name: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = "threads" if kind == "threads" else "pull_mm"
    x = [r[key] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.0))
    for ax, (k, label) in zip(axes, (("lift_mm", "lift at the targets (mm)"), ("unevenness_mm", "unevenness (mm RMS)"),
                                     ("over_tension_ml", "over-tensioned tissue (mL)")), strict=True):
        ax.plot(x, [r[k] for r in rows], "o-")
        ax.set_xlabel("threads per template" if kind == "threads" else "pull (mm)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{name}: where more stops helping", fontsize=10)
    return _figure(path, fig)
