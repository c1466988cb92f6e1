"""Calibration files (TOML) and their measurements (CSV): the documented schema and validation;
the fit itself is sagsim.sweep.calibrate's.

    [calibration]
    base = "aging_default.toml"                 # the scenario the parameters belong to
    measurements = "calibrate_measurements.csv"  # landmark, age, dx_mm, dy_mm, dz_mm[, sigma_mm]

    [fixed]                                     # overrides of every evaluation, as in a sweep
    "scenario.face" = "coarse"

    [parameters."fat_descent.time_constant"]
    initial = "10 years"                        # default: the base scenario's value
    bounds = ["2 years", "100 years"]           # default: the parameter's allowed range

The measurements are displacements from the scenario's start age to the row's age (mm; x
lateral, y up, z forward: the columns of an aging run's landmarks.csv); an empty cell is a
component not measured; ``sigma_mm`` (default 1) weighs each row. Every fault raises
ScenarioError with one line naming the file and the key or row, before any model runs.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import toml
from .fields import Field, ScenarioError, beside, convert, convert_pair, read_text, safe_name, within
from .keys import aging_scenario, field_for, overrides
from .scenario import parse_scenario

CALIBRATION_FIELDS = {
    "name": "short name, the results folder's (results/NAME: one folder name; default: the file's stem)",
    "base": "the aging scenario file, relative to this file (required)",
    "measurements": "CSV of landmark displacements: landmark, age, dx_mm, dy_mm, dz_mm[, sigma_mm] (required)",
    "max_evaluations": "most model runs least_squares may ask for, Jacobian runs not counted (default 30, at "
                       "most 1000)",
    "diff_step": "forward-difference step, relative, on the parameters' scale (default 1e-3)",
    "tolerance": "ftol = xtol = gtol of least_squares (default 1e-6)",
}
CALIBRATION_PARAMETER_FIELDS = {
    "initial": "starting value (default: the base scenario's), in the parameter's unit",
    "bounds": "[low, high] (default: the parameter's allowed range)",
    "log": "fit on a log scale (default: true when the bounds are non-negative)",
}
COMPONENTS = ("dx_mm", "dy_mm", "dz_mm")
#: the most model runs a fit may ask for: a bound of the tool (each is an aging run, seconds to
#: minutes; least squares that has not converged in a thousand has a problem more runs won't fix)
MAX_EVALUATIONS = 1000


@dataclass
class FitParameter:
    key: str
    spec: Field
    initial: float
    low: float
    high: float
    log: bool

    def to_x(self, value: float) -> float:
        return float(np.log(value)) if self.log else float(value)

    def from_x(self, x: float) -> float:
        return float(np.exp(x)) if self.log else float(x)

    def x_bounds(self) -> tuple:
        if self.log:
            return (np.log(self.low) if self.low > 0 else -np.inf, np.log(self.high))
        return (self.low, self.high)


@dataclass
class Calibration:
    path: Path
    name: str
    base: Path
    base_raw: dict
    fixed: dict
    parameters: list
    measurements: list  # rows: {"landmark", "age", "dx_mm", "dy_mm", "dz_mm" (None when absent), "sigma_mm"}
    options: dict = field(default_factory=dict)

    def overrides(self, values) -> dict:
        return {**self.fixed, **{p.key: float(v) for p, v in zip(self.parameters, values)}}

    def requests(self) -> list:
        """(landmark, age) of every measurement row."""
        return [(r["landmark"], r["age"]) for r in self.measurements]


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate a calibration file and its measurements (ScenarioError naming the
    file and the key or row)."""
    path = Path(path)
    where = str(path)
    raw = toml.read_tables(path, "calibration", ("calibration", "fixed", "parameters"))
    head = toml.table(raw, "calibration", where)
    toml.known(head, CALIBRATION_FIELDS, where, "[calibration]")
    for key in ("base", "measurements"):
        if not isinstance(head.get(key), str):
            raise ScenarioError(f"{where}: [calibration] {key}: missing; expected a file name")
    files = {k: beside(head[k], path) for k in ("base", "measurements")}
    with within(f"{where}: [calibration] base"):
        base_raw = toml.read_toml(files["base"], "scenario")
        parse_scenario(base_raw, files["base"])
    options = {"max_evaluations": head.get("max_evaluations", 30), "diff_step": head.get("diff_step", 1e-3),
               "tolerance": head.get("tolerance", 1e-6)}
    n = options["max_evaluations"]
    if isinstance(n, bool) or not (isinstance(n, int) and 1 <= n <= MAX_EVALUATIONS):
        raise ScenarioError(f"{where}: [calibration] max_evaluations: expected an integer from 1 to {MAX_EVALUATIONS}, "
                            f"got {n!r}")
    for k in ("diff_step", "tolerance"):
        if isinstance(options[k], bool) or not isinstance(options[k], (int, float)) or not 0 < options[k] < 1:
            raise ScenarioError(f"{where}: [calibration] {k}: expected a number between 0 and 1, got {options[k]!r}")
    fixed = overrides(raw, "aging", where)
    with within(f"{where}: [fixed]"):
        scenario = aging_scenario(base_raw, files["base"], fixed)
    table = toml.table(raw, "parameters", where)
    if not table:
        raise ScenarioError(f"{where}: [parameters]: expected at least one parameter to fit")
    params = [_fit_parameter(key, value, scenario, where) for key, value in table.items()]
    clash = sorted(set(fixed) & {p.key for p in params})
    if clash:
        raise ScenarioError(f"{where}: [fixed] {clash[0]}: also fitted in [parameters]; expected one or the other")
    with within(f"{where}: [parameters]"):
        aging_scenario(base_raw, files["base"], {**fixed, **{p.key: p.initial for p in params}})
    rows = read_measurements(files["measurements"])
    from ..meshfile import load_face  # imports the mesh readers and writers (io, meshio): only here, on use
    model = load_face(scenario.face)
    ages = scenario.settings.ages()
    for i, r in enumerate(rows):
        if r["landmark"] not in model.landmarks:
            raise ScenarioError(f"{files['measurements']}: row {i + 1} landmark: {r['landmark']!r} is not a landmark of "
                                f"{model.name}; expected one of {sorted(model.landmarks)}")
        if not np.isclose(ages, r["age"], atol=1e-9).any():
            raise ScenarioError(f"{files['measurements']}: row {i + 1} age: {r['age']:g} is not an age the scenario "
                                f"reaches; expected one of {[float(a) for a in ages]}")
    n_values = sum(r[c] is not None for r in rows for c in COMPONENTS)
    if n_values <= len(params):
        raise ScenarioError(f"{files['measurements']}: {n_values} measured values for {len(params)} parameters; "
                            "expected more values than parameters")
    name = safe_name(head.get("name", path.stem), where, "[calibration] name")
    return Calibration(path, name, files["base"], base_raw, fixed, params, rows, options)


_LOG = Field("log", "bool")


def _fit_parameter(key: str, value, scenario, where: str) -> FitParameter:
    spec = field_for("aging", key, f"{where}: [parameters]")
    section = f"[parameters] {spec.name}"
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: {section}: expected a table (initial = ..., bounds = [low, high])")
    toml.known(value, CALIBRATION_PARAMETER_FIELDS, where, section)
    if not spec.continuous:
        raise ScenarioError(f"{where}: {section}: only continuous quantities can be fitted; this one is {spec.kind}")
    lo, hi = spec.range
    if "bounds" in value:
        lo, hi = convert_pair(spec, value["bounds"], where, f"{section} bounds")
        if not lo < hi:
            raise ScenarioError(f"{where}: {section} bounds: expected low < high, got [{lo:g}, {hi:g}]")
    initial = (convert(spec, value["initial"], where, f"{section} initial") if "initial" in value
               else _scenario_value(scenario, spec.name))
    if not lo <= initial <= hi:
        raise ScenarioError(f"{where}: {section} initial: expected a value within the bounds {lo:g} to {hi:g}, got "
                            f"{initial:g}")
    log = convert(_LOG, value.get("log", lo >= 0), where, f"{section} log")
    if log and not initial > 0:
        raise ScenarioError(f"{where}: {section} initial: expected a positive value on a log scale, got {initial:g}")
    return FitParameter(spec.name, spec, float(initial), float(lo), float(hi), log)


def _scenario_value(scenario, key: str) -> float:
    parts = key.split(".")
    if parts[0] == "scenario":
        return float(getattr(scenario.settings, parts[1]))
    mech = next(m for m in scenario.mechanisms if m.name == parts[0])
    value = getattr(mech, parts[1])
    return float(value[parts[2]] if len(parts) == 3 else value)


def read_measurements(path: Path) -> list:
    """Rows of a measurements CSV ('#' lines are comments)."""
    path = Path(path)
    lines = [ln for ln in read_text(path, "measurements").splitlines() if ln.strip() and not ln.startswith("#")]
    reader = csv.DictReader(lines)
    cols = reader.fieldnames or []
    for need in ("landmark", "age"):
        if need not in cols:
            raise ScenarioError(f"{path}: column {need}: missing; expected columns landmark, age, dx_mm, dy_mm, dz_mm"
                                "[, sigma_mm]")
    if not any(c in cols for c in COMPONENTS):
        raise ScenarioError(f"{path}: expected at least one of the columns {', '.join(COMPONENTS)}")
    rows = []
    for i, r in enumerate(reader):
        row = {"landmark": (r["landmark"] or "").strip()}
        for c in ("age", *COMPONENTS, "sigma_mm"):
            text = (r.get(c) or "").strip()
            if not text:
                if c == "age":
                    raise ScenarioError(f"{path}: row {i + 1} age: missing; expected the age of the measurement")
                row[c] = 1.0 if c == "sigma_mm" else None
                continue
            try:
                row[c] = float(text)
            except ValueError:
                raise ScenarioError(f"{path}: row {i + 1} {c}: expected a number, got {text!r}") from None
            if not np.isfinite(row[c]) or (c == "sigma_mm" and row[c] <= 0):
                raise ScenarioError(f"{path}: row {i + 1} {c}: expected a finite{' positive' if c == 'sigma_mm' else ''}"
                                    f" number, got {text!r}")
        rows.append(row)
    if not rows:
        raise ScenarioError(f"{path}: no measurements")
    return rows
