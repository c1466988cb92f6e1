"""Does a cog's dent converge, and to what? One cog pulled 2 mm sideways in the superficial fat
of a layered slab (40 x 40 mm, the face's layer stack on bone), the skin's dent measured as a
lift's is (sagsim.threads.effects: the skin's normal displacement less its smooth part), by
element formulation and mesh size: the table "The dents cog by cog" of docs/elements.md.

    python tools/cog_dent.py                        # 10x1, 20x2, 40x4 cells, three elements (about 3 minutes)
    python tools/cog_dent.py 60x6 anp es-anp        # one finer mesh (several minutes, some GB)

"NxR" is N cells across and R times the layers' cells through the depth. The cog engages the
superficial-fat elements within ENGAGEMENT_RADIUS of its point, at the catalogue's COG_STIFFNESS,
as a thread's cog does; no gravity.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from sagsim.anatomy.slab import layered_slab
from sagsim.model import Layer, Loads, State, tet_volumes
from sagsim.solvers.fem import CogSprings, NewtonOptions, solve_static
from sagsim.threads.catalogue import COG_STIFFNESS
from sagsim.threads.effects import unevenness
from sagsim.threads.plan import ENGAGEMENT_RADIUS

PULL_M = 0.002


def dent(cells: int, refinement: int, formulation: str) -> dict:
    """The skin's dent over one cog: at the skin node over it, and the deepest anywhere (mm)."""
    model = layered_slab(0.04, 0.04, cells=cells, thickness_refinement=refinement)
    centre = model.nodes[model.tets].mean(axis=1)
    fat = np.flatnonzero(model.tet_layer == int(Layer.SUPERFICIAL_FAT))
    z = model.nodes[model.tets[fat]][:, :, 2]
    cog = np.array([0.0, 0.0, 0.5 * (z.min() + z.max())])  # mid-depth of the superficial fat
    near = fat[np.linalg.norm(centre[fat] - cog, axis=1) <= ENGAGEMENT_RADIUS]
    if not len(near):
        near = fat[[np.argmin(np.linalg.norm(centre[fat] - cog, axis=1))]]
    weight = np.abs(tet_volumes(model.nodes, model.tets[near]))
    springs = CogSprings(tet=near, bary=np.full((len(near), 4), 0.25), targets=centre[near] + [PULL_M, 0.0, 0.0],
                         stiffness=COG_STIFFNESS * weight / weight.sum())
    t0 = time.perf_counter()
    state, _ = solve_static(model, State.initial(model), Loads(gravity_scale=0.0),
                            NewtonOptions(n_steps=2, formulation=formulation), items=[springs])
    h = unevenness(model, model.nodes, state.x)["field_mm"]
    skin = model.skin_nodes
    over = np.argmin(np.linalg.norm(model.nodes[skin][:, :2] - cog[:2], axis=1))
    return {"cells": cells, "refinement": refinement, "formulation": formulation, "tets": model.n_tets,
            "dent_over_cog_mm": float(-h[over]), "deepest_dent_mm": float(-h.min()), "seconds": time.perf_counter() - t0}


def main(argv: list[str]) -> None:
    meshes = [tuple(map(int, a.split("x"))) for a in argv if "x" in a] or [(10, 1), (20, 2), (40, 4)]
    formulations = [a for a in argv if "x" not in a] or ["standard", "anp", "es-anp"]
    for cells, refinement in meshes:
        for f in formulations:
            r = dent(cells, refinement, f)
            print(f"{cells:3d} cells x{refinement} ({r['tets']:7d} tets) {f:8s}: dent over the cog "
                  f"{r['dent_over_cog_mm']:.4f} mm, deepest {r['deepest_dent_mm']:.4f} mm ({r['seconds']:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
