"""The finite-element core: the discretised model (FEMSystem, owning its linear solver), the
load items (loads.py), the quasi-static Newton solver and the unloaded shape."""
from .inverse import InverseLog, recover_unloaded
from .loads import CogSprings, Gravity, Trusses
from .newton import NewtonOptions, SolveLog, StepRecord, constrained_dofs, solve_static
from .system import FORMULATIONS, Evaluation, FEMSystem, growth_tensors

__all__ = [
    "FEMSystem", "Evaluation", "FORMULATIONS", "growth_tensors",
    "Gravity", "Trusses", "CogSprings",
    "NewtonOptions", "SolveLog", "StepRecord", "constrained_dofs", "solve_static",
    "InverseLog", "recover_unloaded",
]
