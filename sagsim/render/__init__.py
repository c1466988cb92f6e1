"""`sagsim render RESULTS_DIR`: pictures, animations and one HTML page for a results folder;
and every picture and plot sagsim draws (pyvista scenes: scene.py, displacement.py,
layers.py, threads.py; matplotlib plots: plots.py).

An aging folder (from `sagsim age`) and a lift folder (from `sagsim lift`) are told apart by
sagsim.results, which knows what each holds; each kind has its own module here (aging.py,
lift.py); both end with the same page (page.py) and an interactive 3D view (interactive.py).
Everything goes into RESULTS_DIR/render/, each file written atomically, with
render/manifest.json saying what each picture shows and the colour ranges used.
"""
from __future__ import annotations

from pathlib import Path

from ..results import folder_kind


def render_folder(folder: str | Path, fps: int = 6) -> list[Path]:
    """Render an aging or lift results folder into folder/render; returns the files written."""
    folder = Path(folder)
    kind = folder_kind(folder)
    if kind == "aging":
        from .aging import render_aging
        return render_aging(folder, fps)
    from .lift import render_lift
    return render_lift(folder)
