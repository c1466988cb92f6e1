"""The settle job: a face at rest in a posture (upright, lying on the back, lying face down),
and how far each landmark moves from where it is upright.

As aging does, the face's stress-free shape is recovered first (the mesh is the face captured
upright, so upright gravity must bring that shape back to it); the posture's equilibrium is then
solved from the stress-free shape under gravity in the posture's direction (in the head's frame:
x to the subject's left, y up, z forward). Upright therefore reproduces the captured face (to
the recovery's tolerance), and supine and prone say what turning the head does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..aging.run import start_state, with_ligament_prestrain
from ..aging.settings import AgingSettings
from ..errors import ScenarioError
from ..meshfile import load_face
from ..model import STANDARD_GRAVITY, Loads, State
from ..results.folder import claim
from ..results.posture import MARKER, write_posture
from ..solvers.fem import FEMSystem, solve_static

#: gravity's direction in the head's frame in each posture
POSTURES = {"upright": (0.0, -1.0, 0.0), "supine": (0.0, 0.0, -1.0), "prone": (0.0, 0.0, 1.0)}


def settle(face: str | Path, posture: str, out: str | Path, settings: AgingSettings | None = None) -> dict:
    """Settle ``face`` (a shipped face's name or a model file) in ``posture`` and write the
    folder ``out``; returns the summary (``report``: what `sagsim settle` prints)."""
    if posture not in POSTURES:
        raise ScenarioError(f"settle: posture: expected one of {', '.join(POSTURES)}, got {posture!r}")
    settings = settings or AgingSettings()
    model = load_face(face)
    out = Path(out)
    with claim(out, MARKER):
        system = FEMSystem(model, formulation=settings.formulation, linear=settings.linear_solver)
        X0, upright = start_state(model, settings, system=system)
        held = with_ligament_prestrain(model, settings.ligament_prestrain)  # as start_state held it
        turned = held.with_(gravity=STANDARD_GRAVITY * np.array(POSTURES[posture]))
        system.update_parameters(turned)
        opts = settings.newton(float(np.linalg.norm(system.gravity_force(turned.gravity))), n_steps=2)
        state, _ = solve_static(turned, State(x=X0.copy(), reference=X0), Loads(), opts, system=system)
        move = state.x - upright
        rows = []
        for name in sorted(model.landmarks):
            p = model.landmark_position(name, state.x)
            d = p - model.landmark_position(name, upright)
            rows.append({"landmark": name, "posture": posture, "x_mm": 1e3 * p[0], "y_mm": 1e3 * p[1],
                         "z_mm": 1e3 * p[2], "dx_mm": 1e3 * d[0], "dy_mm": 1e3 * d[1], "dz_mm": 1e3 * d[2]})
        largest = {axis: max(abs(r[f"d{axis}_mm"]) for r in rows) for axis in "xyz"}
        skin = float(1e3 * np.linalg.norm(move[model.skin_nodes], axis=1).max())
        summary = {"face": str(face), "model": model.name, "posture": posture,
                   "gravity_m_s2": turned.gravity.tolist(), "largest_landmark_move_mm": largest,
                   "largest_skin_move_mm": skin,
                   "report": [f"{model.name} {posture}: landmarks move at most {largest['x']:.2f} / {largest['y']:.2f} / "
                              f"{largest['z']:.2f} mm (lateral / vertical / front-back) from upright; the skin at "
                              f"most {skin:.2f} mm"]}
        paths = write_posture(out, model, state, move, rows, summary)
    summary["report"].append("wrote " + ", ".join(str(p) for p in paths))
    return summary
