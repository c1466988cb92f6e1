"""A check the results-folder tests share: a folder's completion marker is its last write."""
from pathlib import Path


def assert_marker_last(folder: Path, marker: str) -> None:
    """``marker`` exists and no other file at the top of ``folder`` was written after it."""
    folder = Path(folder)
    stamp = (folder / marker).stat().st_mtime_ns
    later = [p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
             and p.stat().st_mtime_ns > stamp]
    assert not later, f"{folder}: written after {marker}: {later}"
