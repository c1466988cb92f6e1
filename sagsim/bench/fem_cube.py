"""The sagging cube: sagsim's FEM core against scikit-fem, against the memory bandwidth, and
each element formulation against the converged answer.

Unit cube, n^3 cells of six tetrahedra, Neo-Hookean (mu = 1, lambda = 10 by default; 49 is
Poisson's ratio 0.49), nodes at z = 0 fixed, body force (0, -0.25, 0) per unit reference volume
in 5 equal load steps, full Newton to ||R|| <= 1e-8 ||R_first|| per step. Each solve runs in a
fresh process, so that peak memory is its own and JIT compilation is excluded (a tiny warm-up
solve runs first).

The converged corner displacement is not known in closed form: the benchmark extrapolates it
from its own refinement series (Richardson, :func:`richardson`) and reports each
formulation's error against it and its observed order of convergence.

Run it as `sagsim bench fem [--n N ...] [--formulation F ...] [--lam L] [--json FILE]`, or
`python -m sagsim.bench.fem_cube`.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..anatomy.mesh import cube_tets
from ..io import write_json
from ..materials import NeoHookean
from ..model import Layer, TissueModel
from ..solvers.fem import FEMSystem, NewtonOptions, solve_static
from ..solvers.linear import LinearSolver
from .bandwidth import triad_bandwidth

MU, LAM, BODY, STEPS, RTOL = 1.0, 10.0, (0.0, -0.25, 0.0), 5, 1e-8


def sagging_cube(n: int, lam: float = LAM):
    nodes, tets = cube_tets(n)
    # density 1 and "gravity" = the body force per unit volume
    return TissueModel(nodes=nodes, tets=tets, tet_layer=np.zeros(len(tets), np.int8),
                       materials={Layer.SKIN: NeoHookean(mu=MU, lam=lam, density=1.0)},
                       fixed=np.flatnonzero(nodes[:, 2] == 0.0), gravity=BODY, name=f"sagging cube n={n}")


def assembly_bytes(system) -> int:
    """The least memory traffic of one residual + tangent assembly with this data layout:
    the tangent written once, the residual written once, each element's connectivity,
    inverse reference edge matrix, volume, material index and scatter map read once, and the
    positions read once. Caches can only add to this; it is the floor the kernel is held to."""
    m = len(system.tets)
    per_elem = (system.tets.itemsize * system.tets.shape[1] + system.dminv.itemsize * 9 + system.vol0.itemsize
                + system.elem_mat.itemsize + system.kpos.itemsize * system.kpos.shape[1])
    return int(8 * system.pattern.nnz + 8 * system.ndof * 2 + m * per_elem)


def peak_rss_mb() -> float:
    """Peak resident memory of this process. VmHWM, not getrusage's ru_maxrss: on Linux a child
    inherits its parent's ru_maxrss, which would charge the bandwidth test's arrays to it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def sagsim_record(n: int, linear_solver: str = "auto", formulation: str = "standard", lam: float = LAM) -> dict:
    """One measured sagsim solve (call in a fresh process)."""
    opts = NewtonOptions(n_steps=STEPS, rtol=RTOL, linear_solver=linear_solver, formulation=formulation)
    solve_static(sagging_cube(2, lam), options=opts)  # JIT warm-up (cached compilation loads here)
    model = sagging_cube(n, lam)
    t0 = time.perf_counter()
    system = FEMSystem(model, formulation=formulation)
    t_setup = time.perf_counter() - t0
    state, log = solve_static(model, options=opts, system=system)
    t_total = time.perf_counter() - t0
    corner = int(np.flatnonzero((model.nodes == 1.0).all(axis=1))[0])
    # the kernel alone: residual + tangent at the solution, median of 7
    times = []
    x = state.x
    if system.quadratic:  # their midside nodes too
        x = np.concatenate([x, state.internal["midside"]])
    for _ in range(7):
        t = time.perf_counter()
        system.evaluate(x)
        times.append(time.perf_counter() - t)
    return {
        "n": n, "formulation": formulation, "lam": lam, "tets": int(model.n_tets), "ndofs": int(system.ndof),
        "newton_iterations": log.newton_iterations,
        "t_setup_s": t_setup,
        "t_assembly_s": log.total("t_assembly_s"), "t_solve_s": log.total("t_solve_s"),
        "t_total_s": t_total,
        "peak_rss_mb": peak_rss_mb(),
        "u_corner": (state.x[corner] - model.nodes[corner]).tolist(),
        "linear_solver": log.steps[-1].linear_method,
        "linear_iterations": sum(s.linear_iterations for s in log.steps),
        "assembly_median_s": float(np.median(times)),
        "assembly_bytes": assembly_bytes(system),
        "threads": int(__import__("numba").get_num_threads()),
    }


def peer_record(n: int, lam: float = LAM) -> dict:
    from .peer_skfem import solve_sagging_cube  # scikit-fem: the `bench` extra

    solve_sagging_cube(2)  # warm-up, like ours
    out = solve_sagging_cube(n, mu=MU, lam=lam, body=BODY, nsteps=STEPS, rtol=RTOL)
    return {"peer_t_total_s": out["t_total_s"], "peer_u_corner": list(map(float, out["u_corner"])),
            "peer_newton_iterations": out["newton_iterations"], "peer_linear_solver": out["linear_solver"],
            "peer_t_assembly_s": out.get("t_assembly_s"), "peer_t_solve_s": out.get("t_solve_s"),
            "peer_peak_rss_mb": peak_rss_mb()}


def _in_subprocess(kind: str, n: int, linear_solver: str, formulation: str = "standard", lam: float = LAM) -> dict:
    cmd = [sys.executable, "-m", __spec__.name, "--record", kind, str(n), linear_solver, formulation, repr(lam)]
    env = dict(os.environ)
    # both codes use pyamg and scipy: BLAS threads on top of numba's oversubscribe 2 cores
    # (one AMG solve of the peer took 84 s instead of 5 s that way)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} n={n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fitted_exponent(sizes, values) -> float:
    """Slope of log(value) against log(size): time ~ size^slope."""
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def richardson(sizes, values) -> tuple[float, float]:
    """The limit and observed order of a refinement series ``values`` at ``sizes`` (cells per
    side, three or more, increasing): from the three finest, u(n) = u* + C n^-p solved for p
    and u* (the ratio of successive differences gives p). Returns (u*, p); p is NaN and u* the
    finest value where the differences do not shrink monotonically."""
    n = np.asarray(sizes, float)[-3:]
    u = np.asarray(values, float)[-3:]
    if len(n) < 3:
        return float(u[-1]), float("nan")
    d1, d2 = u[1] - u[0], u[2] - u[1]
    if d1 == 0.0 or d2 / d1 <= 0.0 or abs(d2) >= abs(d1):
        return float(u[-1]), float("nan")
    ratio = d1 / d2
    # solve (n0^-p - n1^-p) / (n1^-p - n2^-p) = ratio for p by bisection (monotone in p)
    f = lambda p: (n[0] ** -p - n[1] ** -p) / (n[1] ** -p - n[2] ** -p) - ratio  # noqa: E731
    lo, hi = 0.05, 8.0
    if f(lo) * f(hi) > 0:
        return float(u[-1]), float("nan")
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(lo) * f(mid) > 0 else (lo, mid)
    p = 0.5 * (lo + hi)
    C = d2 / (n[2] ** -p - n[1] ** -p)
    return float(u[2] - C * n[2] ** -p), float(p)


def accuracy_summary(records: list[dict]) -> list[str]:
    """Each formulation's corner displacement u_y against the converged reference: the
    Richardson limit of the series whose finest answer is nearest its own limit (the most
    converged), with the spread of the other series' limits as its uncertainty."""
    series = {}
    for r in records:
        series.setdefault(r["formulation"], []).append((r["n"], r["u_corner"][1]))
    limits = {}
    for f, pts in series.items():
        pts.sort()
        if len(pts) >= 3:
            limit = richardson(*zip(*pts))
            if np.isfinite(limit[1]):  # a series not yet in its asymptotic range extrapolates nothing
                limits[f] = limit
    if not limits:
        return ["# accuracy: three or more sizes per formulation are needed for a converged reference"]
    best = min(limits, key=lambda f: abs(series[f][-1][1] - limits[f][0]))
    ref = limits[best][0]
    spread = max(abs(v[0] - ref) for v in limits.values())
    lines = [f"# converged reference u_y(1,1,1) = {ref:.5f} (Richardson limit of {best} at n = "
             f"{', '.join(str(n) for n, _ in series[best][-3:])}; other series' limits within {spread:.1e})"]
    for f, pts in series.items():
        p = limits.get(f, (None, float("nan")))[1]
        errs = ", ".join(f"n={n}: {v:.5f} ({100 * (v - ref) / ref:+.2f} %)" for n, v in pts)
        lines.append(f"#   {f:8s} observed order {p:.2f}; {errs}")
    return lines


def speed_summary(records: list[dict]) -> list[str]:
    """Full-solve time of each formulation against the standard element's at each size, and
    at the same unknowns where the run has them (quadratic elements at n have the nodes, so
    the dofs, of linear ones at 2n)."""
    standard = {r["n"]: r for r in records if r["formulation"] == "standard"}
    by_dofs = {r["ndofs"]: r for r in standard.values()}
    lines = []
    for r in records:
        if r["formulation"] == "standard":
            continue
        if r["n"] in standard:
            base = standard[r["n"]]["t_total_s"]
            lines.append(f"#   n={r['n']} {r['formulation']}: {r['t_total_s']:.2f} s, "
                         f"{r['t_total_s'] / base:.2f} x the standard element's {base:.2f} s")
        same = by_dofs.get(r["ndofs"])
        if same is not None and same["n"] != r["n"]:
            lines.append(f"#   n={r['n']} {r['formulation']}, {r['ndofs']:,} dofs: {r['t_total_s'] / same['t_total_s']:.2f} x "
                         f"the standard element at the same dofs (n={same['n']}, {same['t_total_s']:.2f} s)")
    return ["# full solve against the standard element:"] + lines if lines else []


def main(n_values=(8, 16, 24, 32), json_path: Path | None = None, peer: bool = True,
         linear_solver: str = "auto", formulations=("standard",), lam: float = LAM) -> int:
    LinearSolver(linear_solver)  # an unknown or missing back end: one line here, not a traceback from a subprocess
    if peer and importlib.util.find_spec("skfem") is None:
        peer = False
        print("# scikit-fem is not installed (pip install 'sagsim[bench]'): the peer runs are skipped", file=sys.stderr)
    bandwidth = triad_bandwidth()
    print(f"# triad bandwidth {bandwidth / 1e9:.1f} GB/s (median of 15, all threads)", file=sys.stderr)
    records = []
    for n in n_values:
        peer_rec = _in_subprocess("peer", n, linear_solver, lam=lam) if peer else None
        for formulation in formulations:
            rec = _in_subprocess("sagsim", n, linear_solver, formulation, lam)
            rec["triad_GBps"] = bandwidth / 1e9
            rec["assembly_floor_s"] = rec["assembly_bytes"] / bandwidth
            rec["assembly_over_floor"] = rec["assembly_median_s"] / rec["assembly_floor_s"]
            if peer_rec is not None:
                rec.update(peer_rec)
                u, v = np.array(rec["u_corner"]), np.array(rec["peer_u_corner"])
                rec["u_corner_rel_diff"] = float(np.linalg.norm(u - v) / np.linalg.norm(v))
                rec["speedup_vs_peer"] = rec["peer_t_total_s"] / rec["t_total_s"]
            records.append(rec)
            print(json.dumps(rec), flush=True)
    for formulation in formulations:
        own = [r for r in records if r["formulation"] == formulation]
        if len(own) >= 3:
            tets = [r["tets"] for r in own]
            per_it = lambda k: [r[k] / r["newton_iterations"] for r in own]  # noqa: E731
            print(f"# {formulation}: time per Newton iteration ~ tets^p: assembly p = "
                  f"{fitted_exponent(tets, per_it('t_assembly_s')):.2f}, linear solve p = "
                  f"{fitted_exponent(tets, per_it('t_solve_s')):.2f} (n = {list(n_values)})", file=sys.stderr)
    for line in accuracy_summary(records) + speed_summary(records):
        print(line, file=sys.stderr)
    if json_path is not None:
        write_json(Path(json_path), records)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--record":
        kind, n = sys.argv[2], int(sys.argv[3])
        solver = sys.argv[4] if len(sys.argv) > 4 else "auto"
        formulation = sys.argv[5] if len(sys.argv) > 5 else "standard"
        lam = float(sys.argv[6]) if len(sys.argv) > 6 else LAM
        rec = sagsim_record(n, solver, formulation, lam) if kind == "sagsim" else peer_record(n, lam)
        print(json.dumps(rec))
    else:
        sys.exit(main([int(a) for a in sys.argv[1:]] or (8, 16, 24, 32)))
