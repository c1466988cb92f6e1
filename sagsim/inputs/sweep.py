"""Sweep files (TOML): the documented schema and validation; the designs (grid, Latin
hypercube, Morris, Sobol) that turn parameter ranges into runs are in sagsim.inputs.designs.

    [sweep]
    kind = "aging"                   # aging | lift | python
    base = "aging_default.toml"      # the scenario (aging) or thread plan (lift) every run starts from
    design = "morris"                # grid | lhs | morris | sobol
    trajectories = 2                 # morris: runs = trajectories * (parameters + 1)

    [fixed]                          # overrides applied to every run
    "scenario.face" = "coarse"

    [parameters."ligament_laxity.stiffness_loss"]
    range = ["5 %/decade", "30 %/decade"]

Every fault (an unknown key, a wrong unit, a value out of the parameter's range, a missing
range) raises ScenarioError with one line naming the file and the key, before anything runs
or is written. Each run is validated by the same parser as `sagsim age` / `sagsim lift`.
"""
from __future__ import annotations

import csv
import difflib
import hashlib
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import toml
from .fields import Field, ScenarioError, beside, convert, convert_pair, safe_name, within
from .keys import KINDS, aging_scenario, apply_plan, canonical, field_for, overrides
from .plan import load_plan
from .scenario import parse_scenario

DESIGNS = ("grid", "lhs", "morris", "sobol")
#: the one module whose functions a sweep file may name on its own (the checks of the sweep
#: machinery); any other module must be allowed on the command line (--allow-module)
REGISTERED_MODULE = "sagsim.sweep.functions"
#: the most runs (and levels, samples or trajectories) one sweep file may ask for: a bound of the
#: tool, not of the model (a coarse aging run takes seconds: 100,000 runs are days on 2 cores)
MAX_RUNS = 100_000
REFERENCE_TABLE = Path(__file__).resolve().parents[1] / "data" / "tissue_parameters.csv"

#: [sweep] keys; docs/sweeps.md is generated from these
SWEEP_FIELDS = (
    Field("name", "str", None, "short name, the results folder's (results/NAME: one folder name; default: the file's stem)"),
    Field("kind", "str", None, "what one run is: aging, lift or python (required)"),
    Field("base", "str", None, "aging: the scenario file, lift: the thread plan every run starts from, relative "
          "to the sweep file (required for aging and lift)"),
    Field("function", "str", None, "python: 'module:function' called with the run's parameters (a dict), "
          "returning a dict of metrics"),
    Field("design", "str", "grid", "grid, lhs (Latin hypercube), morris or sobol"),
    Field("samples", "int", None, "lhs: number of runs; sobol: base samples N (runs = N (parameters + 2), a "
          "power of 2)"),
    Field("trajectories", "int", 4, "morris: trajectories r (runs = r (parameters + 1))"),
    Field("levels", "int", 4, "morris: grid levels of each parameter"),
    Field("seed", "int", 0, "seed of the random designs (the same seed gives the same runs, so a rerun skips "
          "them)"),
    Field("retries", "int", 2, "times a run is resubmitted after an error outside sagsim (a lost worker is "
          "rescheduled by Dask on its own)"),
    Field("threads", "int", 1, "threads one run may use (numba, BLAS)"),
    Field("pictures", "bool", False, "aging and lift: PNG pictures in each run folder"),
    Field("months", "bool", False, "lift: also the months after the lift (absorption, collagen)"),
    Field("reference_table", "str", None, "the reference table whose low/high columns `reference = ...` reads "
          "(default: the literature table shipped in sagsim/data/tissue_parameters.csv)"),
)
#: [parameters."<key>"] keys
PARAMETER_FIELDS = {
    "values": "grid: the values (numbers in the parameter's unit, strings with a unit, true/false, names)",
    "range": "[low, high] in the parameter's unit (strings with a unit allowed)",
    "reference": "instead of range: the `quantity` of a row of the reference table with low and high columns",
    "levels": "grid with a range: this many evenly spaced values (log-spaced with log = true)",
    "log": "sample (and analyse) the parameter on a log scale (positive ranges)",
    "unit": "python kind only: the unit of the parameter (its values are then converted like a scenario's)",
}
#: [sensitivity] keys
SENSITIVITY_FIELDS = {
    "outputs": "the metrics analysed (default: the clinical ones of the kind); for aging and lift a name their "
               "runs never report is refused before any run",
}
DEFAULT_OUTPUTS = {
    "aging": ("jowl_descent_mm", "jawline_overhang_change_mm", "fat_moved_below_subnasale_ml",
              "descent_mm:oral_commissure_left", "max_skin_displacement_mm"),
    "lift": ("target_lift_mm", "max_lift_mm", "over_tension_ml", "unevenness_mm", "max_tension_N"),
    "python": (),
}
#: the metrics one run of a kind reports (the sweep table's columns): exact names, and families
#: named by a prefix and a landmark (or, after a lift, "retained_pct:THREAD_at_N_months"); the
#: tests hold these to what the runs report. A python run reports what its function returns.
METRICS = {
    "aging": (("jowl_descent_mm", "jawline_overhang_change_mm", "fat_below_subnasale_change_ml",
               "fat_moved_below_subnasale_ml", "fat_centroid_descent_mm", "max_skin_displacement_mm"),
              {"descent_mm:": "LANDMARK", "fold_depth_change_mm_": "LANDMARK"}),
    "lift": (("target_lift_mm", "max_lift_mm", "over_tension_ml", "max_strain", "max_von_mises_increase_kPa",
              "unevenness_mm", "dents", "cogs_dimpling", "max_tension_N", "cogs_slipped", "smile_restriction_pct"),
             {"lift_mm:": "LANDMARK", "retained_pct:": "THREAD_at_N_months"}),
}


@dataclass
class Parameter:
    """A swept parameter: its spec, and either explicit values or a range (canonical unit)."""

    key: str
    spec: Field
    values: list | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    levels: int | None = None
    range_source: str = ""

    def scale(self, u: np.ndarray) -> np.ndarray:
        """Points of the unit interval mapped onto the range (log-uniformly with ``log``)."""
        if self.log:
            out = np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        else:
            out = self.low + u * (self.high - self.low)
        return np.clip(out, self.low, self.high)  # exp(log(hi)) may be one ulp above hi

    def bounds(self) -> list:
        """The range as SALib sees it (log of it with ``log``)."""
        return [float(np.log(self.low)), float(np.log(self.high))] if self.log else [self.low, self.high]

    def record(self) -> dict:
        return {"key": self.key, "unit": self.spec.unit, "values": self.values, "low": self.low, "high": self.high,
                "log": self.log, "range_source": self.range_source, "doc": self.spec.doc, "source": self.spec.source}


@dataclass
class Sweep:
    """A validated sweep: where it came from, what one run is, and every run's overrides."""

    path: Path
    name: str
    kind: str
    base: Path | None
    base_raw: dict | None
    base_digest: str
    function: str | None
    design: str
    options: dict
    fixed: dict
    parameters: list
    runs: list = field(default_factory=list)  # per run: {key: value} of the swept parameters
    X: np.ndarray | None = None  # the design matrix as SALib sees it (log where log), for sensitivity
    outputs: tuple = ()

    def overrides(self, i: int) -> dict:
        return {**self.fixed, **self.runs[i]}

    def run_key(self, i: int) -> str:
        """Hash of everything run ``i``'s results depend on: kind, base file content (and the
        files it names), function, every override, and the options that change results."""
        payload = {"kind": self.kind, "base": self.base_digest, "function": self.function,
                   "overrides": self.overrides(i), "months": self.options["months"] if self.kind == "lift" else None}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def record(self) -> dict:
        return {"name": self.name, "file": str(self.path), "kind": self.kind,
                "base": str(self.base) if self.base else None, "function": self.function, "design": self.design,
                "options": self.options, "fixed": self.fixed, "parameters": [p.record() for p in self.parameters],
                "outputs": list(self.outputs),
                "runs": [{"run": self.run_key(i), **r} for i, r in enumerate(self.runs)]}


def load_sweep(path: str | Path, allow_modules: tuple[str, ...] = ()) -> Sweep:
    """Read and validate a sweep file and build its runs; ScenarioError naming file and key.
    A python sweep may name a function of sagsim's own (:data:`REGISTERED_MODULE`) or of a
    module in ``allow_modules`` (`sagsim sweep --allow-module`): a file alone never makes
    sagsim import and run other code."""
    from .designs import design_runs, planned_runs  # scipy and SALib: loaded when a sweep is read

    path = Path(path)
    where = str(path)
    raw = toml.read_tables(path, "sweep", ("sweep", "fixed", "parameters", "sensitivity"))
    head = toml.table(raw, "sweep", where)
    toml.known(head, [f.name for f in SWEEP_FIELDS], where, "[sweep]")
    opts = {f.name: _option(head, f, where) for f in SWEEP_FIELDS}
    kind = opts["kind"]
    if kind not in KINDS:
        raise ScenarioError(f"{where}: [sweep] kind: expected one of {list(KINDS)}, got {kind!r}")
    if opts["design"] not in DESIGNS:
        raise ScenarioError(f"{where}: [sweep] design: expected one of {list(DESIGNS)}, got {opts['design']!r}")
    for k in ("samples", "trajectories", "levels", "retries", "threads"):
        v = opts[k]
        if v is not None and (v < (0 if k == "retries" else 1) or (k == "levels" and v < 2)):
            raise ScenarioError(f"{where}: [sweep] {k}: expected a positive integer, got {v}")
        if v is not None and v > MAX_RUNS:  # checked before any design is built: a count is no memory bomb
            raise ScenarioError(f"{where}: [sweep] {k}: expected at most {MAX_RUNS}, got {v}")
    base, base_raw, digest, function = _base(kind, opts, path, where, tuple(allow_modules))

    fixed = overrides(raw, kind, where)
    table = toml.table(raw, "parameters", where)
    if not table:
        raise ScenarioError(f"{where}: [parameters]: expected at least one parameter table")
    ref_path = beside(opts["reference_table"], path) if opts["reference_table"] else REFERENCE_TABLE
    params = [_parameter(kind, key, value, opts["design"], where, ref_path) for key, value in table.items()]
    if len({p.key for p in params}) != len(params):
        raise ScenarioError(f"{where}: [parameters]: a parameter is given twice (with and without 'mechanisms.')")
    if kind == "aging" and "scenario.face" in fixed:  # a face file named here is part of every run's key
        h = hashlib.sha256(digest.encode())
        with within(f"{where}: [fixed] scenario.face"):
            _hash_face(h, aging_scenario(base_raw, base, {"scenario.face": fixed["scenario.face"]}).face)
        digest = h.hexdigest()
    clash = sorted(set(fixed) & {p.key for p in params})
    if clash:
        raise ScenarioError(f"{where}: [fixed] {clash[0]}: also swept in [parameters]; expected one or the other")

    planned = planned_runs(opts, params)
    if planned > MAX_RUNS:
        raise ScenarioError(f"{where}: [sweep]: the {opts['design']} design would make {planned:.3g} runs; expected at "
                            f"most {MAX_RUNS} (fewer levels, samples, trajectories or parameters)")
    runs, X = design_runs(opts, params, where)
    sens = toml.table(raw, "sensitivity", where)
    toml.known(sens, SENSITIVITY_FIELDS, where, "[sensitivity]")
    outputs = sens.get("outputs", DEFAULT_OUTPUTS[kind])
    if not (isinstance(outputs, (list, tuple)) and all(isinstance(o, str) for o in outputs)):
        raise ScenarioError(f"{where}: [sensitivity] outputs: expected a list of metric names, got {outputs!r}")
    for out in outputs:  # a typo is caught here, not after every run
        _check_metric(kind, out, where)
    name = safe_name(opts["name"] or path.stem, where, "[sweep] name")
    sweep = Sweep(path, name, kind, base, base_raw, digest, function, opts["design"],
                  {k: opts[k] for k in ("samples", "trajectories", "levels", "seed", "retries", "threads", "pictures",
                                        "months")}, fixed, params, runs, X, tuple(outputs))
    _check_runs(sweep, where)
    return sweep


# -- the pieces of a sweep file -----------------------------------------------------------------------

def is_metric(kind: str, name: str) -> bool:
    """Whether a run of ``kind`` may report a metric called ``name`` (any name for python)."""
    if kind not in METRICS:
        return True
    exact, families = METRICS[kind]
    return name in exact or any(name.startswith(f) and len(name) > len(f) for f in families)


def _check_metric(kind: str, name: str, where: str) -> None:
    if is_metric(kind, name):
        return
    exact, families = METRICS[kind]
    close = difflib.get_close_matches(name, exact, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ScenarioError(f"{where}: [sensitivity] outputs: {name!r} is not a metric of {kind} runs; {hint}expected one "
                        f"of {', '.join(exact)}, or {', '.join(f + what for f, what in families.items())}")


def _option(head: dict, f: Field, where: str):
    if f.name not in head:
        if f.name == "kind":
            raise ScenarioError(f"{where}: [sweep] kind: missing; expected one of {list(KINDS)}")
        return f.default
    return convert(f, head[f.name], where, f"[sweep] {f.name}")


def _base(kind: str, opts: dict, path: Path, where: str, allow_modules: tuple = ()):
    """The base file (resolved), its parsed tables and a digest of everything it names."""
    if kind == "python":
        fn = opts["function"]
        if not (isinstance(fn, str) and fn.count(":") == 1 and all(fn.split(":"))):
            raise ScenarioError(f"{where}: [sweep] function: expected 'module:function' for kind python, got {fn!r}")
        if opts["base"] is not None:
            raise ScenarioError(f"{where}: [sweep] base: a python sweep has no base file; remove it")
        module, name = fn.split(":")
        if module != REGISTERED_MODULE and module not in allow_modules:
            raise ScenarioError(f"{where}: [sweep] function: {module!r} is not a module this sweep may run; expected "
                                f"a function of {REGISTERED_MODULE}, or name the module on the command line with "
                                f"--allow-module {module} (its code then runs on every worker)")
        if name.startswith("_"):
            raise ScenarioError(f"{where}: [sweep] function: expected a public function, got {fn!r}")
        try:
            if not callable(getattr(importlib.import_module(module), name)):
                raise AttributeError
        except (ImportError, AttributeError):
            raise ScenarioError(f"{where}: [sweep] function: cannot import {fn!r}") from None
        return None, None, hashlib.sha256(fn.encode()).hexdigest(), fn
    if opts["function"] is not None:
        raise ScenarioError(f"{where}: [sweep] function: only for kind python")
    if opts["base"] is None:
        raise ScenarioError(f"{where}: [sweep] base: missing; expected the {'scenario' if kind == 'aging' else 'plan'}"
                            " file every run starts from")
    base = beside(opts["base"], path)
    if not base.is_file():
        raise ScenarioError(f"{where}: [sweep] base: expected an existing file, {base} does not exist")
    h = hashlib.sha256(base.read_bytes())
    raw = None
    with within(f"{where}: [sweep] base"):
        if kind == "aging":
            raw = toml.read_toml(base, "scenario")
            _hash_face(h, parse_scenario(raw, base).face)
        else:
            plan = load_plan(base)
            if plan.aging is not None:
                h.update(plan.aging.read_bytes())
    return base, raw, h.hexdigest(), None


def _hash_face(h, face: str) -> None:
    if face.endswith(".vtu"):  # a face file: its content is part of what the results depend on
        h.update(Path(face).read_bytes())
        side = Path(face).with_suffix(".json")
        if side.exists():
            h.update(side.read_bytes())


_LOG = Field("log", "bool")


def _parameter(kind: str, key: str, value, design: str, where: str, ref_path: Path) -> Parameter:
    section = f"[parameters] {canonical(kind, key)}"
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: {section}: expected a table (values = [...] or range = [low, high]), "
                            f"got {value!r}")
    toml.known(value, PARAMETER_FIELDS, where, section)
    if "unit" in value and kind != "python":
        raise ScenarioError(f"{where}: {section} unit: only for kind python (scenario and plan parameters have "
                            f"their unit)")
    spec = field_for(kind, key, f"{where}: [parameters]", value.get("unit"))
    p = Parameter(spec.name, spec)
    p.log = convert(_LOG, value.get("log", False), where, f"{section} log")
    if "values" in value:
        vals = value["values"]
        if not isinstance(vals, list) or not vals:
            raise ScenarioError(f"{where}: {section} values: expected a non-empty list, got {vals!r}")
        p.values = [convert(spec, v, where, f"{section} values") for v in vals]
    if "range" in value and "reference" in value:
        raise ScenarioError(f"{where}: {section}: give range or reference, not both")
    if "range" in value:
        p.low, p.high = convert_pair(spec, value["range"], where, f"{section} range")
        p.range_source = "sweep file"
    elif "reference" in value:
        p.low, p.high, p.range_source = _reference_range(spec, value["reference"], ref_path, where, section)
    if p.low is not None:
        if not all(isinstance(v, float) for v in (p.low, p.high)) or not p.low < p.high:
            raise ScenarioError(f"{where}: {section} range: expected two numbers, low < high, got "
                                f"[{p.low!r}, {p.high!r}]")
        if p.log and p.low <= 0:
            raise ScenarioError(f"{where}: {section} log: expected a positive range for a log scale, got low "
                                f"{p.low:g}")
    if "levels" in value:
        lv = value["levels"]
        if not (isinstance(lv, int) and not isinstance(lv, bool) and 2 <= lv <= MAX_RUNS):
            raise ScenarioError(f"{where}: {section} levels: expected an integer from 2 to {MAX_RUNS}, got {lv!r}")
        p.levels = lv
    if design == "grid":
        if p.values is None and (p.low is None or p.levels is None):
            raise ScenarioError(f"{where}: {section}: a grid needs values = [...] or range = [low, high] with "
                                f"levels = n")
        if p.values is None:
            u = np.linspace(0.0, 1.0, p.levels)
            p.values = [float(v) for v in p.scale(u)]
            p.values[0], p.values[-1] = p.low, p.high
    else:
        if not (spec.continuous or (spec.kind == "any" and p.low is not None)):
            raise ScenarioError(f"{where}: {section}: a {design} design samples continuous quantities; this one "
                                f"is {spec.kind} (use design = \"grid\" with values)")
        if p.values is not None:
            raise ScenarioError(f"{where}: {section} values: only for design grid; a {design} design samples "
                                f"range = [low, high]")
        if p.low is None:
            raise ScenarioError(f"{where}: {section}: no range; the reference table gives none for this parameter "
                                f"({spec.source or 'no source'}); expected range = [low, high] or reference = "
                                f"\"<quantity of a table row with low and high>\"")
    return p


#: units of the reference table -> (canonical unit, factor), beyond the scenario's own spellings
_TABLE_UNITS = {"um": ("m", 1e-6), "days": ("years", 1 / 365.25), "weeks": ("years", 7 / 365.25)}


def _reference_range(spec: Field, quantity, ref_path: Path, where: str, section: str) -> tuple:
    """(low, high, source) of the reference-table row whose quantity is ``quantity``, in the
    parameter's unit."""
    if not isinstance(quantity, str):
        raise ScenarioError(f"{where}: {section} reference: expected the quantity of a table row, got {quantity!r}")
    try:
        with open(ref_path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ScenarioError(f"{where}: {section} reference: cannot read the reference table {ref_path} "
                            f"({exc.strerror or exc})") from None
    row = next((r for r in rows if r.get("quantity", "").strip().lower() == quantity.strip().lower()), None)
    if row is None:
        raise ScenarioError(f"{where}: {section} reference: no row {quantity!r} in {ref_path}")
    if not (row.get("low") and row.get("high")):
        raise ScenarioError(f"{where}: {section} reference: the row {quantity!r} has no low/high range; expected "
                            f"range = [low, high] in the sweep file")
    unit = row["unit"].strip()
    out = []
    for v in (row["low"], row["high"]):
        if unit in _TABLE_UNITS and _TABLE_UNITS[unit][0] == spec.unit:
            x = float(v) * _TABLE_UNITS[unit][1]
        else:
            x = convert(spec, f"{v} {unit}", where, f"{section} reference ({quantity})")
        out.append(float(x))
    lo, hi = spec.range
    if lo is not None and not (lo <= out[0] and out[1] <= hi):
        raise ScenarioError(f"{where}: {section} reference: the table's range {out[0]:g} to {out[1]:g} {spec.unit} "
                            f"leaves the parameter's range {lo:g} to {hi:g}")
    return out[0], out[1], f"reference table: {row['quantity']} ({row['source']})"


def _check_runs(sweep: Sweep, where: str) -> None:
    """Every run parsed as its scenario or plan would be: faults surface now, not mid-sweep."""
    if sweep.kind == "python":
        return
    if sweep.kind == "lift":
        plan = load_plan(sweep.base)
    seen = set()
    for i in range(len(sweep.runs)):
        ov = sweep.overrides(i)
        sig = json.dumps(ov, sort_keys=True)
        if sig in seen:
            continue
        seen.add(sig)
        swept = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in sweep.runs[i].items())
        with within(f"{where}: run {i + 1} ({swept})"):
            if sweep.kind == "aging":
                aging_scenario(sweep.base_raw, sweep.base, ov)
            else:
                apply_plan(plan, ov)
