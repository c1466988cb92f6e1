"""The `sagsim` command. Each sub-command is a thin shell over the library: it parses its
arguments, calls the public API, and turns a SagsimError into one line on stderr and exit
status 2."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import SagsimError
from .anatomy.faces import BUILT_IN_FACES
from .formulations import FORMULATIONS
from .version import __version__

#: the most LocalCluster workers one command may start (processes on this machine)
MAX_WORKERS = 256


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (it prints the usage and the error on two), exit 2."""

    def error(self, message: str):
        command = self.prog.removeprefix("sagsim").strip()
        self.exit(2, f"sagsim: error: {command + ': ' if command else ''}{message} (see `{self.prog} --help`)\n")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except SagsimError as exc:
        print(f"sagsim: error: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """Every command and option; each number is checked on entry against its type and a bound."""
    parser = Parser(prog="sagsim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"sagsim {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every Newton step")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="a face (or the slab) settled once under gravity, from its mesh")
    demo.add_argument("--out", type=Path, default=Path("results/demo"), help="results folder")
    demo.add_argument("--resolution", choices=["coarse", "default", "fine"], default="default",
                      help="of the real face, or of the slab")
    demo.add_argument("--face", help="instead of the real face: a built-in face by name (e.g. procedural-coarse) "
                      "or a model file written by `sagsim mesh` (.vtu)")
    demo.add_argument("--model", choices=["face", "slab"], default="face")
    demo.add_argument("--core", choices=["fem", "springs"], default="fem",
                      help="solver core: finite elements, or the calibrated mass-spring model (docs/springs.md)")
    demo.set_defaults(run=_run_demo)

    mesh = sub.add_parser("mesh", help="build a face and write it (VTU + JSON sidecar)")
    mesh.add_argument("--resolution", choices=["coarse", "default", "fine"], default="default")
    mesh.add_argument("--face", choices=["real", "procedural"], default="real",
                      help="the real face (the vendored head over its fitted skull), or the procedural test bed")
    mesh.add_argument("--variant", choices=["female", "male"], default="female", help="the real face's head")
    mesh.add_argument("--out", type=Path, required=True, help="the .vtu file to write (the .json goes beside it)")
    mesh.add_argument("--skin", type=Path, help="a subject's scan (STL, OBJ, PLY, VTK...): the real face (--variant, "
                      "--resolution) registered onto it, anatomy and landmarks carried along")
    mesh.add_argument("--units", choices=["mm", "cm", "m"], help="the scan's units (with --skin; default: metres, "
                      "and a scan whose size says otherwise is refused with a guess)")
    mesh.add_argument("--method", choices=["register", "offset"], default="register",
                      help="with --skin: register the real face (default), or grow plain layers under the surface")
    mesh.add_argument("--thickness", type=Path, help="JSON: layer name -> thickness in metres (--method offset)")
    mesh.add_argument("--landmarks", type=Path, help="JSON: landmark name -> [x, y, z] in the scan's units and frame, "
                      "or a face-landmark detector's 68 points (with --skin; three or more guide the registration)")
    mesh.add_argument("--depths", type=Path, help="JSON: landmark name -> the subject's measured soft-tissue depth in mm "
                      "(the real face or a registered scan)")
    mesh.add_argument("--skull", type=Path, help="the subject's skull surface (e.g. segmented from CT), in the scan's units "
                      "and frame: the registered face's bone is put there (with --skin)")
    mesh.set_defaults(run=_run_mesh)

    age = sub.add_parser("age", help="age a face from a scenario (TOML): metrics, time series, pictures")
    age.add_argument("scenario", type=Path, help="scenario file, e.g. examples/aging_default.toml")
    age.add_argument("--out", type=Path, help="results folder (default: results/<scenario name>); a run "
                     "interrupted there resumes")
    age.add_argument("--explain", action="store_true",
                     help="also split the sag between the mechanisms (Shapley values; 2^n extra runs)")
    age.add_argument("--no-pictures", action="store_true", help="skip the PNG pictures")
    age.add_argument("--render", action="store_true", help="then `sagsim render` the folder (pictures, animation, page)")
    age.add_argument("--quiet", action="store_true", help="no progress bar")
    age.add_argument("--keep-checkpoint", action="store_true",
                     help="keep DIR/checkpoint after a finished run (it is what an interrupted run resumes from)")
    age.set_defaults(run=_run_age)

    lift = sub.add_parser("lift", help="lift a face with a thread plan (TOML): repositioning, cog forces, lift map")
    lift.add_argument("plan", type=Path, help="thread plan, e.g. examples/lift_default.toml")
    lift.add_argument("--out", type=Path, help="results folder (default: results/<plan name>)")
    lift.add_argument("--quiet", action="store_true", help="no progress bar")
    lift.add_argument("--sweep", help="threads=1:10 (fan each thread into 1..10) or pull=1:8[:step] (mm): the curve")
    lift.add_argument("--assess", action="store_true", help="say whether threads suit this face and target")
    lift.add_argument("--target-lift", type=_between(0, 50), help="target lift in mm, 0-50 (default with --assess: "
                      "undo the aging)")
    lift.add_argument("--no-months", action="store_true", help="skip the months after (absorption, collagen)")
    lift.add_argument("--render", action="store_true", help="then `sagsim render` the folder (pictures, page)")
    lift.set_defaults(run=_run_lift)

    settle = sub.add_parser("settle", help="a face at rest upright, lying on the back or face down: where each "
                            "landmark goes")
    settle.add_argument("face", help="coarse, default, fine (the real face), procedural-coarse, procedural-default, "
                        "procedural-fine (the procedural test bed), or a model file written by `sagsim mesh` (.vtu)")
    settle.add_argument("--posture", choices=["upright", "supine", "prone"], default="supine")
    settle.add_argument("--out", type=Path, help="results folder (default: results/settle_<posture>)")
    settle.add_argument("--formulation", choices=FORMULATIONS, help="element formulation (default: an aging "
                        "scenario's default)")
    settle.set_defaults(run=_run_settle)

    render = sub.add_parser("render", help="pictures, animation, a 3D view and an HTML page for a results folder")
    render.add_argument("folder", type=Path, help="a folder written by `sagsim age` or `sagsim lift`")
    render.add_argument("--fps", type=_count(60), default=6, help="frames per second of the animation (1-60)")
    render.set_defaults(run=_run_render)

    sweep = sub.add_parser("sweep", help="many runs on Dask (grid, Latin hypercube, Morris, Sobol): table, "
                           "sensitivity indices")
    sweep.add_argument("sweep", type=Path, help="sweep file, e.g. examples/sweep_default.toml (docs/sweeps.md)")
    sweep.add_argument("--out", type=Path, help="results folder (default: results/<sweep name>); rerunning "
                       "there skips the finished runs")
    sweep.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                       "(default: a LocalCluster on this machine); only one you control: Dask unpickles what "
                       "it sends")
    sweep.add_argument("--workers", type=_count(MAX_WORKERS), help="LocalCluster worker processes (default: one per "
                       f"core, at most {MAX_WORKERS})")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--estimate", action="store_true", help="count the runs and time the first one here (twice: "
                       "with and without loading), print the sweep's time and disk estimate, run nothing else")
    sweep.add_argument("--allow-module", action="append", default=[], metavar="MODULE",
                       help="let a python sweep run functions of MODULE (code: its functions run on every worker; "
                       "without it only sagsim.sweep.functions may be named)")
    sweep.set_defaults(run=_run_sweep)

    calib = sub.add_parser("calibrate", help="fit scenario parameters to measured landmark displacements "
                           "(least squares on Dask)")
    calib.add_argument("calibration", type=Path, help="calibration file, e.g. examples/calibrate_default.toml")
    calib.add_argument("--out", type=Path, help="results folder (default: results/<calibration name>)")
    calib.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster); only "
                       "one you control: Dask unpickles what it sends")
    calib.add_argument("--workers", type=_count(MAX_WORKERS), help="LocalCluster worker processes (default: one per "
                       f"core, at most {MAX_WORKERS})")
    calib.add_argument("--quiet", action="store_true", help="no progress bar")
    calib.set_defaults(run=_run_calibrate)

    bench = sub.add_parser("bench", help="solver-core benchmarks (JSON records)")
    bench_sub = bench.add_subparsers(dest="target", required=True)
    fem = bench_sub.add_parser("fem", help="the sagging cube: our FEM core against scikit-fem")
    fem.add_argument("--n", type=_count(64), nargs="+", default=[8, 16, 24, 32], help="cells per cube side (1-64)")
    fem.add_argument("--json", type=Path, help="write the records to this file too")
    fem.add_argument("--no-peer", action="store_true", help="skip the scikit-fem runs")
    fem.add_argument("--linear-solver", default="auto", help="back end of sagsim's linear solves")
    fem.add_argument("--formulation", nargs="+", choices=FORMULATIONS, default=list(FORMULATIONS),
                     help="element formulations to run, each at every size (default: all)")
    fem.add_argument("--lam", type=_between(0.1, 1000), default=10.0,
                     help="Lamé's first parameter (mu = 1): 10 by default, 49 for Poisson's ratio 0.49")
    fem.set_defaults(run=_run_bench_fem)
    aging = bench_sub.add_parser("aging", help="the default aging run: seconds per simulated year by face size")
    aging.add_argument("--faces", nargs="+", choices=list(BUILT_IN_FACES), default=["coarse", "default"])
    aging.add_argument("--years", type=_between(1, 60), default=30.0, help="simulated years from age 40 (1-60)")
    aging.add_argument("--json", type=Path, help="write the records to this file too")
    aging.add_argument("--formulation", nargs="+", choices=FORMULATIONS,
                       help="element formulations to run each face in, one after the other (default: the aging default)")
    aging.set_defaults(run=_run_bench_aging)
    lift_b = bench_sub.add_parser("lift", help="thread lifts: a 10-thread plan and the 1..N thread-count sweep")
    lift_b.add_argument("--face", choices=list(BUILT_IN_FACES), default="default")
    lift_b.add_argument("--max-threads", type=_count(40), default=10, help="threads per side in the sweep (1-40)")
    lift_b.add_argument("--json", type=Path, help="write the figures to this file too")
    lift_b.set_defaults(run=_run_bench_lift)
    springs_b = bench_sub.add_parser("springs", help="the spring lattice of the sagging cube: CPU core, plain loop, GPU")
    springs_b.add_argument("--n", type=_count(128), nargs="+", default=[32, 64], help="cells per cube side (1-128)")
    springs_b.add_argument("--steps", type=_count(1_000_000), default=1000, help="symplectic Euler steps (at most "
                           "1,000,000)")
    springs_b.add_argument("--repeats", type=_count(100), default=3, help="timed repeats, the median reported (1-100)")
    springs_b.add_argument("--no-gpu", action="store_true", help="skip the GPU core even where numba.cuda finds a GPU")
    springs_b.add_argument("--json", type=Path, help="write the records to this file too")
    springs_b.add_argument("--agreement", action="store_true",
                           help="instead: static springs vs FEM on a face under gravity, at the landmarks")
    springs_b.add_argument("--face", choices=list(BUILT_IN_FACES), default="procedural-default", help="with --agreement")
    springs_b.set_defaults(run=_run_bench_springs)
    reg_b = bench_sub.add_parser("registration", help="scans made from the vendored heads (moved, scaled, decimated, "
                                 "noisy, holed, whole-head, male) registered: gaps, landmark errors, time")
    reg_b.add_argument("--resolution", choices=["coarse", "default"], default="coarse", help="of the template")
    reg_b.add_argument("--age", action="store_true", help="age each registered face 40 -> 70 in 10-year steps too")
    reg_b.add_argument("--json", type=Path, help="write the records to this file too")
    reg_b.set_defaults(run=_run_bench_registration)
    sweep_b = bench_sub.add_parser("sweep", help="sweep throughput with 1 and 2 Dask workers, overhead per task")
    sweep_b.add_argument("--runs", type=_count(1000), default=12, help="aging runs (coarse face) per measurement "
                         "(1-1000)")
    sweep_b.add_argument("--json", type=Path, help="write the figures to this file too")
    sweep_b.set_defaults(run=_run_bench_sweep)
    return parser


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def _between(low: float, high: float):
    """A finite number from ``low`` to ``high``."""
    def check(text: str) -> float:
        value = _finite_float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a number from {low:g} to {high:g}, got {text}")
        return value
    check.bounds = (low, high)
    return check


def _count(high: int):
    """An integer from 1 to ``high``: every count has a bound, so no option is a memory bomb
    or a run of days (the bounds are the tool's, stated in the help)."""
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer from 1 to {high}, got {text!r}") from None
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer from 1 to {high}, got {text}")
        return value
    check.bounds = (1, high)
    return check


# Each command imports its job when it runs: the jobs load numba kernels, pyvista and Dask,
# which `sagsim --help` and a mistyped option should not wait for.

def _run_demo(args: argparse.Namespace) -> int:
    from .jobs.demo import demo

    _print(demo(args.out, resolution=args.resolution, model=args.model, core=args.core, face=args.face)["report"])
    return 0


def _run_mesh(args: argparse.Namespace) -> int:
    from .jobs.mesh import mesh

    _print(mesh(args.out, args.resolution, face=args.face, variant=args.variant, skin=args.skin,
                thickness=args.thickness, landmarks=args.landmarks, units=args.units, method=args.method, depths=args.depths, skull=args.skull)["report"])
    return 0


def _run_age(args: argparse.Namespace) -> int:
    from .jobs.age import age, report

    outcome = age(args.scenario, args.out, explain=args.explain, pictures=not args.no_pictures,
                  progress=not args.quiet, keep_checkpoint=args.keep_checkpoint)
    _print(report(outcome))
    if args.render:
        _render(outcome.out)
    return 0


def _run_lift(args: argparse.Namespace) -> int:
    from .inputs import load_plan
    from .jobs.lift import lift

    plan = load_plan(args.plan)  # every plan error surfaces here, before any solve
    out = args.out or Path("results") / plan.plan.name
    summary = lift(plan, out, progress=not args.quiet, sweep=args.sweep or plan.sweep, assess=args.assess,
                   target_lift_mm=args.target_lift, months=not args.no_months)
    _print(summary["report"])
    if args.render:
        _render(out)
    return 0


def _run_settle(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .aging.settings import AgingSettings
    from .jobs.settle import settle

    settings = AgingSettings()
    if args.formulation:
        settings = replace(settings, formulation=args.formulation)
    _print(settle(args.face, args.posture, args.out or Path("results") / f"settle_{args.posture}", settings)["report"])
    return 0


def _run_render(args: argparse.Namespace) -> int:
    _render(args.folder, args.fps)
    return 0


def _render(folder: Path, fps: int = 6) -> None:
    from .render import render_folder
    files = render_folder(folder, fps=fps)
    print(f"rendered {len(files)} files; open {folder / 'render' / 'index.html'}")


def _run_sweep(args: argparse.Namespace) -> int:
    from .inputs import load_sweep
    from .sweep import run_sweep
    from .sweep.sensitivity import text_table

    logging.getLogger("distributed").propagate = args.verbose  # Dask's own log keeps its errors only
    # every fault of the file surfaces here, before anything is written
    sweep = load_sweep(args.sweep, allow_modules=tuple(args.allow_module))
    if args.estimate:
        return _estimate_sweep(sweep, args)
    result = run_sweep(sweep, args.out or Path("results") / sweep.name, scheduler=args.scheduler,
                       workers=args.workers, progress=not args.quiet)
    c = result.counts
    print(f"{sweep.name}: {c['runs']} runs ({sweep.design}, {sweep.kind}): {c['ran']} ran"
          + (f" on {result.workers} workers" if c["ran"] else "") + f", {c['skipped']} finished before; "
          f"{c['ok']} ok, {c['failed']} failed; {result.seconds:.1f} s")
    failed = result.table[result.table["status"] != "ok"]
    for _, row in failed.head(5).iterrows():
        print(f"  failed run {row['index']} ({row['run']}): {row['error']}")
    if result.sensitivity is not None:
        print(text_table(result.sensitivity))
    _print(result.notes)
    print("wrote " + ", ".join(str(p) for p in result.paths))
    return 0


def _estimate_sweep(sweep, args: argparse.Namespace) -> int:
    from .sweep import dask_client
    from .sweep.estimate import estimate
    from .sweep.execute import default_workers

    workers = args.workers or default_workers()
    if args.scheduler:  # the workers it has now
        with dask_client(args.scheduler) as client:
            workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
    found = estimate(sweep, args.out or Path("results") / sweep.name, workers)
    print(found.text())
    return 1 if found.error else 0


def _run_calibrate(args: argparse.Namespace) -> int:
    from .inputs import load_calibration
    from .sweep.calibrate import calibrate

    logging.getLogger("distributed").propagate = args.verbose  # Dask's own log keeps its errors only
    cal = load_calibration(args.calibration)  # every fault of the files surfaces here
    result = calibrate(cal, args.out or Path("results") / cal.name, scheduler=args.scheduler, workers=args.workers,
                       progress=not args.quiet)
    _print(result.summary["report"])
    return 0


def _print(lines) -> None:
    for line in lines:
        print(line)


# the benchmarks import numba kernels (and scikit-fem, psutil): loaded only when asked for
def _run_bench_fem(args: argparse.Namespace) -> int:
    from .bench import fem_cube
    return fem_cube.main(n_values=args.n, json_path=args.json, peer=not args.no_peer, linear_solver=args.linear_solver,
                         formulations=args.formulation, lam=args.lam)


def _run_bench_aging(args: argparse.Namespace) -> int:
    from .bench import aging_run
    return aging_run.main(faces=args.faces, years=args.years, json_path=args.json,
                          formulations=args.formulation or (None,))


def _run_bench_lift(args: argparse.Namespace) -> int:
    from .bench import lift_plans
    return lift_plans.main(face=args.face, max_threads=args.max_threads, json_path=args.json)


def _run_bench_registration(args: argparse.Namespace) -> int:
    from .bench import registration
    return registration.main(resolution=args.resolution, json_path=args.json, age=args.age)


def _run_bench_sweep(args: argparse.Namespace) -> int:
    from .bench import sweep_throughput
    return sweep_throughput.main(runs=args.runs, json_path=args.json)


def _run_bench_springs(args: argparse.Namespace) -> int:
    from .bench import spring_lattice
    if args.agreement:
        return spring_lattice.main_agreement(face=args.face, json_path=args.json)
    return spring_lattice.main(n_values=args.n, json_path=args.json, steps=args.steps, repeats=args.repeats,
                               gpu=not args.no_gpu)


if __name__ == "__main__":
    sys.exit(main())
