"""Aging scenarios as TOML: the documented schema, units, and validation before any solve.

A scenario file has three tables: ``[scenario]`` (the face, the ages, solver settings),
``[mechanisms.<name>]`` (switches and parameters, defaults where absent) and ``[diagnosis]``
(how `--explain` runs its mechanism subsets). Quantities are numbers in the documented unit or
strings with a unit ("15 %/decade", "10 years"). Every mistake (an unknown key, a wrong
unit, a negative age span, a rate out of range) raises ScenarioError with one line naming
the file, the key and what was expected. ``schema_markdown()`` writes docs/scenarios.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ..aging.mechanisms import FAT_LOSS_PER_DECADE, MECHANISM_TYPES, MECHANISMS, mechanism_record, parameters
from ..aging.settings import AgingSettings
from . import toml
from ..formulations import FACE_DEFAULT, FORMULATIONS
from .fields import RESOLUTIONS, UNITS, Field, ScenarioError, beside, convert, safe_name

SCENARIO_FIELDS = (
    Field("name", "str", "aging", "short name, used in titles and as the results folder (results/NAME): one folder name"),
    Field("description", "str", "", "what the scenario is for"),
    Field("face", "str", "default", "built-in face (coarse, default, fine: the real face; procedural-coarse, "
          "procedural-default, procedural-fine: the procedural test bed) or a .vtu written by `sagsim mesh`, "
          "relative to the scenario file"),
    Field("start_age", "quantity", 40.0, "age of the captured face", "years", (0.0, 120.0)),
    Field("end_age", "quantity", 70.0, "last age simulated (after start_age)", "years", (0.0, 130.0)),
    Field("step_years", "quantity", 1.0, "time step", "years", (0.05, 20.0)),
    Field("unloaded", "bool", True, "recover the stress-free shape first (the captured face already hangs "
          "under gravity)"),
    Field("formulation", "choice", FACE_DEFAULT, "element formulation (anp: free of volumetric locking for nearly "
          "incompressible tissue; es-anp: and of most of the linear tetrahedron's stiffness in bending; tet10: "
          "quadratic tetrahedra, which converge on coarse meshes where the linear ones lock under a stiff skin)",
          choices=FORMULATIONS),
    Field("ligament_prestrain", "quantity", 0.05, "stretch of the ligaments in the captured face, so they carry "
          "part of its weight from the start (ESTIMATE, calibratable)", "-", (0.0, 0.5)),
    Field("force_tol", "quantity", 1e-4, "converged when the out-of-balance force is below this fraction of "
          "the tissue's weight", "-", (1e-10, 1e-2)),
)

DIAGNOSIS_FIELDS = (
    # the default face, not the coarse one, though --explain takes 3-4 times as long: on the
    # coarse face deep-fat deflation moved the jowl and the lower nasolabial fold the other way
    # than on any finer mesh of the same skin (docs/aging.md, "Mesh dependence")
    Field("face", "str", "default", "face the 2^n mechanism-subset runs use (the coarse face is quicker, but some "
                                    "mechanisms' shares follow its mesh)"),
    Field("step_years", "quantity", 2.0, "time step of the subset runs", "years", (0.05, 20.0)),
    Field("mechanisms", "list", None, "mechanisms to split the sag between (default: the enabled ones)"),
)


@dataclass
class Scenario:
    """A validated scenario: where it came from, the face to load, run settings, mechanism
    objects and the diagnosis settings."""

    path: Path | None
    name: str
    description: str
    face: str
    settings: AgingSettings
    mechanisms: list
    diagnosis: dict = field(default_factory=dict)

    def record(self) -> dict:
        """JSON-ready description (for summary.json)."""
        return {"name": self.name, "description": self.description, "face": self.face,
                "file": str(self.path) if self.path else None,
                "settings": {f.name: getattr(self.settings, f.name) for f in fields(self.settings)},
                "mechanisms": [mechanism_record(m) for m in self.mechanisms], "diagnosis": self.diagnosis}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError naming file and key on any fault."""
    path = Path(path)
    raw = toml.read_toml(path, "scenario")
    if not raw:  # an empty file would silently run the whole default scenario
        raise ScenarioError(f"{path}: the scenario is empty; expected at least a [scenario] table (a [scenario] "
                            "table alone runs every default)")
    return parse_scenario(raw, path)


def parse_scenario(raw: dict, path: Path | None = None) -> Scenario:
    where = str(path) if path else "<scenario>"
    toml.known(raw, ("scenario", "mechanisms", "diagnosis"), where, "")
    top = toml.table(raw, "scenario", where, "")
    toml.known(top, [f.name for f in SCENARIO_FIELDS], where, "[scenario]")
    sc = {f.name: _value(f, top, where, "[scenario]") for f in SCENARIO_FIELDS}
    if not sc["end_age"] > sc["start_age"]:
        raise ScenarioError(f"{where}: [scenario] end_age: expected an age after start_age ({sc['start_age']:g}), "
                            f"got {sc['end_age']:g}")
    face = _face(sc["face"], path, where, "[scenario] face")
    settings = AgingSettings(start_age=sc["start_age"], end_age=sc["end_age"], step_years=sc["step_years"],
                             unloaded=sc["unloaded"], formulation=sc["formulation"], force_tol=sc["force_tol"],
                             ligament_prestrain=sc["ligament_prestrain"])
    mech_raw = toml.table(raw, "mechanisms", where, "")
    toml.known(mech_raw, list(MECHANISM_TYPES), where, "[mechanisms]")
    mechanisms = [_mechanism(cls, toml.table(mech_raw, cls.name, where, "mechanisms."), where) for cls in MECHANISMS]
    diag_raw = toml.table(raw, "diagnosis", where, "")
    toml.known(diag_raw, [f.name for f in DIAGNOSIS_FIELDS], where, "[diagnosis]")
    diag = {"face": _face(_value(DIAGNOSIS_FIELDS[0], diag_raw, where, "[diagnosis]"), path, where, "[diagnosis] face"),
            "step_years": _value(DIAGNOSIS_FIELDS[1], diag_raw, where, "[diagnosis]")}
    players = diag_raw.get("mechanisms")
    enabled = [m.name for m in mechanisms if m.enabled]
    if players is None:
        players = enabled
    elif not (isinstance(players, list) and all(isinstance(p, str) for p in players)):
        raise ScenarioError(f"{where}: [diagnosis] mechanisms: expected a list of mechanism names, got {players!r}")
    for p in players:
        if p not in enabled:
            raise ScenarioError(f"{where}: [diagnosis] mechanisms: {p!r} is not an enabled mechanism; "
                                f"expected some of {enabled}")
    diag["mechanisms"] = list(players)
    name = safe_name(sc["name"], where, "[scenario] name")
    return Scenario(path, name, sc["description"], face, settings, mechanisms, diag)


def check_against_model(scenario: Scenario, model) -> None:
    """Checks that need the loaded face (before any solve): compartment names exist."""
    where = str(scenario.path) if scenario.path else "<scenario>"
    names = set(model.compartment_names)
    for m in scenario.mechanisms:
        if m.name == "fat_deflation" and m.enabled:
            for comp in m.loss:
                if comp not in names:
                    raise ScenarioError(f"{where}: [mechanisms.fat_deflation.loss] {comp}: no such compartment in "
                                        f"{model.name}; expected one of {sorted(names - {'none'})}")


# -- fields -------------------------------------------------------------------------------------

def mechanism_field(cls, path: list) -> Field | None:
    """The Field of key ``path`` of ``[mechanisms.<cls.name>]``: ["enabled"] (its switch),
    [parameter], or [table, compartment] for a per-compartment table; named by its dotted
    sweep key ``<mechanism>.<path>``; None when the mechanism has no such key."""
    key = ".".join([cls.name, *path])
    if path == ["enabled"]:
        return Field(key, "bool", cls.enabled, f"switch of {cls.label}")
    f = next((f for f in parameters(cls) if f.name == path[0]), None)
    if f is None or len(path) > 2:
        return None
    meta = f.metadata
    if isinstance(getattr(cls(), f.name), dict):  # a per-compartment table: one key per compartment
        if len(path) != 2:
            return None
        src = FAT_LOSS_PER_DECADE.get(path[1], (None, "compartment checked against the face"))[1]
        return Field(key, "quantity", doc=f"{meta['doc']} ({path[1]})", unit=meta["unit"], range=meta["range"],
                     source=src)
    if len(path) != 1:
        return None
    return Field(key, "quantity", doc=meta["doc"], unit=meta["unit"], range=meta["range"], source=meta["source"])


def _mechanism(cls, table: dict, where: str):
    section = f"[mechanisms.{cls.name}]"
    specs = parameters(cls)
    toml.known(table, ["enabled"] + [f.name for f in specs], where, section)
    values = {}
    defaults = cls()
    for name in ["enabled"] + [f.name for f in specs]:
        if name not in table:
            continue
        if isinstance(getattr(defaults, name), dict):  # a per-compartment table
            values[name] = _compartment_table(cls, name, table[name], where, section)
        else:
            values[name] = convert(mechanism_field(cls, [name]), table[name], where, f"{section} {name}")
    return replace(defaults, **values)


def _compartment_table(cls, name: str, value, where: str, section: str) -> dict:
    key = f"{section} {name}"
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: {key}: expected a table of compartment = rate, got {value!r}")
    out = {k: v[0] for k, v in FAT_LOSS_PER_DECADE.items()}  # unnamed compartments keep their defaults
    for comp, v in value.items():  # names are checked against the face once it is loaded
        out[comp] = convert(mechanism_field(cls, [name, comp]), v, where, f"{key}.{comp}")
    return out


def _value(f: Field, table: dict, where: str, section: str):
    """The value of ``f`` in ``table`` (its default where absent)."""
    return convert(f, table[f.name], where, f"{section} {f.name}") if f.name in table else f.default


def _face(face: str, path: Path | None, where: str, key: str) -> str:
    if face in RESOLUTIONS:
        return face
    p = beside(face, path)
    if p.suffix != ".vtu" or not p.exists():
        raise ScenarioError(f"{where}: {key}: expected one of {list(RESOLUTIONS)} or an existing .vtu mesh, got {face!r}")
    return str(p)


# -- documentation ------------------------------------------------------------------------------

def schema_markdown() -> str:
    """The scenario schema as Markdown, generated from the fields above and the mechanisms'
    parameter metadata (docs/scenarios.md is this text; a test keeps them in step)."""
    lines = ["# Aging scenarios (TOML)", "",
             "Generated by `sagsim.inputs.scenario.schema_markdown()`; do not edit by hand.", "",
             "Quantities are a number in the listed unit, or a string with a unit: "
             + "; ".join(f"{u}: {', '.join(repr(s) for s in sp if s)}" for u, sp in UNITS.items()
                         if u in ("years", "1/decade", "mm/decade")) + ".",
             "Unknown keys, wrong units, out-of-range values and an end age not after the start age are errors "
             "that name the file and the key, raised before any solve.", "",
             "## [scenario]", "", "| key | default | unit | range | meaning |", "|---|---|---|---|---|"]
    for f in SCENARIO_FIELDS:
        lines.append(_row(f.name, f.default, f.unit if f.kind == "quantity" else "", f.range if f.kind == "quantity" else None,
                          f.doc + (f" ({', '.join(f.choices)})" if f.choices else "")))
    for cls in MECHANISMS:
        lines += ["", f"## [mechanisms.{cls.name}]", "", " ".join((cls.__doc__ or "").split()), "",
                  "| key | default | unit | range | meaning | source |", "|---|---|---|---|---|---|",
                  f"| enabled | {str(cls.enabled).lower()} | | | switch | |"]
        for f in parameters(cls):
            default = f.default_factory() if callable(f.default_factory) else f.default
            if isinstance(default, dict):
                default = "see below"
            lines.append(_row(f.name, default, f.metadata["unit"], f.metadata["range"], f.metadata["doc"])
                         + f" {f.metadata['source']} |")
        if cls.name == "fat_deflation":
            lines += ["", "`[mechanisms.fat_deflation.loss]` per compartment (1/decade):", "",
                      "| compartment | default | source |", "|---|---|---|"]
            lines += [f"| {k} | {v[0]:g} | {v[1]} |" for k, v in FAT_LOSS_PER_DECADE.items()]
    lines += ["", "## [diagnosis]", "", "| key | default | unit | range | meaning |", "|---|---|---|---|---|"]
    for f in DIAGNOSIS_FIELDS:
        lines.append(_row(f.name, f.default, f.unit if f.kind == "quantity" else "",
                          f.range if f.kind == "quantity" else None, f.doc))
    return "\n".join(lines) + "\n"


def _row(name, default, unit, bounds, doc) -> str:
    d = str(default).lower() if isinstance(default, bool) else ("" if default is None else f"{default}")
    r = f"{bounds[0]:g} to {bounds[1]:g}" if bounds and bounds[0] is not None else ""
    return f"| {name} | {d} | {unit} | {r} | {doc} |"
