"""sagsim: facial soft-tissue aging and thread lifting, simulated.

The public API, flat: verbs that load (``load_face``, ``load_scenario``, ``load_plan``), verbs
that run a whole job (``age``, ``lift``, ``demo``, ``mesh``, ``render_folder``, ``run_sweep``,
``calibrate``; `sagsim.render` and `sagsim.sweep` are the subpackages), the shared data structure (``TissueModel``, ``State``, ``Loads``), the
materials and the errors. docs/architecture.md is the map of the package.
"""
import importlib

from .errors import (ConvergenceError, LinearSolverError, MaterialError, MeshError, ModelError,
                     SagsimError, ScenarioError)
from .materials import MooneyRivlin, NeoHookean
from .model import Landmark, Layer, Loads, Springs, State, TissueModel
from .version import __version__


#: the verbs and the heavier names, loaded on first use so that `import sagsim` stays light (the
#: solvers bring numba kernels, the pictures pyvista, the sweeps Dask): name -> (module, attribute)
_LAZY = {
    # loading
    "load_face": ("meshfile", "load_face"), "load_model": ("meshfile", "load_model"),
    "save_model": ("meshfile", "save_model"), "build_face": ("anatomy.face", "build_face"),
    "layered_slab": ("anatomy.slab", "layered_slab"), "load_scenario": ("inputs", "load_scenario"),
    "load_plan": ("inputs", "load_plan"), "load_sweep": ("inputs", "load_sweep"),
    "load_calibration": ("inputs", "load_calibration"),
    # the jobs
    "age": ("jobs.age", "age"), "lift": ("jobs.lift", "lift"), "demo": ("jobs.demo", "demo"),
    "mesh": ("jobs.mesh", "mesh"), "render_folder": ("render", "render_folder"), "run_sweep": ("sweep", "run_sweep"),
    "calibrate": ("sweep.calibrate", "calibrate"), "settle": ("jobs.settle", "settle"),
    # the real head
    "load_head": ("anatomy.head", "load_head"), "fit_skull": ("anatomy.skull", "fit_skull"),
    # a subject's face: the real face registered onto a scan
    "register_scan": ("anatomy.register", "register"), "read_surface": ("io", "read_surface"),
    # the cores, for those who solve by hand
    "solve_static": ("solvers.fem", "solve_static"), "NewtonOptions": ("solvers.fem", "NewtonOptions"),
    "recover_unloaded": ("solvers.fem", "recover_unloaded"), "run_aging": ("aging.run", "run_aging"),
    "SpringSystem": ("solvers.springs", "SpringSystem"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'sagsim' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    return getattr(importlib.import_module(f".{module}", __name__), attribute)


__all__ = ["ConvergenceError", "LinearSolverError", "MaterialError", "MeshError", "ModelError", "SagsimError",
           "ScenarioError", "MooneyRivlin", "NeoHookean", "Landmark", "Layer", "Loads", "Springs", "State",
           "TissueModel", "__version__", *_LAZY]
