"""Time integration and statics of a SpringSystem.

- ``run_explicit``: symplectic (semi-implicit) Euler, or velocity Verlet, with mass-proportional
  damping; the step defaults to 0.9 of the stable limit (Lanczos estimate of the highest
  frequency, springs.SpringSystem.stable_time_step) and ``strict=True`` refuses a larger one.
- ``run_implicit_euler``: backward Euler; each step minimises the incremental potential
  m(1 + h g)/(2 h^2) |y - x_n - h v_n/(1 + h g)|^2 + E(y) - f.y by Newton with conjugate
  gradients on the projected (positive semi-definite) Hessian and a backtracking line search.
- ``solve_static_springs``: equilibrium by FIRE (Bitzek et al. 2006, Phys Rev Lett 97:170201, with the
  FIRE 2.0 corrections of Guenole et al. 2020, Comput Mater Sci 175:109584) on fictitious
  masses scaled to each node's stiffness (dynamic relaxation's mass scaling), stopping when the
  residual force falls below its tolerance; a solve that does not get there raises
  ConvergenceError, like the FEM core's solve_static.

Everything runs on the kernels' node order and converts to the model's at the end.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np

from ...errors import ConvergenceError, ModelError
from ...model import Loads, State, TissueModel
from ..blas import blas_on_one_thread
from .kernels import forces as K
from .kernels import bands as BK
from .system import SpringOptions, SpringSystem

log = logging.getLogger("sagsim.springs")

METHODS = {"symplectic_euler": 0.0, "verlet": 0.5}


@dataclass
class SpringRun:
    """The end of a dynamic run (model order): positions, velocities, time, steps, step size;
    ``newton_iterations``/``cg_iterations`` for implicit runs, and ``cutbacks``: how often a
    step that did not converge was halved and retried (``steps`` counts the steps taken)."""

    x: np.ndarray
    v: np.ndarray
    time: float
    steps: int
    dt: float
    method: str
    newton_iterations: int = 0
    cg_iterations: int = 0
    wall_s: float = 0.0
    cutbacks: int = 0


@dataclass
class _Constraints:
    """Prescribed dofs (kernels' order): nodes, axes, positions; and the free-dof mask (N,3)."""

    node: np.ndarray
    axis: np.ndarray
    value: np.ndarray
    free: np.ndarray

    def apply(self, x: np.ndarray, v: np.ndarray | None = None) -> None:
        if len(self.node):
            x[self.node, self.axis] = self.value
            if v is not None:
                v[self.node, self.axis] = 0.0


def _setup(system: SpringSystem, x0, v0, loads: Loads | None, damping_rate):
    """Kernel-ordered x, v, inverse masses (0 on fixed nodes), external force, damping rates
    and the prescribed dofs (set to their values in x)."""
    loads = loads or Loads()
    x = system.to_kernel(system.check_positions(system.reference if x0 is None else x0, "x0"))
    v = np.zeros_like(x) if v0 is None else system.to_kernel(system.check_positions(v0, "v0"))
    inv_m = system.k_inv_m.copy()
    dofs = np.asarray(loads.prescribed_dofs, np.int64)
    if len(dofs) and ((dofs < 0) | (dofs >= 3 * system.n_nodes)).any():
        raise ModelError(f"Loads.prescribed_dofs: expected dof indices in [0, {3 * system.n_nodes})")
    node, axis = system.iperm[dofs // 3], dofs % 3
    value = system.k_X[node, axis] + np.asarray(loads.prescribed_values, np.float64)
    free = np.repeat((inv_m > 0)[:, None], 3, axis=1)
    free[node, axis] = False
    cons = _Constraints(node, axis, value, free)
    cons.apply(x)
    v[~free] = 0.0
    f_ext = system.external_force(loads)
    rate = system.damping_rate if damping_rate is None else damping_rate
    gamma = np.broadcast_to(np.asarray(rate, np.float64), (system.n_nodes,))
    if gamma.ndim != 1 or not (np.isfinite(gamma).all() and (gamma >= 0).all()):
        raise ModelError("damping_rate: expected a rate >= 0 1/s (a number or one per node)")
    gamma = np.ascontiguousarray(gamma[system.perm] if np.ndim(rate) else gamma)
    return x, v, inv_m, f_ext, gamma.copy(), cons


def explicit_steps(system: SpringSystem, x, v, F, f_ext, inv_m, gamma, kick: float, drift: float,
                   theta: float, n_steps: int, constraints: _Constraints | None = None) -> None:
    """``n_steps`` fused kick-drift steps in place (kernels' order): v += kick a(x, v);
    x += drift v. F must be zero on entry and is zero on exit. Prescribed dofs are put back
    after each step (in the fused step no force is computed from a node after it moved)."""
    with system.threading():
        _explicit_steps(system, x, v, F, f_ext, inv_m, gamma, kick, drift, theta, n_steps, constraints)


def _explicit_steps(system, x, v, F, f_ext, inv_m, gamma, kick, drift, theta, n_steps, constraints):
    if system.layout == "rows":
        def step():
            K.slab_step(x, v, F, f_ext, inv_m, gamma, kick, drift, theta, system.width,
                        system.k_row_ptr, system.k_b, system.k_stiffness, system.k_rest,
                        system.k_tet_ptr, system.k_tets, system._ptet)
        _step_loop(system, x, v, F, step, n_steps, constraints)
        return
    if n_steps <= 0:
        return
    # the banded kernel reads each component contiguously: the state is copied into (3, N)
    # arrays for the run and back at its end; the rest of a step takes (N, 3) views of them
    B = system.bands
    X, V, Fs, E = (np.ascontiguousarray(a.T) for a in (x, v, F, f_ext))

    def band_step():
        BK.band_step(X, V, Fs, E, inv_m, gamma, kick, drift, theta, system.width,
                     B.offsets, B.stiffness, B.rest, B.other_row_ptr, B.other_b, B.other_stiffness, B.other_rest,
                     system.k_tet_ptr, system.k_tets, system._ptet)
    _step_loop(system, X.T, V.T, Fs.T, band_step, n_steps, constraints)
    x[:], v[:], F[:] = X.T, V.T, Fs.T


def _step_loop(system, x, v, F, step, n_steps, constraints):
    """``n_steps`` times: ligament forces into F, the volume term's coefficients, the fused
    ``step`` kernel, the prescribed dofs put back."""
    lig = len(system.ligaments.stiffness) > 0
    cons = constraints is not None and len(constraints.node) > 0
    for _ in range(n_steps):
        if lig:
            system.ligament_forces(x, F)
        if system.has_volume:
            system._pressures(x)
        step()
        if cons:
            constraints.apply(x, v)


@blas_on_one_thread
def run_explicit(system: SpringSystem, x0: np.ndarray | None = None, v0: np.ndarray | None = None, *,
                 n_steps: int, dt: float | None = None, method: str = "symplectic_euler",
                 damping_rate=None, loads: Loads | None = None, strict: bool = False,
                 safety: float = 0.9) -> SpringRun:
    """Integrate ``n_steps`` explicit steps from (x0, v0) (model order; default: the reference
    at rest). ``method``: "symplectic_euler" (v += h a(x, v); x += h v, damping explicit) or
    "verlet" (velocity Verlet, damping trapezoidal). ``dt`` defaults to ``safety`` times the
    stable step; with ``strict`` a dt above the stable step raises ModelError."""
    if method not in METHODS:
        raise ModelError(f"run_explicit.method: expected one of {sorted(METHODS)}, got {method!r}")
    if int(n_steps) < 0:
        raise ModelError(f"run_explicit.n_steps: expected >= 0, got {n_steps}")
    theta = METHODS[method]
    x, v, inv_m, f_ext, gamma, cons = _setup(system, x0, v0, loads, damping_rate)
    if dt is None or strict:
        limit = system.stable_time_step(float(gamma.max(initial=0.0)), theta, x)
        if dt is None:
            dt = safety * limit
        elif dt > limit:
            raise ModelError(f"run_explicit.dt: {dt:.4g} s is above the stable limit {limit:.4g} s of {system.name}")
    if not (np.isfinite(dt) and dt > 0):
        raise ModelError(f"run_explicit.dt: expected a step > 0 s, got {dt}")
    F = np.zeros_like(x)
    t0 = time.perf_counter()
    n = int(n_steps)
    if theta == 0.0 or n == 0:
        explicit_steps(system, x, v, F, f_ext, inv_m, gamma, dt, dt, theta, n, cons)
    else:  # velocity Verlet as kick(h/2) drift(h), [kick(h) drift(h)] x (n-1), kick(h/2)
        explicit_steps(system, x, v, F, f_ext, inv_m, gamma, 0.5 * dt, dt, theta, 1, cons)
        explicit_steps(system, x, v, F, f_ext, inv_m, gamma, dt, dt, theta, n - 1, cons)
        explicit_steps(system, x, v, F, f_ext, inv_m, gamma, 0.5 * dt, 0.0, theta, 1, cons)
    wall = time.perf_counter() - t0
    if not np.isfinite(x).all():
        raise ConvergenceError(f"{system.name}: explicit run blew up (non-finite positions) with dt = {dt:.4g} s")
    return SpringRun(system.to_model(x), system.to_model(v), n * dt, n, float(dt), method, wall_s=wall)


# --------------------------------------------------------------------------------------------
# implicit Euler
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImplicitOptions:
    """Newton stops when |gradient of the incremental potential| <= rtol * max(|f_ext|, |m v/h|,
    |F_int(x_n)|) (the forces of the step) or <= atol (N); CG stops at ``cg_rtol`` relative
    residual. A step whose Newton solve fails is halved and retried, down to dt /
    2**max_cutbacks; the step grows back to dt after each success."""

    rtol: float = 1e-8
    atol: float = 0.0
    max_newton: int = 30
    cg_rtol: float = 1e-6
    max_cg: int = 2000
    max_line_search: int = 30
    max_cutbacks: int = 6


def _pcg(apply, b, diag, free, rtol, maxit):
    """Jacobi-preconditioned CG on the free dofs; returns (x, iterations, ok); ok is False
    when the operator showed negative curvature (x is then the last iterate before it)."""
    x = np.zeros_like(b)
    r = b * free
    z = r / diag
    p = z.copy()
    rz = float(np.vdot(r, z))
    nb = np.linalg.norm(r)
    if nb == 0.0:
        return x, 0, True
    for it in range(1, maxit + 1):
        Ap = apply(p) * free
        pAp = float(np.vdot(p, Ap))
        if pAp <= 0.0:
            return x, it, False
        a = rz / pAp
        x += a * p
        r -= a * Ap
        if np.linalg.norm(r) <= rtol * nb:
            return x, it, True
        z = r / diag
        rz_new = float(np.vdot(r, z))
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, maxit, True


@blas_on_one_thread
def run_implicit_euler(system: SpringSystem, x0: np.ndarray | None = None, v0: np.ndarray | None = None, *,
                       n_steps: int, dt: float, damping_rate=None, loads: Loads | None = None,
                       options: ImplicitOptions | None = None) -> SpringRun:
    """Backward Euler over n_steps x dt: m (v1 - v0)/h = F(x1) + f_ext - c v1, x1 = x0 + h v1
    (unconditionally stable; numerically damped). A step whose Newton solve fails is cut back
    and retried (logged); ConvergenceError when even dt / 2**max_cutbacks fails."""
    opts = options or ImplicitOptions()
    if not (np.isfinite(dt) and dt > 0):
        raise ModelError(f"run_implicit_euler.dt: expected a step > 0 s, got {dt}")
    x, v, _, f_ext, gamma, cons = _setup(system, x0, v0, loads, damping_rate)
    free = cons.free.astype(np.float64)
    h, t_end = float(dt), int(n_steps) * float(dt)
    counts = {"newton": 0, "cg": 0, "steps": 0, "cutbacks": 0}
    # Jacobi preconditioner's stiffness part: the same for every step
    bound = np.repeat(0.25 * system.stiffness_bound()[:, None], 3, axis=1)
    t0 = time.perf_counter()
    t, hk = 0.0, h
    with system.threading():
        while t_end - t > 1e-9 * h:
            hk = min(hk, t_end - t)
            try:
                x, v = _implicit_step(system, x, v, f_ext, free, gamma, bound, hk, opts, counts)
            except ConvergenceError as exc:
                counts["cutbacks"] += 1
                if hk <= h / 2**opts.max_cutbacks * (1 + 1e-12):
                    raise ConvergenceError(f"{exc} (gave up at t = {t:.6g} s after {counts['cutbacks'] - 1} "
                                           f"cut-backs, at the smallest step {hk:.3g} s)") from None
                log.info("%s: implicit Euler step at t = %.6g s did not converge (%s); retrying with %.3g s",
                         system.name, t, exc, hk / 2)
                hk /= 2
                continue
            t += hk
            counts["steps"] += 1
            hk = min(h, 2 * hk)
    wall = time.perf_counter() - t0
    return SpringRun(system.to_model(x), system.to_model(v), t, counts["steps"], h, "implicit_euler",
                     counts["newton"], counts["cg"], wall, counts["cutbacks"])


def _implicit_step(system, x, v, f_ext, free, gamma, bound, h, opts, counts):
    """One backward Euler step of size h by Newton-CG on the incremental potential; returns
    (x1, v1) or raises ConvergenceError (the state passed in is left as it was)."""
    c = 1.0 + h * gamma
    mc = (system.k_mass * c / h**2)[:, None] * np.ones((1, 3))
    diag = mc + bound + 1e-300
    fe = f_ext * free
    target = x + h * v / c[:, None]
    y = np.where(free > 0, x + h * v, x)
    # the forces of the step: external, inertial and internal at the start
    scale = max(np.linalg.norm(fe), np.linalg.norm(system.k_mass[:, None] * v * free / h),
                np.linalg.norm(system.kernel_forces(x) * free), 1e-300)

    def potential(yv):
        d = yv - target
        return 0.5 * float(np.sum(mc * d * d * free)) + system.kernel_energy(yv) - float(np.sum(fe * yv))

    def gradient(yv):
        return (mc * (yv - target) - system.kernel_forces(yv) - f_ext) * free

    g = gradient(y)
    phi = potential(y)
    for it in range(opts.max_newton + 1):
        gn = np.linalg.norm(g)
        if gn <= max(opts.rtol * scale, opts.atol):
            break
        if it == opts.max_newton or not np.isfinite(gn):
            raise ConvergenceError(f"{system.name}: implicit Euler step of {h:.3g} s did not converge in "
                                   f"{it} Newton iterations (|g| {gn:.3e}, target {opts.rtol * scale:.3e})")
        yk = y
        # Newton with the exact Hessian while it is positive definite (quadratic
        # convergence); the projected one where CG meets negative curvature
        d, ncg, ok = _pcg(lambda p, yk=yk: mc * p + system.kernel_hessvec(yk, p, project=False), -g, diag, free,
                          opts.cg_rtol, opts.max_cg)
        counts["cg"] += ncg
        if not ok:
            d, ncg, _ = _pcg(lambda p, yk=yk: mc * p + system.kernel_hessvec(yk, p, project=True), -g, diag, free,
                             opts.cg_rtol, opts.max_cg)
            counts["cg"] += ncg
        counts["newton"] += 1
        slope = float(np.sum(g * d))
        alpha = 1.0
        for _ in range(opts.max_line_search):
            y_new = y + alpha * d
            phi_new = potential(y_new)
            if np.isfinite(phi_new) and phi_new <= phi + 1e-4 * alpha * min(slope, 0.0) + 1e-14 * abs(phi):
                break
            alpha *= 0.5
        else:
            raise ConvergenceError(f"{system.name}: implicit Euler step of {h:.3g} s: line search failed")
        y, phi = y_new, phi_new
        g = gradient(y)
    return y, (y - x) / h * (free > 0)


# --------------------------------------------------------------------------------------------
# statics: FIRE with mass scaling
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StaticOptions:
    """FIRE settings. Converged when the free dofs' residual force |R|_2 <= rtol |f_ext|_2 or
    <= atol (N). Fictitious masses m_i = mass_safety * (stiffness bound of node i) / 4 make a
    step of 1 stable; the FIRE parameters are those of Bitzek et al. 2006."""

    rtol: float = 1e-6
    atol: float = 0.0
    max_iterations: int = 200_000
    dt_start: float = 0.1
    dt_max: float = 1.0
    dt_min: float = 1e-3
    n_delay: int = 5
    f_inc: float = 1.1
    f_dec: float = 0.5
    alpha_start: float = 0.1
    f_alpha: float = 0.99
    mass_safety: float = 1.5
    log_every: int = 100


@dataclass
class StaticLog:
    """How a static solve went: iterations, residual norms every ``log_every`` iterations
    (and the last), the target, restarts (uphill steps), wall time."""

    iterations: int = 0
    residuals: list[float] = field(default_factory=list)
    target: float = 0.0
    restarts: int = 0
    converged: bool = False
    wall_s: float = 0.0


def fire_relax(system: SpringSystem, x: np.ndarray, free: np.ndarray, f_ext: np.ndarray,
               opts: StaticOptions) -> tuple[np.ndarray, StaticLog]:
    """FIRE on kernel-ordered positions ``x`` (modified in place and returned); ``free`` (N,3)
    marks the dofs that move."""
    G = system.stiffness_bound()
    m = opts.mass_safety * np.maximum(G, 1e-12 * max(G.max(initial=0.0), 1e-300)) / 4.0
    inv_m = np.where(free, (1.0 / m)[:, None], 0.0)
    log = StaticLog()
    fe = np.where(free, f_ext, 0.0)
    log.target = max(opts.rtol * float(np.linalg.norm(fe)), opts.atol)
    v = np.zeros_like(x)
    F = np.empty_like(x)
    t0 = time.perf_counter()

    def residual(xv):
        system.kernel_forces(xv, F)
        F[...] = np.where(free, F + f_ext, 0.0)
        return float(np.linalg.norm(F))

    r = residual(x)
    log.residuals.append(r)
    dt, alpha, npos = opts.dt_start, opts.alpha_start, 0
    for it in range(1, opts.max_iterations + 1):
        if r <= log.target:
            log.converged = True
            break
        P = float(np.vdot(F, v))
        if P > 0.0:
            npos += 1
            if npos > opts.n_delay:
                dt = min(dt * opts.f_inc, opts.dt_max)
                alpha *= opts.f_alpha
        else:
            npos = 0
            if it > 1:
                log.restarts += 1
                dt = max(dt * opts.f_dec, opts.dt_min)
                alpha = opts.alpha_start
                x -= 0.5 * dt * v
                v[...] = 0.0
        v += dt * F * inv_m
        # FIRE mixing in mass-weighted coordinates (unit masses there)
        vn = np.sqrt(float(np.sum(v * v / np.where(free, inv_m, np.inf))))
        fn = np.sqrt(float(np.sum(F * F * inv_m)))
        if fn > 0.0:
            v = (1.0 - alpha) * v + alpha * (vn / fn) * F * inv_m
        x += dt * v
        r = residual(x)
        log.iterations = it
        if not np.isfinite(r):
            break
        if it % opts.log_every == 0:
            log.residuals.append(r)
    if log.residuals[-1] != r:
        log.residuals.append(r)
    log.converged = r <= log.target
    log.wall_s = time.perf_counter() - t0
    return x, log


@blas_on_one_thread
def solve_static_springs(model_or_system, state: State | None = None, loads: Loads | None = None,
                         options: StaticOptions | None = None, spring_options: SpringOptions | None = None
                         ) -> tuple[State, StaticLog]:
    """Static equilibrium of the spring model of a TissueModel (or of a prepared SpringSystem)
    under ``loads``, from ``state`` (default: the reference). Returns the State (model order)
    and the StaticLog; raises ConvergenceError when the force tolerance is not reached."""
    opts = options or StaticOptions()
    if isinstance(model_or_system, SpringSystem):
        system = model_or_system
        if state is not None and not np.array_equal(state.reference, system.reference):
            raise ModelError(f"{system.name}: state.reference differs from the system's reference")
    elif isinstance(model_or_system, TissueModel):
        loads_ok = loads or Loads()
        loads_ok.validate(model_or_system)
        ref = None if state is None else state.reference
        system = SpringSystem.from_model(model_or_system, spring_options, reference=ref)
    else:
        raise ModelError(f"solve_static_springs: expected a TissueModel or SpringSystem, got {type(model_or_system).__name__}")
    start = state.x if state is not None else None
    x, _, _, f_ext, _, cons = _setup(system, start, None, loads, 0.0)
    with system.threading():
        x, log = fire_relax(system, x, cons.free, f_ext, opts)
    if not log.converged:
        raise ConvergenceError(
            f"{system.name}: FIRE did not reach the force tolerance in {log.iterations} iterations "
            f"(|R| {log.residuals[-1]:.3e} N, target {log.target:.3e} N)")
    xm = system.to_model(x)
    if state is None:
        return State(x=xm, reference=system.reference.copy()), log
    return replace(state, x=xm), log
