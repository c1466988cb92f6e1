"""The mass-spring core: SpringSystem (system.py), its integrators and FIRE statics
(integrators.py), CPU kernels (kernels/forces.py, kernels/bands.py) and the GPU path
(kernels/cuda.py, imported only when asked for: nothing here imports numba.cuda).

FIRE statics are `solve_static_springs`: the FEM core's Newton statics are
`sagsim.solvers.fem.solve_static`, and one name for both made every caller that used the two
(the demo, the benchmarks, the tests) rename one on import."""
from .integrators import (ImplicitOptions, SpringRun, StaticLog, StaticOptions, explicit_steps, fire_relax,
                          run_explicit, run_implicit_euler, solve_static_springs)
from .system import (Ligaments, SpringOptions, SpringSystem, VolumeTerm, calibrated_springs, tet_edge_weights,
                     unique_edges)

__all__ = [
    "SpringSystem", "SpringOptions", "Ligaments", "VolumeTerm", "calibrated_springs", "tet_edge_weights",
    "unique_edges", "run_explicit", "explicit_steps", "run_implicit_euler", "ImplicitOptions",
    "solve_static_springs", "fire_relax", "StaticOptions", "StaticLog", "SpringRun",
]
