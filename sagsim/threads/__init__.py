"""Thread lifts: barbed threads, their cogs in the tissue, the quasi-static lift with slip.

materials.py: thread materials and cog properties (sources and ESTIMATES); plan.py: Thread,
ThreadPlan and where cogs sit; lift.py: the lift with cogs that hold, slip or let go.
"""
from .lift import LiftResult, solve_lift
from .materials import MATERIALS
from .plan import Thread, ThreadPlan, place_cogs

__all__ = ["LiftResult", "solve_lift", "MATERIALS", "Thread", "ThreadPlan", "place_cogs"]
