"""The spring lattice of the sagging cube: sagsim's mass-spring core against a plain loop,
and against the memory bandwidth; and the agreement of the spring and FEM cores on a face.

Lattice: the mesh of `sagsim bench fem` (unit cube, n^3 cells of six tetrahedra), a spring on
every unique tetrahedron edge, stiffness 1, rest length = initial length, unit masses, damping
0.1 per node, gravity (0, -1e-3, 0), nodes at z = 0 fixed; symplectic Euler, dt = 0.01, 1000
steps. Each record: n, springs, spring_updates_per_s (springs x steps / wall time, median of
the repeats), x_corner (the node at (1,1,1) after the steps), for the CPU core ("cpu": its
automatic layout, bands on this grid; "cpu_rows": the scattered rows of an unstructured mesh),
for a straightforward single-loop numba reference in the same run, and for the GPU core when
numba.cuda finds a GPU. JIT compilation is excluded (a warm-up runs first).

Run it as `sagsim bench springs [--n N ...] [--json FILE]`, or `python -m sagsim.bench.spring_lattice`;
`sagsim bench springs --agreement [--face default]` runs the face comparison instead.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np

from ..anatomy.mesh import cube_tets
from ..solvers.springs import SpringSystem, explicit_steps, unique_edges
from ..solvers.springs.kernels.forces import reference_steps
from .bandwidth import triad_bandwidth

# The lattice benchmark runs on a GPU machine's bare image (numpy, scipy, numba, pytest): it
# imports only the spring core at load; the face comparison's FEM core, mesh files (meshio) and
# JSON writer are imported by the functions that use them.

STIFFNESS, MASS, DAMPING, GRAVITY, DT, STEPS = 1.0, 1.0, 0.1, (0.0, -1e-3, 0.0), 0.01, 1000


def spring_lattice(n: int, reorder: str = "auto", layout: str = "auto"):
    """The sagging-cube lattice as a SpringSystem (and its edges, in the reference's order)."""

    nodes, tets = cube_tets(n)
    edges, _ = unique_edges(tets, len(nodes))
    rest = np.linalg.norm(nodes[edges[:, 1]] - nodes[edges[:, 0]], axis=1)
    system = SpringSystem(nodes, edges, np.full(len(edges), STIFFNESS), rest, np.full(len(nodes), MASS),
                          np.flatnonzero(nodes[:, 2] == 0.0), gravity=GRAVITY, damping_rate=DAMPING / MASS,
                          reorder=reorder, layout=layout, name=f"spring lattice n={n}")
    return system, edges, rest


def corner_index(nodes: np.ndarray) -> int:
    return int(np.flatnonzero((nodes == 1.0).all(axis=1))[0])


def lattice_bytes(system) -> int:
    """The least memory traffic of one fused step with this layout. Rows: each spring's int32
    partner index, float64 stiffness and rest length read once. Bands: each band's stiffness
    and rest length per node (its padding included) read once, the springs outside the bands
    as rows. Per node: its row pointer, position and velocity read and written once, inverse
    mass, damping rate and external force read once. The force accumulator of a slab lives in
    cache (the slab's nodes move right after its springs are done), so it is not counted."""
    row_spring = system.k_b.itemsize + system.k_stiffness.itemsize + system.k_rest.itemsize
    per_node = system.k_row_ptr.itemsize + 8 * (3 * 2 + 3 * 2 + 1 + 1 + 3)
    if system.layout == "bands":
        springs = system.bands.nbytes
    else:
        springs = system.n_springs * row_spring
    return int(springs + system.n_nodes * per_node)


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def cpu_records(n: int, steps: int = STEPS, repeats: int = 3) -> list[dict]:
    """The reference loop and the CPU core on the n-lattice, alternating repeats in one run:
    the core as it runs (its automatic layout: bands here) and on scattered rows (the layout a
    mesh without a grid order gets), so that one run shows what the layout is worth."""
    system, edges, rest = spring_lattice(n)
    rows, _, _ = spring_lattice(n, layout="rows")
    nodes = system.reference
    corner = corner_index(nodes)
    S = len(edges)
    a, b = edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64)
    k = np.full(S, STIFFNESS)
    mass = np.full(len(nodes), MASS)
    fixed = nodes[:, 2] == 0.0
    damp = np.full(len(nodes), DAMPING)
    g = np.array(GRAVITY)

    def run_reference(n_steps):
        x, v = nodes.copy(), np.zeros_like(nodes)
        reference_steps(x, v, a, b, k, rest, mass, fixed, damp, g, DT, n_steps)
        return x

    def core(s):
        inv_m = s.k_inv_m
        gamma = np.where(inv_m > 0, DAMPING / MASS, 0.0)
        f_ext = s.external_force()

        def run(n_steps):
            x, v = s.k_X.copy(), np.zeros_like(s.k_X)
            F = np.zeros_like(x)
            explicit_steps(s, x, v, F, f_ext, inv_m, gamma, DT, DT, 0.0, n_steps)
            return s.to_model(x)
        return run

    runs = {"reference": run_reference, "cpu": core(system), "cpu_rows": core(rows)}
    systems = {"cpu": system, "cpu_rows": rows}
    for fn in runs.values():
        fn(2)  # compile (or load the cache)
    out = {name: [] for name in runs}
    res = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            t = time.perf_counter()
            res[name] = fn(steps)
            out[name].append(time.perf_counter() - t)
    records = []
    for name in runs:
        t = float(np.median(out[name]))
        rec = {"n": n, "core": name, "springs": S, "nodes": len(nodes), "steps": steps,
               "spring_updates_per_s": S * steps / t, "t_median_s": t, "t_all_s": out[name],
               "x_corner": res[name][corner].tolist(), "threads": int(numba.get_num_threads())}
        if name in systems:
            s = systems[name]
            rec["layout"] = s.layout
            rec["x_corner_diff_vs_reference"] = float(np.abs(res[name][corner] - res["reference"][corner]).max())
            rec["speedup_vs_reference"] = S * steps / t / records[0]["spring_updates_per_s"]
            rec["bytes_per_step"] = lattice_bytes(s)
            rec["bytes_per_spring_update"] = lattice_bytes(s) / S
            rec["slabs"] = s.n_slabs
        records.append(rec)
    return records


def gpu_record(n: int, steps: int = STEPS, batch: int = 1, repeats: int = 3) -> dict | None:
    """The GPU core on the n-lattice (None when numba.cuda finds no GPU)."""
    from ..solvers.springs.kernels import cuda as spring_cuda

    if not spring_cuda.gpu_available() or spring_cuda._simulated():  # the simulator is for tests, not timings
        return None
    system, edges, _ = spring_lattice(n, reorder="none")
    corner = corner_index(system.reference)
    stepper = spring_cuda.CudaSprings(system, batch=batch)
    gamma = np.where(system.k_inv_m > 0, DAMPING / MASS, 0.0)
    stepper.set_state(system.k_X, np.zeros_like(system.k_X), gamma=gamma, f_ext=system.external_force())
    stepper.run(2, DT)
    stepper.synchronize()

    def go():
        stepper.set_state(system.k_X, np.zeros_like(system.k_X))
        stepper.run(steps, DT)
        stepper.synchronize()

    t = _median_time(go, repeats)
    x = system.to_model(stepper.positions()[0])
    return {"n": n, "core": "gpu", "springs": len(edges), "nodes": system.n_nodes, "steps": steps,
            "batch": batch, "spring_updates_per_s": batch * len(edges) * steps / t, "t_median_s": t,
            "x_corner": x[corner].tolist(), "device": spring_cuda.device_name()}


def _in_subprocess(kind: str, n: int, steps: int, repeats: int) -> list[dict]:
    """Records measured in a fresh process: JIT warm-up and thread pool of its own, numba.cuda
    imported only there. OMP_WAIT_POLICY=passive unless set: on cores shared with other work,
    spinning threads at the two barriers of a step lose whole scheduler slices (a 10x slowdown
    measured on the 2 shared cores here); on a dedicated machine set it to active."""
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "passive")
    cmd = [sys.executable, "-m", __spec__.name, "--record", kind, str(n), str(steps), str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench springs {kind} n={n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(n_values=(32, 64), json_path: Path | None = None, steps: int = STEPS, repeats: int = 3,
         gpu: bool = True) -> int:
    bandwidth = triad_bandwidth()
    print(f"# triad bandwidth {bandwidth / 1e9:.1f} GB/s (median of 15, all threads)", file=sys.stderr)
    records = []
    for n in n_values:
        recs = _in_subprocess("cpu", n, steps, repeats)
        for core in recs[1:]:
            core["triad_GBps"] = bandwidth / 1e9
            core["floor_spring_updates_per_s"] = bandwidth / core["bytes_per_spring_update"]
        if gpu:
            g = _in_subprocess("gpu", n, steps, repeats)[0]
            if g is not None:
                g["x_corner_diff_vs_reference"] = float(np.abs(np.array(g["x_corner"]) - np.array(recs[0]["x_corner"])).max())
                recs.append(g)
        for r in recs:
            print(json.dumps({k: v for k, v in r.items() if k != "t_all_s"}), flush=True)
        records.extend(recs)
    if gpu and not any(r["core"] == "gpu" for r in records):
        print("# no GPU: numba.cuda.is_available() is false, GPU core skipped", file=sys.stderr)
    if json_path is not None:
        from ..io import write_json

        write_json(Path(json_path), records)
    return 0


# --------------------------------------------------------------------------------------------
# agreement with the FEM core on a face under gravity
# --------------------------------------------------------------------------------------------

def agreement(face: str = "procedural-default", volume: str = "nodal", rtol: float = 1e-6) -> dict:
    """Static equilibrium of the face under gravity by both cores; landmark displacements
    compared (mm, and relative to the FEM's). FEM: solve_static with the locking-free "anp"
    formulation in 2 load steps, as `sagsim demo`; springs: FIRE to |R| <= rtol |f_gravity|."""
    from ..meshfile import load_face
    from ..solvers.fem import NewtonOptions
    from ..solvers.fem import solve_static as fem_static
    from ..solvers.springs import SpringOptions, SpringSystem, StaticOptions
    from ..solvers.springs import solve_static_springs as spring_static

    model = load_face(face)
    t0 = time.perf_counter()
    fem, fem_log = fem_static(model, options=NewtonOptions(n_steps=2, formulation="anp"))
    t_fem = time.perf_counter() - t0
    t0 = time.perf_counter()
    system = SpringSystem.from_model(model, SpringOptions(volume=volume))
    t_build = time.perf_counter() - t0
    springs, log = spring_static(system, options=StaticOptions(rtol=rtol))
    t_spr = time.perf_counter() - t0
    names = sorted(model.landmarks)
    u_f = np.array([model.landmark_position(k, fem.x) - model.landmark_position(k) for k in names])
    u_s = np.array([model.landmark_position(k, springs.x) - model.landmark_position(k) for k in names])
    diff = np.linalg.norm(u_s - u_f, axis=1)
    mag = np.linalg.norm(u_f, axis=1)
    rel = diff / mag
    return {
        "face": face, "nodes": model.n_nodes, "tets": model.n_tets, "springs": system.n_springs,
        "volume_term": volume, "spring_rtol": rtol,
        "fire_iterations": log.iterations, "fire_restarts": log.restarts,
        "t_fem_s": t_fem, "t_springs_build_s": t_build, "t_springs_s": t_spr,
        "fem_newton_iterations": fem_log.newton_iterations,
        "max_diff_mm": float(1e3 * diff.max()), "mean_diff_mm": float(1e3 * diff.mean()),
        "max_diff_pct_of_landmark": float(100 * rel.max()), "mean_diff_pct_of_landmark": float(100 * rel.mean()),
        "max_diff_pct_of_max_fem": float(100 * diff.max() / mag.max()),
        "magnitude_ratio_median": float(np.median(np.linalg.norm(u_s, axis=1) / mag)),
        "fem_max_landmark_mm": float(1e3 * mag.max()),
        "landmarks": {k: {"fem_mm": (1e3 * u_f[i]).tolist(), "springs_mm": (1e3 * u_s[i]).tolist(),
                          "diff_mm": float(1e3 * diff[i])} for i, k in enumerate(names)},
    }


def main_agreement(face: str = "default", volume: str = "nodal", json_path: Path | None = None) -> int:
    rec = agreement(face, volume)
    print(f"{face} face under gravity, springs ({rec['springs']} springs, volume term {volume}, FIRE "
          f"{rec['fire_iterations']} iterations, {rec['t_springs_s']:.1f} s) vs FEM (anp, "
          f"{rec['fem_newton_iterations']} Newton iterations, {rec['t_fem_s']:.1f} s):")
    print(f"  landmark displacement difference: max {rec['max_diff_mm']:.3f} mm, mean {rec['mean_diff_mm']:.3f} mm; "
          f"max {rec['max_diff_pct_of_landmark']:.0f} %, mean {rec['mean_diff_pct_of_landmark']:.0f} % of the "
          f"landmark's FEM displacement (largest FEM landmark displacement {rec['fem_max_landmark_mm']:.3f} mm); "
          f"median |u_springs|/|u_fem| {rec['magnitude_ratio_median']:.2f}")
    if json_path is not None:
        from ..io import write_json

        write_json(Path(json_path), rec)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--record":
        kind, n, steps, repeats = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        recs = cpu_records(n, steps, repeats) if kind == "cpu" else [gpu_record(n, steps, repeats=repeats)]
        print(json.dumps(recs))
        sys.exit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "--agreement":
        sys.exit(main_agreement(*(sys.argv[2:3] or ["default"])))
    sys.exit(main([int(a) for a in sys.argv[1:]] or (32, 64)))
