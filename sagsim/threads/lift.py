"""The quasi-static lift: threads pulled and fixed, cogs holding up to their limit, then slipping.

The thread is far stiffer than tissue (a 2-0 monofilament carries tens of newtons; cogs move
tissue with about one), so it is taken as inextensible: drawing it a pull length d towards its
anchor would carry every cog d along its direction to the anchor. Each cog pulls the tissue it
engages (the elements within ENGAGEMENT_RADIUS, see plan.py) towards that target through a
spring (the barb-tissue interface, stiffness k, shared by volume). A cog whose
force along the thread exceeds its holding force slips: its target moves back along the thread
(towards the entry) until the force equals the limit; slip only ever grows, and only that way.
A cog the tissue has overtaken (force pointing away from the anchor) lets go: barbs fold
that way; it catches again once the thread has caught up. The slip state is found by a fixed point over equilibrium solves, each warm-started.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from ..aging.settings import AgingSettings
from ..errors import ConvergenceError
from ..model import Loads, State, TissueModel
from ..solvers.fem import CogSprings, FEMSystem, NewtonOptions, solve_static
from .plan import Cogs, ThreadPlan, place_cogs

log = logging.getLogger("sagsim.threads")

SLIP_TOL = 1e-3  # a slipping cog's force is within this fraction of its holding force
PULL_INCREMENT = 0.001  # m
TENSION_TOL = 0.02  # a thread drawn to a tension stops within 2 % of it
MAX_INCREMENTS = 200


@dataclass
class LiftResult:
    """The lifted state, the cogs, each cog's pull, slip (m, towards the entry), force along the
    thread (N), whether it let go, the stiffness and holding force it had; per-thread tension at
    the anchor (N); equilibrium solves."""

    state: State
    cogs: Cogs
    pull: np.ndarray
    slip: np.ndarray
    force: np.ndarray
    released: np.ndarray
    tension: np.ndarray
    iterations: int
    stiffness: np.ndarray
    limit: np.ndarray
    thread_pull: np.ndarray  # per thread (m)
    tension_unreached: np.ndarray  # per thread: drawn to a tension its cogs could not hold


def lift_options(system: FEMSystem | None = None, formulation: str | None = None) -> NewtonOptions:
    """The Newton options of a lift's solves: one load step, in ``system``'s formulation when one
    is given (the formulation the face was aged in: an equilibrium of one formulation is not one
    of another, and a lift solved in another would first settle the difference), else in
    ``formulation``, else in an aging run's default (what a captured face is settled in)."""
    if system is not None:
        formulation = system.formulation
    return NewtonOptions(n_steps=1, formulation=formulation or AgingSettings().formulation)


def solve_lift(model: TissueModel, start: State, plan: ThreadPlan, loads: Loads | None = None,
               options: NewtonOptions | None = None, *, strength: float = 1.0, stiffness_factor: float = 1.0,
               system: FEMSystem | None = None, max_iterations: int = 40) -> LiftResult:
    """Lift ``start`` (an equilibrium of ``model`` under ``loads``, e.g. an aged face) with
    ``plan``. ``strength`` scales holding forces and ``stiffness_factor`` cog stiffness (thread
    absorption, collagen). Raises ConvergenceError when the slip state does not settle."""
    loads = loads or Loads()
    opts = options or lift_options(system)
    cogs = place_cogs(model, plan, start.x)
    system = system or FEMSystem(model, start.reference, opts.formulation, linear=opts.linear_solver,
                                 linear_coords=model.nodes)
    # each part pulls its element's tissue as a whole (its volume mean position, by the
    # element's own shape functions: quadratic ones curved, midsides and all), and its spring
    # starts slack there
    cogs = replace(cogs, part_position=system.embedded_points(start.x, start.internal, cogs.part_tet, cogs.part_bary,
                                                              whole=True))
    k = cogs.stiffness * stiffness_factor
    limit = cogs.holding_force * strength
    n = len(plan.threads)
    goal_pull = np.array([th.pull if th.tension is None else np.inf for th in plan.threads])
    goal_tension = np.array([np.nan if th.tension is None else th.tension for th in plan.threads])
    by_tension = ~np.isnan(goal_tension)
    slip = np.zeros(len(k))
    released = np.zeros(len(k), bool)
    state = start
    force = np.zeros(len(k))
    tension = np.zeros(n)
    pulled = np.zeros(n)  # per thread
    slope = np.full(n, np.nan)  # d tension / d pull of the last increment
    stuck = np.zeros(n, bool)  # tension-controlled threads whose cogs slip instead of pulling harder
    iterations = 0
    # threads are drawn in increments of at most PULL_INCREMENT, as a surgeon draws them:
    # slip depends on the path, and a large pull at once is too far for Newton; a thread
    # drawn to a tension takes a secant step towards it once it has a slope
    for _ in range(MAX_INCREMENTS):
        step = np.minimum(goal_pull - pulled, PULL_INCREMENT)
        want = by_tension & ~stuck & (tension < goal_tension * (1.0 - TENSION_TOL))
        secant = want & (slope > 0)
        step[by_tension] = np.where(want, PULL_INCREMENT, 0.0)[by_tension]
        step[secant] = np.clip((goal_tension[secant] - tension[secant]) / slope[secant], 0.0, PULL_INCREMENT)
        step = np.maximum(step, 0.0)
        if not (step > 1e-12).any():
            break
        state, force, slip, released, its = _settle(model, state, loads, opts, system, cogs,
                                                    (pulled + step)[cogs.thread], k, limit, slip, released,
                                                    max_iterations, plan.name)
        iterations += its
        new_tension = np.bincount(cogs.thread, weights=force, minlength=n)
        moved = step > 1e-12
        slope[moved] = (new_tension[moved] - tension[moved]) / step[moved]
        stuck |= by_tension & moved & (slope < 1e-3 * np.nanmax(np.append(slope, 1e-300)))
        pulled, tension = pulled + step, new_tension
    return LiftResult(state, cogs, pulled[cogs.thread], slip, force, released, tension, iterations, k, limit,
                      pulled, by_tension & (tension < goal_tension * (1.0 - TENSION_TOL)))


def cog_springs(cogs: Cogs, travel: np.ndarray, k: np.ndarray) -> CogSprings:
    """The embedded springs of every cog's engaged parts: each part pulled ``travel`` (per cog,
    m) along its cog's direction, with its share of the cog's stiffness ``k``."""
    c = cogs.part_cog
    targets = cogs.part_position + travel[c][:, None] * cogs.direction[c]
    return CogSprings(tet=cogs.part_tet, bary=cogs.part_bary, targets=targets, stiffness=k[c] * cogs.part_weight,
                      whole=True)


def cog_forces(system: FEMSystem, cogs: Cogs, state: State, travel: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Force of each cog along its thread (N): the sum over its parts."""
    c = cogs.part_cog
    p = system.embedded_points(state.x, state.internal, cogs.part_tet, cogs.part_bary, whole=True)
    targets = cogs.part_position + travel[c][:, None] * cogs.direction[c]
    along = np.einsum("si,si->s", targets - p, cogs.direction[c])
    return np.bincount(c, weights=k[c] * cogs.part_weight * along, minlength=len(cogs.tet))


def _settle(model, state, loads, opts, system, cogs, pull, k, limit, slip, released, max_iterations, name):
    """Equilibrium at one pull with the slip state that keeps every cog within its limit."""
    prev = None  # (slip, force) of the last iteration, for secant updates
    committed, released = slip, released.copy()  # slip never undoes what an earlier pull did
    slip = slip.copy()
    for it in range(1, max_iterations + 1):
        held = cog_springs(cogs, pull - slip, np.where(released, 0.0, k))
        state, _ = solve_static(model, state, loads, opts, from_loads=loads, system=system, items=[held])
        # what each cog would pull with if engaged: barbs fold while the tissue is ahead of the
        # thread (let go) and catch again once the thread has caught up (re-engage)
        would = cog_forces(system, cogs, state, pull - slip, k)
        force = np.where(released, 0.0, would)
        let_go = ~released & (would < -SLIP_TOL * limit)
        catch = released & (would > SLIP_TOL * limit)
        # out of balance: over the limit, or slipped in this pull but now under it (overshoot)
        off = ~released & ((force > limit * (1.0 + SLIP_TOL))
                           | ((slip > committed) & (force < limit * (1.0 - SLIP_TOL))))
        log.info("lift at pull %.2f mm, iteration %d: %d cogs off their limit, %d let go, %d catch again",
                 1e3 * pull.max(), it, off.sum(), let_go.sum(), catch.sum())
        if not off.any() and not let_go.any() and not catch.any():
            return state, force, slip, released, it
        released = (released | let_go) & ~catch
        # the tissue gives way as a cog slips: step by the measured force-slip slope (secant),
        # k itself the first time (an underestimate of the step: monotone from below)
        slope = k.copy()
        if prev is not None:
            ds, df = slip - prev[0], force - prev[1]
            ok = (np.abs(ds) > 0) & (df * ds < 0)
            slope[ok] = np.clip(-df[ok] / ds[ok], 1e-3 * k[ok], k[ok])
        prev = (slip.copy(), force.copy())
        slip = np.where(off, np.maximum(committed, slip + (force - limit) / slope), slip)
    raise ConvergenceError(f"{name}: cog slip did not settle in {max_iterations} iterations at pull "
                           f"{1e3 * pull.max():.2f} mm")
