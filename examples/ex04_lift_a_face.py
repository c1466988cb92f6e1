"""Example 4: lift the captured coarse face with one barbed thread a side.

A plan is a TOML file (or a PlanFile): each thread's entry landmark, its anchor, cogs, pull
and material. `sagsim.lift` is the job `sagsim lift` runs: it lifts the face (cogs hold up to
their holding force, then slip), probes the expression with and without the threads, and
writes the results folder (landmarks.csv, cogs.csv, lift.vtu, summary.json and plots).
Run: python examples/ex04_lift_a_face.py [OUT]
"""
import sys
import tempfile
from pathlib import Path

import sagsim

PLAN = """
[plan]
name = "ex04"
face = "coarse"

[[thread]]
name = "jowl_left"
entry = "jowl_left"
anchor = "tragus_left"
cogs = 4
cog_spacing = "6 mm"
pull = "3 mm"

[[thread]]
name = "jowl_right"
entry = "jowl_right"
anchor = "tragus_right"
cogs = 4
cog_spacing = "6 mm"
pull = "3 mm"
"""


def main(out: Path | None = None) -> dict:
    out = Path(out or tempfile.mkdtemp(prefix="sagsim_ex04_"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.toml").write_text(PLAN)
    summary = sagsim.lift(out / "plan.toml", out / "results", months=False)
    for line in summary["report"]:
        print(line)
    return {"out": out / "results", "summary": summary,
            "jowl_lift_mm": summary["landmarks_mm"]["jowl_left"][1]}


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
