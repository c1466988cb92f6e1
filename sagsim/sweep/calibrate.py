"""Calibration: fit chosen parameters of an aging scenario to measured landmark displacements.

The calibration file (base scenario, measurements CSV, [fixed] overrides, the parameters to
fit with their initial values and bounds) is read and validated by sagsim.inputs.calibration.
Each measurement row weighs by its ``sigma_mm`` (default 1). scipy's least_squares
minimises the weighted residuals (model minus measured) over the parameters, on a log scale
for positive ones; the Jacobian is taken by forward differences whose columns run in
parallel on Dask. The uncertainty is the linearised one at the optimum: covariance
s^2 (J^T J)^-1 with s^2 = sum of squared residuals / (measurements - parameters).
"""
from __future__ import annotations

import contextlib
import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares
from tqdm import tqdm

from ..errors import SagsimError
from ..inputs import toml
from ..inputs.calibration import COMPONENTS, Calibration
from ..inputs.keys import overrides
from ..io import atomic_path
from ..results.calibration import MARKER, write_calibration, write_summary
from ..results.folder import claim
from .execute import dask_client
from .task import aging_result, one_line, thread_limits


class CalibrationError(SagsimError):
    """A calibration could not evaluate its model."""


# -- the model on a worker ----------------------------------------------------------------------------

def landmark_task(spec: dict) -> np.ndarray:
    """Displacements (mm, (k,3)) of each requested (landmark, age) from the start age, for the
    base scenario with ``spec["overrides"]`` (runs on a Dask worker)."""
    with thread_limits(spec.get("threads", 1)):
        _, result = aging_result(spec["base_text"], spec["base"], spec["overrides"])
    model, x0 = result.model, result.frames[0]
    out = np.empty((len(spec["requests"]), 3))
    for i, (name, age) in enumerate(spec["requests"]):
        k = int(np.argmin(np.abs(result.ages - age)))
        out[i] = 1e3 * (model.landmark_position(name, result.frames[k]) - model.landmark_position(name, x0))
    return out


class _Model:
    """Evaluations of the calibration's model on Dask, remembered by parameter vector."""

    def __init__(self, cal: Calibration, client):
        self.cal, self.client = cal, client
        self.base_text = cal.base.read_text(encoding="utf-8")
        self.memo: dict = {}
        self.history: list = []
        rows = cal.measurements
        self.mask = np.array([[r[c] is not None for c in COMPONENTS] for r in rows])
        self.measured = np.array([[r[c] if r[c] is not None else 0.0 for c in COMPONENTS] for r in rows])
        self.sigma = np.array([r["sigma_mm"] for r in rows])[:, None] * np.ones((1, 3))

    def _spec(self, values) -> dict:
        return {"base_text": self.base_text, "base": str(self.cal.base.resolve()),
                "overrides": self.cal.overrides(values), "requests": self.cal.requests(), "threads": 1}

    def displacements(self, xs: list, role: str) -> list:
        """Model displacements at each parameter vector (log scale where log) of ``xs``."""
        todo = [x for x in xs if x.tobytes() not in self.memo]
        values = [[p.from_x(v) for p, v in zip(self.cal.parameters, x)] for x in todo]
        if todo:
            futures = self.client.map(landmark_task, [self._spec(v) for v in values], pure=False)
            for x, v, fut in zip(todo, values, futures):
                try:
                    self.memo[x.tobytes()] = fut.result()
                except Exception as exc:  # noqa: BLE001 - say which parameters broke the model
                    at = ", ".join(f"{p.key} = {val:g}" for p, val in zip(self.cal.parameters, v))
                    raise CalibrationError(f"{self.cal.path}: the model failed at {at}: {one_line(exc)}") from None
                r = self.residuals_of(self.memo[x.tobytes()])
                self.history.append({"evaluation": len(self.history) + 1, "role": role,
                                     **{p.key: val for p, val in zip(self.cal.parameters, v)},
                                     "cost": 0.5 * float(r @ r)})
        return [self.memo[x.tobytes()] for x in xs]

    def residuals_of(self, d: np.ndarray) -> np.ndarray:
        return ((d - self.measured) / self.sigma)[self.mask]

    def residuals(self, x: np.ndarray) -> np.ndarray:
        return self.residuals_of(self.displacements([np.asarray(x, float)], "fit")[0])

    def jacobian(self, x: np.ndarray, step: float, bounds: tuple) -> np.ndarray:
        """Forward differences, every column at once (a backward step at an upper bound)."""
        x = np.asarray(x, float)
        hs = step * np.maximum(1.0, np.abs(x))
        hs = np.where(x + hs > bounds[1], -hs, hs)
        points = [x] + [x + h * e for h, e in zip(hs, np.eye(len(x)))]
        d = self.displacements(points, "jacobian")
        r0 = self.residuals_of(d[0])
        return np.column_stack([(self.residuals_of(dj) - r0) / h for dj, h in zip(d[1:], hs)])


@dataclass
class CalibrationResult:
    parameters: list  # dicts: key, unit, initial, fitted, sd, ci95, log
    residuals: list   # rows: landmark, age, component, measured_mm, model_mm, residual_mm, sigma_mm
    summary: dict
    paths: list
    history: list


def calibrate(cal: Calibration, out: str | Path, *, client=None, scheduler: str | None = None,
              workers: int | None = None, progress: bool = False) -> CalibrationResult:
    """Fit ``cal``'s parameters; write OUT/calibration.json, residuals.csv, history.csv and
    fit.png; returns the result."""
    t0 = time.perf_counter()
    with claim(out, MARKER) as out:  # a folder sagsim can write, no other run is writing, not yet complete
        ctx = contextlib.nullcontext(client) if client is not None else dask_client(scheduler, workers)
        with ctx as c:
            model = _Model(cal, c)
            params = cal.parameters
            x0 = np.array([p.to_x(p.initial) for p in params])
            lb, ub = np.array([p.x_bounds() for p in params]).T
            bar = _Bar(progress, cal.name)
            tol = cal.options["tolerance"]
            res = least_squares(lambda x: bar.tick(model.residuals(x)), x0, bounds=(lb, ub), method="trf",
                                jac=lambda x: model.jacobian(x, cal.options["diff_step"], (lb, ub)), x_scale="jac",
                                ftol=tol, xtol=tol, gtol=tol, max_nfev=cal.options["max_evaluations"])
            bar.close()
            best = model.displacements([res.x], "fit")[0]
        return _report(cal, model, res, best, out, time.perf_counter() - t0)


class _Bar:
    def __init__(self, enabled: bool, name: str):
        self.bar = None
        if enabled:
            self.bar = tqdm(desc=f"calibrate {name}", unit="fit step")

    def tick(self, r: np.ndarray) -> np.ndarray:
        if self.bar is not None:
            self.bar.set_postfix_str(f"rms residual {np.sqrt(np.mean(r ** 2)):.4g}")
            self.bar.update(1)
        return r

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _report(cal: Calibration, model: _Model, res, best: np.ndarray, out: Path, seconds: float) -> CalibrationResult:
    J = np.asarray(res.jac, float)
    r = np.asarray(res.fun, float)
    m, n = J.shape
    dof = max(m - n, 1)
    s2 = float(r @ r) / dof
    jtj = J.T @ J
    cov = s2 * np.linalg.pinv(jtj)
    cond = float(np.linalg.cond(jtj)) if np.all(np.isfinite(jtj)) else float("inf")
    sd_x = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    denom = np.outer(sd_x, sd_x)
    corr = np.divide(cov, denom, out=np.zeros_like(cov), where=denom > 0)
    params = []
    for p, x, sx in zip(cal.parameters, res.x, sd_x):
        v = p.from_x(x)
        lo, hi = (max(p.from_x(x - 1.96 * sx), p.low), min(p.from_x(x + 1.96 * sx), p.high))  # within the bounds
        params.append({"key": p.key, "unit": p.spec.unit, "log_scale": p.log, "initial": p.initial, "fitted": v,
                       "sd": float(v * sx if p.log else sx), "ci95": [lo, hi],
                       "at_bound": bool(np.isclose(x, p.x_bounds()[0]) or np.isclose(x, p.x_bounds()[1]))})
    rows = []
    for i, meas in enumerate(cal.measurements):
        for j, c in enumerate(COMPONENTS):
            if meas[c] is None:
                continue
            rows.append({"landmark": meas["landmark"], "age": meas["age"], "component": c[:2],
                         "measured_mm": meas[c], "model_mm": float(best[i, j]),
                         "residual_mm": float(best[i, j] - meas[c]), "sigma_mm": meas["sigma_mm"]})
    resid = np.array([row["residual_mm"] for row in rows])
    summary = {"name": cal.name, "file": str(cal.path), "base": str(cal.base), "fixed": cal.fixed,
               "parameters": params, "correlation": corr.tolist(),
               "measurements": len(cal.measurements), "values": int(m),
               "rms_residual_mm": float(np.sqrt(np.mean(resid ** 2))), "max_abs_residual_mm": float(np.abs(resid).max()),
               "cost": float(res.cost), "s2": s2, "jtj_condition": cond,
               "identifiable": bool(cond < 1e12), "evaluations": len(model.history), "fit_steps": int(res.nfev),
               "status": int(res.status), "message": str(res.message), "seconds": seconds,
               "uncertainty": "linearised at the optimum: covariance s^2 (J^T J)^-1 of the weighted residuals, "
                              "s^2 = sum r^2 / (values - parameters); on the log scale for log parameters "
                              "(sd = value x sd of log, ci95 = exp(log value +- 1.96 sd))"}
    from ..render.plots import plot_fit  # here: matplotlib is not loaded with sagsim.sweep.calibrate
    paths = write_calibration(out, summary, rows, model.history, finish=False)
    paths += [plot_fit(rows, params, out / "fit.png", cal.name), write_summary(out, summary)]  # the marker last
    summary["report"] = report_lines(summary) + ["wrote " + ", ".join(str(p) for p in paths)]
    return CalibrationResult(params, rows, summary, paths, model.history)


def report_lines(summary: dict) -> list:
    lines = [f"{summary['name']}: {len(summary['parameters'])} parameters fitted to {summary['values']} measured "
             f"values in {summary['fit_steps']} steps ({summary['evaluations']} model runs, {summary['seconds']:.1f} s): "
             f"{summary['message']}"]
    for p in summary["parameters"]:
        lines.append(f"  {p['key']:34s} {p['initial']:10.4g} -> {p['fitted']:10.4g} {p['unit']:9s} "
                     f"sd {p['sd']:.3g}, 95 % {p['ci95'][0]:.4g} to {p['ci95'][1]:.4g}"
                     + ("  (at a bound)" if p["at_bound"] else ""))
    lines.append(f"  residuals: rms {summary['rms_residual_mm']:.4f} mm, largest {summary['max_abs_residual_mm']:.4f} mm"
                 + ("" if summary["identifiable"] else "; J^T J is near singular: the data do not pin down every "
                    "parameter"))
    return lines


def synthetic_measurements(cal_path: str | Path, truth: dict, path: str | Path, landmarks: list, ages: list,
                           noise_mm: float = 0.0, seed: int = 0) -> Path:
    """Write a measurements CSV made by the model itself (SYNTHETIC, labelled so in its header):
    the displacements of ``landmarks`` at ``ages`` for the calibration's base scenario with its
    [fixed] overrides and ``truth`` (canonical values), plus Gaussian noise of ``noise_mm``."""
    cal_path = Path(cal_path)
    raw = toml.read_toml(cal_path, "calibration")
    base = cal_path.parent / raw["calibration"]["base"]
    fixed = overrides(raw, "aging", str(cal_path))
    requests = [(lm, float(a)) for a in ages for lm in landmarks]
    d = landmark_task({"base_text": base.read_text(encoding="utf-8"), "base": str(base.resolve()),
                       "overrides": {**fixed, **truth}, "requests": requests})
    rng = np.random.default_rng(seed)
    d = d + noise_mm * rng.standard_normal(d.shape)
    truth_text = ", ".join(f"{k} = {v:g}" for k, v in truth.items())
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(f"# SYNTHETIC data, not measurements: made by sagsim's own model ({base.name} with "
                f"{', '.join(f'{k} = {v}' for k, v in fixed.items())}) at {truth_text}, "
                f"plus Gaussian noise of {noise_mm:g} mm (seed {seed}).\n")
        w = csv.writer(f)
        w.writerow(["landmark", "age", "dx_mm", "dy_mm", "dz_mm", "sigma_mm"])
        for (lm, age), v in zip(requests, d):
            w.writerow([lm, f"{age:g}", *(f"{c:.6f}" for c in v), f"{max(noise_mm, 1e-3):g}"])
    return path
