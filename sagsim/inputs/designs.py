"""The designs that turn a sweep's parameter ranges into runs: grid, Latin hypercube,
Morris and Sobol (SALib's samplers). The sweep file itself is read and validated by
sagsim.inputs.sweep, which calls :func:`design_runs` (pure arithmetic: no run is started here).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..errors import ScenarioError


def problem(params: list) -> dict:
    """The SALib problem of the swept parameters (log bounds where log)."""
    return {"num_vars": len(params), "names": [p.key for p in params], "bounds": [p.bounds() for p in params]}


def planned_runs(opts: dict, params: list) -> int:
    """How many runs the design will make, counted before it is built (so that a sweep file
    asking for a billion runs is refused, not allocated)."""
    design, k = opts["design"], len(params)
    if design == "grid":
        return math.prod(len(p.values) if p.values is not None else (p.levels or 1) for p in params)
    if design == "morris":
        return opts["trajectories"] * (k + 1)
    if design == "sobol":
        return (opts["samples"] or 0) * (k + 2)
    return opts["samples"] or 0


def design_runs(opts: dict, params: list, where: str) -> tuple[list, np.ndarray | None]:
    """Every run's {key: value} of the design ``opts["design"]`` over ``params`` (a sweep
    file's validated parameters), and the design matrix as SALib sees it (None for a grid)."""
    design = opts["design"]
    if design == "grid":
        runs = [dict(zip([p.key for p in params], combo)) for combo in itertools.product(*[p.values for p in params])]
        return runs, None
    prob = problem(params)
    seed = opts["seed"]
    if design == "lhs":
        if opts["samples"] is None:
            raise ScenarioError(f"{where}: [sweep] samples: missing; expected the number of runs of the lhs design")
        from scipy.stats import qmc
        U = qmc.LatinHypercube(d=len(params), seed=np.random.default_rng(seed)).random(opts["samples"])
        X = np.column_stack([np.log(p.scale(U[:, j])) if p.log else p.scale(U[:, j])
                             for j, p in enumerate(params)])
    elif design == "morris":
        from SALib.sample import morris as morris_sample
        X = morris_sample.sample(prob, N=opts["trajectories"], num_levels=opts["levels"], seed=seed)
    else:
        if opts["samples"] is None:
            raise ScenarioError(f"{where}: [sweep] samples: missing; expected the base samples N of the sobol design")
        n = opts["samples"]
        if n & (n - 1):
            raise ScenarioError(f"{where}: [sweep] samples: expected a power of 2 for a sobol design, got {n}")
        from SALib.sample import sobol as sobol_sample
        X = sobol_sample.sample(prob, n, calc_second_order=False, scramble=True, seed=seed)
    runs = []
    for row in X:
        run = {}
        for x, p in zip(row, params):
            v = float(np.exp(x)) if p.log else float(x)
            run[p.key] = float(min(max(v, p.low), p.high))
        runs.append(run)
    return runs, np.asarray(X, float)
