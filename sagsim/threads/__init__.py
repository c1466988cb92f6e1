"""Thread lifts: barbed threads, their cogs in the tissue, the quasi-static lift with slip.

catalogue.py: thread materials and cog properties (sources and ESTIMATES); plan.py: Thread,
ThreadPlan and where cogs sit; lift.py: the lift with cogs that hold, slip or let go.
"""
from .catalogue import MATERIALS
from .plan import Thread, ThreadPlan, place_cogs


def __getattr__(name: str):
    # the lift imports the solvers (numba): load it on first use, so that reading a plan
    # (sagsim.inputs, which needs Thread, ThreadPlan and the materials) needs no solver
    if name in ("LiftResult", "solve_lift"):
        from . import lift
        return getattr(lift, name)
    raise AttributeError(f"module 'sagsim.threads' has no attribute {name!r}")


__all__ = ["LiftResult", "solve_lift", "MATERIALS", "Thread", "ThreadPlan", "place_cogs"]
