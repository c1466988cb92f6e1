"""The package's floors: data flows one way (docs/architecture.md). A module imports only from
its own part of the package or from a lower floor, never upwards (not even inside a function),
and the module-level imports of the whole package have no cycle."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "sagsim"

#: lowest first; the parts of one floor do not import each other (floor 0 is one part: the
#: shared data structure and what it needs)
FLOORS = [
    {"errors", "version", "model", "materials", "formulations", "metrics", "io", "reference"},
    {"anatomy", "solvers"},
    {"meshfile"},
    {"aging"},
    {"threads"},
    {"inputs"},
    {"results"},
    {"render"},
    {"jobs"},
    {"sweep"},
    {"bench"},
    {"cli"},
]
FLOOR = {part: i for i, parts in enumerate(FLOORS) for part in parts}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool) -> set[str]:
    """The sagsim modules ``path`` imports (all of them, or those imported when it loads)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path).split(".")
    package = me if path.name == "__init__.py" else me[:-1]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif (node.module or "").startswith("sagsim"):
                base = node.module
            else:
                continue
            submodules = {f"{base}.{a.name}" for a in node.names if is_module(f"{base}.{a.name}")}
            found.update(submodules)
            if len(submodules) < len(node.names):  # a name defined in ``base`` itself
                found.add(base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sagsim"))
    # the packages above a module are loaded before it anyway: importing from them is no edge
    return {m for m in found if not ".".join(me).startswith(m + ".")}


def is_module(name: str) -> bool:
    path = ROOT.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_part_is_on_a_floor():
    parts = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())}
    assert parts == set(FLOOR), "put the new part on a floor in FLOORS and in docs/architecture.md"


def test_no_import_goes_upwards():
    wrong = []
    for path in ROOT.rglob("*.py"):
        me = part(module_name(path))
        if me is None:  # sagsim/__init__.py: the public API sits above every floor
            continue
        for target in imports(path, top_level_only=False):
            other = part(target)
            if other is None:
                if target == "sagsim":
                    wrong.append(f"{path.relative_to(ROOT.parent)} imports the package face")
                continue
            if other != me and not (FLOOR[other] < FLOOR[me] or FLOOR[other] == FLOOR[me] == 0):
                wrong.append(f"{path.relative_to(ROOT.parent)} ({me}, floor {FLOOR[me]}) imports {target} "
                             f"(floor {FLOOR[other]})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    graph = {module_name(p): imports(p, top_level_only=True) for p in ROOT.rglob("*.py")}
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
