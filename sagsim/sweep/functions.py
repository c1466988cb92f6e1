"""Small functions for `kind = "python"` sweeps that check the machinery itself: the Ishigami
function (analytic Sobol indices), a trivial task (scheduling overhead), a slow one (killing a
worker mid-run) and one that fails on purpose (failure recording). None is a tissue model."""
from __future__ import annotations

import math
import time


def ishigami(p: dict, a: float = 7.0, b: float = 0.1) -> dict:
    """Ishigami & Homma (1990): y = sin x1 + a sin^2 x2 + b x3^4 sin x1 on [-pi, pi]^3.
    With a = 7, b = 0.1: S1 = (0.314, 0.442, 0), ST = (0.558, 0.442, 0.244)."""
    x1, x2, x3 = p["x1"], p["x2"], p["x3"]
    return {"y": math.sin(x1) + a * math.sin(x2) ** 2 + b * x3 ** 4 * math.sin(x1)}


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict:
    """The exact first-order and total Sobol indices of :func:`ishigami`."""
    v1 = 0.5 * (1 + b * math.pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * math.pi ** 8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return {"S1": (v1 / v, v2 / v, 0.0), "ST": ((v1 + v13) / v, v2 / v, v13 / v)}


def trivial(p: dict) -> dict:
    """Returns at once: what a run costs beyond its own work."""
    return {"y": float(sum(v for v in p.values() if isinstance(v, (int, float))))}


def slow(p: dict) -> dict:
    """Sleeps p["seconds"] (default 0.5 s), then returns x squared."""
    time.sleep(float(p.get("seconds", 0.5)))
    return {"y": float(p.get("x", 0.0)) ** 2}


def fails_above(p: dict) -> dict:
    """Raises for x > 0.5 (a run that fails), returns 2 x otherwise."""
    if p["x"] > 0.5:
        raise ValueError(f"x = {p['x']:g} is above 0.5 (this function fails there on purpose)")
    return {"y": 2.0 * p["x"]}
