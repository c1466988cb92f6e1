"""The as-built map (docs/architecture.md) keeps up with the package: every module listed."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_architecture_page_lists_every_module():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "sagsim").rglob("*.py")
                     if p.name != "__init__.py" or p.parent == ROOT / "sagsim")
    missing = [m for m in modules if f"`{m}`" not in text]
    assert not missing, f"docs/architecture.md does not list: {missing}"
