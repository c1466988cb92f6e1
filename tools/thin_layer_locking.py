"""Does an element converge under a stiff skin over nearly incompressible fat?

The clamped slab of docs/real_face.md (a 60 x 60 mm patch: 15 mm of deep fat in three cells
under 1.3 mm of skin in one, held at its edges and on bone) under gravity along the bone, then
three steps of the fat's creep (its elastic shape relaxed by 40 % each, as aging's fat descent
does). Prints the skin centre's sag (mm) after gravity and after each creep step, per
formulation and cells across (docs/elements.md, "Thin layers").

    python tools/thin_layer_locking.py                      # every formulation, 8 16 32 cells
    python tools/thin_layer_locking.py tet10 4 8 16         # one formulation, chosen sizes
    python tools/thin_layer_locking.py es-anp 16 --nu 0.3   # every tissue at Poisson's ratio 0.3
    python tools/thin_layer_locking.py es-anp 16 --no-skin  # the fat alone
    python tools/thin_layer_locking.py tet10 8 --creep-margin 10  # no creep within 10 mm of the clamped sides
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

from sagsim.aging.mechanisms import relax
from sagsim.aging.settings import AgingSettings
from sagsim.anatomy.slab import LayerSpec, layered_slab
from sagsim.formulations import FORMULATIONS
from sagsim.model import STANDARD_GRAVITY, Layer, Loads, State
from sagsim.solvers.fem import FEMSystem, solve_static

from posture_levers import with_poisson  # tools/: run as python tools/thin_layer_locking.py

WIDTH = 0.06
CREEP_STEPS, BETA = 3, 0.4


def slab(cells: int, skin: bool = True, nu: float | None = None):
    layers = (LayerSpec(Layer.DEEP_FAT, 0.015, 3, "the cheek's depth"),)
    if skin:
        layers += (LayerSpec(Layer.SKIN, 0.0013, 1, "the skin's"),)
    m = layered_slab(WIDTH, WIDTH, cells, layers=layers)
    if nu is not None:
        m = with_poisson(m, nu)
    side = (np.abs(m.nodes[:, 0]) > WIDTH / 2 - 1e-9) | (np.abs(m.nodes[:, 1]) > WIDTH / 2 - 1e-9)
    m = m.with_(fixed=np.union1d(m.fixed, np.flatnonzero(side)),
                gravity=STANDARD_GRAVITY * np.array((0.0, -1.0, 0.0)))
    top = np.flatnonzero((np.abs(m.nodes[:, 0]) < 1e-9) & (np.abs(m.nodes[:, 1]) < 1e-9)
                         & (m.nodes[:, 2] == m.nodes[:, 2].max()))[0]
    return m, top


def sags(formulation: str, cells: int, creep_margin: float = 0.0, **kw) -> tuple[list[float], int]:
    """The skin centre's sag (mm) under gravity, then after each creep step; and the dofs. The
    fat creeps everywhere, or only farther than ``creep_margin`` (m) from the clamped sides,
    whose edges are singular: how much of the creep's slow convergence they make."""
    m, top = slab(cells, **kw)
    system = FEMSystem(m, formulation=formulation)
    opts = replace(AgingSettings().newton(float(np.linalg.norm(system.gravity_force(m.gravity))), n_steps=2),
                   formulation=formulation)
    state = solve_static(m, State.initial(m), Loads(), opts, system=system)[0]
    out = [-1e3 * (state.x - m.nodes)[top, 1]]
    fat = np.flatnonzero(m.tet_layer == int(Layer.DEEP_FAT))
    centre = m.nodes[m.tets[fat, :4]].mean(axis=1)
    fat = fat[(np.abs(centre[:, :2]) < WIDTH / 2 - creep_margin).all(axis=1)]
    growth = np.broadcast_to(np.eye(3), (m.n_tets, 3, 3)).copy()
    for _ in range(CREEP_STEPS):
        # a quadratic element relaxes its mean deformation, not its corners' linear one
        F = system.mean_deformation_gradients(state.x, state.internal["midside"]) if "midside" in state.internal else None
        crept = relax(m.tets, m.nodes, state.x, growth, growth, fat, BETA, F)
        state = solve_static(m, State(x=state.x, reference=m.nodes, internal={**state.internal, "growth": crept}),
                             Loads(), replace(opts, n_steps=1), system=system, from_loads=Loads(),
                             from_growth=growth)[0]
        growth = crept
        out.append(-1e3 * (state.x - m.nodes)[top, 1])
    return out, system.ndof


def main(argv: list[str]) -> None:
    skin = "--no-skin" not in argv
    nu = float(argv[argv.index("--nu") + 1]) if "--nu" in argv else None
    margin = 1e-3 * float(argv[argv.index("--creep-margin") + 1]) if "--creep-margin" in argv else 0.0
    valued = ("--nu", "--creep-margin")  # options followed by a number
    words = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or argv[i - 1] not in valued)]
    forms = [w for w in words if w in FORMULATIONS] or list(FORMULATIONS)
    sizes = [int(w) for w in words if w.isdigit()] or [8, 16, 32]
    print("| formulation | cells across | dofs | gravity | " + " | ".join(f"creep {k + 1}" for k in range(CREEP_STEPS))
          + " | s |")
    print("|---|---|---|---|" + "---|" * CREEP_STEPS + "---|")
    for form in forms:
        for cells in sizes:
            t = time.perf_counter()
            s, dofs = sags(form, cells, margin, skin=skin, nu=nu)
            print(f"| {form} | {cells} | {dofs} | " + " | ".join(f"{v:.4f}" for v in s)
                  + f" | {time.perf_counter() - t:.0f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
