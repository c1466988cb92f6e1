"""Property-based: generated malformed and boundary input files of every kind the commands read
(scenarios, thread plans, sweeps, calibrations and their measurements) and generated
command-line values meet the input contract:

- the reader returns a valid object or raises a SagsimError of one line that begins with the
  file's path (so it names the file, then the table and key); no other exception escapes;
- it answers within a stated bound (READ_BOUND_S), whatever counts or ranges the file asks for;
- a file the reader refuses, given to the command, exits 2 with that one line on stderr, no
  traceback, and leaves nothing in --out;
- every option of every command takes a value of its type and range, or exits 2 with one line
  naming the option.

A few dozen examples per kind run in the normal test command; `-m slow` runs many more.
"""
import argparse
import contextlib
import io
import json
import math
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagsim.aging.mechanisms import MECHANISMS, parameters
from sagsim.cli import build_parser, main
from sagsim.errors import SagsimError
from sagsim.inputs import load_calibration, load_plan, load_scenario, load_sweep, parse_sweep
from sagsim.inputs.plan import THREAD_FIELDS
from sagsim.inputs.scenario import SCENARIO_FIELDS
from sagsim.inputs.sweep import PARAMETER_FIELDS, SWEEP_FIELDS

#: the longest a reader may take on any file (seconds): reading validates and expands the design
#: only, it never solves; the largest sweep design allowed (100,000 runs) takes a few seconds
READ_BOUND_S = 20.0
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])

TRICKY = ["4 mm", "15 %/decade", "10 years", "-1 years", "1e9 years", "nan mm", "inf years", "abc", "../x", "/tmp/x",
          "", " ", "0", "1e400", "12 %/decade", "3 mm/decade", "0.5", "coarse", "default", "jowl_left", "tragus_left",
          "PDO", "superficial_fat", "threads=1:1e9", "pull=1:8", "grid", "lhs", "morris", "sobol", "aging", "python",
          "sagsim.sweep.functions:trivial", "subprocess:run", "s.toml", "\u00e9t\u00e9"]
SCALARS = st.one_of(st.booleans(), st.integers(-10, 10), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.sampled_from(TRICKY))
VALUES = st.one_of(SCALARS, SCALARS, st.lists(SCALARS, max_size=3))


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)  # a TOML basic string: control characters as \\uXXXX


def toml_text(doc: dict) -> str:
    """TOML of ``doc``: tables of scalars, arrays of tables ({"thread": [..]})."""
    lines = []
    for table, body in doc.items():
        items = body if isinstance(body, list) else [body]
        for item in items:
            lines.append(f"[[{table}]]" if isinstance(body, list) else f"[{table}]")
            for key, value in item.items():
                if isinstance(value, dict):
                    continue
                lines.append(f"{json.dumps(key)} = {toml_value(value)}")
            for key, value in item.items():
                if isinstance(value, dict):
                    lines.append(f"[{table}.{json.dumps(key)}]")
                    lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


def some_of(keys, values=VALUES, junk=True):
    """A table with some of ``keys`` (and now and then a key nobody knows)."""
    names = st.sampled_from(list(keys) + (["nonsense", "Name"] if junk else []))
    return st.dictionaries(names, values, max_size=len(keys) + 1)


def mostly(valid: dict, required=()):
    """A table whose keys are mostly there with valid values, each now and then missing or
    broken (any value), the ``required`` ones always valid: files near the valid ones, where
    bugs hide (unknown keys: some_of)."""
    def value(v):  # valid about nine times in ten
        return st.one_of(*[st.just(v)] * 9, VALUES)
    return st.fixed_dictionaries({k: st.just(v) for k, v in valid.items() if k in required},
                                 optional={k: value(v) for k, v in valid.items() if k not in required})


SCENARIOS = st.fixed_dictionaries(
    {"scenario": st.one_of(mostly({"name": "s", "face": "procedural-coarse", "start_age": 40, "end_age": "50 years",
                                   "step_years": 5, "unloaded": True, "formulation": "anp", "ligament_prestrain": 0.05,
                                   "force_tol": 1e-4}),
                           some_of([f.name for f in SCENARIO_FIELDS]))},
    optional={"mechanisms": st.dictionaries(
        st.sampled_from([m.name for m in MECHANISMS] + ["gravity"]),
        some_of([f.name for m in MECHANISMS for f in parameters(m)] + ["enabled"]), max_size=3),
        "diagnosis": some_of(["face", "step_years", "mechanisms"])})
THREAD = {"name": "a", "entry": "jowl_left", "anchor": "tragus_left", "cogs": 4, "cog_spacing": "6 mm",
          "pull": "3 mm", "material": "PDO", "layer": "superficial_fat"}
PLANS = st.fixed_dictionaries({"plan": mostly({"name": "p", "face": "procedural-coarse", "sweep": "pull=1:3"}),
                               "thread": st.lists(st.one_of(mostly(THREAD, required=("name", "entry", "anchor")),
                                                            some_of([f.name for f in THREAD_FIELDS] + ["via"])),
                                                  min_size=1, max_size=3)})
COUNTS = st.one_of(st.integers(-2, 12), st.integers(-10**12, 10**12), SCALARS)
PARAMETER = st.one_of(mostly({"range": ["5 years", "20 years"], "levels": 3}),
                      mostly({"values": ["5 years", "10 years"]}), mostly({"range": [0.01, 0.1], "log": True}),
                      some_of(list(PARAMETER_FIELDS)))
SWEEPS = st.fixed_dictionaries({
    "sweep": st.one_of(
        mostly({"kind": "aging", "base": "s.toml", "design": "grid", "name": "sw"}, required=("kind", "base")),
        mostly({"kind": "aging", "base": "s.toml", "design": "lhs", "samples": 8, "seed": 1},
               required=("kind", "base")),
        mostly({"kind": "aging", "base": "s.toml", "design": "morris", "trajectories": 2, "levels": 4},
               required=("kind", "base")),
        mostly({"kind": "python", "function": "sagsim.sweep.functions:trivial", "design": "sobol", "samples": 8},
               required=("kind", "function")),
        mostly({"kind": "python", "function": "subprocess:run", "design": "morris", "samples": 10**9,
                "trajectories": 10**9, "levels": 10**9}, required=("kind",)),
        some_of([f.name for f in SWEEP_FIELDS])),
    "parameters": st.dictionaries(st.sampled_from(["fat_descent.time_constant", "skin.laxity", "scenario.end_age",
                                                   "x", "nonsense.key"]), PARAMETER, max_size=3)},
    optional={"fixed": some_of(["scenario.face", "scenario.end_age", "skin.laxity"]),
              "sensitivity": some_of(["outputs"])})
BASE = '[scenario]\nname = "base"\nface = "procedural-coarse"\nend_age = 42\nstep_years = 2\n'
VALID_CALIBRATION = {"calibration": {"base": "s.toml", "measurements": "m.csv"},
                     "parameters": {"fat_descent.time_constant": {"initial": "10 years"}}}
NOISY_CALIBRATIONS = st.fixed_dictionaries({
    "calibration": mostly({"base": "s.toml", "measurements": "m.csv", "name": "c", "max_evaluations": 5,
                           "diff_step": 1e-3, "tolerance": 1e-6}, required=("base", "measurements")),
    "parameters": st.dictionaries(
        st.sampled_from(["fat_descent.time_constant", "ligament_laxity.stiffness_loss", "scenario.end_age",
                         "scenario.face", "nonsense.key"]),
        st.one_of(mostly({"initial": "10 years", "bounds": ["2 years", "100 years"], "log": True}),
                  some_of(["initial", "bounds", "log"])), min_size=1, max_size=2)},
    optional={"fixed": some_of(["scenario.face", "scenario.end_age", "skin.laxity"])})
CALIBRATIONS = st.one_of(st.just(VALID_CALIBRATION), NOISY_CALIBRATIONS)  # a valid file: its measurements are read
CELLS = st.one_of(st.sampled_from(["40", "42", "1.5", "-2", "", " ", "nan", "inf", "1e400", "abc", "0", '"4,2"']),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=6))
MEASUREMENTS = st.builds(
    lambda header, rows: "\n".join([header] + [",".join(r) for r in rows]) + "\n",
    st.sampled_from(["landmark,age,dx_mm,dy_mm,dz_mm,sigma_mm", "landmark,age,dy_mm", "landmark,age", "age,dy_mm",
                     "", "# a comment\nlandmark,age,dy_mm,sigma_mm"]),
    st.lists(st.tuples(st.sampled_from(["jowl_left", "oral_commissure_left", "nope", ""]), CELLS, CELLS, CELLS),
             max_size=4))


def read_within_contract(reader, path: Path):
    """Run ``reader(path)``: its object, or None after checking the refusal's contract."""
    t0 = time.perf_counter()
    try:
        return reader(path)
    except SagsimError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(str(path)), message
        return None
    finally:
        assert time.perf_counter() - t0 < READ_BOUND_S


def refused_by_the_command(argv: list, out: Path) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([*map(str, argv), "--out", str(out), "--quiet"])
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("sagsim: error: "), err.getvalue()
    assert "Traceback" not in err.getvalue() and not out.exists()


def check_scenario(tmp_path, doc):
    path = tmp_path / "s.toml"
    path.write_text(toml_text(doc), encoding="utf-8", errors="surrogatepass")
    if read_within_contract(load_scenario, path) is None:
        refused_by_the_command(["age", path, "--no-pictures"], tmp_path / "out")


def check_plan(tmp_path, doc):
    path = tmp_path / "p.toml"
    path.write_text(toml_text(doc), encoding="utf-8", errors="surrogatepass")
    if read_within_contract(load_plan, path) is None:
        refused_by_the_command(["lift", path, "--no-months"], tmp_path / "out")


def check_sweep(tmp_path, doc):
    (tmp_path / "s.toml").write_text(BASE)
    path = tmp_path / "sw.toml"
    path.write_text(toml_text(doc), encoding="utf-8", errors="surrogatepass")
    if read_within_contract(load_sweep, path) is None:
        refused_by_the_command(["sweep", path], tmp_path / "out")


def check_calibration(tmp_path, doc, measurements):
    (tmp_path / "s.toml").write_text(BASE)
    (tmp_path / "m.csv").write_text(measurements, encoding="utf-8", errors="surrogatepass")
    path = tmp_path / "c.toml"
    path.write_text(toml_text(doc), encoding="utf-8", errors="surrogatepass")
    t0 = time.perf_counter()
    try:
        load_calibration(path)
    except SagsimError as exc:  # the fault is in the calibration file or in its measurements
        message = str(exc)
        assert "\n" not in message and message.startswith((str(path), str(tmp_path / "m.csv"))), message
        refused_by_the_command(["calibrate", path], tmp_path / "out")
    assert time.perf_counter() - t0 < READ_BOUND_S + 10


@FAST
@given(doc=SCENARIOS)
def test_scenario_files_meet_the_input_contract(tmp_path_factory, doc):
    check_scenario(tmp_path_factory.mktemp("scenario"), doc)


@FAST
@given(doc=PLANS)
def test_plan_files_meet_the_input_contract(tmp_path_factory, doc):
    check_plan(tmp_path_factory.mktemp("plan"), doc)


@FAST
@given(doc=SWEEPS)
def test_sweep_files_meet_the_input_contract(tmp_path_factory, doc):
    check_sweep(tmp_path_factory.mktemp("sweep"), doc)


@FAST
@given(doc=CALIBRATIONS, measurements=MEASUREMENTS)
def test_calibration_files_meet_the_input_contract(tmp_path_factory, doc, measurements):
    check_calibration(tmp_path_factory.mktemp("calibration"), doc, measurements)


@FAST
@given(spec=st.one_of(st.text(max_size=20), st.builds(lambda k, a, b, c: f"{k}={a}:{b}" + (f":{c}" if c else ""),
                                                      st.sampled_from(["threads", "pull", "x"]), SCALARS, SCALARS,
                                                      st.one_of(st.none(), SCALARS))))
def test_lift_curve_specs_are_parsed_or_refused_in_one_line_and_bounded(spec):
    t0 = time.perf_counter()
    try:
        kind, values = parse_sweep(spec)
    except SagsimError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("--sweep: ")
    else:
        assert kind in ("threads", "pull") and 1 <= len(values) <= 100 and all(math.isfinite(v) for v in values)
    assert time.perf_counter() - t0 < 1.0


@FAST
@given(value=st.one_of(st.text(max_size=10), st.sampled_from(["nan", "inf", "-inf", "1e999", "NaN", " 4"])))
def test_a_cli_number_is_checked_on_entry(tmp_path_factory, value):
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None and math.isfinite(number):
        return  # a finite number is a valid target
    out = tmp_path_factory.mktemp("cli") / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as stop:
        main(["lift", "missing.toml", "--target-lift", value, "--out", str(out)])
    assert stop.value.code == 2 and "--target-lift" in err.getvalue() and not out.exists()


@pytest.mark.slow
@MANY
@given(scenario=SCENARIOS, plan=PLANS, sweep=SWEEPS, calibration=CALIBRATIONS, measurements=MEASUREMENTS)
def test_many_more_files_meet_the_input_contract(tmp_path_factory, scenario, plan, sweep, calibration, measurements):
    folder = tmp_path_factory.mktemp("many")
    check_scenario(folder, scenario)
    check_plan(folder, plan)
    check_sweep(folder, sweep)
    check_calibration(folder, calibration, measurements)


# -- every option of every command ------------------------------------------------------------------

def commands(parser, prefix=()):
    """(sub-command words, parser) of every command, the nested `bench` ones included."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, prefix + (name,))


def checked_options():
    """(command words, the arguments it needs anyway, option) of each option that takes a number or a choice."""
    cases = []
    for words, parser in commands(build_parser()):
        needed = [a for a in parser._actions if not isinstance(a, argparse._SubParsersAction)
                  and (not a.option_strings or a.required)]
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            continue  # a command of commands: its own have the options
        base = [*words, *[arg for a in needed for arg in ([a.option_strings[0]] if a.option_strings else [])
                          + ["x.vtu" if a.option_strings else "x.toml"]]]
        cases += [(tuple(base), a) for a in parser._actions if a.option_strings and (hasattr(a.type, "bounds") or a.choices)]
    return cases


CHECKED = checked_options()
OPTION_VALUES = st.one_of(st.text(max_size=8), st.integers(-10**12, 10**12).map(str),
                          st.floats(allow_nan=True, allow_infinity=True).map(repr),
                          st.sampled_from(["0", "1", "2", "60", "61", "1e9", "nan", "-inf", "coarse", "fine", "fem",
                                           "", " 3", "1.5", "0x10", "1_000"]))


def test_every_bounded_option_is_covered():
    names = {a.option_strings[-1] for _, a in CHECKED}
    assert {"--fps", "--workers", "--n", "--years", "--max-threads", "--steps", "--repeats", "--runs", "--resolution",
            "--target-lift", "--faces", "--core"} <= names, names


@FAST
@given(case=st.sampled_from(CHECKED), value=OPTION_VALUES)
def test_every_option_takes_its_type_within_its_bound_or_exits_2_in_one_line(case, value):
    base, action = case
    option = action.option_strings[-1]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = build_parser().parse_args([*base, f"{option}={value}"])
    except SystemExit as stop:
        lines = err.getvalue().strip().splitlines()
        assert stop.code == 2 and len(lines) == 1 and lines[0].startswith("sagsim: error: "), err.getvalue()
        assert option in lines[0] and "Traceback" not in err.getvalue()
        return
    got = getattr(args, action.dest)
    for v in got if isinstance(got, list) else [got]:
        if action.choices:
            assert v in action.choices
        else:
            low, high = action.type.bounds
            assert math.isfinite(v) and low <= v <= high, (option, value, v)
