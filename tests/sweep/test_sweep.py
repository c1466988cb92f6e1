"""Sweeps, sensitivity and calibration on Dask: designs and their validation, a sweep on a
LocalCluster and the same sweep on a scheduler and workers started as separate processes, a
worker killed mid-sweep, failed runs, reruns that skip finished runs, Sobol indices of a
function with known ones, and a calibration that recovers known parameters."""
import json
import re
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from folders import assert_marker_last
from sagsim.cli import main
from sagsim.errors import ScenarioError
from sagsim.sweep import dask_client, load_sweep, run_sweep
from sagsim.sweep.execute import WORKER_ENV

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "examples" / "aging_default.toml"

#: the aging sweep of these tests: the coarse face from 40 to 50 in two 5-year steps
AGING_SWEEP = f"""
[sweep]
name = "tiny"
kind = "aging"
base = "{BASE}"
design = "morris"
trajectories = 2
levels = 4
seed = 3

[fixed]
"scenario.face" = "procedural-coarse"
"scenario.end_age" = 50
"scenario.step_years" = 5

[parameters."ligament_laxity.stiffness_loss"]
range = ["5 %/decade", "45 %/decade"]

[parameters."fat_descent.time_constant"]
range = ["5 years", "40 years"]
log = true
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _python_sweep(path: Path, function: str, values: list, name: str = "py", extra: str = "") -> Path:
    return _write(path, f"""
[sweep]
name = "{name}"
kind = "python"
function = "{function}"
design = "grid"
{extra}
[parameters.x]
values = {values}
""")


# -- designs and their validation (no cluster) ---------------------------------------------------------

def test_designs_grid_lhs_morris_sobol(tmp_path):
    grid = load_sweep(_write(tmp_path / "g.toml", f"""
[sweep]
kind = "aging"
base = "{BASE}"
design = "grid"
[fixed]
"scenario.face" = "procedural-coarse"
[parameters."ligament_laxity.stiffness_loss"]
values = ["10 %/decade", 0.2, "3 %/yr"]
[parameters."skin.enabled"]
values = [true, false]
[parameters."mechanisms.fat_descent.time_constant"]
range = ["5 years", "20 years"]
levels = 3
log = true
"""))
    assert len(grid.runs) == 3 * 2 * 3
    assert [r["ligament_laxity.stiffness_loss"] for r in grid.runs[::6]] == pytest.approx([0.1, 0.2, 0.3])
    assert sorted({r["fat_descent.time_constant"] for r in grid.runs}) == pytest.approx([5.0, 10.0, 20.0])
    assert len({grid.run_key(i) for i in range(len(grid.runs))}) == len(grid.runs)

    lhs_text = AGING_SWEEP.replace('design = "morris"', 'design = "lhs"\nsamples = 10')
    lhs = load_sweep(_write(tmp_path / "l.toml", lhs_text))
    x = np.array([r["ligament_laxity.stiffness_loss"] for r in lhs.runs])
    tau = np.array([r["fat_descent.time_constant"] for r in lhs.runs])
    assert len(x) == 10 and ((0.05 <= x) & (x <= 0.45)).all() and ((5 <= tau) & (tau <= 40)).all()
    # Latin: one sample in each tenth of each range (log-tenths for the log-scaled one)
    assert sorted(np.floor((x - 0.05) / 0.04).astype(int)) == list(range(10))
    assert sorted(np.floor(np.log(tau / 5) / (np.log(8) / 10)).astype(int)) == list(range(10))
    assert [lhs.run_key(i) for i in range(10)] == [load_sweep(tmp_path / "l.toml").run_key(i) for i in range(10)]

    morris = load_sweep(_write(tmp_path / "m.toml", AGING_SWEEP))
    assert len(morris.runs) == 2 * (2 + 1) and morris.X.shape == (6, 2)
    sobol = load_sweep(_write(tmp_path / "s.toml", AGING_SWEEP.replace('design = "morris"',
                                                                        'design = "sobol"\nsamples = 8')))
    assert len(sobol.runs) == 8 * (2 + 2)


def test_ranges_from_the_reference_table(tmp_path):
    table = _write(tmp_path / "ref.csv", "quantity,tissue_or_item,value,unit,low,high,source,confidence,notes\n"
                                         "resorption time,PCL,,years,2,3,a source,stated,\n"
                                         "some time,thing,5,days,,,other,stated,\n")
    text = f"""
[sweep]
kind = "python"
function = "sagsim.sweep.functions:trivial"
design = "lhs"
samples = 4
reference_table = "{table}"
[parameters.t]
unit = "years"
reference = "Resorption time"
"""
    sweep = load_sweep(_write(tmp_path / "r.toml", text))
    p = sweep.parameters[0]
    assert (p.low, p.high) == (2.0, 3.0)
    assert "reference table: resorption time (a source)" == p.range_source
    with pytest.raises(ScenarioError, match=r"r2.toml: \[parameters\] t reference: the row 'some time' has no low/high"):
        load_sweep(_write(tmp_path / "r2.toml", text.replace("Resorption time", "some time")))


@pytest.mark.parametrize("edit, message", [
    (("[sweep]", "[sweep]\nworkers = 3"), r"\[sweep\] workers: unknown key; expected one of name, kind"),
    (('"ligament_laxity.stiffness_loss"', '"ligament_laxity.stiffnes"'),
     r"\[parameters\]: ligament_laxity.stiffnes: not a parameter of aging runs"),
    (('"5 %/decade"', '"5 mm"'), r"\[parameters\] ligament_laxity.stiffness_loss range: expected a fraction per "
                                 r"decade \(units: .*\), got unit 'mm'"),
    (('"45 %/decade"', '"95 %/decade"'), r"\[parameters\] ligament_laxity.stiffness_loss range: out of range: "
                                         r"expected 0 to 0.9 1/decade, got 0.95"),
    (('range = ["5 %/decade", "45 %/decade"]', ""),
     r"\[parameters\] ligament_laxity.stiffness_loss: no range; the reference table gives none for this parameter "
     r"\(ESTIMATE"),
    (('"scenario.end_age" = 50', '"scenario.end_age" = 30'), r"\[fixed\] scenario.end_age|run 1 .*end_age"),
    (('design = "morris"', 'design = "taguchi"'), r"\[sweep\] design: expected one of"),
    (("[fixed]", '[sensitivity]\noutputs = ["jowl_decsent_mm"]\n[fixed]'),
     r"\[sensitivity\] outputs: 'jowl_decsent_mm' is not a metric of aging runs; did you mean 'jowl_descent_mm'\?"),
])
def test_a_malformed_sweep_is_one_line_exit_2_nothing_written(tmp_path, capsys, edit, message):
    path = _write(tmp_path / "bad.toml", AGING_SWEEP.replace(*edit))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"sagsim: error: {path}:")
    assert __import__("re").search(message, err), err
    assert not out.exists()


def test_sobol_indices_of_the_ishigami_function(tmp_path):
    """The design and the analysis, checked against analytic indices (runs evaluated here)."""
    from sagsim.sweep.functions import ishigami, ishigami_indices
    from sagsim.sweep.sensitivity import analyse

    pi = np.pi
    sweep = load_sweep(_write(tmp_path / "ish.toml", f"""
[sweep]
kind = "python"
function = "sagsim.sweep.functions:ishigami"
design = "sobol"
samples = 1024
seed = 2
[parameters.x1]
range = [{-pi}, {pi}]
[parameters.x2]
range = [{-pi}, {pi}]
[parameters.x3]
range = [{-pi}, {pi}]
"""))
    table = pd.DataFrame([{"status": "ok", **r, **ishigami(r)} for r in sweep.runs])
    indices, _ = analyse(sweep, table)
    exact = ishigami_indices()
    assert indices["ST"].to_numpy() == pytest.approx(exact["ST"], abs=0.04)
    assert indices["S1"].to_numpy() == pytest.approx(exact["S1"], abs=0.04)


# -- on a LocalCluster ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def local_sweep(client, tmp_path_factory):
    """The aging sweep run once on the LocalCluster: (sweep file, out folder, result)."""
    folder = tmp_path_factory.mktemp("local")
    path = _write(folder / "tiny.toml", AGING_SWEEP)
    result = run_sweep(load_sweep(path), folder / "out", client=client)
    return path, folder / "out", result


def _metric_columns(table, sweep_kind: str) -> list:
    """The table's metric columns, each asserted to be a name [sensitivity] outputs accepts."""
    from sagsim.inputs.sweep import is_metric
    names = [c for c in table.columns[5:] if "." not in c]  # after index..seconds; parameters are dotted keys
    assert names and all(is_metric(sweep_kind, c) for c in names), [c for c in names if not is_metric(sweep_kind, c)]
    return names


@pytest.mark.timeout(240)
def test_sweep_on_a_local_cluster(local_sweep):
    from sagsim.sweep.task import aging_metrics, aging_result

    path, out, result = local_sweep
    table = result.table
    c = result.counts  # a Morris design may visit a point twice: one run serves both rows
    assert (c["runs"], c["ran"], c["skipped"], c["ok"], c["failed"]) == (6, c["distinct"], 0, 6, 0)
    assert list(table["status"]) == ["ok"] * 6
    assert list(table.columns[:7]) == ["index", "run", "status", "error", "seconds", "ligament_laxity.stiffness_loss",
                                       "fat_descent.time_constant"]
    assert (table["jowl_descent_mm"] > 0).all() and "descent_mm:jowl_left" in table
    assert _metric_columns(table, sweep_kind="aging")  # every metric reported is one a sensitivity may name
    parquet, csv = pd.read_parquet(out / "table.parquet"), pd.read_csv(out / "table.csv", keep_default_na=False)
    assert list(parquet["run"]) == list(csv["run"]) == list(table["run"])
    assert np.allclose(parquet["jowl_descent_mm"], csv["jowl_descent_mm"], rtol=1e-12)
    for key in table["run"]:  # one complete folder per run, no temporary leftovers
        assert {"result.json", "metrics.csv", "landmarks.csv", "summary.json"} <= {p.name for p in (out / "runs" / key).iterdir()}
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    # a run is the same on a worker as here
    sweep = load_sweep(path)
    _, here = aging_result(BASE.read_text(), str(BASE), sweep.overrides(0))
    assert aging_metrics(here)["jowl_descent_mm"] == pytest.approx(table["jowl_descent_mm"][0], rel=1e-6)
    # sensitivity: fat descent drives the jowl far more than ligament laxity over these ranges
    ind = pd.read_csv(out / "sensitivity.csv").set_index(["output", "input"])
    assert ind.loc[("jowl_descent_mm", "fat_descent.time_constant"), "mu_star"] > \
        3 * ind.loc[("jowl_descent_mm", "ligament_laxity.stiffness_loss"), "mu_star"]
    assert (out / "sensitivity.png").stat().st_size > 10_000
    assert_marker_last(out, "table.parquet")


@pytest.mark.timeout(120)
def test_a_rerun_skips_finished_runs(local_sweep, client):
    path, out, first = local_sweep
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")}
    again = run_sweep(load_sweep(path), out, client=client)
    assert again.counts["skipped"] == first.counts["distinct"] and again.counts["ran"] == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")} == stamps
    assert again.table.drop(columns="seconds").equals(first.table.drop(columns="seconds"))


@pytest.mark.timeout(120)
def test_estimate_counts_times_and_writes_nothing(local_sweep, tmp_path, capsys):
    """--estimate counts the design, times its first run here (loading apart) and writes
    nothing; runs already finished in --out are not counted again."""
    from sagsim.sweep.estimate import Estimate, estimate

    path, out, result = local_sweep
    fresh = tmp_path / "fresh"
    assert main(["sweep", str(path), "--out", str(fresh), "--workers", "3", "--estimate"]) == 0
    line = capsys.readouterr().out.strip()
    distinct = result.counts["distinct"]
    assert re.fullmatch(rf"tiny: 6 runs, {distinct} distinct, 0 finished before: {distinct} to run on 3 worker\(s\), "
                        r"about \d+ s \(its first run took [\d.]+ s here, [\d.]+ s with loading\) and \d+ [kM]B of run "
                        r"folders", line), line
    assert not fresh.exists()
    again = estimate(load_sweep(path), out, workers=2)  # every run is in the finished folder
    assert (again.done, again.todo, again.seconds) == (distinct, 0, 0.0) and again.run_s > 0  # (this process is warm)
    # the arithmetic: loading once per worker side by side, then waves of `workers` runs
    e = Estimate("x", runs=10, distinct=9, done=2, workers=3, first_s=5.0, run_s=2.0, run_bytes=1000)
    assert e.seconds == 3.0 + 3 * 2.0
    failing = _python_sweep(tmp_path / "f.toml", "sagsim.sweep.functions:fails_above", [0.75, 0.25])
    assert main(["sweep", str(failing), "--out", str(tmp_path / "f"), "--estimate"]) == 1
    assert "its first run failed here: ValueError: x = 0.75 is above 0.5" in capsys.readouterr().out
    assert not (tmp_path / "f").exists()


@pytest.mark.timeout(120)
def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, client):
    path = _python_sweep(tmp_path / "f.toml", "sagsim.sweep.functions:fails_above", [0.25, 0.75, 0.5])
    result = run_sweep(load_sweep(path), tmp_path / "out", client=client)
    t = result.table
    assert list(t["status"]) == ["ok", "failed", "ok"]
    assert t["error"][1] == "ValueError: x = 0.75 is above 0.5 (this function fails there on purpose)"
    assert t["y"][0] == 0.5 and np.isnan(t["y"][1])
    folder = tmp_path / "out" / "runs" / t["run"][1]
    assert json.loads((folder / "result.json").read_text())["status"] == "failed"
    assert "Traceback" in (folder / "error.txt").read_text()
    again = run_sweep(load_sweep(path), tmp_path / "out", client=client)
    assert (again.counts["skipped"], again.counts["ran"], again.counts["failed"]) == (2, 1, 1)  # failed ones rerun


@pytest.mark.timeout(180)
def test_thread_plan_parameters(tmp_path, client):
    plan = _write(tmp_path / "plan.toml", """
[plan]
name = "one_thread"
face = "procedural-coarse"
[[thread]]
name = "jowl_left"
entry = "jowl_left"
anchor = "tragus_left"
cogs = 6
cog_spacing = "5 mm"
pull = "4 mm"
""")
    path = _write(tmp_path / "lift.toml", f"""
[sweep]
kind = "lift"
base = "{plan}"
design = "grid"
[parameters."thread.jowl_left.pull"]
values = ["2 mm", "4 mm"]
""")
    result = run_sweep(load_sweep(path), tmp_path / "out", client=client)
    t = result.table
    assert list(t["status"]) == ["ok", "ok"] and t["thread.jowl_left.pull"].tolist() == [0.002, 0.004]
    assert 0 < t["target_lift_mm"][0] < t["target_lift_mm"][1]  # pulling further lifts more
    assert _metric_columns(t, sweep_kind="lift")
    assert (tmp_path / "out" / "runs" / t["run"][1] / "lift.vtu").exists()


@pytest.mark.timeout(180)
def test_calibration_recovers_known_parameters(tmp_path, client):
    from sagsim.inputs import load_calibration
    from sagsim.sweep.calibrate import calibrate, synthetic_measurements

    cal_path = _write(tmp_path / "cal.toml", f"""
[calibration]
base = "{BASE}"
measurements = "synthetic.csv"
[fixed]
"scenario.face" = "procedural-coarse"
"scenario.end_age" = 50
"scenario.step_years" = 5
[parameters."ligament_laxity.stiffness_loss"]
initial = "15 %/decade"
bounds = ["1 %/decade", "90 %/decade"]
[parameters."fat_descent.time_constant"]
initial = "10 years"
bounds = ["1 year", "200 years"]
""")
    truth = {"ligament_laxity.stiffness_loss": 0.30, "fat_descent.time_constant": 20.0}
    landmarks = ["jowl_left", "jowl_right", "oral_commissure_left", "malar_eminence_left", "gonion_left", "menton",
                 "subnasale", "nasolabial_2_left"]
    synthetic_measurements(cal_path, truth, tmp_path / "synthetic.csv", landmarks, ages=[45, 50])
    assert (tmp_path / "synthetic.csv").read_text().startswith("# SYNTHETIC")
    result = calibrate(load_calibration(cal_path), tmp_path / "out", client=client)
    fitted = {p["key"]: p for p in result.parameters}
    for key, true in truth.items():  # noise-free data: recovered to within 1 %
        assert fitted[key]["fitted"] == pytest.approx(true, rel=0.01)
        assert fitted[key]["ci95"][0] <= fitted[key]["fitted"] <= fitted[key]["ci95"][1]
    assert result.summary["rms_residual_mm"] < 1e-3
    assert {"calibration.json", "residuals.csv", "history.csv", "fit.png"} <= {p.name for p in (tmp_path / "out").iterdir()}
    assert_marker_last(tmp_path / "out", "calibration.json")


def test_malformed_calibration_is_one_line(tmp_path, capsys):
    meas = _write(tmp_path / "m.csv", "landmark,age,dy_mm\njowl_left,45,-0.1\nchin_tip,50,-0.2\n")
    path = _write(tmp_path / "c.toml", f"""
[calibration]
base = "{BASE}"
measurements = "{meas}"
[fixed]
"scenario.face" = "procedural-coarse"
"scenario.end_age" = 50
"scenario.step_years" = 5
[parameters."fat_descent.time_constant"]
initial = "10 years"
""")
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "m.csv: row 2 landmark: 'chin_tip' is not a landmark" in err
    assert not (tmp_path / "out").exists()


# -- a scheduler and workers as separate processes -----------------------------------------------------

class ExternalCluster:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, each in its own process
    group so that one can be killed whole; every one is killed at the end, whatever happened."""

    def __init__(self, folder: Path):
        self.procs = []
        env = {**os.environ, **WORKER_ENV}
        file = folder / "scheduler.json"
        self.procs.append(self._start([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                       "--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--scheduler-file",
                                       str(file), "--idle-timeout", "300"], env, folder / "scheduler.log"))
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.address = json.loads(file.read_text())["address"]
        self.workers = [self._start([sys.executable, "-m", "dask", "worker", self.address, "--nthreads", "1",
                                     "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "30",
                                     "--name", f"w{i}"], env, folder / f"worker{i}.log") for i in range(2)]
        self.procs += self.workers
        from dask.distributed import Client
        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)

    @staticmethod
    def _start(cmd, env, log):
        return subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, proc) -> None:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                with __import__("contextlib").suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill(p)


@pytest.fixture(scope="module")
def external(tmp_path_factory):
    cluster = ExternalCluster(tmp_path_factory.mktemp("external"))
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.mark.timeout(240)
def test_the_same_sweep_on_a_separate_scheduler_and_workers(local_sweep, external, tmp_path, capsys):
    path, _, local = local_sweep
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--scheduler", external.address, "--quiet"]) == 0
    assert f"{local.counts['distinct']} ran on 2 workers" in capsys.readouterr().out
    remote = pd.read_parquet(out / "table.parquet")
    assert list(remote["run"]) == list(local.table["run"]) and (remote["status"] == "ok").all()
    assert np.allclose(remote["jowl_descent_mm"], local.table["jowl_descent_mm"], rtol=1e-9)
    workers = {json.loads((out / "runs" / k / "result.json").read_text())["worker"] for k in remote["run"]}
    assert len(workers) == 2  # both external workers took runs


@pytest.mark.timeout(240)
def test_a_worker_killed_mid_sweep_loses_no_run(external, tmp_path):
    from dask.distributed import Client

    path = _python_sweep(tmp_path / "slow.toml", "sagsim.sweep.functions:slow", [i / 10 for i in range(12)],
                         name="slow", extra="retries = 1")
    out = tmp_path / "out"
    sweep = load_sweep(path)
    with Client(external.address) as client:
        client.wait_for_workers(2, timeout=60)
        box = {}
        runner = threading.Thread(target=lambda: box.update(result=run_sweep(sweep, out, client=client)))
        runner.start()
        deadline = time.monotonic() + 60
        while len(list((out / "runs").glob("*/result.json"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = client.scheduler_info(n_workers=-1)["workers"]
        pids = client.run(os.getpid)
        processing = client.processing()
        addr = next(a for a in workers if processing.get(a))
        lost = {k.split("-")[2] for k in processing[addr]}  # sagsim-run-<run key>-<token>
        external.kill(external.workers[int(str(workers[addr]["name"])[1:])])  # the worker and its nanny, mid-run
        runner.join(timeout=120)
        assert not runner.is_alive()
    result = box["result"]
    assert result.counts["ok"] == 12 and result.counts["failed"] == 0
    assert result.table["y"].tolist() == pytest.approx([(i / 10) ** 2 for i in range(12)])
    ran_on = {k: json.loads((out / "runs" / k / "result.json").read_text())["worker"] for k in result.table["run"]}
    assert lost and all(not ran_on[k].endswith(f":{pids[addr]}") for k in lost)  # rerun on the other worker
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]


def test_docs_list_every_sweep_parameter():
    from sagsim.inputs.docs import parameters_markdown
    assert parameters_markdown() in (ROOT / "docs" / "sweeps.md").read_text(encoding="utf-8")


@pytest.mark.timeout(300)
def test_lift_runs_on_an_aged_face_share_one_aging(tmp_path, monkeypatch):
    """A lift sweep on a face its plan ages first ages it once per worker, and a run that
    reuses the aged face gives what a fresh `sagsim lift` gives."""
    import json

    import sagsim.jobs.age as age_job  # where every aging of a job runs
    from sagsim.sweep import task
    scenario = _write(tmp_path / "age.toml", """
[scenario]
name = "quick"
face = "procedural-coarse"
end_age = 50
step_years = 5
""")
    plan = _write(tmp_path / "plan.toml", f"""
[plan]
name = "aged_lift"
aging = "{scenario.name}"
[[thread]]
name = "jowl_left"
entry = "jowl_left"
anchor = "tragus_left"
cogs = 4
cog_spacing = "6 mm"
pull = "3 mm"
""")
    calls = []
    real = age_job.run_aging
    monkeypatch.setattr(age_job, "run_aging", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(task, "_AGED", {})
    spec = {"kind": "lift", "base": str(plan), "overrides": {}, "options": {"months": False}}
    first = task._lift(spec, tmp_path / "a")
    again = task._lift(spec, tmp_path / "b")
    assert len(calls) == 1 and first == again
    proc = subprocess.run([sys.executable, "-m", "sagsim.cli", "lift", str(plan), "--out", str(tmp_path / "c"),
                           "--quiet", "--no-months"], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    fresh = json.loads((tmp_path / "c" / "summary.json").read_text())["landmarks_mm"]
    # the sweep's lift preconditions its solves with the factorisation the aging left, the
    # fresh command with its own: they agree to Newton's tolerance (measured 3e-6 mm), not bitwise
    for name, d in fresh.items():
        assert again[f"lift_mm:{name}"] == pytest.approx(d[1], abs=1e-4)
