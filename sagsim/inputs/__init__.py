"""Every input file sagsim reads, in one vocabulary: aging scenarios, thread plans, sweeps and
calibrations (TOML), the measurements a calibration fits (CSV), and the dotted keys a sweep
uses to address one parameter of a scenario or plan.

fields.py holds the vocabulary (units, quantities, ranges, choices, the Field type, the one
conversion, the error); toml.py the one TOML reader; one module per kind of file; docs.py the
schemas as Markdown. These modules read definitions (mechanisms, threads, settings), never a
time loop, solver, writer or sweep execution. Every fault is a ScenarioError of one line
naming the file, the table, the key and what was expected.
"""
from .calibration import Calibration, FitParameter, load_calibration, read_measurements
from .fields import RESOLUTIONS, UNITS, Field, ScenarioError, convert, quantity
from .keys import aging_scenario, apply_plan, field_for
from .plan import PlanFile, load_plan, parse_sweep
from .scenario import Scenario, check_against_model, load_scenario, parse_scenario
from .sweep import Parameter, Sweep, load_sweep

__all__ = ["Calibration", "Field", "FitParameter", "Parameter", "PlanFile", "RESOLUTIONS", "Scenario", "ScenarioError",
           "Sweep", "UNITS", "aging_scenario", "apply_plan", "check_against_model", "convert", "field_for",
           "load_calibration", "load_plan", "load_scenario", "load_sweep", "parse_scenario", "parse_sweep", "quantity",
           "read_measurements"]
