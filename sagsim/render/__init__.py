"""`sagsim render RESULTS_DIR`: pictures, animations and one HTML page for a results folder.

An aging folder (from `sagsim age`: series.xdmf, summary.json) and a lift folder (from
`sagsim lift`: lift.vtu, cogs.csv, summary.json) are told apart by what they hold; each kind
has its own module (aging.py, lift.py); both end with the same page (page.py) and an
interactive 3D view (interactive.py). Everything goes into RESULTS_DIR/render/, each file
written atomically, with render/manifest.json saying what each picture shows and the
colour ranges used.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataFileError


def folder_kind(folder: Path) -> str:
    """"aging" or "lift", from the files the folder holds; a DataFileError for anything else."""
    if (folder / "series.xdmf").exists() and (folder / "summary.json").exists():
        return "aging"
    if (folder / "lift.vtu").exists() and (folder / "cogs.csv").exists() and (folder / "summary.json").exists():
        return "lift"
    raise DataFileError(f"{folder}: not an aging or lift results folder (expected series.xdmf + summary.json "
                        "from `sagsim age`, or lift.vtu + cogs.csv + summary.json from `sagsim lift`)")


def render_folder(folder: str | Path, fps: int = 6) -> list[Path]:
    """Render an aging or lift results folder into folder/render; returns the files written."""
    folder = Path(folder)
    kind = folder_kind(folder)
    if kind == "aging":
        from .aging import render_aging
        return render_aging(folder, fps)
    from .lift import render_lift
    return render_lift(folder)
