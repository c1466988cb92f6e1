"""Does the aging converge with the mesh, and which step does not? (docs/aging.md, "Mesh
dependence").

The default scenario from each face's mesh taken as stress-free, in 5-year steps; prints the
jowl's descent after every step. Faces: the shipped resolutions, and "coarse-split": the coarse
face's skin split in four, the same (decimated) surface refined in the plane, with the coarse
face's cells through the layers. Between "coarse" and "coarse-split" only the mesh changes;
between "coarse" and "default" the skin's surface changes too.

    python tools/aging_convergence.py es-anp coarse coarse-split default   # about 2 minutes
    python tools/aging_convergence.py tet10 coarse coarse-split            # about 20 minutes
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace

from sagsim.aging.mechanisms import default_mechanisms
from sagsim.aging.run import run_aging
from sagsim.aging.settings import AgingSettings
from sagsim.anatomy import real_face as rf
from sagsim.anatomy.head import load_head
from sagsim.anatomy.skull import fit_skull

_refined = rf.refined_skin


def _coarse_then_split(head):
    centre = rf.column_centre(head)

    def refined(points, triangles, how):
        if how != "coarsen, split":
            return _refined(points, triangles, how)
        # trimmed between the two, as build_real_face trims after each: a split ear keeps an ear
        points, triangles = rf._compact(*rf.star_surface(*_refined(points, triangles, "coarsen"), centre))
        return _refined(points, triangles, "split")

    rf.refined_skin = refined
    rf.RESOLUTIONS["coarse-split"] = (rf.RESOLUTIONS["coarse"][0], "coarsen, split")


def main(formulation: str, faces: list[str]) -> None:
    head = load_head("female")
    skull = fit_skull(head)
    _coarse_then_split(head)
    settings = replace(AgingSettings(), formulation=formulation, unloaded=False, step_years=5.0)
    for face in faces:
        model, report = rf.build_real_face(head, skull, face)
        t = time.perf_counter()
        rows = run_aging(model, default_mechanisms(), settings).rows
        steps = [b["jowl_descent_mm"] - a["jowl_descent_mm"] for a, b in zip(rows, rows[1:])]
        print(f"{face} ({formulation}, {model.n_tets} tetrahedra): jowl descent {rows[-1]['jowl_descent_mm']:.3f} mm; "
              f"per step {', '.join(f'{s:.3f}' for s in steps)}; {time.perf_counter() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["coarse", "coarse-split", "default"])
