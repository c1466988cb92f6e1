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

import numpy as np

from ..threads.catalogue import MATERIALS, USP_DIAMETER_MM
from ..threads.plan import LAYERS, Thread, ThreadPlan
from . import toml
from .fields import RESOLUTIONS, Field, ScenarioError, beside, convert, safe_name, within

#: the thread keys a plan's [[thread]] tables and a lift sweep's ``thread.<name>.<key>`` convert
#: here (material, size and layer are checked by Thread itself; entry and anchor when placed)
THREAD_FIELDS = (
    Field("holding_spread", "quantity", doc="thread holding_spread", unit="-", range=(0.0, 0.95)),
    Field("cog_spacing", "quantity", doc="thread cog_spacing", unit="m", range=(1e-4, 0.05)),
    Field("holding_force", "quantity", doc="thread holding_force", unit="N", range=(0.01, 50.0)),
    Field("cog_stiffness", "quantity", doc="thread cog_stiffness", unit="N/m", range=(1.0, 1e5)),
    Field("pull", "quantity", doc="thread pull", unit="m", range=(0.0, 0.03)),
    Field("tension", "quantity", doc="thread tension", unit="N", range=(0.01, 50.0)),
    Field("cogs", "int", doc="cogs on the thread", range=(1, 40)),
    Field("material", "choice", doc="thread material", choices=tuple(MATERIALS)),
    Field("size", "choice", doc="thread size", choices=tuple(USP_DIAMETER_MM)),
    Field("layer", "choice", doc="thread layer", choices=tuple(LAYERS)),
    Field("entry", "str", doc="thread entry landmark"),
    Field("anchor", "str", doc="thread anchor landmark"),
)
PLAN_FACE = Field("face", "choice", "default", "built-in face a plan without aging lifts", choices=RESOLUTIONS)


@dataclass
class PlanFile:
    path: Path
    plan: ThreadPlan
    aging: Path | None
    face: str
    sweep: str | None = None


def load_plan(path: str | Path) -> PlanFile:
    """Read and validate a thread plan; ScenarioError naming file and key on any fault."""
    path = Path(path)
    where = str(path)
    raw = toml.read_tables(path, "plan", ("plan", "thread"))
    head = raw.get("plan", {})
    toml.known(head, ("name", "aging", "face", "sweep"), where, "[plan]")
    sweep = head.get("sweep")
    if sweep is not None:
        with within(f"{where}: [plan] sweep"):
            parse_sweep(sweep)
    aging = None
    if "aging" in head:
        if not isinstance(head["aging"], str) or not head["aging"].strip():
            raise ScenarioError(f"{where}: [plan] aging: expected the aging scenario's file name, got {head['aging']!r}")
        aging = beside(head["aging"], path)
        if not aging.exists():
            raise ScenarioError(f"{where}: [plan] aging: expected an aging scenario file, {aging} does not exist")
    face = convert(PLAN_FACE, head.get("face", PLAN_FACE.default), where, "[plan] face")
    items = raw.get("thread", [])
    if not isinstance(items, list) or not items:
        raise ScenarioError(f"{where}: [[thread]]: expected at least one thread table")
    allowed = [f.name for f in fields(Thread)]
    threads = []
    for i, item in enumerate(items):
        section = f"[[thread]] {i + 1}"
        toml.known(item, allowed, where, section)
        for key in ("name", "entry", "anchor"):
            if key not in item:
                raise ScenarioError(f"{where}: {section} {key}: missing; expected a value")
        if not isinstance(item["name"], str) or not item["name"].strip():
            raise ScenarioError(f"{where}: {section} name: expected a name (text), got {item['name']!r}")
        values = dict(item)
        if "via" in values:
            if not isinstance(values["via"], list):
                raise ScenarioError(f"{where}: {section} via: expected a list of landmark names or [x, y, z] points")
            values["via"] = tuple(v if isinstance(v, str) else tuple(v) for v in values["via"])
        for f in THREAD_FIELDS:
            if f.kind in ("quantity", "int") and f.name in values:
                values[f.name] = convert(f, values[f.name], where, f"{section} {f.name}")
        with within(f"{where}: {section}", sep=" "):
            threads.append(Thread(**values))
    names = [t.name for t in threads]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise ScenarioError(f"{where}: [[thread]] name: {twice!r} names two threads; expected one name per thread")
    name = safe_name(head.get("name", path.stem), where, "[plan] name")
    return PlanFile(path, ThreadPlan(tuple(threads), name), aging, face, sweep)


#: bounds of the lift curve (a tool's bounds, not physical numbers): the points one curve may
#: have, and the threads one plan thread may fan into
MAX_CURVE_POINTS = 100
MAX_FAN = 40

def parse_sweep(spec: str) -> tuple[str, list]:
    """"threads=1:10" (fan sizes) or "pull=1:8" / "pull=1:8:0.5" (mm) -> (kind, values): the
    curve ``sagsim lift --sweep`` (or a plan's ``sweep``) asks for."""
    try:
        if not isinstance(spec, str):
            raise ValueError
        kind, rng = spec.split("=")
        parts = [float(v) for v in rng.split(":")]
        lo, hi = parts[0], parts[1]
        step = parts[2] if len(parts) > 2 else 1.0
        if kind not in ("threads", "pull") or not (0 < lo <= hi) or step <= 0 or not np.isfinite(parts).all():
            raise ValueError
    except ValueError:
        raise ScenarioError(f"--sweep: expected threads=LO:HI or pull=LO:HI[:STEP] (mm), got {spec!r}") from None
    count = int(np.floor((hi - lo) / step + 1e-9)) + 1
    if count > MAX_CURVE_POINTS or (kind == "threads" and hi > MAX_FAN):
        raise ScenarioError(f"--sweep: {spec!r} asks for {count} points up to {hi:g}; expected at most "
                            f"{MAX_CURVE_POINTS} points" + (f" and at most {MAX_FAN} threads" if kind == "threads" else ""))
    # from the count, not np.arange(lo, hi + 1e-9): far from 1 the 1e-9 is below hi's rounding,
    # and "pull=N:N" gave no point at all
    values = list(lo + step * np.arange(count))
    return kind, [int(v) for v in values] if kind == "threads" else [1e-3 * v for v in values]
