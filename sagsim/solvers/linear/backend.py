"""What every linear-solver back end shares: its owner (the LinearSolver, which holds the
tolerances and coordinates), one-line failures, and the measured residual."""
from __future__ import annotations

import numpy as np

from ...errors import LinearSolverError


class Backend:
    name = ""
    direct = True

    def __init__(self, owner):
        self.owner = owner

    def fail(self, n: int, what: str) -> LinearSolverError:
        what = " ".join(str(what).split())  # one line, whatever a library put in its message
        if len(what) > 200:
            what = what[:197] + "..."
        return LinearSolverError(f"{self.name} {what} on {n} dofs")

    def release(self) -> None:  # free memory held for the previous pattern
        pass


def rel_residual(A, x, b, bnorm) -> float:
    r = b - A @ x
    return float(np.linalg.norm(r) / bnorm)
