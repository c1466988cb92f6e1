"""Sparse SPD solves for the FEM core's Newton iterations: LinearSolver (solver.py) in front of
the direct back ends (direct.py) and AMG-preconditioned CG (amg.py). Module-level settings
(AUTO_DIRECT_MAX_DOFS, ...) live in solver.py: change them there, not on this package."""
from .solver import (ALL_METHODS, AUTO_DIRECT_MAX_DOFS, DIRECT_METHODS, ITERATIVE_METHODS, LinearSolver,
                     SolveInfo, available_methods, rigid_body_modes, solve)

__all__ = [
    "LinearSolver", "SolveInfo", "solve", "available_methods", "rigid_body_modes",
    "AUTO_DIRECT_MAX_DOFS", "DIRECT_METHODS", "ITERATIVE_METHODS", "ALL_METHODS",
]
