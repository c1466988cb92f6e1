"""sagsim: facial soft-tissue aging and thread lifting, simulated.

The public API, re-exported here; see ../DESIGN.md (shared) for the map of the package.
"""
from .errors import (ConvergenceError, LinearSolverError, MaterialError, MeshError, ModelError,
                     SagsimError, ScenarioError)
from .materials import MooneyRivlin, NeoHookean
from .model import Landmark, Layer, Loads, Springs, State, TissueModel

__version__ = "0.1.0"


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
    if name in ("load_model", "save_model"):
        from . import meshfile
        return getattr(meshfile, name)
    raise AttributeError(f"module 'sagsim' has no attribute {name!r}")


__all__ = [
    "ConvergenceError", "LinearSolverError", "MaterialError", "MeshError", "ModelError", "SagsimError",
    "ScenarioError", "MooneyRivlin", "NeoHookean", "Landmark", "Layer", "Loads", "Springs", "State",
    "TissueModel", "solve_static", "NewtonOptions", "layered_slab", "build_face", "load_model", "save_model",
    "__version__",
]
