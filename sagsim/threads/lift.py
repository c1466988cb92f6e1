"""The quasi-static lift: threads pulled and fixed, cogs holding up to their limit, then slipping.

The thread is far stiffer than tissue (a 2-0 monofilament carries tens of newtons; cogs move
tissue with about one), so it is taken as inextensible: drawing it a pull length d towards its
anchor would carry every cog d along its direction to the anchor. Each cog is a spring (the
barb-tissue interface, stiffness k) from its point in the tissue to that target. A cog whose
force along the thread exceeds its holding force slips: its target moves back along the thread
(towards the entry) until the force equals the limit; slip only ever grows, and only that way.
A cog the tissue has overtaken (force pointing away from the anchor) lets go: barbs fold
that way. The slip state is found by a fixed point over equilibrium solves, each warm-started.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..errors import ConvergenceError
from ..model import Loads, State, TissueModel
from ..solvers.fem import NewtonOptions, solve_static
from ..solvers.linear import LinearSolver
from ..solvers.system import FEMSystem
from .plan import Cogs, ThreadPlan, place_cogs

log = logging.getLogger("sagsim.threads")

SLIP_TOL = 1e-3  # a slipping cog's force is within this fraction of its holding force
PULL_INCREMENT = 0.001  # m


@dataclass
class LiftResult:
    """The lifted state, the cogs, each cog's pull, slip (m, towards the entry), force along the
    thread (N) and whether it let go; per-thread tension at the anchor (N); iterations."""

    state: State
    cogs: Cogs
    pull: np.ndarray
    slip: np.ndarray
    force: np.ndarray
    released: np.ndarray
    tension: np.ndarray
    iterations: int


def solve_lift(model: TissueModel, start: State, plan: ThreadPlan, loads: Loads | None = None,
               options: NewtonOptions | None = None, *, strength: float = 1.0, stiffness_factor: float = 1.0,
               system: FEMSystem | None = None, linear: LinearSolver | None = None,
               max_iterations: int = 40) -> LiftResult:
    """Lift ``start`` (an equilibrium of ``model`` under ``loads``, e.g. an aged face) with
    ``plan``. ``strength`` scales holding forces and ``stiffness_factor`` cog stiffness (thread
    absorption, collagen). Raises ConvergenceError when the slip state does not settle."""
    loads = loads or Loads()
    opts = options or NewtonOptions(n_steps=1, formulation="anp")
    cogs = place_cogs(model, plan, start.x)
    system = system or FEMSystem(model, start.reference, opts.formulation)
    linear = linear or LinearSolver(opts.linear_solver, coords=model.nodes)
    pull = np.array([plan.threads[i].pull for i in cogs.thread])
    k = cogs.stiffness * stiffness_factor
    limit = cogs.holding_force * strength
    slip = np.zeros(len(k))
    released = np.zeros(len(k), bool)
    state = start
    # the pull is drawn in increments of at most PULL_INCREMENT, as a surgeon draws it: slip
    # depends on the path, and a large pull at once is too far for Newton
    n_inc = max(1, int(np.ceil(pull.max(initial=0.0) / PULL_INCREMENT)))
    iterations = 0
    try:
        for j in range(1, n_inc + 1):
            state, force, slip, released, its = _settle(model, state, loads, opts, system, linear, cogs,
                                                        pull * j / n_inc, k, limit, slip, released, max_iterations,
                                                        plan.name)
            iterations += its
    finally:
        system.set_cogs(None)
    tension = np.bincount(cogs.thread, weights=force, minlength=len(plan.threads))
    return LiftResult(state, cogs, pull, slip, force, released, tension, iterations)


def _settle(model, state, loads, opts, system, linear, cogs, pull, k, limit, slip, released, max_iterations, name):
    """Equilibrium at one pull with the slip state that keeps every cog within its limit."""
    prev = None  # (slip, force) of the last iteration, for secant updates
    committed, released = slip, released.copy()  # slip never undoes what an earlier pull did
    slip = slip.copy()
    for it in range(1, max_iterations + 1):
        targets = cogs.position + (pull - slip)[:, None] * cogs.direction
        system.set_cogs(SimpleNamespace(tet=cogs.tet, bary=cogs.bary, targets=targets,
                                        stiffness=np.where(released, 0.0, k)))
        state, _ = solve_static(model, state, loads, opts, from_loads=loads, system=system, linear=linear)
        p = np.einsum("sa,sai->si", cogs.bary, state.x[model.tets[cogs.tet]])
        force = np.where(released, 0.0, k * np.einsum("si,si->s", targets - p, cogs.direction))
        let_go = ~released & (force < -SLIP_TOL * limit)
        # out of balance: over the limit, or slipped in this pull but now under it (overshoot)
        off = ~released & ((force > limit * (1.0 + SLIP_TOL))
                           | ((slip > committed) & (force < limit * (1.0 - SLIP_TOL))))
        log.info("lift at pull %.2f mm, iteration %d: %d cogs off their limit, %d let go", 1e3 * pull.max(), it,
                 off.sum(), let_go.sum())
        if not off.any() and not let_go.any():
            return state, force, slip, released, it
        released |= let_go
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
