"""The unloaded shape: the stress-free reference a captured geometry must have had.

A face scanned or modelled upright already hangs under gravity. Taking it as stress-free and
loading it again would sag it twice. The fixed-point iteration of Sellier (2011, the
"backward displacement" method) finds the reference X whose loaded equilibrium x(X) is the
captured shape x*: X <- X + (x* - x(X)), each forward solve warm-started from the last, the
update mixed over the last passes (Anderson mixing, :data:`ANDERSON_DEPTH`: on the real face 5
passes instead of 7). Fixed (bone) nodes never move, so they keep their captured positions.
An update that would turn a tetrahedron of the reference inside out is halved until none is;
a pass whose warm start no solve can start from is loaded from rest instead (both say so in
the log); the iteration gives up when three passes bring no new best misfit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from ...errors import ConvergenceError
from ...model import Loads, State, TissueModel, tet_volumes
from .newton import NewtonOptions, solve_static
from .quadratic import bent_midsides, edge_bend
from .system import FEMSystem

log = logging.getLogger("sagsim.inverse")

#: how many past passes Anderson's extrapolation of the fixed point combines (0: the plain
#: Sellier update). The plain update shrinks the misfit by a constant factor per pass (0.63 on
#: the real face: 7 passes to 2 % of the sag); combining the last two steps removes most of that
#: linear part
ANDERSON_DEPTH = 2


def _valid_reference(model: TissueModel, X: np.ndarray, proposed: np.ndarray, captured: np.ndarray) -> np.ndarray:
    """``proposed`` (fixed nodes back at their captured places), or, where it would turn a
    tetrahedron inside out or flatten it below :data:`LEAST_VOLUME_RATIO` of its captured
    volume (a thin element under a large correction), the step from ``X`` towards it halved on
    that element's corners only, as often as needed (say so); ConvergenceError naming the
    element when even 1/32 of its step does. Halving the whole update for one sliver held every
    other node back; letting a sliver flatten pass after pass drove quadratic elements'
    reference down to 0.2 % of their volume, their curved edges making up the rest, until one
    turned over (on a coarse face since rebuilt without those slivers, docs/elements.md)."""
    step = proposed - X
    factor = np.ones(len(X))
    floor = np.minimum(LEAST_VOLUME_RATIO * tet_volumes(captured, model.tets), tet_volumes(X, model.tets))
    for _ in range(6 * 4):  # each corner halved at most 5 times (1/32); neighbours may need their turn
        Y = X + factor[:, None] * step
        Y[model.fixed] = captured[model.fixed]
        vol = tet_volumes(Y, model.tets)
        bad = np.flatnonzero((vol <= 0) | (vol < floor))
        if not bad.size:
            if (factor < 1).any():
                log.info("unloaded shape: update halved at %d nodes (a full one turns elements inside out or flat)",
                         int((factor < 1).sum()))
            return Y
        corners = np.unique(model.tets[bad])
        if factor[corners].min() <= 1 / 32:
            break
        factor[corners] /= 2
    e = int(bad[np.argmin(factor[model.tets[bad]].min(axis=1))])
    where = ", ".join(f"{1e3 * v:.1f}" for v in Y[model.tets[e]].mean(axis=0))
    raise ConvergenceError(f"{model.name}: the unloaded shape flattens or turns element {e} inside out at ({where}) "
                           "mm even with 1/32 of the update: the captured shape cannot hang there under its loads")


#: the least volume a reference update leaves an element, as a fraction of its captured volume
#: (or of its volume before the update, if that is already less): a recovered reference whose
#: elements are flattened is no stress-free shape of the tissue (a registered scan's elements
#: are held to the same, sagsim.anatomy.register.MIN_VOLUME_RATIO).
LEAST_VOLUME_RATIO = 0.1


def _anderson(past: list) -> np.ndarray:
    """The next reference from the last passes' (X, misfit): the plain update X - misfit of
    the combination of past passes whose misfits cancel best (Anderson mixing, least squares
    over the differences of successive passes)."""
    X, f = past[-1]
    if len(past) == 1:
        return X - f
    dX = np.stack([(past[k + 1][0] - past[k][0]).ravel() for k in range(len(past) - 1)], axis=1)
    dF = np.stack([(past[k + 1][1] - past[k][1]).ravel() for k in range(len(past) - 1)], axis=1)
    gamma = np.linalg.lstsq(dF, f.ravel(), rcond=None)[0]
    return (X.ravel() - f.ravel() - (dX - dF) @ gamma).reshape(X.shape)


@dataclass
class InverseLog:
    """Largest misfit |x(X) - x*| (m) after each forward solve, and their Newton iterations."""

    misfit: list[float] = field(default_factory=list)
    newton_iterations: list[int] = field(default_factory=list)


def recover_unloaded(model: TissueModel, captured: np.ndarray | None = None, loads: Loads | None = None,
                     options: NewtonOptions | None = None, tol: float = 1e-3, max_iterations: int = 30,
                     *, system: FEMSystem | None = None) -> tuple[State, InverseLog]:
    """The stress-free reference of a shape ``captured`` (N,3) under ``loads``.

    ``captured`` defaults to the model's nodes (the usual case: the model was built from the
    captured shape). Iterates until the largest misfit is below ``tol`` times the largest
    displacement the loads cause (and below 1e-12 m absolutely at least).

    Returns the State whose ``reference`` is the recovered unloaded shape and whose ``x`` is
    its loaded equilibrium (the captured shape to within the tolerance), and the log. A
    ``system`` passed in is used, with its linear solver (and left set up for what follows).
    Raises ConvergenceError when the misfit stops shrinking or max_iterations pass.
    """
    captured = np.asarray(model.nodes if captured is None else captured, np.float64)
    if captured.shape != model.nodes.shape or not np.isfinite(captured).all():
        raise ConvergenceError(f"{model.name}: the captured shape must be finite ({model.n_nodes}, 3) positions")
    loads = loads or Loads()
    opts = options or NewtonOptions(n_steps=2)
    # one system, so one AMG hierarchy, for all passes
    system = system or FEMSystem(model, captured, opts.formulation, linear=opts.linear_solver)
    X = captured.copy()
    u = np.zeros_like(X)  # displacement of the last forward solve: the next warm start
    bend = None  # quadratic elements: the last solve's midside offsets from their edges' midpoints
    history = InverseLog()
    scale = None
    past = []  # (X, misfit) of the last passes: Anderson's memory
    for it in range(1, max_iterations + 1):
        try:
            state, slog = solve_static(model, State(x=X + u, reference=X, internal=bent_midsides(system, X + u, bend)),
                                       loads, opts, from_loads=loads if it > 1 else None, system=system)
        except ConvergenceError as exc:
            if it == 1:
                raise
            # the last pass's displacement put on the new reference can be a state no solve
            # starts from (a thin element crushed): load the new reference from rest instead
            log.info("unloaded shape: iteration %d: the warm start failed (%s); starting from rest", it, exc)
            state, slog = solve_static(model, State(x=X.copy(), reference=X), loads, opts, system=system)
        u = state.x - X
        bend = edge_bend(system, state.x, state.internal)
        misfit = state.x - captured
        worst = float(np.abs(misfit).max())
        scale = scale or max(float(np.abs(u).max()), 1e-300)
        history.misfit.append(worst)
        history.newton_iterations.append(slog.newton_iterations)
        log.info("unloaded shape: iteration %d, misfit %.3e m (%d Newton iterations)", it, worst,
                 slog.newton_iterations)
        if worst <= max(tol * scale, 1e-12):
            return replace(state, reference=X.copy()), history
        if it - (int(np.argmin(history.misfit)) + 1) >= 3:  # three passes without a new best: it stalls
            break
        if len(history.misfit) > 1 and worst > history.misfit[-2]:
            past = []  # the extrapolation overshot: start the memory again from here
        past = (past + [(X.copy(), misfit.copy())])[-(ANDERSON_DEPTH + 1):]
        X = _valid_reference(model, X, _anderson(past), captured)
    raise ConvergenceError(f"{model.name}: the unloaded shape did not converge: misfit {history.misfit[-1]:.3e} m "
                           f"after {len(history.misfit)} iterations (target {tol * scale:.3e} m)")
