"""Dotted keys that address one parameter of a scenario or a thread plan, and applying them.

An aging key is the scenario file's own TOML path: ``scenario.<field>`` (e.g.
``scenario.ligament_prestrain``), ``<mechanism>.<parameter>`` (``ligament_laxity.stiffness_loss``,
``fat_descent.time_constant``; a leading ``mechanisms.`` is accepted), ``<mechanism>.enabled`` and
``fat_deflation.loss.<compartment>``. A thread-plan key is ``thread.<name>.<field>`` (one thread)
or ``thread.*.<field>`` (every thread), or ``plan.face``. Units, ranges and sources are the
ones the scenario and plan files declare, so a sweep sees exactly what a scenario file does.
Overrides are applied to the parsed TOML and validated by the same parser as `sagsim age`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path

from ..aging.mechanisms import FAT_LOSS_PER_DECADE, MECHANISM_TYPES, MECHANISMS, parameters
from ..aging.scenario import RESOLUTIONS, SCENARIO_FIELDS, UNIT_WORDS, UNITS, _quantity, parse_scenario
from ..errors import ScenarioError

KINDS = ("aging", "lift", "python")



def _thread_choices() -> dict:
    """Thread fields a plan key may set that are names, with the names the plan accepts."""
    from ..threads.materials import MATERIALS, USP_DIAMETER_MM
    from ..threads.plan import LAYERS
    return {"material": tuple(MATERIALS), "size": tuple(USP_DIAMETER_MM), "layer": tuple(LAYERS)}


@dataclass(frozen=True)
class Spec:
    """What a key addresses: its type ("quantity", "bool", "choice", "int", "str", "any"),
    canonical unit, allowed bounds, choices, meaning and the source of its default."""

    key: str
    type: str
    unit: str = "-"
    bounds: tuple = (None, None)
    choices: tuple = ()
    doc: str = ""
    source: str = ""

    @property
    def continuous(self) -> bool:
        return self.type == "quantity"


def canonical(kind: str, key: str) -> str:
    """The key as the table and the run records name it (``mechanisms.`` dropped)."""
    if kind == "aging" and key.startswith("mechanisms."):
        return key[len("mechanisms."):]
    return key


def spec_for(kind: str, key: str, where: str, unit: str | None = None) -> Spec:
    """The Spec of ``key`` for a sweep of ``kind``; ScenarioError naming ``where`` and the key
    when nothing answers to it. ``unit``: the declared unit of a python-kind parameter."""
    key = canonical(kind, key)
    if kind == "aging":
        spec = _aging_spec(key)
    elif kind == "lift":
        spec = _plan_spec(key)
    else:
        if unit is not None and unit not in UNITS:
            raise ScenarioError(f"{where}: {key} unit: expected one of {list(UNITS)}, got {unit!r}")
        spec = Spec(key, "quantity" if unit is not None else "any", unit or "-")
    if spec is None:
        hint = ("scenario.<field>, <mechanism>.<parameter>, <mechanism>.enabled or fat_deflation.loss.<compartment>"
                if kind == "aging" else "thread.<name>.<field>, thread.*.<field> or plan.face")
        raise ScenarioError(f"{where}: {key}: not a parameter of {kind} runs; expected {hint} "
                            f"(docs/sweeps.md lists them)")
    return spec


def _aging_spec(key: str) -> Spec | None:
    parts = key.split(".")
    if parts[0] == "scenario" and len(parts) == 2:
        f = next((f for f in SCENARIO_FIELDS if f.name == parts[1]), None)
        if f is None or f.name in ("name", "description"):
            return None
        if f.kind == "quantity":
            return Spec(key, "quantity", f.unit, f.range, doc=f.doc)
        if f.kind == "choice":
            return Spec(key, "choice", choices=f.choices, doc=f.doc)
        return Spec(key, f.kind, doc=f.doc)
    if parts[0] not in MECHANISM_TYPES or len(parts) not in (2, 3):
        return None
    cls = MECHANISM_TYPES[parts[0]]
    if parts[1] == "enabled" and len(parts) == 2:
        return Spec(key, "bool", doc=f"switch of {cls.label}")
    f = next((f for f in parameters(cls) if f.name == parts[1]), None)
    if f is None:
        return None
    meta = f.metadata
    if f.name == "loss":  # the per-compartment table: one key per compartment
        if len(parts) != 3:
            return None
        src = FAT_LOSS_PER_DECADE.get(parts[2], (None, "compartment checked against the face"))[1]
        return Spec(key, "quantity", meta["unit"], meta["range"], doc=f"{meta['doc']} ({parts[2]})", source=src)
    if len(parts) != 2:
        return None
    return Spec(key, "quantity", meta["unit"], meta["range"], doc=meta["doc"], source=meta["source"])


def _plan_spec(key: str) -> Spec | None:
    from ..threads.planfile import QUANTITIES
    if key == "plan.face":
        return Spec(key, "choice", choices=RESOLUTIONS, doc="built-in face a plan without aging lifts")
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != "thread":
        return None
    name = parts[2]
    if name in QUANTITIES:
        unit, bounds = QUANTITIES[name]
        return Spec(key, "quantity", unit, bounds, doc=f"thread {name}")
    if name == "cogs":
        return Spec(key, "int", bounds=(1, 40), doc="cogs on the thread")
    choices = _thread_choices()
    if name in choices:
        return Spec(key, "choice", choices=choices[name], doc=f"thread {name}")
    if name in ("entry", "anchor"):
        return Spec(key, "str", doc=f"thread {name} landmark")
    return None


def convert(spec: Spec, value, where: str, label: str):
    """``value`` (a TOML value: number, string with a unit, bool) in the canonical unit of
    ``spec``, checked against its bounds; ScenarioError "where: label: ..." otherwise."""
    if spec.type == "quantity":
        lo, hi = spec.bounds
        return _quantity(value, spec.unit, (lo, hi) if lo is not None else (None, None), where, label)
    if spec.type == "bool":
        if not isinstance(value, bool):
            raise ScenarioError(f"{where}: {label}: expected true or false, got {value!r}")
        return value
    if spec.type == "choice":
        if value not in spec.choices:
            raise ScenarioError(f"{where}: {label}: expected one of {list(spec.choices)}, got {value!r}")
        return value
    if spec.type == "int":
        lo, hi = spec.bounds
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ScenarioError(f"{where}: {label}: expected an integer from {lo} to {hi}, got {value!r}")
        return value
    if spec.type == "str":
        if not isinstance(value, str):
            raise ScenarioError(f"{where}: {label}: expected a string, got {value!r}")
        return value
    if isinstance(value, (bool, str, int, float)):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    raise ScenarioError(f"{where}: {label}: expected a number, a string or true/false, got {value!r}")


def unit_words(spec: Spec) -> str:
    return UNIT_WORDS.get(spec.unit, spec.unit)


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
        for i in hit:
            try:
                threads[i] = replace(threads[i], **{field: value})
            except ScenarioError as exc:
                raise ScenarioError(f"{planfile.path}: {key}: {exc}") from None
    plan = replace(planfile.plan, threads=tuple(threads))
    return replace(planfile, plan=plan, face=face)


def aging_keys() -> list[Spec]:
    """Every key an aging sweep can address (for docs/sweeps.md)."""
    out = []
    for f in SCENARIO_FIELDS:
        spec = _aging_spec(f"scenario.{f.name}")
        if spec is not None:
            out.append(spec)
    for cls in MECHANISMS:
        out.append(_aging_spec(f"{cls.name}.enabled"))
        for f in parameters(cls):
            if f.name == "loss":
                out += [_aging_spec(f"{cls.name}.loss.{comp}") for comp in FAT_LOSS_PER_DECADE]
            else:
                out.append(_aging_spec(f"{cls.name}.{f.name}"))
    return out


def plan_keys() -> list[Spec]:
    from ..threads.planfile import QUANTITIES
    return [_plan_spec("plan.face")] + [_plan_spec(f"thread.*.{k}") for k in
                                         (*QUANTITIES, "cogs", *_thread_choices(), "entry", "anchor")]
