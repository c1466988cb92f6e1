"""Sweep throughput on a Dask LocalCluster of 1 and of 2 single-threaded workers, and the
overhead per task.

The same Latin-hypercube design of aging runs (coarse face, 40 -> 60 in yearly steps, three
estimated rates varied) runs on a fresh cluster of each size, after one warm-up run per worker
(numba kernels loaded, the face and its stress-free start cached: what every later run of a
sweep finds). Throughput = runs / wall time of `run_sweep` (scheduling, run folders, table
and sensitivity included), with the CPU time our processes and all others used meanwhile
(/proc/stat: on a shared machine the ratio is only as good as the cores we got). Overhead:
the round trip of a trivial Dask task, one at a time and 500 at once, and the cost per run of
a sweep whose function does nothing (run folder, JSON, table).

Run it as `sagsim bench sweep [--runs N] [--json FILE]`.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from ..sweep import dask_client, load_sweep, run_sweep
from ..sweep.functions import trivial as noop
from ..sweep.task import warm

#: the base scenario every run varies: the default face's default mechanisms (written beside the
#: sweep file, so the benchmark needs no source checkout)
BASE = """
[scenario]
name = "bench_base"
face = "coarse"
start_age = 40
end_age = 60
"""
DESIGN = """
[sweep]
name = "bench"
kind = "aging"
base = "{base}"
design = "lhs"
samples = {runs}
seed = 7

[fixed]
"scenario.face" = "coarse"
"scenario.end_age" = 60
"scenario.step_years" = 1

[parameters."ligament_laxity.stiffness_loss"]
range = ["5 %/decade", "45 %/decade"]

[parameters."skin.laxity"]
range = ["0.5 %/decade", "3 %/decade"]

[parameters."fat_descent.time_constant"]
range = ["5 years", "40 years"]
"""

TRIVIAL = """
[sweep]
name = "trivial"
kind = "python"
function = "sagsim.sweep.functions:trivial"
design = "grid"
[parameters.x]
range = [0.0, 1.0]
levels = {runs}
"""


def _cpu() -> tuple:
    """(core-seconds every process of the machine spent busy, core-seconds of this process and
    its children (the LocalCluster's workers)), from /proc/stat and psutil."""
    import psutil
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    me = psutil.Process()
    ours = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            ours += t.user + t.system
        except psutil.Error:
            pass
    return busy, ours


def throughput(workers: int, runs: int, folder: Path) -> dict:

    base = str(folder / "base.toml")
    Path(base).write_text(BASE)
    path = folder / f"bench_{workers}.toml"
    path.write_text(DESIGN.format(base=base, runs=runs))
    sweep = load_sweep(path)
    t_start = time.perf_counter()
    with dask_client(workers=workers) as client:
        started = time.perf_counter() - t_start
        addrs = list(client.scheduler_info(n_workers=-1)["workers"])
        warm_up = {"scenario.face": "coarse", "scenario.end_age": 41.0, "scenario.step_years": 1.0}
        warm = client.gather([client.submit(warm, Path(base).read_text(), base, warm_up, workers=[a],
                                            allow_other_workers=False, pure=False) for a in addrs])
        load = os.getloadavg()[0]
        busy0, ours0 = _cpu()
        t0 = time.perf_counter()
        result = run_sweep(sweep, folder / f"out_{workers}", client=client)
        wall = time.perf_counter() - t0
        busy1, ours1 = _cpu()
    seconds = result.table["seconds"].astype(float)
    return {"workers": workers, "runs": runs, "ok": result.counts["ok"], "wall_s": wall, "runs_per_s": runs / wall,
            "mean_run_s": float(seconds.mean()), "busy_fraction": float(seconds.sum() / (wall * workers)),
            "our_cpu_s": ours1 - ours0, "other_processes_cpu_s": max(0.0, (busy1 - busy0) - (ours1 - ours0)),
            "cluster_start_s": started, "warm_up_s": [float(w) for w in warm], "loadavg_1min_before": load}


def overhead(runs: int, folder: Path) -> dict:

    with dask_client(workers=2) as client:
        client.gather(client.map(noop, [{"x": i} for i in range(10)], pure=False))  # connections up
        load = os.getloadavg()[0]
        n = 50
        t0 = time.perf_counter()
        for i in range(n):
            client.submit(noop, {"x": i}, pure=False).result()
        one_at_a_time = (time.perf_counter() - t0) / n
        m = 500
        t0 = time.perf_counter()
        client.gather(client.map(noop, [{"x": i} for i in range(m)], pure=False))
        batched = (time.perf_counter() - t0) / m
        path = folder / "trivial.toml"
        path.write_text(TRIVIAL.format(runs=runs))
        sweep = load_sweep(path)
        t0 = time.perf_counter()
        result = run_sweep(sweep, folder / "out_trivial", client=client)
        per_run = (time.perf_counter() - t0) / runs
    return {"dask_round_trip_ms": 1e3 * one_at_a_time, "dask_batched_ms_per_task": 1e3 * batched,
            "sweep_trivial_run_ms": 1e3 * per_run, "trivial_runs": runs, "trivial_ok": result.counts["ok"],
            "loadavg_1min_before": load}


def main(runs: int = 12, json_path: Path | None = None) -> int:
    logging.getLogger("distributed").propagate = False  # Dask's own log keeps its errors only
    with tempfile.TemporaryDirectory(prefix="sagsim_bench_sweep_") as tmp:
        folder = Path(tmp)
        one = throughput(1, runs, folder)
        two = throughput(2, runs, folder)
        over = overhead(100, folder)
    ratio = two["runs_per_s"] / one["runs_per_s"]
    for r in (one, two):
        print(f"{r['workers']} worker{'s' if r['workers'] > 1 else ' '}: {r['runs']} aging runs (coarse, 20 years) in "
              f"{r['wall_s']:6.1f} s = {r['runs_per_s']:.3f} runs/s; mean run {r['mean_run_s']:.2f} s, workers busy "
              f"{100 * r['busy_fraction']:.0f} %; CPU: ours {r['our_cpu_s']:.1f} s, other processes "
              f"{r['other_processes_cpu_s']:.1f} s of {os.cpu_count() * r['wall_s']:.1f} core-s")
    print(f"throughput 2 workers / 1 worker: {ratio:.2f}x (cores: {os.cpu_count()}; other processes on the machine "
          "lower it)")
    print(f"overhead per task: Dask round trip {over['dask_round_trip_ms']:.1f} ms one at a time, "
          f"{over['dask_batched_ms_per_task']:.2f} ms each in a batch of 500; a sweep run that does nothing "
          f"{over['sweep_trivial_run_ms']:.1f} ms (run folder, JSON, table)")
    record = {"one_worker": one, "two_workers": two, "ratio": ratio, "overhead": over, "cpu_count": os.cpu_count()}
    if json_path:
        json_path = Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
