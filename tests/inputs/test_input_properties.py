"""Property-based: generated malformed and boundary input files of every kind the commands read
(scenarios, thread plans, sweeps) and generated command-line values meet the input contract:

- the reader returns a valid object or raises a SagsimError of one line that begins with the
  file's path (so it names the file, then the table and key); no other exception escapes;
- it answers within a stated bound (READ_BOUND_S), whatever counts or ranges the file asks for;
- a file the reader refuses, given to the command, exits 2 with that one line on stderr, no
  traceback, and leaves nothing in --out.

A few dozen examples per kind run in the normal test command; `-m slow` runs many more.
"""
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
from sagsim.cli import main
from sagsim.errors import SagsimError
from sagsim.inputs import load_plan, load_scenario, load_sweep, parse_sweep
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
    return json.dumps(v)  # a TOML basic string (a lone surrogate makes invalid TOML: also a refusal)


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


SCENARIOS = st.fixed_dictionaries({"scenario": some_of([f.name for f in SCENARIO_FIELDS])},
                                  optional={"mechanisms": st.dictionaries(
                                      st.sampled_from([m.name for m in MECHANISMS] + ["gravity"]),
                                      some_of([f.name for m in MECHANISMS for f in parameters(m)] + ["enabled"]),
                                      max_size=3),
                                      "diagnosis": some_of(["face", "step_years", "mechanisms"])})
PLANS = st.fixed_dictionaries({"plan": some_of(["name", "face", "sweep", "aging"]),
                               "thread": st.lists(some_of([f.name for f in THREAD_FIELDS] + ["entry", "anchor", "via"]),
                                                  max_size=3)})
COUNTS = st.one_of(st.integers(-2, 12), st.integers(-10**12, 10**12), SCALARS)
SWEEPS = st.fixed_dictionaries({
    "sweep": st.fixed_dictionaries({}, optional={
        "kind": st.sampled_from(["aging", "python", "lift", "x"]), "base": st.sampled_from(["s.toml", "none.toml", 3]),
        "design": st.sampled_from(["grid", "lhs", "morris", "sobol", "other"]), "samples": COUNTS,
        "trajectories": COUNTS, "levels": COUNTS, "seed": COUNTS, "name": VALUES,
        "function": st.sampled_from(["sagsim.sweep.functions:trivial", "subprocess:run", "os:system", "x"])}),
    "parameters": st.dictionaries(
        st.sampled_from(["fat_descent.time_constant", "skin.laxity", "ligament_laxity.stiffness_loss",
                         "scenario.end_age", "x", "nonsense.key"]),
        st.fixed_dictionaries({}, optional={"range": st.lists(SCALARS, max_size=3), "values": st.lists(SCALARS, max_size=4),
                                            "levels": COUNTS, "log": SCALARS, "unit": SCALARS}), max_size=3)},
    optional={"fixed": some_of(["scenario.face", "scenario.end_age", "skin.laxity"]),
              "sensitivity": some_of(["outputs"])})
BASE = '[scenario]\nname = "base"\nface = "coarse"\nend_age = 42\nstep_years = 2\n'


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
@given(scenario=SCENARIOS, plan=PLANS, sweep=SWEEPS)
def test_many_more_files_meet_the_input_contract(tmp_path_factory, scenario, plan, sweep):
    folder = tmp_path_factory.mktemp("many")
    check_scenario(folder, scenario)
    check_plan(folder, plan)
    check_sweep(folder, sweep)
