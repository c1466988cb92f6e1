"""What an aging run is asked to do (ages, step, formulation, tolerance): a definition that
scenario files are read into, with no solver behind it (sagsim.inputs imports it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..formulations import FACE_DEFAULT

#: the folder a run checkpoints into, inside the folder it is given (what a rerun resumes)
CHECKPOINT = "checkpoint"

if TYPE_CHECKING:
    from ..solvers.fem import NewtonOptions


@dataclass(frozen=True)
class AgingSettings:
    """Ages in years; ``unloaded``: recover the stress-free shape first (the captured face
    already hangs under gravity); ``force_tol``: a step has converged when the out-of-balance
    force is below this fraction of the tissue's weight (2-norms; on the coarse face 1e-4
    changes the jowl descent after 15 years by 4e-7 relative against a 1e-6 relative residual,
    in one Newton iteration per year instead of two or three). ``ligament_prestrain``: how far
    the ligaments are stretched in the captured face (rest length = captured length / (1 +
    prestrain)), so that they carry part of its weight from the start; an ESTIMATE (no value
    in the reference table), calibratable."""

    start_age: float = 40.0
    end_age: float = 70.0
    step_years: float = 1.0
    unloaded: bool = True
    formulation: str = FACE_DEFAULT
    force_tol: float = 1e-4
    linear_solver: str = "auto"
    ligament_prestrain: float = 0.05

    def ages(self) -> np.ndarray:
        """Start age, then every step_years, the last step shortened to end at end_age."""
        n = int(np.ceil((self.end_age - self.start_age) / self.step_years - 1e-9))
        return np.minimum(self.start_age + self.step_years * np.arange(n + 1), self.end_age)

    def newton(self, weight: float, n_steps: int = 1) -> NewtonOptions:
        """Newton options for this run; ``weight``: 2-norm of the nodal gravity forces (N)."""
        from ..solvers.fem import NewtonOptions  # the solver (numba) loads when a run starts, not when a file is read
        return NewtonOptions(n_steps=n_steps, rtol=1e-8, atol=self.force_tol * weight, formulation=self.formulation,
                             linear_solver=self.linear_solver)
