"""Inputs that must not run, write or read what the user did not mean: names that would write
outside results/, files that are not UTF-8 (or carry a byte-order mark), threads that cannot be
told apart, numbers on the command line that are not finite."""
import subprocess
import sys

import pytest

from sagsim.errors import ScenarioError
from sagsim.inputs import load_plan, load_scenario, load_sweep

SCENARIO = '[scenario]\nname = {name}\nface = "procedural-coarse"\nend_age = 42\nstep_years = 2\n'
THREAD = '[[thread]]\nname = {name}\nentry = "jowl_left"\nanchor = "tragus_left"\n'


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sagsim.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.mark.parametrize("name", ['"../../escaped"', '"/tmp/escaped"', '"."', '""', '" padded "', '"a/b"',
                                  '".hidden"'])
def test_a_scenario_name_that_is_not_one_folder_name_is_refused(tmp_path, name):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(name=name))
    with pytest.raises(ScenarioError, match=r"s\.toml: \[scenario\] name: expected a name for the results folder"):
        load_scenario(path)


def test_the_age_command_refuses_an_escaping_name_before_writing_anything(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "s.toml").write_text(SCENARIO.format(name='"../escaped"'))
    proc = cli("age", "s.toml", "--quiet", "--no-pictures", cwd=work)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "[scenario] name" in proc.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["s.toml", "work"]


def test_plan_names_and_thread_names(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[plan]\nname = 5\nface = "procedural-coarse"\n' + THREAD.format(name='"a"'))
    with pytest.raises(ScenarioError, match=r"\[plan\] name: expected a name"):
        load_plan(path)
    path.write_text('[plan]\nface = "procedural-coarse"\n' + THREAD.format(name="5"))
    with pytest.raises(ScenarioError, match=r"\[\[thread\]\] 1 name: expected a name \(text\), got 5"):
        load_plan(path)
    path.write_text('[plan]\nface = "procedural-coarse"\n' + THREAD.format(name='"a"') + THREAD.format(name='"a"'))
    with pytest.raises(ScenarioError, match=r"\[\[thread\]\] name: 'a' names two threads"):
        load_plan(path)
    path.write_text('[plan]\nface = "procedural-coarse"\n' + THREAD.format(name='"a"') + THREAD.format(name='"b"'))
    assert [t.name for t in load_plan(path).plan.threads] == ["a", "b"] and load_plan(path).plan.name == "p"


def test_a_sweep_name_that_escapes_is_refused(tmp_path):
    (tmp_path / "s.toml").write_text(SCENARIO.format(name='"base"'))
    path = tmp_path / "sw.toml"
    path.write_text('[sweep]\nname = "../../x"\nkind = "aging"\nbase = "s.toml"\ndesign = "grid"\n'
                    '[parameters."fat_descent.time_constant"]\nrange = ["5 years", "10 years"]\nlevels = 2\n')
    with pytest.raises(ScenarioError, match=r"sw\.toml: \[sweep\] name: expected a name for the results folder"):
        load_sweep(path)


def test_a_byte_order_mark_is_accepted_and_other_encodings_are_named(tmp_path):
    text = SCENARIO.format(name='"bom"')
    plain, bom, latin = tmp_path / "plain.toml", tmp_path / "bom.toml", tmp_path / "latin.toml"
    plain.write_text(text, encoding="utf-8")
    bom.write_text(text, encoding="utf-8-sig")
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf")
    a, b = load_scenario(bom).record(), load_scenario(plain).record()
    assert a.pop("file") != b.pop("file") and a == b
    latin.write_bytes((text + 'description = "d\xe9j\xe0 vu"\n').encode("latin-1"))
    with pytest.raises(ScenarioError, match=r"latin\.toml: the scenario is not UTF-8 text: byte \d+ \(line 6\) "
                                            r"is 0xe9; save it as UTF-8"):
        load_scenario(latin)
    proc = cli("age", latin, "--quiet")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "0xe9" in proc.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "abc"])
def test_a_target_lift_that_is_not_a_finite_number_is_refused_on_entry(tmp_path, value):
    proc = cli("lift", tmp_path / "missing.toml", "--target-lift", value, "--out", tmp_path / "out")
    assert proc.returncode == 2 and "--target-lift" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("spec", ["pull=1:1e9", "threads=1:1e9", "pull=1:inf", "threads=1:41", "pull=1:2:0.001"])
def test_a_lift_curve_is_bounded_before_it_is_built(spec):
    from sagsim.inputs import parse_sweep
    with pytest.raises(ScenarioError, match=r"^--sweep: "):
        parse_sweep(spec)


def test_the_largest_curves_allowed_still_parse():
    from sagsim.inputs import parse_sweep
    from sagsim.inputs.plan import MAX_CURVE_POINTS, MAX_FAN
    assert parse_sweep(f"threads=1:{MAX_FAN}")[1][-1] == MAX_FAN
    assert len(parse_sweep(f"pull=1:{MAX_CURVE_POINTS}")[1]) == MAX_CURVE_POINTS


@pytest.mark.parametrize("design, extra, key", [
    ("morris", "trajectories = 1000000000\n", r"\[sweep\] trajectories: expected at most 100000"),
    ("lhs", "samples = 1000000000\n", r"\[sweep\] samples: expected at most 100000"),
    ("morris", "trajectories = 2\nlevels = 1000000000\n", r"\[sweep\] levels: expected at most 100000"),
    ("grid", "", r"levels: expected an integer from 2 to 100000, got 1000000000"),
    ("grid-product", "", r"the grid design would make 1e\+06 runs; expected at most 100000"),
])
def test_a_sweep_that_would_make_too_many_runs_is_refused_before_any_is_built(tmp_path, design, extra, key):
    (tmp_path / "s.toml").write_text(SCENARIO.format(name='"base"'))
    levels = {"grid": 1_000_000_000, "grid-product": 1000}.get(design, 4)
    params = "".join(f'[parameters."{k}"]\nrange = ["{lo}", "{hi}"]\nlevels = {levels}\n'
                     for k, lo, hi in (("fat_descent.time_constant", "5 years", "10 years"),
                                       ("skin.laxity", "0.5 %/decade", "3 %/decade")))
    path = tmp_path / "sw.toml"
    path.write_text(f'[sweep]\nkind = "aging"\nbase = "s.toml"\ndesign = "{design.split("-")[0]}"\n{extra}'
                    + (params if design.startswith("grid") else params.replace(f"levels = {levels}\n", "")))
    with pytest.raises(ScenarioError, match=key):
        load_sweep(path)


def test_a_sweep_file_alone_cannot_make_sagsim_run_other_code(tmp_path):
    path = tmp_path / "evil.toml"
    path.write_text('[sweep]\nkind = "python"\nfunction = "subprocess:run"\ndesign = "grid"\n'
                    '[parameters.args]\nvalues = ["touch pwned"]\n')
    with pytest.raises(ScenarioError, match=r"\[sweep\] function: 'subprocess' is not a module this sweep may run; "
                                            r"expected a function of sagsim.sweep.functions, or name the module on "
                                            r"the command line with --allow-module subprocess"):
        load_sweep(path)
    proc = cli("sweep", path, "--out", tmp_path / "out", "--quiet", cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "--allow-module" in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "pwned").exists()


def test_a_module_allowed_on_the_command_line_may_be_named(tmp_path):
    (tmp_path / "mine.py").write_text("def square(p):\n    return {'y': p['x'] ** 2}\n\ndef _hidden(p):\n    return {}\n")
    path = tmp_path / "mine.toml"
    path.write_text('[sweep]\nkind = "python"\nfunction = "mine:square"\ndesign = "grid"\n'
                    '[parameters.x]\nvalues = [1.0, 2.0]\n')
    sys.path.insert(0, str(tmp_path))
    try:
        assert load_sweep(path, allow_modules=("mine",)).function == "mine:square"
        with pytest.raises(ScenarioError, match=r"expected a public function, got 'mine:_hidden'"):
            path.write_text(path.read_text().replace("mine:square", "mine:_hidden"))
            load_sweep(path, allow_modules=("mine",))
    finally:
        sys.path.remove(str(tmp_path))
    # the registered checks of the machinery need no permission
    path.write_text(path.read_text().replace("mine:_hidden", "sagsim.sweep.functions:trivial"))
    assert load_sweep(path).function == "sagsim.sweep.functions:trivial"


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_an_empty_scenario_is_refused_and_a_bare_table_means_every_default(tmp_path, text):
    path = tmp_path / "empty.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"empty\.toml: the scenario is empty; expected at least a \[scenario\]"):
        load_scenario(path)
    path.write_text("[scenario]\n")
    assert load_scenario(path).settings.end_age == 70.0  # every default, asked for
