"""The demo job (`sagsim demo`): a face settles under gravity once, from its mesh taken as
stress-free (`sagsim settle` starts from the recovered stress-free shape instead).

Load the shipped face (or build it), solve static equilibrium under upright gravity with the
averaged-nodal-pressure element, and write what a researcher opens first: a VTU for ParaView, a JSON
summary, and two pictures. ``model="slab"`` runs the
layered slab of cheek tissue instead; ``core="springs"`` solves with the mass-spring core
(FIRE statics of the calibrated springs, docs/springs.md) instead of the finite elements.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..anatomy.layers import LAYER_STACK
from ..anatomy.slab import layered_slab
from ..formulations import FACE_DEFAULT
from ..errors import ModelError
from ..io import write_json, write_vtu
from ..materials import poisson_ratio
from ..meshfile import load_face
from ..results.folder import claim
from ..solvers.fem import NewtonOptions, solve_static
from ..solvers.springs import SpringSystem, solve_static_springs

CORES = ("fem", "springs")


def demo(out: str | Path = "results/demo", resolution: str = "default", model: str = "face", core: str = "fem",
         face: str | None = None) -> dict:
    """Run the demo into folder ``out``; return the summary (also written as summary.json).
    ``face``: a built-in face's name or a model file (default: the real face at ``resolution``)."""
    if core not in CORES:
        raise ModelError(f"demo.core: expected one of {CORES}, got {core!r}")
    with claim(out) as folder:  # a folder sagsim can write, and no other run is writing
        return _settle(folder, resolution, model, core, face)


def _settle(out: Path, resolution: str, model: str, core: str, face: str | None) -> dict:
    """The demo's solve and files into the claimed folder ``out``."""
    t0 = time.perf_counter()
    model = load_face(face or resolution) if model == "face" else layered_slab(cells=resolution)
    # the layer stack's thicknesses are the procedural face's and the slab's; the real face's
    # layers vary over the face (docs/real_face.md)
    stacked = not model.name.startswith("real face")
    state, solved = _solve(model, core)
    u = state.x - state.reference
    landmarks = {name: (1e3 * (model.landmark_position(name, state.x) - model.landmark_position(name))).tolist()
                 for name in model.landmarks}
    summary = {
        "model": model.name,
        "nodes": model.n_nodes,
        "tetrahedra": model.n_tets,
        "layers": ([{"layer": s.layer.name, "thickness_mm": 1e3 * s.thickness_m, "source": s.source}
                    for s in LAYER_STACK] if stacked else sorted({lay.name for lay in model.materials})),
        "materials": {lay.name: {"type": type(m).__name__, "shear_modulus_kPa": m.shear_modulus / 1e3,
                                 "poisson_ratio": poisson_ratio(m), "source": m.source}
                      for lay, m in model.materials.items()},
        "core": core,
        "max_displacement_mm": float(1e3 * np.linalg.norm(u, axis=1).max()),
        "landmark_displacement_mm": landmarks,
        **solved,
        "solve_seconds": time.perf_counter() - t0,
    }
    write_vtu(out / "result.vtu", model, state)
    write_json(out / "summary.json", summary)
    pictures = _pictures(model, state, out)
    vertical = {k: v[1] for k, v in landmarks.items()}
    lowest = min(vertical, key=vertical.get)
    summary["report"] = [
        f"{model.name}: {model.n_nodes} nodes, {model.n_tets} tetrahedra, settled under gravity "
        f"by the {'finite-element' if core == 'fem' else 'mass-spring'} core in {solved['iterations']} "
        f"{'Newton' if core == 'fem' else 'FIRE'} iterations ({summary['solve_seconds']:.1f} s)",
        f"largest displacement {summary['max_displacement_mm']:.3f} mm; most sag at {lowest} "
        f"({vertical[lowest]:.3f} mm vertically)",
        f"wrote {out / 'result.vtu'}, {out / 'summary.json'}, " + ", ".join(str(p) for p in pictures),
    ]
    return summary


def _solve(model, core: str):
    """Static equilibrium under gravity by one core: the State and what the summary says of it."""
    if core == "fem":
        # tissue is nearly incompressible (nu = 0.49): plain linear tetrahedra would lock
        state, log = solve_static(model, options=NewtonOptions(n_steps=2, formulation=FACE_DEFAULT))
        return state, {"iterations": log.newton_iterations, "newton_iterations": log.newton_iterations,
                       "linear_solver": log.steps[-1].linear_method}
    system = SpringSystem.from_model(model)
    state, log = solve_static_springs(system)
    return state, {"iterations": log.iterations, "fire_iterations": log.iterations, "springs": system.n_springs,
                   "spring_layout": system.layout}


def _pictures(model, state, out: Path) -> list[Path]:
    from ..render.displacement import render_displacement  # pyvista: only when drawing
    from ..render.layers import render_layers

    paths = [out / "displacement.png", out / "layers.png"]
    camera = "front" if "face" in model.name else "iso"
    render_displacement(model, state, paths[0], camera=camera, title=f"{model.name} under gravity")
    render_layers(model, state, paths[1])
    return paths

