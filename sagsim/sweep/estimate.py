"""How many runs a sweep makes, how long they take and how much disk they fill, before it runs.

The design is counted (its distinct runs, and those already finished in the results folder),
and its first run is run here twice, each into a temporary folder removed afterwards: the first
time pays what every worker pays once (the face, its stress-free start, the numba kernels
loaded), the second what each later run costs. Runs of one sweep differ (a swept end age, a
thread count), so the estimate is the first run's, said as such; the progress bar of the real
sweep refines it as runs finish.
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..inputs.sweep import Sweep
from ..results.sweep import RUNS, finished
from .execute import task_spec
from .task import run_task


@dataclass
class Estimate:
    """A sweep's size and cost: run counts, one run's seconds and bytes, the workers."""

    name: str
    runs: int
    distinct: int
    done: int
    workers: int
    first_s: float  # the first run of a worker: loading included
    run_s: float  # every later run
    run_bytes: int
    error: str = ""  # the timed run failed: its one-line error

    @property
    def todo(self) -> int:
        return self.distinct - self.done

    @property
    def seconds(self) -> float:
        """Wall time on ``workers`` workers: each pays its loading once, side by side, then the
        runs go in waves of ``workers``."""
        if self.todo == 0:
            return 0.0
        return max(0.0, self.first_s - self.run_s) + math.ceil(self.todo / self.workers) * self.run_s

    def text(self) -> str:
        head = f"{self.name}: {self.runs} runs, {self.distinct} distinct, {self.done} finished before"
        if self.error:
            return f"{head}; its first run failed here: {self.error}"
        return (f"{head}: {self.todo} to run on {self.workers} worker(s), about {_duration(self.seconds)} "
                f"(its first run took {self.run_s:.3g} s here, {self.first_s:.3g} s with loading) and "
                f"{_size(self.todo * self.run_bytes)} of run folders")


def estimate(sweep: Sweep, out: str | Path, workers: int) -> Estimate:
    """Count the runs of ``sweep`` (those finished in ``out`` apart) and time its first run here;
    writes nothing outside a temporary folder."""
    runs_dir = Path(out) / RUNS
    keys = list(dict.fromkeys(sweep.run_key(i) for i in range(len(sweep.runs))))
    done = sum(finished(runs_dir / k) is not None for k in keys)
    timed, size, error = [], 0, ""
    for _ in range(2):
        with tempfile.TemporaryDirectory(prefix="sagsim-estimate-") as tmp:
            record = run_task(task_spec(sweep, 0, Path(tmp)))
            if record["status"] != "ok":
                error = record["error"]
                break
            timed.append(record["seconds"])
            size = _bytes(Path(tmp))
    first, later = (timed + [0.0, 0.0])[:2]
    return Estimate(sweep.name, len(sweep.runs), len(keys), done, max(1, int(workers)), first, later, size, error)


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
