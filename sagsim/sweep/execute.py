"""Running a sweep on Dask: a LocalCluster by default, or an existing scheduler.

OUT/sweep.json is the resolved design; OUT/runs/<key>/ one folder per run, named by the hash
of everything its results depend on (see Sweep.run_key) and renamed into place when complete,
so a rerun skips every run whose folder holds a successful result and runs the rest (failed
runs included). A failed run is a row with status "failed" and its one-line error; it never
stops the sweep. A worker lost mid-run (killed, out of memory, its machine gone) is noticed
by the scheduler, which reruns its tasks elsewhere (`distributed.scheduler.allowed-failures`
times, 3 by default); ``retries`` resubmits a task that raised outside sagsim's own error
handling. The folders must be on a file system every worker sees.
"""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from dask.distributed import Client, LocalCluster, as_completed
from tqdm import tqdm

from ..errors import SagsimError
from ..inputs.sweep import Sweep
from ..io import write_json
from ..results.folder import claim
from ..results.sweep import DESIGN, MARKER, RUNS, SENSITIVITY, collect, finished, write_run, write_table
from .sensitivity import analyse, write_indices
from .task import one_line, publish, run_task

log = logging.getLogger("sagsim.sweep")

#: set in every LocalCluster worker before it imports anything: one thread per run, since the
#: runs themselves are the parallelism (workers of an existing cluster need the same; each run
#: also limits its numba and BLAS threads to [sweep] threads)
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYVISTA_OFF_SCREEN": "true"}


class ClusterError(SagsimError):
    """The Dask scheduler cannot be reached, or has no workers."""


@dataclass
class SweepResult:
    """The table (pandas DataFrame, one row per run), the files written and the counts."""

    table: object
    paths: list
    counts: dict
    seconds: float
    workers: int
    sensitivity: object = None
    notes: list = field(default_factory=list)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, wait_s: float = 60.0,
                threads_per_run: int = 1):
    """A dask.distributed Client: connected to ``scheduler`` (tcp://host:port), or to a
    LocalCluster of ``workers`` worker processes of one task slot each, their numba and BLAS
    limited to ``threads_per_run`` threads (no dashboard), closed on exit."""

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(f"--scheduler {scheduler}: cannot connect ({one_line(exc)})") from None
        try:
            try:
                client.wait_for_workers(1, timeout=wait_s)
            except TimeoutError:
                raise ClusterError(f"--scheduler {scheduler}: no worker joined within {wait_s:g} s; start some with "
                                   f"`dask worker {scheduler} --nthreads 1`") from None
            yield client
        finally:
            client.close()
        return
    # no dashboard; the scheduler's small HTTP server (health checks) on a free local port, not 8787
    cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                           env={**WORKER_ENV, **{k: str(threads_per_run) for k in WORKER_ENV if k.endswith("THREADS")}},
                           silence_logs=logging.ERROR)
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def task_spec(sweep: Sweep, i: int, runs_dir: Path, base_text: str | None = None) -> dict:
    """What run ``i`` needs on a worker: plain data only (the worker reads no sweep file)."""
    if base_text is None and sweep.base is not None:
        base_text = sweep.base.read_text(encoding="utf-8")
    return {"kind": sweep.kind, "key": sweep.run_key(i), "folder": str(runs_dir.resolve()),
            "base": str(sweep.base.resolve()) if sweep.base is not None else None, "base_text": base_text,
            "function": sweep.function, "overrides": sweep.overrides(i), "parameters": sweep.runs[i],
            "options": {k: sweep.options[k] for k in ("pictures", "months", "threads")}}


def run_sweep(sweep: Sweep, out: str | Path, *, client=None, scheduler: str | None = None,
              workers: int | None = None, progress: bool = False) -> SweepResult:
    """Run every run of ``sweep`` not already finished in ``out``, then write the table
    (table.parquet, table.csv) and, for lhs, morris and sobol designs, the sensitivity
    indices (sensitivity.csv, sensitivity.png). ``client``: an existing dask Client (else one
    is made from ``scheduler`` or a LocalCluster of ``workers``)."""
    from ..render.plots import plot_indices  # matplotlib: for the client that writes the table, not for workers

    t0 = time.perf_counter()
    with claim(out, MARKER) as out:  # writable, not in use, not yet complete
        runs_dir = out / RUNS
        todo, seen, skipped = [], set(), 0
        for i in range(len(sweep.runs)):
            key = sweep.run_key(i)
            if key in seen:
                continue  # a design may repeat a point: one run serves every row of it
            seen.add(key)
            if finished(runs_dir / key) is not None:
                skipped += 1
            else:
                todo.append(i)
        n_workers = 0
        # the cluster first: a scheduler that cannot be reached fails before anything is written
        ctx = (contextlib.nullcontext(None) if not todo else contextlib.nullcontext(client) if client is not None
               else dask_client(scheduler, workers, threads_per_run=sweep.options["threads"]))
        with ctx as c:
            runs_dir.mkdir(parents=True, exist_ok=True)
            paths = [write_json(out / DESIGN, sweep.record())]
            clean_leftovers(runs_dir)
            if todo:
                n_workers = len(c.scheduler_info(n_workers=-1).get("workers", {}))
                _submit(c, sweep, todo, runs_dir, len(seen), skipped, progress)
        clean_leftovers(runs_dir)
        table = collect(sweep, runs_dir)
        indices, notes = analyse(sweep, table)
        if indices is not None:
            paths += [write_indices(indices, out / SENSITIVITY),
                      plot_indices(indices, out / "sensitivity.png", sweep.name)]
        paths += write_table(table, out)  # last: its parquet marks the folder complete
        counts = {"runs": len(sweep.runs), "distinct": len(seen), "ran": len(todo), "skipped": skipped,
                  "ok": int((table["status"] == "ok").sum()), "failed": int((table["status"] != "ok").sum())}
    return SweepResult(table, paths, counts, time.perf_counter() - t0, n_workers, indices, notes)


def _submit(client, sweep: Sweep, todo: list, runs_dir: Path, total: int, skipped: int, progress: bool) -> None:

    token = secrets.token_hex(3)  # Dask keys unique to this call: never a stale result of another
    futures = {}
    base_text = sweep.base.read_text(encoding="utf-8") if sweep.base is not None else None
    for i in todo:
        spec = task_spec(sweep, i, runs_dir, base_text)
        futures[client.submit(run_task, spec, key=f"sagsim-run-{spec['key']}-{token}", pure=False,
                              retries=sweep.options["retries"])] = spec
    bar = None
    if progress:
        bar = tqdm(total=total, initial=skipped, desc=f"sweep {sweep.name}", unit="run")
    failed = 0
    try:
        for fut in as_completed(list(futures)):
            spec = futures[fut]
            try:
                record = fut.result()
            except Exception as exc:  # noqa: BLE001 - lost too often (KilledWorker), or broken on the worker
                record = _record_failure(spec, runs_dir, exc)
            fut.release()
            failed += record.get("status") != "ok"
            if bar is not None:
                bar.set_postfix_str(f"{failed} failed" if failed else "")
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        client.cancel([f for f in futures if not f.done()])


def _record_failure(spec: dict, runs_dir: Path, exc: BaseException) -> dict:
    """A run whose task never returned (its workers kept dying, or it could not start there)."""
    record = {"run": spec["key"], "parameters": spec["parameters"], "overrides": spec["overrides"],
              "status": "failed", "error": one_line(exc), "metrics": {}, "seconds": None, "worker": None}
    tmp = runs_dir / f".{spec['key']}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    write_run(tmp, record)
    publish(tmp, runs_dir / spec["key"])
    return record


def clean_leftovers(runs_dir: Path) -> None:
    """Remove the temporary folders of runs that never finished (a lost worker's)."""
    for p in runs_dir.glob(".*"):
        if p.is_dir() and (p.name.endswith(".tmp") or p.name.endswith(".old")):
            shutil.rmtree(p, ignore_errors=True)
