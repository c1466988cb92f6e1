"""Thread lifts on the default face (as captured, unloaded start recovered once): a 10-thread
plan (5 per side: jowl, mouth corner, lower and middle nasolabial fold to the tragus, and jowl
to the gonion; 4 cogs each, 3 mm pull), then the thread-count sweep: one jowl thread per side
fanned into 1..10 threads per side. Compilation is excluded by a coarse-face warm-up.

Run it as `sagsim bench lift [--face F] [--max-threads N] [--json FILE]`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..aging.run import captured_start
from ..meshfile import load_face
from ..threads import Thread, ThreadPlan, solve_lift
from ..threads.curve import lift_curve


def ten_thread_plan():
    threads = []
    for s in ("left", "right"):
        for k, (entry, anchor) in enumerate(((f"jowl_{s}", f"tragus_{s}"), (f"oral_commissure_{s}", f"tragus_{s}"),
                                             (f"nasolabial_3_{s}", f"tragus_{s}"),
                                             (f"nasolabial_2_{s}", f"lateral_canthus_{s}"),
                                             (f"jowl_{s}", f"gonion_{s}"))):
            threads.append(Thread(f"t{k}_{s}", entry=entry, anchor=anchor, pull=0.003, cogs=4, cog_spacing=0.005))
    return ThreadPlan(tuple(threads), "ten threads")


def main(face: str = "default", max_threads: int = 10, json_path: Path | None = None) -> int:

    solve_lift(*captured_start(load_face("coarse")), ten_thread_plan())
    t0 = time.perf_counter()
    model, start = captured_start(load_face(face))
    t_start = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = solve_lift(model, start, ten_thread_plan())
    t_ten = time.perf_counter() - t1
    print(f"{face}: start {t_start:.1f} s; 10-thread plan {t_ten:.1f} s ({res.iterations} equilibrium solves, "
          f"{len(res.cogs.tet)} cogs)")
    one = ThreadPlan(tuple(Thread(f"jowl_{s}", entry=f"jowl_{s}", anchor=f"tragus_{s}", pull=0.003, cogs=5,
                                  cog_spacing=0.005) for s in ("left", "right")), "one per side")
    t2 = time.perf_counter()
    rows = lift_curve(model, start, one, list(range(1, max_threads + 1)), "threads", targets=("jowl_left", "jowl_right"))
    t_sweep = time.perf_counter() - t2
    print(f"sweep 1..{max_threads} threads per side: {t_sweep:.1f} s")
    print("threads/side  lift(mm)  unevenness(mm)  dents  max strain  over-tension(mL)  max cog force(N)")
    for r in rows:
        print(f"{r['threads']:12d}  {r['lift_mm']:8.3f}  {r['unevenness_mm']:14.3f}  {r['dents']:5d}  "
              f"{r['max_strain']:10.3f}  {r['over_tension_ml']:16.3f}  {r['max_cog_force_N']:16.3f}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"face": face, "tetrahedra": model.n_tets, "start_s": t_start,
                                         "ten_thread_plan_s": t_ten, "sweep_s": t_sweep,
                                         "sweep": rows}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
