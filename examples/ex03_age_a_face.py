"""Example 3: age a face over a decade and read what sagged, from Python.

`sagsim.age` is the job `sagsim age` runs: it reads the scenario (a file, or a Scenario),
recovers the captured face's stress-free shape, steps the aging mechanisms year by year and
writes the results folder (metrics.csv, landmarks.csv, series.xdmf, result.vtu,
summary.json). Here the coarse face, 40 to 50 in 5-year steps, without pictures.
Run: python examples/ex03_age_a_face.py [OUT]
"""
import sys
import tempfile
from pathlib import Path

import sagsim

SCENARIO = """
[scenario]
name = "ex03"
face = "coarse"
start_age = 40
end_age = 50
step_years = 5
"""


def main(out: Path | None = None) -> dict:
    out = Path(out or tempfile.mkdtemp(prefix="sagsim_ex03_"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenario.toml").write_text(SCENARIO)
    outcome = sagsim.age(out / "scenario.toml", out / "results", pictures=False)
    last = outcome.result.rows[-1]
    print(f"{outcome.model.name} aged {outcome.result.ages[0]:g} -> {outcome.result.ages[-1]:g}: "
          f"jowl descent {last['jowl_descent_mm']:.3f} mm; wrote {outcome.out}")
    return {"out": outcome.out, "jowl_descent_mm": last["jowl_descent_mm"], "rows": outcome.result.rows}


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
