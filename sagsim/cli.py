"""The `sagsim` command. Each sub-command is a thin shell over the library: it parses its
arguments, calls the public API, and turns a SagsimError into one line on stderr and exit
status 2."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .version import __version__
from .errors import SagsimError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sagsim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"sagsim {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every Newton step")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the default job: the procedural face under gravity")
    demo.add_argument("--out", type=Path, default=Path("results/demo"), help="results folder")
    demo.add_argument("--resolution", choices=["coarse", "default", "fine"], default="default")
    demo.add_argument("--model", choices=["face", "slab"], default="face")
    demo.add_argument("--core", choices=["fem", "springs"], default="fem",
                      help="solver core: finite elements, or the calibrated mass-spring model (docs/springs.md)")
    demo.set_defaults(run=_run_demo)

    mesh = sub.add_parser("mesh", help="build the procedural face and write it (VTU + JSON sidecar)")
    mesh.add_argument("--resolution", choices=["coarse", "default", "fine"], default="default")
    mesh.add_argument("--out", type=Path, required=True, help="the .vtu file to write (the .json goes beside it)")
    mesh.add_argument("--skin", type=Path, help="build the layers under this skin surface (STL, OBJ, PLY, VTK...)")
    mesh.add_argument("--thickness", type=Path, help="JSON: layer name -> thickness in metres (with --skin)")
    mesh.add_argument("--landmarks", type=Path, help="JSON: landmark name -> [x, y, z] on the skin (with --skin)")
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
    lift.add_argument("--target-lift", type=float, help="target lift in mm (default with --assess: undo the aging)")
    lift.add_argument("--no-months", action="store_true", help="skip the months after (absorption, collagen)")
    lift.add_argument("--render", action="store_true", help="then `sagsim render` the folder (pictures, page)")
    lift.set_defaults(run=_run_lift)

    render = sub.add_parser("render", help="pictures, animation, a 3D view and an HTML page for a results folder")
    render.add_argument("folder", type=Path, help="a folder written by `sagsim age` or `sagsim lift`")
    render.add_argument("--fps", type=_positive_int, default=6, help="frames per second of the animation")
    render.set_defaults(run=_run_render)

    sweep = sub.add_parser("sweep", help="many runs on Dask (grid, Latin hypercube, Morris, Sobol): table, "
                           "sensitivity indices")
    sweep.add_argument("sweep", type=Path, help="sweep file, e.g. examples/sweep_default.toml (docs/sweeps.md)")
    sweep.add_argument("--out", type=Path, help="results folder (default: results/<sweep name>); rerunning "
                       "there skips the finished runs")
    sweep.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                       "(default: a LocalCluster on this machine)")
    sweep.add_argument("--workers", type=_positive_int, help="LocalCluster worker processes (default: one per core)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(run=_run_sweep)

    calib = sub.add_parser("calibrate", help="fit scenario parameters to measured landmark displacements "
                           "(least squares on Dask)")
    calib.add_argument("calibration", type=Path, help="calibration file, e.g. examples/calibrate_default.toml")
    calib.add_argument("--out", type=Path, help="results folder (default: results/<calibration name>)")
    calib.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    calib.add_argument("--workers", type=_positive_int, help="LocalCluster worker processes (default: one per core)")
    calib.add_argument("--quiet", action="store_true", help="no progress bar")
    calib.set_defaults(run=_run_calibrate)

    bench = sub.add_parser("bench", help="solver-core benchmarks (JSON records)")
    bench_sub = bench.add_subparsers(dest="target", required=True)
    fem = bench_sub.add_parser("fem", help="the sagging cube: our FEM core against scikit-fem")
    fem.add_argument("--n", type=_positive_int, nargs="+", default=[8, 16, 24, 32], help="cells per cube side")
    fem.add_argument("--json", type=Path, help="write the records to this file too")
    fem.add_argument("--no-peer", action="store_true", help="skip the scikit-fem runs")
    fem.add_argument("--linear-solver", default="auto", help="back end of sagsim's linear solves")
    fem.set_defaults(run=_run_bench_fem)
    aging = bench_sub.add_parser("aging", help="the default aging run: seconds per simulated year by face size")
    aging.add_argument("--faces", nargs="+", choices=["coarse", "default", "fine"], default=["coarse", "default"])
    aging.add_argument("--years", type=float, default=30.0, help="simulated years (from age 40)")
    aging.add_argument("--json", type=Path, help="write the records to this file too")
    aging.set_defaults(run=_run_bench_aging)
    lift_b = bench_sub.add_parser("lift", help="thread lifts: a 10-thread plan and the 1..N thread-count sweep")
    lift_b.add_argument("--face", choices=["coarse", "default", "fine"], default="default")
    lift_b.add_argument("--max-threads", type=_positive_int, default=10, help="threads per side in the sweep")
    lift_b.add_argument("--json", type=Path, help="write the figures to this file too")
    lift_b.set_defaults(run=_run_bench_lift)
    springs_b = bench_sub.add_parser("springs", help="the spring lattice of the sagging cube: CPU core, plain loop, GPU")
    springs_b.add_argument("--n", type=_positive_int, nargs="+", default=[32, 64], help="cells per cube side")
    springs_b.add_argument("--steps", type=_positive_int, default=1000, help="symplectic Euler steps")
    springs_b.add_argument("--repeats", type=_positive_int, default=3, help="timed repeats (the median is reported)")
    springs_b.add_argument("--no-gpu", action="store_true", help="skip the GPU core even where numba.cuda finds a GPU")
    springs_b.add_argument("--json", type=Path, help="write the records to this file too")
    springs_b.add_argument("--agreement", action="store_true",
                           help="instead: static springs vs FEM on a face under gravity, at the landmarks")
    springs_b.add_argument("--face", choices=["coarse", "default", "fine"], default="default", help="with --agreement")
    springs_b.set_defaults(run=_run_bench_springs)
    sweep_b = bench_sub.add_parser("sweep", help="sweep throughput with 1 and 2 Dask workers, overhead per task")
    sweep_b.add_argument("--runs", type=_positive_int, default=12, help="aging runs (coarse face) per measurement")
    sweep_b.add_argument("--json", type=Path, help="write the figures to this file too")
    sweep_b.set_defaults(run=_run_bench_sweep)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except SagsimError as exc:
        print(f"sagsim: error: {exc}", file=sys.stderr)
        return 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    summary = run_demo(args.out, resolution=args.resolution, model=args.model, core=args.core)
    for line in summary["report"]:
        print(line)
    return 0


def _run_age(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .aging.diagnosis import diagnose
    from .aging.run import run_aging
    from .inputs import check_against_model, load_scenario
    from .meshfile import load_face
    from .results.aging import write_results

    scenario = load_scenario(args.scenario)  # every scenario error surfaces here, before any solve
    model = load_face(scenario.face)
    check_against_model(scenario, model)
    diag_model = None
    if args.explain:
        diag_model = model if scenario.diagnosis["face"] == scenario.face else load_face(scenario.diagnosis["face"])
        check_against_model(scenario, diag_model)
    out = args.out or Path("results") / scenario.name
    result = run_aging(model, scenario.mechanisms, scenario.settings, out, progress=not args.quiet)
    diagnosis = None
    if args.explain:
        settings = replace(scenario.settings, step_years=scenario.diagnosis["step_years"])
        diagnosis = diagnose(diag_model, scenario.mechanisms, settings, scenario.diagnosis["mechanisms"],
                             progress=not args.quiet)
    paths = write_results(out, result, scenario, diagnosis)
    if not args.no_pictures:
        from .render.aging import write_pictures
        paths += write_pictures(out, result, diagnosis)
    if not args.keep_checkpoint:
        import shutil
        shutil.rmtree(out / "checkpoint", ignore_errors=True)  # the results hold everything now
    last = result.rows[-1]
    t = result.timings
    print(f"{scenario.name}: {model.name}, age {result.ages[0]:g} -> {result.ages[-1]:g} in "
          f"{len(result.ages) - 1} steps (start {t['start_s']:.1f} s, median {_median(t['steps_s']):.2f} s per step)")
    for key in ("jowl_descent_mm", "jawline_overhang_change_mm", "fat_moved_below_subnasale_ml",
                "fat_centroid_descent_mm", "max_skin_displacement_mm"):
        if key in last:
            print(f"  {key:32s} {last[key]:8.3f}")
    if diagnosis is not None:
        print(f"what causes the sag ({diag_model.name}, {settings.step_years:g}-year steps; Shapley values, "
              f"interaction = total - sum of each mechanism alone):")
        print(diagnosis.table([o for o in diagnosis.outcomes if o in ("jowl_descent_mm", "jawline_overhang_change_mm",
                               "fat_moved_below_subnasale_ml", "descent_mm:jowl_left",
                               "descent_mm:malar_eminence_left", "descent_mm:oral_commissure_left")]))
    print("wrote " + ", ".join(str(p) for p in paths))
    if args.render:
        _render(out)
    return 0


def _render(folder: Path, fps: int = 6) -> None:
    from .render import render_folder
    files = render_folder(folder, fps=fps)
    print(f"rendered {len(files)} files; open {folder / 'render' / 'index.html'}")


def _run_lift(args: argparse.Namespace) -> int:
    from .inputs import load_plan, parse_sweep
    from .meshfile import load_face
    from .threads.outputs import lift_from_plan

    plan = load_plan(args.plan)  # every plan error surfaces here, before any solve
    if args.sweep:
        parse_sweep(args.sweep)
    out = args.out or Path("results") / plan.plan.name
    summary = lift_from_plan(plan, out, load_face, progress=not args.quiet, sweep_spec=args.sweep or plan.sweep,
                             assess=args.assess, target_lift_mm=args.target_lift, months=not args.no_months)
    for line in summary["report"]:
        print(line)
    if args.render:
        _render(out)
    return 0


def _run_sweep(args: argparse.Namespace) -> int:
    from .inputs import load_sweep
    from .sweep import run_sweep
    from .sweep.sensitivity import text_table

    logging.getLogger("distributed").propagate = args.verbose  # Dask's own log keeps its errors only
    sweep = load_sweep(args.sweep)  # every fault of the file surfaces here, before anything is written
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
    for note in result.notes:
        print(note)
    print("wrote " + ", ".join(str(p) for p in result.paths))
    return 0


def _run_calibrate(args: argparse.Namespace) -> int:
    from .inputs import load_calibration
    from .sweep.calibrate import calibrate

    logging.getLogger("distributed").propagate = args.verbose  # Dask's own log keeps its errors only
    cal = load_calibration(args.calibration)  # every fault of the files surfaces here
    result = calibrate(cal, args.out or Path("results") / cal.name, scheduler=args.scheduler, workers=args.workers,
                       progress=not args.quiet)
    for line in result.summary["report"]:
        print(line)
    return 0


def _run_render(args: argparse.Namespace) -> int:
    _render(args.folder, args.fps)
    return 0


def _median(values) -> float:
    return float(sorted(values)[len(values) // 2]) if values else 0.0


def _run_mesh(args: argparse.Namespace) -> int:
    import dataclasses

    from .anatomy.face import FaceParams, build_face
    from .anatomy.mesh import quality_report
    from .meshfile import save_model

    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.skin is not None:
        from .anatomy.skin_import import layers_under_skin
        from .io import read_json, read_surface

        points, triangles = read_surface(args.skin)
        thickness = read_json(args.thickness) if args.thickness else None
        marks = read_json(args.landmarks) if args.landmarks else None
        model = layers_under_skin(points, triangles, thickness, landmarks=marks, where=str(args.skin),
                                  name=f"layers under {args.skin.name}")
        described = {"skin": str(args.skin), "thickness_m": thickness or "defaults", "landmarks": marks or {}}
    else:
        params = FaceParams()
        model = build_face(args.resolution, params)
        described = {"resolution": args.resolution, **dataclasses.asdict(params)}
    provenance = save_model(args.out, model, described)
    q = quality_report(model.nodes, model.tets)
    print(f"{args.out}: {model.n_nodes} nodes, {model.n_tets} tetrahedra, {len(model.springs)} ligament fibres, "
          f"min dihedral {q['min_dihedral_deg']:.1f} deg, max aspect {q['max_aspect_ratio']:.1f}, "
          f"hash {provenance['content_hash'][:12]}")
    return 0


# the benchmarks import numba kernels (and scikit-fem, psutil): loaded only when asked for
def _run_bench_fem(args: argparse.Namespace) -> int:
    from .bench import fem_cube
    return fem_cube.main(n_values=args.n, json_path=args.json, peer=not args.no_peer, linear_solver=args.linear_solver)


def _run_bench_aging(args: argparse.Namespace) -> int:
    from .bench import aging_run
    return aging_run.main(faces=args.faces, years=args.years, json_path=args.json)


def _run_bench_lift(args: argparse.Namespace) -> int:
    from .bench import lift_plans
    return lift_plans.main(face=args.face, max_threads=args.max_threads, json_path=args.json)


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
