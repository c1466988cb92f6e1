"""Dotted keys that address one parameter of a scenario or a thread plan, and applying them.

An aging key is the scenario file's own TOML path: ``scenario.<field>`` (e.g.
``scenario.ligament_prestrain``), ``<mechanism>.<parameter>`` (``ligament_laxity.stiffness_loss``,
``fat_descent.time_constant``; a leading ``mechanisms.`` is accepted), ``<mechanism>.enabled`` and
``fat_deflation.loss.<compartment>``. A thread-plan key is ``thread.<name>.<field>`` (one thread)
or ``thread.*.<field>`` (every thread), or ``plan.face``. A key's Field (fields.py) is the one
the scenario or plan reader converts that key with, renamed to the key: units, ranges and
sources are the files' own, so a sweep sees exactly what a scenario file does.
Overrides are applied to the parsed TOML and validated by the same parser as `sagsim age`.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

from ..aging.mechanisms import FAT_LOSS_PER_DECADE, MECHANISM_TYPES, MECHANISMS, parameters
from . import toml
from .fields import UNITS, Field, ScenarioError, convert, within
from .plan import PLAN_FACE, THREAD_FIELDS
from .scenario import SCENARIO_FIELDS, mechanism_field, parse_scenario

KINDS = ("aging", "lift", "python")


def canonical(kind: str, key: str) -> str:
    """The key as the table and the run records name it (``mechanisms.`` dropped)."""
    if kind == "aging" and key.startswith("mechanisms."):
        return key[len("mechanisms."):]
    return key


def field_for(kind: str, key: str, where: str, unit: str | None = None) -> Field:
    """The Field (named by the canonical key) that ``key`` addresses in a sweep of ``kind``;
    ScenarioError naming ``where`` and the key when nothing answers to it. ``unit``: the
    declared unit of a python-kind parameter."""
    key = canonical(kind, key)
    if kind == "aging":
        spec = _aging_field(key)
    elif kind == "lift":
        spec = _plan_field(key)
    else:
        if unit is not None and unit not in UNITS:
            raise ScenarioError(f"{where}: {key} unit: expected one of {list(UNITS)}, got {unit!r}")
        spec = Field(key, "quantity" if unit is not None else "any", unit=unit or "-")
    if spec is None:
        hint = ("scenario.<field>, <mechanism>.<parameter>, <mechanism>.enabled or fat_deflation.loss.<compartment>"
                if kind == "aging" else "thread.<name>.<field>, thread.*.<field> or plan.face")
        raise ScenarioError(f"{where}: {key}: not a parameter of {kind} runs; expected {hint} "
                            f"(docs/sweeps.md lists them)")
    return spec


def _aging_field(key: str) -> Field | None:
    parts = key.split(".")
    if parts[0] == "scenario" and len(parts) == 2:
        f = next((f for f in SCENARIO_FIELDS if f.name == parts[1]), None)
        if f is None or f.name in ("name", "description"):
            return None
        return replace(f, name=key)
    if parts[0] not in MECHANISM_TYPES or len(parts) not in (2, 3):
        return None
    return mechanism_field(MECHANISM_TYPES[parts[0]], parts[1:])


def _plan_field(key: str) -> Field | None:
    if key == "plan.face":
        return replace(PLAN_FACE, name=key)
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != "thread":
        return None
    f = next((f for f in THREAD_FIELDS if f.name == parts[2]), None)
    return None if f is None else replace(f, name=key)


def overrides(raw: dict, kind: str, where: str) -> dict:
    """The ``[fixed]`` table of a sweep or calibration file: {canonical key: converted value}."""
    fixed = {}
    for key, value in toml.table(raw, "fixed", where).items():
        f = field_for(kind, key, f"{where}: [fixed]")
        fixed[f.name] = convert(f, value, where, f"[fixed] {f.name}")
    return fixed


# -- applying overrides ---------------------------------------------------------------------------

def aging_raw(raw: dict, overrides: dict) -> dict:
    """A copy of a scenario's TOML tables with ``overrides`` (canonical keys and values) set."""
    raw = copy.deepcopy(raw)
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] == "scenario":
            table = raw.setdefault("scenario", {})
        else:
            table = raw.setdefault("mechanisms", {}).setdefault(parts[0], {})
            if not isinstance(table, dict):
                raise ScenarioError(f"[mechanisms.{parts[0]}]: expected a table, got {table!r}")
            if len(parts) == 3:
                table = table.setdefault(parts[1], {})
        table[parts[-1]] = value
    return raw


def aging_scenario(raw: dict, path: Path | None, overrides: dict):
    """The validated Scenario of the base file's tables ``raw`` with ``overrides`` set."""
    return parse_scenario(aging_raw(raw, overrides), path)


def apply_plan(planfile, overrides: dict):
    """A PlanFile with ``overrides`` (canonical keys and values) applied; thread names are
    checked against the plan (ScenarioError naming the plan file otherwise)."""
    threads = list(planfile.plan.threads)
    face = planfile.face
    for key, value in overrides.items():
        if key == "plan.face":
            face = value
            continue
        _, name, field = key.split(".", 2)
        hit = [i for i, th in enumerate(threads) if name in ("*", th.name)]
        if not hit:
            raise ScenarioError(f"{planfile.path}: {key}: no thread named {name!r}; expected one of "
                                f"{[th.name for th in threads]} or *")
        with within(f"{planfile.path}: {key}"):
            for i in hit:
                threads[i] = replace(threads[i], **{field: value})
    plan = replace(planfile.plan, threads=tuple(threads))
    return replace(planfile, plan=plan, face=face)


def aging_keys() -> list[Field]:
    """Every key an aging sweep can address (for docs/sweeps.md)."""
    out = []
    for f in SCENARIO_FIELDS:
        spec = _aging_field(f"scenario.{f.name}")
        if spec is not None:
            out.append(spec)
    for cls in MECHANISMS:
        out.append(_aging_field(f"{cls.name}.enabled"))
        for f in parameters(cls):
            if f.name == "loss":
                out += [_aging_field(f"{cls.name}.loss.{comp}") for comp in FAT_LOSS_PER_DECADE]
            else:
                out.append(_aging_field(f"{cls.name}.{f.name}"))
    return out


def plan_keys() -> list[Field]:
    """Every key a lift sweep can address (for docs/sweeps.md)."""
    return [_plan_field("plan.face")] + [_plan_field(f"thread.*.{f.name}") for f in THREAD_FIELDS]
