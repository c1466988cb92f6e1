"""The `sagsim` command: the demo writes its results, errors are one line and exit 2."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sagsim.cli import main
from sagsim.io import read_vtu


def test_demo_writes_results_and_pictures(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--face", "procedural-coarse"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert 0.05 < summary["max_displacement_mm"] < 5.0  # sub-millimetre to millimetre sag
    assert all(v[1] < 0 for v in summary["landmark_displacement_mm"].values())  # it sags downwards
    assert summary["model"].startswith("procedural face")
    points, tets, point_data, cell_data = read_vtu(out / "result.vtu")
    assert len(tets) == summary["tetrahedra"]
    assert np.isfinite(point_data["displacement"]).all()
    for png in ("displacement.png", "layers.png"):
        assert (out / png).stat().st_size > 10_000
    assert "settled under gravity" in capsys.readouterr().out


def test_demo_on_the_spring_core_agrees_with_the_fem_demo(tmp_path, capsys):
    """`sagsim demo --core springs`: the same outputs, solved by the mass-spring core; on the
    slab both cores put the landmarks within the agreement docs/springs.md states."""
    res = {}
    for core in ("fem", "springs"):
        out = tmp_path / core
        assert main(["demo", "--out", str(out), "--model", "slab", "--resolution", "coarse", "--core", core]) == 0
        res[core] = json.loads((out / "summary.json").read_text())
        assert res[core]["core"] == core and (out / "displacement.png").stat().st_size > 10_000
    assert "by the mass-spring core" in capsys.readouterr().out
    assert res["springs"]["fire_iterations"] > 0 and res["springs"]["springs"] > 0
    fem = res["fem"]["landmark_displacement_mm"]
    spr = res["springs"]["landmark_displacement_mm"]
    largest = max(np.linalg.norm(v) for v in fem.values())
    for name, u in fem.items():
        assert np.linalg.norm(np.subtract(spr[name], u)) <= 0.6 * largest, name
    assert main(["demo", "--out", str(tmp_path / "slab"), "--resolution", "coarse", "--model", "slab"]) == 0
    assert json.loads((tmp_path / "slab" / "summary.json").read_text())["model"] == "layered slab"


def test_bench_fem_prints_records(tmp_path):
    path = tmp_path / "fem.json"
    assert main(["bench", "fem", "--n", "2", "3", "--formulation", "standard", "es-anp", "--no-peer",
                 "--json", str(path)]) == 0
    records = json.loads(path.read_text())
    assert [(r["n"], r["formulation"]) for r in records] == [(2, "standard"), (2, "es-anp"), (3, "standard"),
                                                             (3, "es-anp")]
    assert records[0]["ndofs"] == 81 and records[0]["newton_iterations"] >= 5
    assert records[2]["u_corner"][1] < 0
    # the edge-smoothed shear is softer than the linear tetrahedron on the same mesh
    assert records[3]["u_corner"][1] < records[2]["u_corner"][1]


def test_bench_aging_runs_each_face_in_each_formulation_and_gives_ratios(tmp_path, monkeypatch, capsys):
    import subprocess as sp

    from sagsim.bench import aging_run

    calls = []

    def fake(cmd, **kw):  # each (face, formulation) in its own process; canned records here
        face, years, formulation = cmd[-3:]
        calls.append((face, years, formulation))
        rec = {"face": face, "formulation": formulation, "tetrahedra": 100, "dofs": 90, "years": 1.0,
               "total_s": {"anp": 2.0, "es-anp": 3.0}[formulation], "start_s": 1.0, "median_year_s": 1.0,
               "mean_year_s": 1.0, "newton_iterations_per_year": 1.0, "quasi_newton_iterations_per_year": 0.5,
               "jowl_descent_mm": 0.1}
        return sp.CompletedProcess(cmd, 0, stdout=json.dumps(rec) + "\n")

    monkeypatch.setattr(aging_run.subprocess, "run", fake)
    path = tmp_path / "aging.json"
    assert main(["bench", "aging", "--faces", "coarse", "--years", "1", "--formulation", "anp", "es-anp",
                 "--json", str(path)]) == 0
    assert calls == [("coarse", "1.0", "anp"), ("coarse", "1.0", "es-anp")]
    records = json.loads(path.read_text())
    assert [r["total_against_first"] for r in records] == [1.0, 1.5]
    assert "(1.50x anp)" in capsys.readouterr().out


def test_errors_are_one_line_and_exit_nonzero():
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "sagsim.cli", "bench", "fem", "--n", "0", "--no-peer"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and proc.stderr == ("sagsim: error: bench fem: argument --n: expected an integer from "
                                                    "1 to 64, got 0 (see `sagsim bench fem --help`)\n")
    proc = subprocess.run([sys.executable, "-m", "sagsim.cli", "demo", "--resolution", "huge"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "invalid choice" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "sagsim.cli", "age"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and proc.stderr == ("sagsim: error: age: the following arguments are required: "
                                                    "scenario (see `sagsim age --help`)\n")


@pytest.mark.parametrize("method, expected", [("umfpack", "unknown method 'umfpack'"),
                                              ("cholmod", "install its package (pip install scikit-sparse)")])
def test_a_linear_solver_that_cannot_run_is_one_line_naming_what_to_do(method, expected):
    from sagsim.solvers.linear import available_methods
    if method in available_methods():
        pytest.skip(f"{method} is installed here")
    proc = subprocess.run([sys.executable, "-m", "sagsim.cli", "bench", "fem", "--n", "2", "--no-peer",
                           "--linear-solver", method], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert expected in proc.stderr
