"""Scenarios: units convert, every mistake is one line naming file and key before any solve,
the documented schema is the one the code reads, and `sagsim age` writes what it promises."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sagsim.inputs.scenario import load_scenario, parse_scenario, schema_markdown
from sagsim.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("aging_*.toml"))


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_units_convert_to_the_documented_ones(tmp_path):
    s = load_scenario(write(tmp_path, """
[scenario]
start_age = "480 months"
end_age = 60
[mechanisms.ligament_laxity]
stiffness_loss = "1.2 %/yr"
elongation = 0.05
[mechanisms.fat_descent]
time_constant = "1.5 decades"
[mechanisms.bone_resorption]
enabled = true
maxilla = "0.02 mm/yr"
[mechanisms.fat_deflation.loss]
SOOF = "20 %/decade"
"""))
    m = {x.name: x for x in s.mechanisms}
    assert s.settings.start_age == pytest.approx(40.0)
    assert m["ligament_laxity"].stiffness_loss == pytest.approx(0.12)
    assert m["ligament_laxity"].elongation == 0.05
    assert m["fat_descent"].time_constant == pytest.approx(15.0)
    assert m["bone_resorption"].enabled and m["bone_resorption"].maxilla == pytest.approx(0.2)
    assert m["fat_deflation"].loss["SOOF"] == pytest.approx(0.2)
    assert m["fat_deflation"].loss["deep_medial_cheek"] == pytest.approx(0.086)  # untouched default


@pytest.mark.parametrize("text, key, expected", [
    ("[scenario]\nstart_ag = 40\n", "[scenario] start_ag", "unknown key"),
    ("[scenario]\nstart_age = 50\nend_age = 45\n", "[scenario] end_age", "after start_age"),
    ("[mechanisms.skin]\nthinning = \"3 kPa\"\n", "[mechanisms.skin] thinning", "unit 'kPa'"),
    ("[mechanisms.ligament_laxity]\nstiffness_loss = 1.5\n", "[mechanisms.ligament_laxity] stiffness_loss",
     "out of range"),
    ("[mechanisms.fat_descent]\ntime_constant = -3\n", "[mechanisms.fat_descent] time_constant", "out of range"),
    ("[mechanisms.skin]\nenabled = \"yes\"\n", "[mechanisms.skin] enabled", "true or false"),
    ("[mechanisms.wrinkles]\nenabled = true\n", "[mechanisms] wrinkles", "unknown key"),
    ("[scenario]\nface = \"nowhere.vtu\"\n", "[scenario] face", "existing .vtu"),
    ("[scenario]\nstep_years = \"a while\"\n", "[scenario] step_years", "expected a duration"),
    ("[diagnosis]\nmechanisms = [\"bone_resorption\"]\n", "[diagnosis] mechanisms", "not an enabled"),
    ("[scenario\nname = 1\n", "", "not valid TOML"),
])
def test_a_bad_scenario_is_one_line_naming_file_and_key(tmp_path, text, key, expected):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and key in msg and expected in msg


def test_an_unknown_compartment_is_refused_once_the_face_is_known(tmp_path):
    from sagsim.inputs.scenario import check_against_model
    from sagsim.meshfile import load_face
    s = load_scenario(write(tmp_path, "[mechanisms.fat_deflation.loss]\ntemple = 0.1\n"))
    with pytest.raises(ScenarioError, match=r"fat_deflation.loss\] temple: no such compartment"):
        check_against_model(s, load_face("procedural-coarse"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_example_scenarios_are_valid(path):
    s = load_scenario(path)
    assert s.settings.end_age > s.settings.start_age and s.diagnosis["mechanisms"]


def test_the_schema_document_is_in_step_with_the_code():
    assert (ROOT / "docs" / "scenarios.md").read_text() == schema_markdown(), \
        "regenerate docs/scenarios.md from sagsim.inputs.scenario.schema_markdown()"


def test_defaults_apply_where_the_file_is_silent():
    s = parse_scenario({})
    assert (s.settings.start_age, s.settings.end_age, s.settings.step_years) == (40.0, 70.0, 1.0)
    assert [m.enabled for m in s.mechanisms] == [True, True, True, True, False]


def run_cli(*args, cwd):
    env_cmd = [sys.executable, "-m", "sagsim.cli", *args]
    return subprocess.run(env_cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_cli_refuses_a_bad_scenario_before_writing_anything(tmp_path):
    path = write(tmp_path, "[scenario]\nstep_years = 0\n")
    out = tmp_path / "out"
    proc = run_cli("age", str(path), "--out", str(out), "--quiet", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "step_years" in lines[0] and str(path) in lines[0]
    assert not out.exists()


def test_cli_age_writes_series_metrics_summary_and_diagnosis(tmp_path):
    path = write(tmp_path, """
[scenario]
name = "quick"
face = "procedural-coarse"
end_age = 50
step_years = 5
[diagnosis]
step_years = 10
mechanisms = ["skin", "fat_descent"]
""")
    out = tmp_path / "out"
    proc = run_cli("age", str(path), "--out", str(out), "--quiet", "--explain", "--no-pictures", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [float(r["age"]) for r in rows] == [40.0, 45.0, 50.0]
    assert float(rows[-1]["jowl_descent_mm"]) > 0.0
    marks = list(csv.DictReader(open(out / "landmarks.csv")))
    assert len(marks) == 3 * len({r["landmark"] for r in marks})
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ages"] == [40.0, 45.0, 50.0] and summary["scenario"]["name"] == "quick"
    diag = list(csv.DictReader(open(out / "diagnosis.csv")))
    jowl = next(r for r in diag if r["outcome"] == "jowl_descent_mm")
    assert float(jowl["skin"]) + float(jowl["fat_descent"]) == pytest.approx(float(jowl["total"]), abs=1e-9)
    import meshio
    with meshio.xdmf.TimeSeriesReader(str(out / "series.xdmf")) as reader:
        points, _ = reader.read_points_cells()
        assert reader.num_steps == 3
        t, pdata, _ = reader.read_data(2)
        assert t == 50.0
        change = pdata["change_from_start"]
        assert change.shape == points.shape and 1e-4 < np.abs(change).max() < 0.02  # moved, by mm
    assert "jowl_descent_mm" in proc.stdout
