"""How many threads: lift against unevenness and over-tension as threads (or pull) increase.

Each thread of the plan is a template that becomes a fan of n threads sharing its anchor, the
entries spread across the thread's direction on the skin by FAN_SPACING (threads are placed
side by side, a few millimetres apart). Every variant is lifted from the same start, reusing
one FEM system and one AMG hierarchy.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..model import Loads, State, TissueModel, tet_volumes
from ..solvers.fem import FEMSystem
from .effects import STRAIN_THRESHOLD, element_gradients, lift_strain, unevenness
from .lift import lift_options, solve_lift
from .plan import ThreadPlan, point

FAN_SPACING = 0.004  # m between neighbouring entries of a fan: a modelling choice


def fan(model: TissueModel, plan: ThreadPlan, n: int, x: np.ndarray, spacing: float = FAN_SPACING) -> ThreadPlan:
    """Every thread of ``plan`` as n threads: entries offset across the thread (in the skin's
    tangent plane, roughly vertical for a horizontal thread), centred on the original."""
    threads = []
    for th in plan.threads:
        entry, anchor = point(model, th.entry, x, th.name, "entry"), point(model, th.anchor, x, th.name, "anchor")
        along = anchor - entry
        outward = entry - x[model.fixed].mean(axis=0) if len(model.fixed) else np.array([0.0, 0.0, 1.0])
        across = np.cross(outward, along)
        across /= np.linalg.norm(across)
        if across[1] < 0:
            across = -across
        for j in range(n):
            offset = (j - 0.5 * (n - 1)) * spacing
            threads.append(replace(th, name=f"{th.name}#{j + 1}", entry=entry + offset * across))
    return ThreadPlan(tuple(threads), f"{plan.name} x{n}")


def lift_curve(model: TissueModel, start: State, plan: ThreadPlan, values, kind: str = "threads",
               loads: Loads | None = None, targets: tuple = (), progress: bool = False,
               formulation: str | None = None) -> list[dict]:
    """One row per value of ``kind`` ("threads": fan size n; "pull": pull length in m) with the
    mean vertical lift at ``targets`` (mm), unevenness, dents, over-tension and cog figures;
    solved in ``formulation`` (the one the face was aged in; default: lift_options')."""
    opts = lift_options(formulation=formulation)
    system = FEMSystem(model, start.reference, opts.formulation, linear=opts.linear_solver, linear_coords=model.nodes)
    rows = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(values), desc=f"{plan.name}: sweep {kind}", unit="plan")
    for v in values:
        if kind == "threads":
            p = fan(model, plan, int(v), start.x)
        else:
            p = ThreadPlan(tuple(replace(th, pull=float(v)) for th in plan.threads), plan.name)
        res = solve_lift(model, start, p, loads, opts, system=system)
        F0, F1 = element_gradients(model, start, res.state)
        strain = lift_strain(model, start.x, res.state.x, None if F0 is None else (F0, F1))
        vol = np.abs(tet_volumes(start.x, model.tets))
        uneven = unevenness(model, start.x, res.state.x)
        lifts = [1e3 * (model.landmark_position(t, res.state.x) - model.landmark_position(t, start.x))[1]
                 for t in targets]
        rows.append({kind if kind == "threads" else "pull_mm": v if kind == "threads" else 1e3 * v,
                     "threads_total": len(p.threads), "cogs": len(res.cogs.tet),
                     "lift_mm": float(np.mean(lifts)) if lifts else 0.0,
                     "unevenness_mm": uneven["index_mm"], "dents": uneven["dents"],
                     "max_strain": float(strain.max()),
                     "over_tension_ml": float(1e6 * vol[strain > STRAIN_THRESHOLD].sum()),
                     "max_cog_force_N": float(res.force.max()), "cogs_slipped": int(np.sum(res.slip > 0)),
                     "max_tension_N": float(res.tension.max()), "solves": res.iterations})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return rows
