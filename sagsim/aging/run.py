"""The aging time loop: from a start age to an end age in steps, resumable bit for bit.

Each step: the mechanisms give the parameters at the new age; equilibrium under gravity is
solved warm-started from the last step (the change of growth ramped with the loads, so a step
too large is cut back, not failed); fat creep is updated from the new equilibrium; metrics are
taken; a checkpoint is written. A killed run restarted on the same folder continues from its
last checkpoint and ends with the same bits as an uninterrupted one: every input of a step is
in the checkpoint, including the matrix the AMG hierarchy was built from.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import metrics
from ..errors import ConvergenceError, ScenarioError
from ..io import atomic_path, read_json, write_json
from ..model import Loads, State, TissueModel, tet_volumes
from ..solvers.fem import FEMSystem, recover_unloaded, solve_static
from ..solvers.fem.quadratic import bent_midsides, edge_bend, element_deformation
from ..solvers.linear import LinearSolver
from .context import AgingContext, aged_model
from .mechanisms import FatDescent, mechanism_record
from .settings import CHECKPOINT, AgingSettings

log = logging.getLogger("sagsim.aging")

CHECKPOINT_VERSION = 2  # 2: quadratic elements' edge bends


@dataclass
class AgingResult:
    """Configurations (N,3) at every age, the metrics per age (rows), landmark displacements
    from the start (mm), and where the time went."""

    model: TissueModel
    settings: AgingSettings
    mechanisms: list
    ages: np.ndarray
    reference: np.ndarray
    frames: list
    rows: list = field(default_factory=list)
    landmarks: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    final: tuple | None = None  # (model, loads, growth) at the last age: what a thread lift starts from
    #: quadratic elements: the last frame's midside nodes (its curved edges), else None
    final_midside: np.ndarray | None = None

    def metric(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows])

    def state(self, k: int) -> State:
        """The state at ages[k]; the last one with its curved edges (quadratic elements)."""
        last = k in (-1, len(self.frames) - 1) and self.final_midside is not None
        return State(x=self.frames[k], reference=self.reference,
                     internal={"midside": self.final_midside} if last else {})


def fingerprint(model: TissueModel, mechanisms: list, settings: AgingSettings) -> str:
    """Hash of everything a run's results depend on: a checkpoint from another run is refused."""
    from ..meshfile import content_hash
    h = hashlib.sha256(content_hash(model).encode())
    h.update(json.dumps([mechanism_record(m) for m in mechanisms], sort_keys=True).encode())
    h.update(json.dumps(asdict(settings), sort_keys=True).encode())
    return h.hexdigest()[:16]


def run_aging(model: TissueModel, mechanisms: list, settings: AgingSettings | None = None,
              out: Path | None = None, *, progress: bool = False, stop_after: int | None = None,
              start: tuple | None = None) -> AgingResult:
    """Age ``model`` with the enabled ``mechanisms``. With ``out``, checkpoints go to
    out/checkpoint and a run found there (same fingerprint) is resumed. ``stop_after``: stop
    after that many new steps (what an interrupt does; for tests). ``start``: the stress-free
    reference and start equilibrium from `start_state` (runs of one face share it), and its
    internal variables where it gives them (``with_internal``: quadratic elements' curved
    edges; without them the run starts straight-edged). Returns the AgingResult."""
    settings = settings or AgingSettings()
    captured, model = model, with_ligament_prestrain(model, settings.ligament_prestrain)
    if not settings.end_age > settings.start_age:
        raise ScenarioError(f"aging: end_age {settings.end_age} must be after start_age {settings.start_age}")
    ctx = AgingContext(model)
    active = [m for m in mechanisms if m.enabled]
    if any(m.name == "bone_resorption" for m in active) and not ctx.has_bone_regions:
        raise ScenarioError(f"{model.name}: bone_resorption needs the landmarks oral_commissure_left and "
                            "malar_eminence_left and fixed bone nodes")
    ages = settings.ages()
    ckpt = _Checkpoint(out / CHECKPOINT, fingerprint(model, mechanisms, settings)) if out is not None else None
    timings = {"start_s": 0.0, "steps_s": [], "newton_iterations": [], "quasi_newton_iterations": []}
    t0 = time.perf_counter()
    # one system, so one linear solver (its AMG hierarchy is checkpointed), for the whole run
    system = FEMSystem(model, formulation=settings.formulation, linear=settings.linear_solver)
    opts = settings.newton(float(np.linalg.norm(system.gravity_force(model.gravity))))
    resumed = ckpt.load(system.linear) if ckpt is not None else None
    start_internal = {}
    if resumed is None:
        if start is None:
            X0, x0, start_internal = start_state(captured, settings, system, with_internal=True)
        else:
            X0, x0, *internal = start
            start_internal = internal[0] if internal else {}
        creep = np.broadcast_to(np.eye(3), (model.n_tets, 3, 3)).copy()
        growth_prev = creep.copy()
        frames, rows, k_done = [x0], [], 0
        # quadratic elements: the last steps' midside offsets from their edges' midpoints, with
        # their ages (a start given without them restarts straight-edged)
        start_bend = edge_bend(system, x0, start_internal)
        bends = [] if start_bend is None else [(ages[0], start_bend)]
        if ckpt is not None:
            ckpt.save_start(X0, x0)
            ckpt.save_step(0, x0, creep, growth_prev, rows, system.linear, bends)
    else:
        X0, frames, creep, growth_prev, rows, k_done, bends = resumed
        x0 = frames[0]
        log.info("resuming %s at age %.1f (step %d of %d)", model.name, ages[k_done], k_done, len(ages) - 1)
    timings["start_s"] = time.perf_counter() - t0
    at_start = State(x=x0, reference=X0)
    if not rows:
        rows.append(_metrics_row(model, at_start, at_start, ages[0], ages[0], 0, 0.0))
    descent = next((m for m in active if isinstance(m, FatDescent)), None)
    _, loads_prev = aged_model(ctx, _parameters(ctx, active, ages[k_done] - ages[0]))

    bar = _progress(progress, len(ages) - 1, k_done, model.name, ages)
    done_now = 0
    for k in range(k_done + 1, len(ages)):
        if stop_after is not None and done_now >= stop_after:
            break
        t_step = time.perf_counter()
        years = ages[k] - ages[0]
        params = _parameters(ctx, active, years)
        model_k, loads_k = aged_model(ctx, params)
        growth = creep @ params.growth
        # aging is smooth in time: extrapolating the last steps starts Newton far closer; over a
        # long step the extrapolation can overshoot into an inverted element, and then the step
        # starts again from the last equilibrium (cutting the load cannot help a bad start)
        guess = _extrapolate(ages[:k + 1], frames)
        # quadratic elements: their edges' bend extrapolated alike; at the last equilibrium, its own
        last_bend = bends[-1][1] if bends else None
        bend = _extrapolate(np.array([a for a, _ in bends] + [ages[k]]), [b for _, b in bends]) if bends else None
        # (quadratic elements: their corners' tetrahedron can be inverted where the curved
        # element is not; the solve's own check catches a bad start, and the step falls back)
        if not system.quadratic and (tet_volumes(guess, model.tets) <= 0).any():
            log.info("age %.1f: the extrapolated start inverts an element; starting from the last equilibrium", ages[k])
            guess, bend = frames[-1], last_bend
        try:
            state, slog = solve_static(model_k, State(x=guess, reference=X0, internal={
                "growth": growth, **bent_midsides(system, guess, bend)}), loads_k,
                opts, from_loads=loads_prev, from_growth=growth_prev, system=system)
        except ConvergenceError as exc:
            if guess is frames[-1]:
                raise
            log.info("age %.1f: the extrapolated start failed (%s); starting from the last equilibrium", ages[k], exc)
            state, slog = solve_static(model_k, State(x=frames[-1], reference=X0, internal={
                "growth": growth, **bent_midsides(system, frames[-1], last_bend)}),
                loads_k, opts, from_loads=loads_prev, from_growth=growth_prev, system=system)
        solved = edge_bend(system, state.x, state.internal)
        if solved is not None:
            bends = (bends + [(ages[k], solved)])[-3:]
        if descent is not None:
            creep = descent.remodel(ctx, X0, state.x, growth, creep, ages[k] - ages[k - 1],
                                    element_deformation(system, state.x, state.internal))
        growth_prev, loads_prev = growth, loads_k
        frames.append(state.x)
        dt = time.perf_counter() - t_step
        rows.append(_metrics_row(model, state, at_start, ages[k], ages[0], slog.newton_iterations, dt))
        if ckpt is not None:
            ckpt.save_step(k, state.x, creep, growth_prev, rows, system.linear, bends)
        timings["steps_s"].append(dt)
        timings["newton_iterations"].append(slog.newton_iterations)  # quasi-Newton ones included
        timings["quasi_newton_iterations"].append(slog.quasi_newton_iterations)
        done_now += 1
        if bar is not None:
            bar.set_postfix_str(f"age {ages[k]:.0f}, jowl descent {rows[-1].get('jowl_descent_mm', 0.0):.2f} mm")
            bar.update(1)
    if bar is not None:
        bar.close()
    model_f, loads_f = aged_model(ctx, _parameters(ctx, active, ages[len(frames) - 1] - ages[0]))
    final = (model_f, loads_f, growth_prev)  # growth_prev: what the last frame is in equilibrium with
    result = AgingResult(model, settings, list(mechanisms), ages[:len(frames)], X0, frames, rows, timings=timings,
                         final=final, final_midside=bent_midsides(system, frames[-1], bends[-1][1]
                                                                  if bends else None).get("midside"))
    result.landmarks = {name: 1e3 * (model.landmark_position(name, frames[-1]) - model.landmark_position(name, x0))
                        for name in model.landmarks}
    return result


def with_ligament_prestrain(model: TissueModel, prestrain: float) -> TissueModel:
    """The model with its ligament rest lengths shortened so that the captured shape stretches
    them by ``prestrain`` (springs that end on a tissue node at both ends, and supports, are
    left alone)."""
    if prestrain == 0.0 or not len(model.springs):
        return model
    s = model.springs
    rest = np.where(s.to_point & s.is_ligament, s.rest_length / (1.0 + prestrain), s.rest_length)
    return model.with_(springs=replace(s, rest_length=rest))


def captured_start(model: TissueModel, settings: AgingSettings | None = None) -> tuple[TissueModel, State]:
    """The captured face ready to load further (a lift without aging): the model with its
    ligaments pre-stretched as ``settings`` say, and its equilibrium at the start age."""
    settings = settings or AgingSettings()
    X0, x0, internal = start_state(model, settings, with_internal=True)  # quadratic elements' curved edges too
    return with_ligament_prestrain(model, settings.ligament_prestrain), State(x=x0, reference=X0, internal=internal)


def start_state(model: TissueModel, settings: AgingSettings, system: FEMSystem | None = None,
                *, with_internal: bool = False) -> tuple:
    """Stress-free reference and equilibrium at the start age of the captured ``model`` (its
    ligaments pre-stretched as ``settings`` say): the recovered unloaded shape (whose loaded
    state is the captured face), or the captured face taken as stress-free and loaded once.
    ``with_internal``: and the equilibrium state's internal variables (a quadratic element's
    midsides: its straight-edged version can be inverted where the curved one is not)."""
    model = with_ligament_prestrain(model, settings.ligament_prestrain)
    if system is not None:
        system.update_parameters(model)
    system = system or FEMSystem(model, formulation=settings.formulation, linear=settings.linear_solver)
    opts = settings.newton(float(np.linalg.norm(system.gravity_force(model.gravity))), n_steps=2)
    if settings.unloaded:
        # 2% of the sag (about 14 um on the default face) is far below what any metric resolves
        state, ilog = recover_unloaded(model, options=opts, tol=2e-2, system=system)
        log.info("unloaded shape recovered in %d iterations", len(ilog.misfit))
    else:
        state, _ = solve_static(model, State.initial(model), Loads(), opts, system=system)
    return (state.reference, state.x, state.internal) if with_internal else (state.reference, state.x)


def _extrapolate(ages: np.ndarray, frames: list) -> np.ndarray:
    """The configuration at ages[-1] extrapolated from the last (up to three) frames
    (Lagrange polynomial through their ages)."""
    n = min(len(frames), 3)
    t, ts = ages[-1], ages[-1 - n:-1]
    guess = np.zeros_like(frames[-1])
    for j in range(n):
        w = np.prod([(t - ts[i]) / (ts[j] - ts[i]) for i in range(n) if i != j])
        guess += w * frames[len(frames) - n + j]
    return guess


def _parameters(ctx: AgingContext, active: list, years: float):
    params = ctx.base_parameters()
    for m in active:
        m.apply(ctx, years, params)
    return params


def _metrics_row(model: TissueModel, state: State, start: State, age: float, age0: float,
                 iterations: int, seconds: float) -> dict:
    row = {"age": float(age), "years": float(age - age0)}
    row.update(metrics.summary(model, state, before=start))
    skin = model.skin_nodes
    row["max_skin_displacement_mm"] = float(1e3 * np.linalg.norm(state.x[skin] - start.x[skin], axis=1).max())
    row["newton_iterations"] = int(iterations)
    row["step_seconds"] = float(seconds)
    return row


def _progress(enabled: bool, total: int, initial: int, name: str, ages: np.ndarray):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=f"{name} {ages[0]:.0f}->{ages[-1]:.0f}", unit="step")


class _Checkpoint:
    """out/checkpoint: start.npz (reference and start state), step.npz (the last finished
    step: k, x, creep, the growth x balances, metric rows, which AMG snapshot, and for
    quadratic elements the last steps' edge bends), frame_k.npy per step and
    linear_<generation>.npz. step.npz is written last and atomically: it is the commit point;
    files it does not name are leftovers of a step that did not finish."""

    def __init__(self, folder: Path, key: str):
        self.folder = Path(folder)
        self.key = key
        self._saved_generation = None

    def load(self, linear: LinearSolver):
        step = self.folder / "step.npz"
        meta = self.folder / "run.json"
        if not step.exists() or not meta.exists():
            return None
        info = read_json(meta)
        if info.get("version") != CHECKPOINT_VERSION:
            raise ScenarioError(f"{self.folder}: holds a checkpoint in another format (version {info.get('version')}, "
                                f"this sagsim writes {CHECKPOINT_VERSION}); use another --out or delete it")
        if info.get("fingerprint") != self.key:
            raise ScenarioError(f"{self.folder}: holds a checkpoint of another run (fingerprint "
                                f"{info.get('fingerprint')}, this run {self.key}); use another --out or delete it")
        with np.load(self.folder / "start.npz") as s:
            X0 = s["reference"]
        with np.load(step) as d:
            k = int(d["k"])
            creep, growth, rows = d["creep"], d["growth"], json.loads(str(d["rows"]))
            gen_file = str(d["linear_file"])
            snap = {name[4:]: d[name] for name in d.files if name.startswith("lin_")}
            bends = list(zip(d["bend_ages"].tolist(), d["bends"]))
        frames = [np.load(self.folder / f"frame_{j:04d}.npy") for j in range(k + 1)]
        if gen_file:
            with np.load(self.folder / gen_file) as matrix:
                snap.update({name: matrix[name] for name in matrix.files})
        linear.restore(snap)
        self._saved_generation = (linear.generation, gen_file) if gen_file else None
        return X0, frames, creep, growth, rows, k, bends

    def save_start(self, X0: np.ndarray, x0: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*"):
            old.unlink()
        write_json(self.folder / "run.json", {"fingerprint": self.key, "version": CHECKPOINT_VERSION})
        with atomic_path(self.folder / "start.npz") as p, open(p, "wb") as f:
            np.savez(f, reference=X0, x=x0)

    def save_step(self, k: int, x: np.ndarray, creep: np.ndarray, growth: np.ndarray, rows: list,
                  linear: LinearSolver, bends: list) -> None:
        with atomic_path(self.folder / f"frame_{k:04d}.npy") as p, open(p, "wb") as f:
            np.save(f, x)
        # the hierarchy's matrix (large) when it was rebuilt; its bookkeeping (small) every step
        snap = linear.snapshot()
        matrix = {name: snap.pop(name) for name in ("indptr", "indices", "built_from") if name in snap}
        gen_file = ""
        if matrix:
            if self._saved_generation is None or self._saved_generation[0] != linear.generation:
                gen_file = f"linear_{k:04d}.npz"
                with atomic_path(self.folder / gen_file) as p, open(p, "wb") as f:
                    np.savez(f, **matrix)
                self._saved_generation = (linear.generation, gen_file)
            gen_file = self._saved_generation[1]
        with atomic_path(self.folder / "step.npz") as p, open(p, "wb") as f:
            np.savez(f, k=k, creep=creep, growth=growth, rows=json.dumps(rows), linear_file=gen_file,
                     bend_ages=np.array([a for a, _ in bends], float),
                     bends=np.array([b for _, b in bends]) if bends else np.zeros((0, 0, 3)),
                     **{f"lin_{name}": v for name, v in snap.items()})
        for old in self.folder.glob("linear_*.npz"):
            if old.name != gen_file:
                old.unlink()
