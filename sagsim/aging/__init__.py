"""Aging over decades: the mechanisms, the time loop, scenarios and the diagnosis of the sag.

See mechanisms.py for what ages and by how much (with sources), run.py for the time loop and
its checkpoints (settings.py: what a run is asked to do), diagnosis.py for the split of the sag
between mechanisms. Scenario files are read by sagsim.inputs.scenario.
"""
from .mechanisms import (MECHANISMS, BoneResorption, FatDeflation, FatDescent, LigamentLaxity, SkinAging,
                         default_mechanisms)
from .settings import AgingSettings


def __getattr__(name: str):
    # the time loop imports the solvers (numba): load it on first use, so that reading a
    # scenario (sagsim.inputs, which needs the mechanisms and the settings) needs no solver
    if name in ("AgingResult", "run_aging"):
        from . import run
        return getattr(run, name)
    raise AttributeError(f"module 'sagsim.aging' has no attribute {name!r}")


__all__ = ["MECHANISMS", "BoneResorption", "FatDeflation", "FatDescent", "LigamentLaxity", "SkinAging",
           "default_mechanisms", "AgingResult", "AgingSettings", "run_aging"]
