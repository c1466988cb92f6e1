"""The months after a lift: the thread absorbs, collagen forms around it, and part of the lift
stays.

- Absorption: each cog's holding force and stiffness scale with the thread material's strength
  retention (PDO 58 % at 4 and 14 % at 8 weeks, absorbed by about 26; PLLA, PCL slower; see
  materials.py). Weakened cogs slip, absorbed ones hold nothing.
- Collagen: production around threads peaks at 2 weeks and has fallen sharply by 12, when a
  fibrous capsule has formed (Shin et al. 2019, rat). Collagen laid down while the tissue is
  held lifted is stress-free in the lifted shape: in the elements within COLLAGEN_RADIUS of a
  thread, the stress-free shape relaxes towards the current one by the fraction deposited so
  far times COLLAGEN_SETTING (how much of the local strain the capsule makes permanent: an
  ESTIMATE), as fat creep does over years (objective, rotations untouched).
- Fat creep (the aging mechanism's time constant) goes on throughout.
What remains of the lift at 0, 1, 3, 6, 12 and 18 months is the result; Bertossi et al. 2018
saw the effect of PDO barbed threads decline noticeably by 6 months and vanish by a year.
"""
from __future__ import annotations

import numpy as np

from ..aging.mechanisms import relax
from ..model import Loads, State, TissueModel
from ..solvers.fem import FEMSystem, NewtonOptions, growth_tensors, solve_static
from ..solvers.fem.quadratic import element_deformation
from .lift import LiftResult, _settle, cog_springs, lift_options
from .catalogue import MATERIALS

MONTHS = (0, 1, 3, 6, 12, 18)
WEEKS_PER_MONTH = 52.0 / 12.0
COLLAGEN_RADIUS = 0.002  # m around the thread path: ESTIMATE
COLLAGEN_SETTING = 0.3  # fraction of the local strain made permanent by the capsule: ESTIMATE
COLLAGEN_TIME_WEEKS = 4.0  # deposition ~ 1 - exp(-t / 4 weeks): 95 % by 12 weeks (Shin 2019)
FAT_CREEP_YEARS = 10.0  # the aging default (FatDescent.time_constant)


def deposited(weeks: float) -> float:
    """Fraction of the final collagen laid down by ``weeks`` after the lift."""
    return 1.0 - np.exp(-weeks / COLLAGEN_TIME_WEEKS)


def months_after(model: TissueModel, start: State, result: LiftResult, plan, loads: Loads | None = None,
                 landmarks: tuple = (), months: tuple = MONTHS, setting: float = COLLAGEN_SETTING,
                 fat_creep_years: float = FAT_CREEP_YEARS, options: NewtonOptions | None = None,
                 system: FEMSystem | None = None, shapes: list | None = None) -> list[dict]:
    """Follow ``result`` (a lift of ``start``) through ``months``; one row per time with the
    vertical lift remaining at each landmark (mm), its share of the initial lift, the holding
    force left and the cogs still holding. A ``shapes`` list gets (month, positions) of each."""
    loads = loads or Loads()
    opts = options or lift_options(system)
    system = system or FEMSystem(model, start.reference, opts.formulation, linear=opts.linear_solver,
                                 linear_coords=model.nodes)
    cogs = result.cogs
    materials = [plan.threads[i].material for i in cogs.thread]
    near = _near_threads(model, start.x, cogs, plan)
    fat = np.flatnonzero(np.isin(model.tet_layer, [1, 3]))
    growth = growth_tensors(start.internal.get("growth", np.ones(model.n_tets)), model.n_tets)
    state, slip, released = result.state, result.slip, result.released
    lift0 = {n: _up(model, n, state.x, start.x) for n in landmarks}
    rows, t_prev = [], 0.0
    for m in months:
        weeks = m * WEEKS_PER_MONTH
        if weeks > t_prev:
            old = growth
            beta_c = setting * (deposited(weeks) - deposited(t_prev))
            # quadratic elements relax their mean deformation (midsides and all), and keep
            # their curved edges: straight, a curved sliver can be inside out
            F = element_deformation(system, state.x, state.internal)
            growth = relax(model.tets, start.reference, state.x, growth, growth, near, beta_c, F)
            beta_f = 1.0 - np.exp(-(weeks - t_prev) / 52.0 / fat_creep_years)
            growth = relax(model.tets, start.reference, state.x, growth, growth, fat, beta_f, F)
            keep = np.array([MATERIALS[mat].strength_fraction(weeks) for mat in materials])
            state = State(x=state.x, reference=start.reference, internal={**state.internal, "growth": growth})
            # the remodelled shape is solved with the cogs still holding (the tissue never
            # hangs free between two check-ups), then their weakening is settled
            held = cog_springs(cogs, result.pull - slip, np.where(released, 0.0, result.stiffness * keep))
            state, _ = solve_static(model, state, loads, opts, from_loads=loads, from_growth=old, system=system,
                                    items=[held])
            state, force, slip, released, _ = _settle(model, state, loads, opts, system, cogs,
                                                      result.pull, result.stiffness * keep,
                                                      result.limit * np.maximum(keep, 1e-9), slip, released,
                                                      40, plan.name)
            t_prev = weeks
        else:
            keep = np.ones(len(cogs.tet))
        row = {"month": m, "strength_left": float(keep.mean()),
               "cogs_holding": int(np.sum(~released & (keep > 0)))}
        for n in landmarks:
            up = _up(model, n, state.x, start.x)
            row[f"lift_mm:{n}"] = up
            row[f"retained_pct:{n}"] = 100.0 * up / lift0[n] if abs(lift0[n]) > 1e-9 else 0.0
        rows.append(row)
        if shapes is not None:
            shapes.append((m, state.x.copy()))
    return rows


def _up(model: TissueModel, name: str, x: np.ndarray, x0: np.ndarray) -> float:
    return float(1e3 * (model.landmark_position(name, x) - model.landmark_position(name, x0))[1])


def _near_threads(model: TissueModel, x: np.ndarray, cogs, plan) -> np.ndarray:
    """Elements whose centroid lies within COLLAGEN_RADIUS of a thread's cogged segment."""
    c = x[model.tets].mean(axis=1)
    near = np.zeros(model.n_tets, bool)
    for i in range(len(plan.threads)):
        pts = cogs.position[cogs.thread == i]
        a, b = pts[0], pts[-1]
        ab = b - a
        t = np.clip(((c - a) @ ab) / max(ab @ ab, 1e-300), 0.0, 1.0)
        d = np.linalg.norm(c - (a + t[:, None] * ab), axis=1)
        near |= d < COLLAGEN_RADIUS
    return np.flatnonzero(near)
