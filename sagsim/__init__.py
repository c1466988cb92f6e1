"""sagsim: facial soft-tissue aging and thread lifting, simulated.

The public API, re-exported here; see ../DESIGN.md (shared) for the map of the package.
"""
from .errors import (ConvergenceError, LinearSolverError, MaterialError, MeshError, ModelError,
                     SagsimError, ScenarioError)
from .materials import MooneyRivlin, NeoHookean
from .model import Landmark, Layer, Loads, Springs, State, TissueModel
from .version import __version__


def __getattr__(name: str):
    # the solver and the slab import numba kernels: load them on first use, not on `import sagsim`
    if name in ("solve_static", "NewtonOptions"):
        from .solvers import fem
        return getattr(fem, name)
    if name == "layered_slab":
        from .anatomy.slab import layered_slab
        return layered_slab
    if name == "build_face":
        from .anatomy.face import build_face
        return build_face
    if name in ("load_model", "save_model", "load_face"):
        from . import meshfile
        return getattr(meshfile, name)
    if name in ("load_scenario", "load_sweep", "load_calibration"):
        from . import inputs
        return getattr(inputs, name)
    if name == "run_aging":
        from .aging.run import run_aging
        return run_aging
    if name == "render_folder":
        from .render import render_folder
        return render_folder
    if name == "run_sweep":
        from .sweep import run_sweep
        return run_sweep
    if name == "calibrate":
        from .sweep.calibrate import calibrate
        return calibrate
    if name == "SpringSystem":
        from .solvers.springs import SpringSystem
        return SpringSystem
    raise AttributeError(f"module 'sagsim' has no attribute {name!r}")


__all__ = [
    "ConvergenceError", "LinearSolverError", "MaterialError", "MeshError", "ModelError", "SagsimError",
    "ScenarioError", "MooneyRivlin", "NeoHookean", "Landmark", "Layer", "Loads", "Springs", "State",
    "TissueModel", "solve_static", "NewtonOptions", "layered_slab", "build_face", "load_model", "save_model",
    "load_face", "load_scenario", "run_aging", "render_folder", "load_sweep", "run_sweep", "load_calibration",
    "calibrate", "SpringSystem", "__version__",
]
