"""Quasi-static Newton solver for the finite-element model.

Load stepping from the start state to the requested loads; full Newton with the consistent
tangent, after quasi-Newton (BFGS) iterations on a kept factorisation where the linear solver
has one and they converge fast (QN_MEMORY); a backtracking line search on the potential energy (which also
backs off from inverted elements); automatic cut-back of the load increment when a step
diverges, inverts elements or runs out of iterations, and growth back once steps converge
easily. A step converges when the residual and the energy norm both fall below their
tolerances. Nothing non-finite is ever returned: a failure raises ConvergenceError naming
the step and the reason. A tangent that is not positive definite (far from equilibrium, or
where tissue buckles, as skin wrinkling over a thread's cogs) is shifted along its diagonal
until it is: its Newton direction is then one the energy decreases along (Levenberg-Marquardt).
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ...errors import ConvergenceError, LinearSolverError
from ...formulations import QUADRATIC
from ...model import Loads, State, TissueModel
from ..blas import blas_on_one_thread
from ..linear import LinearSolver
from .loads import Gravity
from .system import FEMSystem, growth_tensors

log = logging.getLogger("sagsim.fem")

# Shifts tau tried in turn when the tangent K is not positive definite: K + tau diag(K). A
# positive definite matrix gives a direction the potential decreases along, which the line
# search follows; equilibrium is still R = 0, so only the path to it changes (more
# iterations: the shifted step is shorter than Newton's). The first shift is small, since
# near a buckled equilibrium only a few modes are negative; each failed try costs one
# factorisation (6 s on the real default face).
TANGENT_SHIFTS = (1e-2, 1e-1, 1.0, 10.0)

# Quasi-Newton iterations (NewtonOptions.quasi_newton): while the linear solver keeps the
# factorisation of an earlier tangent made under the same constraints, a step starts with
# limited-memory BFGS on that factorisation (the inverse's first guess, as FEBio's BFGS with
# stiffness reformations): each iteration is a force evaluation and a back-substitution, with
# no tangent assembled (on the real default face 0.03 + 0.05 s, against 0.3 s for the tangent
# and 0.4 s for CG on it). It hands over to Newton, tangent and all, when an iteration shrinks
# the residual by less than QN_SLOW or its line search fails. QN_MEMORY: the pairs BFGS keeps.
QN_MEMORY = 8
QN_SLOW = 0.5


@dataclass(frozen=True)
class NewtonOptions:
    """Solver settings. ``rtol``: residual norm relative to the first residual of the step;
    ``atol``: absolute residual norm (N) that counts as converged (guards steps that start at
    equilibrium: it must sit above the round-off of the model's forces, which a long support
    spring sets: the real face's teeth, 10 m springs of up to about 4 kN/m, resolve their force
    to about 1e-11 N, and at 1e-12 a thread lift's step that changed nothing could not
    converge); ``etol``: the energy norm |alpha du . R(x + alpha du)| relative to the step's
    first |du . R|. ``linear_rtol``: relative residual of iterative linear solves; None
    (default) asks for 0.1 |R| / |R_first| (within 1e-12..1e-2), which keeps Newton's quadratic
    convergence while not paying for digits the next iteration discards (Eisenstat and Walker
    1996; on the n = 32 sagging cube it saves a third of the CG iterations and no Newton
    iteration); direct solvers are exact either way."""

    n_steps: int = 5
    rtol: float = 1e-8
    atol: float = 1e-10
    etol: float = 1e-10
    max_iterations: int = 25
    max_cutbacks: int = 8
    line_search: bool = True
    max_line_search: int = 10
    linear_solver: str = "auto"
    linear_rtol: float | None = None
    formulation: str = "standard"
    quasi_newton: bool = True

    def __post_init__(self) -> None:
        checks = [("n_steps", self.n_steps >= 1), ("rtol", self.rtol > 0), ("atol", self.atol >= 0),
                  ("etol", self.etol > 0), ("max_iterations", self.max_iterations >= 1),
                  ("max_cutbacks", self.max_cutbacks >= 0), ("max_line_search", self.max_line_search >= 1),
                  ("linear_rtol", self.linear_rtol is None or 0 < self.linear_rtol < 1)]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"NewtonOptions.{name}: out of range, got {getattr(self, name)!r}")


@dataclass
class StepRecord:
    """One load step attempt: what it tried, how it went, where the time went."""

    step: int
    load_from: float
    load_to: float
    converged: bool
    iterations: int = 0
    residuals: list[float] = field(default_factory=list)
    energy: float = float("nan")
    reason: str = ""
    t_assembly_s: float = 0.0
    t_solve_s: float = 0.0
    t_total_s: float = 0.0
    linear_method: str = ""
    linear_iterations: int = 0
    shifted: int = 0  # Newton iterations whose tangent needed a diagonal shift (TANGENT_SHIFTS)
    quasi_newton: int = 0  # of the iterations, those on a kept factorisation (QN_MEMORY)


@dataclass
class SolveLog:
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def newton_iterations(self) -> int:
        return sum(s.iterations for s in self.steps)

    @property
    def quasi_newton_iterations(self) -> int:
        """Of the iterations, those on a kept factorisation (no tangent assembled)."""
        return sum(s.quasi_newton for s in self.steps)

    @property
    def cutbacks(self) -> int:
        return sum(not s.converged for s in self.steps)

    def total(self, name: str) -> float:
        return float(sum(getattr(s, name) for s in self.steps))

    def table(self) -> str:
        """The per-step log as aligned text."""
        rows = ["step  load            ok   iters  |R| first -> last        t_asm   t_lin   linear"]
        for s in self.steps:
            r = f"{s.residuals[0]:.2e} -> {s.residuals[-1]:.2e}" if s.residuals else "-"
            rows.append(f"{s.step:4d}  {s.load_from:5.3f}->{s.load_to:5.3f}  {'yes' if s.converged else 'NO ':3s}  "
                        f"{s.iterations:5d}  {r:22s}  {s.t_assembly_s:6.2f}  {s.t_solve_s:6.2f}  {s.linear_method}"
                        + (f"  ({s.quasi_newton} quasi-Newton)" if s.quasi_newton else "")
                        + (f"  ({s.shifted} shifted tangents)" if s.shifted else "")
                        + (f"  ({s.reason})" if s.reason else ""))
        return "\n".join(rows)


class _StepFailed(Exception):
    """A load step failed; ``start_tangent``: it failed on the step's start state itself
    (elements inverted there, or the first linear solve on the tangent there)."""

    def __init__(self, why: str, start_tangent: bool = False):
        super().__init__(why)
        self.start_tangent = start_tangent


def constrained_dofs(model: TissueModel, loads: Loads) -> tuple[np.ndarray, np.ndarray]:
    """All constrained dofs and their target displacements: fixed nodes stay at their
    reference (0), prescribed dofs take their values (a prescription overrides fixity)."""
    fixed = (3 * model.fixed[:, None] + np.arange(3)).ravel()
    dofs = np.concatenate([fixed, np.asarray(loads.prescribed_dofs, np.int64)])
    vals = np.concatenate([np.zeros(len(fixed)), np.asarray(loads.prescribed_values, np.float64)])
    dofs, first = np.unique(dofs[::-1], return_index=True)  # later entries (prescriptions) win
    return dofs, vals[::-1][first]


@blas_on_one_thread
def solve_static(model: TissueModel, state: State | None = None, loads: Loads | None = None,
                 options: NewtonOptions | None = None, *, from_loads: Loads | None = None,
                 from_growth: np.ndarray | None = None, system: FEMSystem | None = None,
                 items: Sequence = ()) -> tuple[State, SolveLog]:
    """Static equilibrium of ``model`` under ``loads``, starting from ``state``.

    Forces are ramped from ``from_loads`` (default: none) to ``loads``, and prescribed
    displacements from the start state's values to theirs, over ``options.n_steps`` load
    steps, cut back automatically where needed. ``state`` (default: the reference) is the
    warm start. Pass a prepared ``system`` to reuse its set-up and its linear solver's
    (pattern, factorisation or AMG hierarchy) across a sequence of solves on one mesh; a
    system made for another formulation is replaced, a linear solver made for another
    ``options.linear_solver`` too (the system keeps the new one).

    ``items``: load items held constant through the solve besides ``loads`` (loads.py):
    spring terms such as a lift's CogSprings, or dead loads (their force at the target growth).

    ``state.internal["growth"]``, when present, maps each element's reference shape to its
    stress-free shape: (M,) volume factors or (M,3,3) growth tensors (fat deflation, skin
    thinning, creep; see FEMSystem.set_reference). With ``from_growth`` (the growth the start
    state is in equilibrium with) the growth is ramped along with the loads, so that cut-backs
    also shorten a growth increment too large to take at once.

    Returns the equilibrium State (same reference and internal variables) and the SolveLog.
    """
    opts = options or NewtonOptions()
    loads = loads or Loads()
    loads.validate(model)
    state = state or State.initial(model)
    growth = state.internal.get("growth")
    growth = None if growth is None else growth_tensors(growth, model.n_tets)
    if system is None:
        system = FEMSystem(model, state.reference, opts.formulation, linear=opts.linear_solver)
    elif system.formulation != opts.formulation:
        # a quadratic system's solver has its midside nodes' coordinates too: keep the solver
        # only where the nodes stay the same
        same_nodes = system.quadratic == (opts.formulation in QUADRATIC)
        system = FEMSystem(model, state.reference, opts.formulation,
                           linear=system.linear if same_nodes else system.linear.requested)
    if system.linear.requested != opts.linear_solver:
        system.linear = system.linear.with_method(opts.linear_solver)
    if system.model is not model:
        system.update_parameters(model)  # same mesh, new parameters (or a ModelError)
    ramp = None
    if from_growth is not None and growth is not None:
        ramp = growth_tensors(from_growth, model.n_tets)
        if np.array_equal(ramp, growth):
            ramp = None
    if ramp is None and not (np.array_equal(system.reference, state.reference) and _same(system.growth, growth)):
        system.set_reference(state.reference, growth)
    elif ramp is not None and not np.array_equal(system.reference, state.reference):
        # the loads below weigh the reference's volumes: a system still on another reference
        # (a run resumed from a checkpoint starts on the model's nodes) would weigh the wrong ones
        system.set_reference(state.reference, ramp)
    dofs, target = constrained_dofs(model, loads)
    if system.quadratic:  # nodes of the system's own at the edges' midpoints
        X = system.extended(state.reference).ravel()
        x = system.extended(state.x)
        kept = state.internal.get("midside")
        if kept is not None and kept.shape == x[model.n_nodes:].shape:
            x[model.n_nodes:] = kept  # the last solve's, not the edges' midpoints
        dofs, target = system.extended_constraints(dofs, target)
    else:
        X, x = state.reference.ravel(), state.x
    # Newton iterates on displacements: positions far from the origin would cost the stress
    # (and so the reachable residual) the digits of the coordinates
    u = x.ravel() - X
    u_start = u[dofs].copy()

    def external(ld: Loads, grown: np.ndarray | None) -> np.ndarray:
        f = Gravity(model.gravity * ld.gravity_scale).force(system, grown)
        if ld.nodal_forces is not None:
            given = np.asarray(ld.nodal_forces, np.float64).ravel()
            f[:len(given)] += given  # on the model's nodes
        return f

    # gravity follows the mass of the stress-free shape: with a growth ramp, each end its own
    f_to = external(loads, growth)
    f_from = external(from_loads, ramp if ramp is not None else growth) if from_loads is not None else np.zeros_like(f_to)
    springs = [it for it in items if hasattr(it, "assemble")]
    dead = [it for it in items if not hasattr(it, "assemble")]
    if dead:  # held, not ramped: on both ends
        f_held = sum(it.force(system, growth) for it in dead)
        f_to, f_from = f_to + f_held, f_from + f_held
    if not np.isfinite(u).all():
        raise ConvergenceError(f"{model.name}: the start state has non-finite positions")
    solve_log = SolveLog()
    lam, nominal = 0.0, 1.0 / max(opts.n_steps, 1)
    dlam, cuts, step = nominal, 0, 1
    while lam < 1.0 - 1e-12:
        lam_to = min(1.0, lam + dlam)
        rec = StepRecord(step, lam, lam_to, converged=False)
        t0 = time.perf_counter()
        trial = u.copy()
        trial[dofs] = (1.0 - lam_to) * u_start + lam_to * target
        f_ext = (1.0 - lam_to) * f_from + lam_to * f_to
        if ramp is not None:
            system.set_reference(state.reference, (1.0 - lam_to) * ramp + lam_to * growth)
        start_tangent = False
        try:
            trial = _newton(system, trial, f_ext, dofs, opts, springs, rec)
            rec.converged = True
        except _StepFailed as exc:
            rec.reason, start_tangent = str(exc), exc.start_tangent
        rec.t_total_s = time.perf_counter() - t0
        solve_log.steps.append(rec)
        log.info("step %d load %.4f->%.4f %s in %d iterations (%.2f s)%s", step, lam, lam_to,
                 "converged" if rec.converged else "FAILED", rec.iterations, rec.t_total_s,
                 f": {rec.reason}" if rec.reason else "")
        if rec.converged:
            u, lam, step = trial, lam_to, step + 1
            if rec.iterations <= 6:
                dlam = min(nominal, 2.0 * dlam)
            cuts = 0
            continue
        cuts += 1
        if start_tangent and ramp is None and np.array_equal(u_start, target):
            # the step's start (its positions, and the tangent there) does not depend on how much
            # load the step adds (no growth ramp, no prescribed motion): a smaller step starts
            # from the same state, so cutting back would only meet it again (a factorisation
            # of 2 minutes each time on the fine real face)
            raise ConvergenceError(f"{model.name}: load step {step} cannot start: {rec.reason}; "
                                   "a smaller load step starts from the same state")
        if cuts > opts.max_cutbacks:
            raise ConvergenceError(
                f"{model.name}: load step {step} (load {lam:.4f} -> {lam_to:.4f}) failed after "
                f"{opts.max_cutbacks} cut-backs: {rec.reason}")
        dlam *= 0.5
        log.warning("step %d: cutting the load increment to %.3g (%s)", step, dlam, rec.reason)
    x = (X + u).reshape(-1, 3)
    if system.quadratic:
        out = replace(state, x=x[:model.n_nodes], internal={**state.internal, "midside": x[model.n_nodes:]})
    else:
        out = replace(state, x=x)
    return out, solve_log


def _newton(system: FEMSystem, u: np.ndarray, f_ext: np.ndarray, dofs: np.ndarray,
            opts: NewtonOptions, items: list, rec: StepRecord) -> np.ndarray:
    """Newton iterations of one load step from displacements ``u`` (3N,), with the spring
    ``items`` held; returns the converged displacements. Starts with quasi-Newton iterations
    on a kept factorisation where there is one (QN_MEMORY)."""
    linear = system.linear
    free = np.ones(system.ndof, bool)
    free[dofs] = False
    f_free = np.where(free, f_ext, 0.0)
    tag = _constraints_tag(dofs)
    H0 = linear.kept_inverse(tag) if opts.quasi_newton else None
    pairs: list = []  # BFGS's (s, y, 1 / s.y), oldest first

    def evaluate(uv: np.ndarray, want_tangent: bool = True):
        t = time.perf_counter()
        ev = system.evaluate(u=uv.reshape(-1, 3), want_tangent=want_tangent, constrained=dofs, items=items)
        rec.t_assembly_s += time.perf_counter() - t
        if ev.inverted:
            return ev, None, np.inf
        R = ev.force - f_free
        if not np.isfinite(R).all() or not np.isfinite(ev.energy):
            return ev, None, np.inf
        return ev, R, ev.energy - f_ext @ uv

    ev, R, pot = evaluate(u, want_tangent=H0 is None)
    if R is None:
        raise _StepFailed(f"{ev.inverted} inverted elements at the start of the step" if ev.inverted
                          else "non-finite residual at the start of the step", start_tangent=True)
    r0 = float(np.linalg.norm(R))
    rec.residuals.append(r0)
    if r0 <= opts.atol:
        rec.energy = pot
        return u
    e0 = None
    moved = False
    for it in range(1, opts.max_iterations + 1):
        quasi = H0 is not None
        t = time.perf_counter()
        if quasi:
            du = -_bfgs_direction(H0, R, pairs)
            rec.linear_method = f"{linear.method} (kept)"
            rec.t_solve_s += time.perf_counter() - t
        else:
            linear.tag = tag
            try:
                du, info = _descent_direction(linear, ev.tangent, -R, _linear_rtol(opts, rec.residuals[-1], r0), rec)
            except LinearSolverError as exc:
                raise _StepFailed(f"linear solve failed at iteration {it}: {exc}", start_tangent=not moved) from None
            finally:
                rec.t_solve_s += time.perf_counter() - t
            rec.linear_method, rec.linear_iterations = info.method, rec.linear_iterations + info.iterations
        # held dofs stay exactly where the step put them: CG (amg-cg, or CG on a kept
        # factorisation) leaves them moved by up to its tolerance, which fixed nodes then showed
        du[~free] = 0.0
        if not np.isfinite(du).all():
            raise _StepFailed(f"non-finite Newton update at iteration {it}")
        slope = float(du @ R)  # directional derivative of the potential; < 0 for a descent step
        if e0 is None:
            e0 = abs(slope)
        alpha, accepted = 1.0, False
        for _ in range(opts.max_line_search if opts.line_search else 1):
            u_new = u + alpha * du
            # no tangent at a trial point: most are the last of their step (an aging year
            # converges in one iteration) or rejected; assembling the real face's tangent
            # costs 15x its force
            ev_new, R_new, pot_new = evaluate(u_new, want_tangent=False)
            if R_new is not None:
                decrease = pot_new <= pot + 1e-4 * alpha * min(slope, 0.0) + 1e-12 * abs(pot)
                if not opts.line_search or decrease or np.linalg.norm(R_new) < np.linalg.norm(R):
                    accepted = True
                    break
            alpha *= 0.5
        rec.iterations = it
        if not accepted and quasi:  # the kept factorisation leads nowhere from here: Newton
            H0 = None
            ev, R, pot = evaluate(u)
            continue
        if not accepted:
            why = f"{ev_new.inverted} inverted elements" if ev_new.inverted else "no decrease of energy or residual"
            raise _StepFailed(f"line search failed at iteration {it}: {why}")
        if quasi:
            rec.quasi_newton += 1
            step, change = alpha * du, R_new - R
            curvature = float(step @ change)
            if curvature > 0.0:  # BFGS keeps its inverse positive definite only so
                pairs = (pairs + [(step, change, 1.0 / curvature)])[-QN_MEMORY:]
        r_before = rec.residuals[-1]
        u, ev, R, pot, moved = u_new, ev_new, R_new, pot_new, True
        r = float(np.linalg.norm(R))
        rec.residuals.append(r)
        rec.energy = pot
        # energy norm as FEBio measures it: the work of the accepted update against the new residual
        if r <= opts.atol or (r <= opts.rtol * r0 and abs(alpha * float(du @ R)) <= opts.etol * e0):
            return u
        if r > 1e8 * r0:
            raise _StepFailed(f"diverging residual {r:.3e} at iteration {it}")
        if quasi and r > QN_SLOW * r_before:
            H0 = None  # too slow: Newton from here
        if H0 is None:
            ev, R, pot = evaluate(u)  # the same force and energy, now with the tangent
    raise _StepFailed(f"no convergence in {opts.max_iterations} iterations (|R| {rec.residuals[-1]:.3e}, "
                      f"target {max(opts.rtol * r0, opts.atol):.3e})")


def _bfgs_direction(H0, g: np.ndarray, pairs: list) -> np.ndarray:
    """H g for limited-memory BFGS's inverse H, built on H0 (a kept factorisation's solve) from
    the ``pairs`` (s, y, 1 / s.y): the two-loop recursion (Nocedal and Wright 2006, Algorithm 7.4)."""
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(s @ q)
        alphas.append(a)
        q -= a * y
    r = H0(q)
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        r += (a - rho * float(y @ r)) * s
    return r


def _constraints_tag(dofs: np.ndarray) -> str:
    """A name for a set of constrained dofs: a factorisation made under other constraints has
    other identity rows, and is no inverse tangent for these (LinearSolver.kept_inverse)."""
    return hashlib.blake2b(np.ascontiguousarray(dofs, np.int64).tobytes(), digest_size=12).hexdigest()


def _descent_direction(linear: LinearSolver, K, b: np.ndarray, rtol: float, rec: StepRecord):
    """Solve K du = b; if that fails (K not positive definite, or too ill-conditioned for the
    solver), solve (K + tau diag K) du = b for the first of TANGENT_SHIFTS that succeeds.
    Raises the first failure when no shift helps or the diagonal is not positive."""
    try:
        return linear.solve(K, b, rtol=rtol)
    except LinearSolverError as exc:
        first = exc
    d = K.diagonal()
    rows = np.repeat(np.arange(K.shape[0]), np.diff(K.indptr))
    at = np.flatnonzero(K.indices == rows)  # the stored diagonal, row by row: the shift keeps the pattern
    if not (d > 0).all() or len(at) != K.shape[0]:
        raise first
    for tau in TANGENT_SHIFTS:
        shifted = K.copy()
        shifted.data[at] += tau * d
        try:
            du, info = linear.solve(shifted, b, rtol=rtol)
        except LinearSolverError:
            continue
        rec.shifted += 1
        log.info("step %d: tangent not positive definite (%s); shifted by %g of its diagonal", rec.step, first, tau)
        return du, info
    raise first


def _linear_rtol(opts: NewtonOptions, r: float, r0: float) -> float:
    if opts.linear_rtol is not None:
        return opts.linear_rtol
    eta = min(1e-2, max(1e-12, 0.1 * r / r0))
    # within four digits of the absolute tolerance, ask for what lands under it in this
    # iteration: a few more CG iterations instead of one more assembly and solve (an aging
    # year started from a good prediction then converges in one Newton iteration, not two)
    finish = 0.5 * opts.atol / r
    return min(eta, finish) if finish >= 1e-4 else eta


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
