"""Which mechanism causes how much of the sag: Shapley values over the aging mechanisms.

The face is aged once for every subset S of the n mechanisms (2^n runs, sharing the start
state). An outcome v(S) (a landmark's descent, a metric) is split exactly:

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S)),

so that sum_i phi_i = v(all) - v(none), the total sag (Shapley 1953). Each mechanism's main
effect v({i}) - v(none) is reported beside it; the interaction share, total - sum of main
effects, says how much of the sag only appears when mechanisms act together (fat that can
only descend once the ligaments let it).
"""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace

import numpy as np

from ..model import TissueModel
from .run import run_aging, start_state
from .settings import AgingSettings


@dataclass
class Diagnosis:
    """Outcomes (names), players (mechanism names and labels), v per subset, the Shapley split
    (players x outcomes), the main effects, the total and the interaction."""

    players: list
    labels: list
    outcomes: list
    values: dict
    shapley: np.ndarray
    main: np.ndarray
    total: np.ndarray

    @property
    def interaction(self) -> np.ndarray:
        return self.total - self.main.sum(axis=0)

    def rows(self) -> list[dict]:
        """One row per outcome: the total, each mechanism's Shapley value and share (%), its
        main effect, and the interaction."""
        out = []
        for j, name in enumerate(self.outcomes):
            row = {"outcome": name, "total": float(self.total[j])}
            for i, p in enumerate(self.players):
                row[f"{p}"] = float(self.shapley[i, j])
            for i, p in enumerate(self.players):
                row[f"{p}_share_pct"] = _share(self.shapley[i, j], self.total[j])
            for i, p in enumerate(self.players):
                row[f"{p}_alone"] = float(self.main[i, j])
            row["interaction"] = float(self.interaction[j])
            out.append(row)
        return out

    def dominant(self, outcome: str) -> str:
        """Label of the mechanism with the largest share of ``outcome``."""
        j = self.outcomes.index(outcome)
        return self.labels[int(np.argmax(np.abs(self.shapley[:, j])))]

    def table(self, outcomes: list[str] | None = None) -> str:
        """Aligned text: per outcome, the total and each mechanism's Shapley value (share)."""
        names = outcomes or self.outcomes
        head = f"{'outcome':34s} {'total':>8s}  " + "  ".join(f"{lab[:18]:>18s}" for lab in self.labels) \
            + f"  {'interaction':>11s}"
        lines = [head]
        for name in names:
            j = self.outcomes.index(name)
            cells = "  ".join(f"{self.shapley[i, j]:8.3f} ({_share(self.shapley[i, j], self.total[j]):4.0f}%)"
                              for i in range(len(self.players)))
            lines.append(f"{name:34s} {self.total[j]:8.3f}  {cells}  {self.interaction[j]:11.3f}")
        return "\n".join(lines)


def outcomes_of(result) -> tuple[list[str], np.ndarray]:
    """The outcomes split by the diagnosis: every landmark's descent (mm, down positive) and
    the end-age metrics."""
    names, values = [], []
    for lm, d in sorted(result.landmarks.items()):
        names.append(f"descent_mm:{lm}")
        values.append(-float(d[1]))
    last = result.rows[-1]
    for k, v in last.items():
        if k not in ("age", "years", "newton_iterations", "step_seconds"):
            names.append(k)
            values.append(float(v))
    return names, np.array(values)


def diagnose(model: TissueModel, mechanisms: list, settings: AgingSettings, players: list[str] | None = None,
             progress: bool = False, workers: int | None = None) -> Diagnosis:
    """Age ``model`` for every subset of ``players`` (names of enabled mechanisms; default all
    enabled ones; the other enabled mechanisms act in every run) and split the outcomes.

    ``workers`` processes run the subsets side by side (default: one per core), each with its
    share of the cores. A run's stress-free recovery is shared, its factorisations run on one
    thread, so runs side by side use the cores better than one run's threads: on the 2-core
    machine two default-face runs took 40 s together and 40 s each alone. Thread counts change
    the sums' order, so the values agree with one worker's to rounding (about 1e-14), not bits."""
    enabled = [m.name for m in mechanisms if m.enabled]
    players = list(players or enabled)
    n = len(players)
    start = start_state(model, settings, with_internal=True)  # quadratic elements' curved edges too
    values = {}
    subsets = [frozenset(c) for k in range(n + 1) for c in itertools.combinations(players, k)]
    runs = {S: [replace(m, enabled=(m.name in S)) if m.name in players else m for m in mechanisms] for S in subsets}
    cores = os.cpu_count() or 1
    workers = max(1, min(cores if workers is None else int(workers), len(subsets)))
    if multiprocessing.current_process().daemon:
        workers = 1  # a daemonic process (a pool's worker) may not start processes of its own
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(subsets), desc=f"diagnosis ({n} mechanisms, {len(subsets)} runs, {workers} at a time)",
                   unit="run")
    names = None
    if workers == 1:
        for S, mechs in runs.items():
            names, values[S] = outcomes_of(run_aging(model, mechs, settings, start=start))
            if bar is not None:
                bar.update(1)
    else:
        # spawned, not forked: a fork of a process whose numba and MKL thread pools have run
        # can hang in them; each worker loads sagsim (and numba's cached kernels) afresh
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_worker_threads, initargs=(max(1, cores // workers),)) as pool:
            futures = {pool.submit(_subset_outcomes, model, mechs, settings, start): S for S, mechs in runs.items()}
            for done in as_completed(futures):
                names, values[futures[done]] = done.result()
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    phi, main = shapley_values(values, players)
    labels = [next(m.label for m in mechanisms if m.name == p) for p in players]
    total = values[frozenset(players)] - values[frozenset()]
    return Diagnosis(players, labels, names, values, phi, main, total)


_LIMITS = []  # a worker's BLAS limit, kept alive for the process's life


def _worker_threads(threads: int) -> None:
    """A diagnosis worker's share of the cores, for numba's kernels and BLAS alike."""
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    _LIMITS.append(threadpool_limits(threads))


def _subset_outcomes(model: TissueModel, mechanisms: list, settings: AgingSettings, start: tuple):
    """One subset's run, in a worker: its outcomes' names and values."""
    return outcomes_of(run_aging(model, mechanisms, settings, start=start))


def shapley_values(values: dict, players: list) -> tuple[np.ndarray, np.ndarray]:
    """Shapley values (players x outcomes) and main effects v({i}) - v(none) of the game
    ``values``: frozenset of players -> outcome vector, for every subset."""
    n = len(players)
    none = np.asarray(values[frozenset()], float)
    phi = np.zeros((n, len(none)))
    main = np.zeros((n, len(none)))
    for i, p in enumerate(players):
        others = [q for q in players if q != p]
        main[i] = values[frozenset([p])] - none
        for k in range(n):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for c in itertools.combinations(others, k):
                S = frozenset(c)
                phi[i] += w * (np.asarray(values[S | {p}]) - values[S])
    return phi, main


def _share(part: float, total: float) -> float:
    return float(100.0 * part / total) if abs(total) > 1e-12 else 0.0
