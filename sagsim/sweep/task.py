"""One run of a sweep, as a Dask task: a pure function of (kind, base file, overrides) that
writes its own folder atomically and returns its record.

The run is written into a hidden temporary folder beside its final one and renamed into
place when complete (with result.json: status, metrics, the one-line error of a failed run),
so a folder named after a run key is always a finished run, and a worker lost mid-run leaves
nothing but a temporary folder the next sweep removes. A failure inside the run is recorded,
never raised: only the loss of the worker itself reaches Dask (which reschedules the run).

Each worker process keeps the faces it loaded and the stress-free start states it recovered
(they depend on the face and a few settings, not on the mechanisms), so the runs of a sweep
after a worker's first pay only for their own years.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import secrets
import shutil
import socket
import time
import tomllib
import traceback
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from ..aging.run import fingerprint, start_state
from ..errors import SagsimError
from ..inputs import load_plan
from ..inputs.keys import aging_scenario, apply_plan
from ..jobs import age as age_job
from ..jobs import lift as lift_job
from ..meshfile import load_face
from ..results.sweep import RESULT, read_run, write_run

_FACES: dict = {}
_STARTS: dict = {}
_AGED: dict = {}  # aging fingerprint -> AgingResult (lift sweeps on an aged face)
_STARTS_KEPT = 4


def run_task(spec: dict) -> dict:
    """Run one sweep run described by ``spec`` (kind, key, folder, base, base_text, function,
    overrides, parameters, options) and return its record (also in FOLDER/KEY/result.json)."""
    folder = Path(spec["folder"])
    final = folder / spec["key"]
    if (final / RESULT).exists():  # a duplicate of a run already published (Dask may rerun a task it thought lost)
        with contextlib.suppress(Exception):
            record = read_run(final)
            if record.get("status") == "ok":
                return record
    tmp = folder / f".{spec['key']}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    record = {"run": spec["key"], "parameters": spec["parameters"], "overrides": spec["overrides"],
              "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        with thread_limits(spec["options"].get("threads", 1)), run_log(tmp / "log.txt"):
            metrics = KIND_RUNNERS[spec["kind"]](spec, tmp)
        record.update(status="ok", error="", metrics=_finite(metrics))
    except Exception as exc:  # noqa: BLE001 - every failure of a run is recorded, none stops the sweep
        record.update(status="failed", error=one_line(exc), metrics={})
        (tmp / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
    record["seconds"] = time.perf_counter() - t0
    write_run(tmp, record)
    publish(tmp, final)
    return record


def one_line(exc: BaseException) -> str:
    """An exception as one line; sagsim's own errors as they are, others with their type."""
    text = " ".join(str(exc).split())
    return text if isinstance(exc, SagsimError) and text else f"{type(exc).__name__}: {text}".rstrip(": ")


def publish(tmp: Path, final: Path) -> None:
    """Rename the finished folder ``tmp`` to ``final`` (replacing an earlier failed run there)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.{secrets.token_hex(4)}.old")
        with contextlib.suppress(FileNotFoundError):
            os.rename(final, old)
    try:
        os.rename(tmp, final)
    except OSError:  # another copy of this very run was published meanwhile: keep that one
        shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def run_log(path: Path):
    """sagsim's warnings (cut-backs and the like) go to the run's log.txt, not to the worker's
    stderr (created only when there is something to say)."""
    logger = logging.getLogger("sagsim")
    handler = logging.FileHandler(path, delay=True, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        handler.close()


@contextlib.contextmanager
def thread_limits(n: int):
    """At most ``n`` threads in numba kernels and BLAS while the block runs."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        with threadpool_limits(int(n)):
            yield
    finally:
        numba.set_num_threads(before)


def _finite(metrics: dict) -> dict:
    """Metrics as plain floats (or ints, bools, strings); NaN and infinities become None."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, (bool, np.bool_)):
            out[str(k)] = bool(v)
        elif isinstance(v, (int, np.integer)):
            out[str(k)] = int(v)
        elif isinstance(v, (float, np.floating)):
            out[str(k)] = float(v) if np.isfinite(v) else None
        elif isinstance(v, str) or v is None:
            out[str(k)] = v
        else:
            raise TypeError(f"metric {k!r}: expected a number or a string, got {type(v).__name__}")
    return out


# -- aging --------------------------------------------------------------------------------------------

def aging_result(base_text: str, base: str, overrides: dict):
    """The scenario (base file text with ``overrides``) and its AgingResult, on this process's
    cached face and start state."""
    scenario = aging_scenario(tomllib.loads(base_text), Path(base), overrides)
    model = face(scenario.face)
    _, _, result = age_job.run(scenario, model=model, start=start(scenario.face, model, scenario.settings))
    return scenario, result


def warm(base_text: str, base: str, overrides: dict) -> float:
    """One run of the scenario on this process, its results dropped: numba kernels loaded, the
    face and its start state cached for the runs after it. Returns the seconds it took."""
    t0 = time.perf_counter()
    with thread_limits(1):
        aging_result(base_text, base, overrides)
    return time.perf_counter() - t0


def face(name: str):
    """A face by name or file, loaded once per process (a file is reloaded when it changes)."""
    name = str(name)
    stamp = os.stat(name).st_mtime_ns if name.endswith(".vtu") else 0
    if (name, stamp) not in _FACES:
        _FACES[(name, stamp)] = load_face(name)
    return _FACES[(name, stamp)]


def start(name: str, model, settings) -> tuple:
    """The stress-free reference and start equilibrium of ``model`` under ``settings``, kept for
    the next runs of this process (the few settings it depends on are the key)."""
    key = (name, id(model), settings.ligament_prestrain, settings.unloaded, settings.formulation, settings.force_tol,
           settings.linear_solver)
    if key not in _STARTS:
        if len(_STARTS) >= _STARTS_KEPT:
            _STARTS.pop(next(iter(_STARTS)))
        _STARTS[key] = start_state(model, settings, with_internal=True)  # quadratic elements' curved edges too
    return _STARTS[key]


def aged(model, scenario):
    """The AgingResult of ``scenario`` on ``model``, kept for the next runs of this process: the
    runs of a lift sweep on an aged face share one aging (keyed by everything it depends on)."""
    key = fingerprint(model, scenario.mechanisms, scenario.settings)
    if key not in _AGED:
        if len(_AGED) >= _STARTS_KEPT:
            _AGED.pop(next(iter(_AGED)))
        _AGED[key] = age_job.run(scenario, model=model, start=start(scenario.face, model, scenario.settings))[2]
    return _AGED[key]


def _aging(spec: dict, out: Path) -> dict:
    scenario = aging_scenario(tomllib.loads(spec["base_text"]), Path(spec["base"]), spec["overrides"])
    model = face(scenario.face)
    outcome = age_job.age(scenario, out, pictures=spec["options"].get("pictures", False), checkpoint=False,
                          model=model, start=start(scenario.face, model, scenario.settings))
    return aging_metrics(outcome.result)


def aging_metrics(result) -> dict:
    """The end-age metrics of an aging run and every landmark's descent (mm)."""
    last = result.rows[-1]
    metrics = {k: v for k, v in last.items() if k not in ("age", "years", "newton_iterations", "step_seconds")}
    metrics.update({f"descent_mm:{name}": -float(d[1]) for name, d in sorted(result.landmarks.items())})
    return metrics


# -- lift ---------------------------------------------------------------------------------------------

def _lift(spec: dict, out: Path) -> dict:
    planfile = apply_plan(load_plan(spec["base"]), spec["overrides"])
    summary = lift_job.lift(planfile, out, months=spec["options"].get("months", False), load=face, aged=aged)
    threads = summary["threads"]
    metrics = {"target_lift_mm": summary.get("target_lift_mm"), "max_lift_mm": summary["max_lift_mm"],
               "over_tension_ml": summary["over_tension"]["volume_ml"],
               "max_strain": summary["over_tension"]["max_strain"],
               "max_von_mises_increase_kPa": summary["over_tension"]["max_von_mises_increase_kPa"],
               "unevenness_mm": summary["unevenness"]["index_mm"], "dents": summary["unevenness"]["dents"],
               "cogs_dimpling": summary["unevenness"]["cogs_dimpling"],
               "max_tension_N": max(t["tension_N"] for t in threads),
               "cogs_slipped": sum(t["cogs_slipped"] for t in threads)}
    if "expression" in summary:
        metrics["smile_restriction_pct"] = summary["expression"]["restriction_pct"]
    if summary.get("months"):
        last = summary["months"][-1]
        metrics.update({f"{k}_at_{last['month']}_months": v for k, v in last.items() if k.startswith("retained_pct")})
    metrics.update({f"lift_mm:{name}": d[1] for name, d in sorted(summary["landmarks_mm"].items())})
    return metrics


# -- python -------------------------------------------------------------------------------------------

def _python(spec: dict, out: Path) -> dict:
    module, name = spec["function"].split(":")
    fn = getattr(importlib.import_module(module), name)
    metrics = fn(dict(spec["overrides"]))
    if not isinstance(metrics, dict):
        raise TypeError(f"{spec['function']}: expected a dict of metrics, got {type(metrics).__name__}")
    return metrics


KIND_RUNNERS = {"aging": _aging, "lift": _lift, "python": _python}
