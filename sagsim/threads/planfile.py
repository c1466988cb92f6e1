"""Thread plans as TOML, validated before any solve (one line naming the file and the key).

    [plan]
    name = "lift_default"
    aging = "aging_default.toml"  # optional: age the face with this scenario first (relative path)
    face = "default"              # used when there is no aging scenario
    sweep = "threads=1:10"        # optional: the curve `--sweep` draws (or "pull=1:8" mm)

    [[thread]]
    name = "jowl_left"
    entry = "jowl_left"           # a landmark name, or [x, y, z] in metres
    anchor = "tragus_left"
    via = []                      # optional waypoints (landmarks or points): a polyline path
    material = "PDO"              # PDO, PLLA, PCL
    size = "2-0"                  # USP: 4-0, 3-0, 2-0, 0, 1
    layer = "superficial_fat"     # or "smas"
    cogs = 6
    cog_spacing = "5 mm"
    holding_force = "1 N"         # per cog (ESTIMATE by default)
    cog_stiffness = "200 N/m"
    pull = "4 mm"                 # or: tension = "1.5 N" (drawn until the anchor feels it)
    holding_spread = 0.5          # relative uncertainty of the holding force
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from .. import tomlfile
from ..aging.scenario import RESOLUTIONS, _quantity
from ..errors import ScenarioError
from .plan import Thread, ThreadPlan

QUANTITIES = {"holding_spread": ("-", (0.0, 0.95)), "cog_spacing": ("m", (1e-4, 0.05)), "holding_force": ("N", (0.01, 50.0)),
              "cog_stiffness": ("N/m", (1.0, 1e5)), "pull": ("m", (0.0, 0.03)), "tension": ("N", (0.01, 50.0))}


@dataclass
class PlanFile:
    path: Path
    plan: ThreadPlan
    aging: Path | None
    face: str
    sweep: str | None = None


def load_plan(path: str | Path) -> PlanFile:
    path = Path(path)
    where = str(path)
    raw = tomlfile.read_toml(path, "plan")
    tomlfile.known(raw, ("plan", "thread"), where, "")
    head = raw.get("plan", {})
    tomlfile.known(head, ("name", "aging", "face", "sweep"), where, "[plan]")
    sweep = head.get("sweep")
    if sweep is not None:
        from .outputs import parse_sweep
        try:
            parse_sweep(sweep)
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: [plan] sweep: {exc}") from None
    aging = None
    if "aging" in head:
        aging = (path.parent / head["aging"]) if not Path(head["aging"]).is_absolute() else Path(head["aging"])
        if not aging.exists():
            raise ScenarioError(f"{where}: [plan] aging: expected an aging scenario file, {aging} does not exist")
    face = head.get("face", "default")
    if face not in RESOLUTIONS:
        raise ScenarioError(f"{where}: [plan] face: expected one of {list(RESOLUTIONS)}, got {face!r}")
    items = raw.get("thread", [])
    if not isinstance(items, list) or not items:
        raise ScenarioError(f"{where}: [[thread]]: expected at least one thread table")
    allowed = [f.name for f in fields(Thread)]
    threads = []
    for i, item in enumerate(items):
        section = f"[[thread]] {i + 1}"
        tomlfile.known(item, allowed, where, section)
        for key in ("name", "entry", "anchor"):
            if key not in item:
                raise ScenarioError(f"{where}: {section} {key}: missing; expected a value")
        values = dict(item)
        if "via" in values:
            if not isinstance(values["via"], list):
                raise ScenarioError(f"{where}: {section} via: expected a list of landmark names or [x, y, z] points")
            values["via"] = tuple(v if isinstance(v, str) else tuple(v) for v in values["via"])
        for key, (unit, bounds) in QUANTITIES.items():
            if key in values:
                values[key] = _quantity(values[key], unit, bounds, where, f"{section} {key}")
        if "cogs" in values and not (isinstance(values["cogs"], int) and 1 <= values["cogs"] <= 40):
            raise ScenarioError(f"{where}: {section} cogs: expected an integer from 1 to 40, got {values['cogs']!r}")
        try:
            threads.append(Thread(**values))
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: {section} {exc}") from None
    return PlanFile(path, ThreadPlan(tuple(threads), head.get("name", path.stem)), aging, face, sweep)
