"""Many runs at once on Dask: parameter sweeps (grid, Latin hypercube, Morris, Sobol),
their table, sensitivity indices (SALib) and calibration against measured landmark
displacements (scipy least squares). See docs/sweeps.md."""
from ..inputs.sweep import Sweep, load_sweep
from .execute import ClusterError, SweepResult, dask_client, run_sweep

__all__ = ["ClusterError", "Sweep", "SweepResult", "dask_client", "load_sweep", "run_sweep"]
