"""Every matplotlib plot sagsim draws, each written as a PNG through one save helper: the
aging metrics against age, the diagnosis bars, a lift's months after, its smile probe and its
sweep curve, a sweep's sensitivity indices and a calibration's fit. Each takes the data it
shows (no files are read) and returns the path written."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the off-screen backend

from ..io import PathLike, atomic_path
from ..results.sweep import main_index

#: the aging metrics plotted against age, with their axis labels
PLOTTED = (("jowl_descent_mm", "jowl descent (mm)"), ("jawline_overhang_change_mm", "jawline overhang change (mm)"),
           ("fold_depth_change_mm_nasolabial_2_left", "nasolabial fold depth change (mm)"),
           ("fat_moved_below_subnasale_ml", "fat moved below subnasale (mL)"))


def save_figure(path: PathLike, fig, dpi: int = 110) -> Path:
    """Write a matplotlib figure as PNG atomically (tight layout) and close it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return Path(path)


def plot_metrics(result, path: Path) -> Path:
    """The clinical metrics of an AgingResult against age, a panel each."""
    shown = [(k, label) for k, label in PLOTTED if k in result.rows[0]]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.0))
    for ax, (key, label) in zip(np.atleast_1d(axes), shown):
        ax.plot(result.metric("age"), result.metric(key), "o-", ms=3)
        ax.set_xlabel("age (years)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result.model.name}: aging from {result.ages[0]:g} to {result.ages[-1]:g}", fontsize=10)
    return save_figure(path, fig)


def plot_diagnosis(diagnosis, path: str | Path, outcomes: list[str] | None = None, title: str = "") -> Path:
    """Stacked horizontal bars: each outcome's total split by mechanism (a Diagnosis's Shapley values)."""
    names = outcomes or diagnosis.outcomes
    idx = [diagnosis.outcomes.index(n) for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.6))
    colors = plt.get_cmap("tab10").colors
    y = np.arange(len(names))
    left_pos = np.zeros(len(names))
    left_neg = np.zeros(len(names))
    for i, label in enumerate(diagnosis.labels):
        v = diagnosis.shapley[i, idx]
        base = np.where(v >= 0, left_pos, left_neg)
        ax.barh(y, v, left=base, color=colors[i % 10], label=label)
        left_pos += np.maximum(v, 0)
        left_neg += np.minimum(v, 0)
    ax.plot(diagnosis.total[idx], y, "k|", markersize=14, label="total")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("contribution (units of each outcome: mm or mL)")
    ax.set_title(title or "What causes the sag (Shapley values over mechanisms)")
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(path, fig, dpi=120)


def plot_months(path: Path, rows: list, targets: tuple, name: str) -> Path:
    """Lift retained (%) at each target against months after the lift."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for t in targets:
        ax.plot([r["month"] for r in rows], [r[f"retained_pct:{t}"] for r in rows], "o-", label=t)
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_xlabel("months after the lift")
    ax.set_ylabel("lift retained (%)")
    ax.set_title(f"{name}: the months after", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save_figure(path, fig)


def plot_expression(path: Path, e: dict, name: str) -> Path:
    """The smile probe: mouth-corner motion without and with the threads."""
    fig, ax = plt.subplots(figsize=(4, 3.0))
    ax.bar(["without threads", "with threads"], [e["motion_without_mm"], e["motion_with_mm"]],
           color=["#8aa", "#c66"])
    ax.set_ylabel(f"{e['landmark']} motion (mm)")
    ax.set_title(f"{name}: smile probe, {e['restriction_pct']:.0f} % less motion", fontsize=9)
    return save_figure(path, fig)


def plot_sweep(path: Path, kind: str, rows: list, name: str) -> Path:
    """A lift's sweep: lift, unevenness and over-tension against the threads or the pull."""
    key = "threads" if kind == "threads" else "pull_mm"
    x = [r[key] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.0))
    for ax, (k, label) in zip(axes, (("lift_mm", "lift at the targets (mm)"), ("unevenness_mm", "unevenness (mm RMS)"),
                                     ("over_tension_ml", "over-tensioned tissue (mL)")), strict=True):
        ax.plot(x, [r[k] for r in rows], "o-")
        ax.set_xlabel("threads per template" if kind == "threads" else "pull (mm)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{name}: where more stops helping", fontsize=10)
    return save_figure(path, fig)


def plot_indices(indices, path: Path, name: str) -> Path:
    """A heat map of the main index (outputs by inputs), each output's row scaled to its
    largest value, the values written in the cells."""
    main, pivot = main_index(indices)
    values = pivot.to_numpy(float)
    top = np.nanmax(np.abs(values), axis=1, keepdims=True)
    scaled = np.divide(np.abs(values), top, out=np.zeros_like(values), where=top > 0)
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * values.shape[1], 0.9 + 0.45 * values.shape[0]))
    ax.imshow(scaled, cmap="Oranges", vmin=0.0, vmax=1.0, aspect="auto")
    for (r, c), v in np.ndenumerate(values):  # white on the dark cells, so every value reads
        ax.text(c, r, f"{v:.3g}", ha="center", va="center", fontsize=8,
                color="white" if scaled[r, c] > 0.6 else "black")
    ax.set_xticks(range(values.shape[1]), [s.replace(".", ".\n", 1) for s in pivot.columns], fontsize=8)
    ax.set_yticks(range(values.shape[0]), pivot.index, fontsize=8)
    label = {"mu_star": "Morris mu* (output units over the input's range)", "ST": "Sobol total index ST",
             "S1": "first-order index S1 (RBD-FAST)"}[main]
    ax.set_title(f"{name}:\n{label}\n(shade: share of the row's largest)", fontsize=9)
    fig.tight_layout()
    return save_figure(path, fig)


def plot_fit(rows: list, params: list, path: Path, name: str) -> Path:
    """Model against measured displacement (each value a point, the 1:1 line), and the residuals."""
    meas = np.array([r["measured_mm"] for r in rows])
    mod = np.array([r["model_mm"] for r in rows])
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    for comp, colour in (("dx", "#4a7"), ("dy", "#c55"), ("dz", "#57b")):
        sel = np.array([r["component"] == comp for r in rows])
        if sel.any():
            a.plot(meas[sel], mod[sel], "o", ms=4, color=colour, label=comp)
    lim = [min(meas.min(), mod.min()), max(meas.max(), mod.max())]
    a.plot(lim, lim, "-", color="0.5", lw=0.8)
    a.set_xlabel("measured displacement (mm)")
    a.set_ylabel("fitted model (mm)")
    a.legend(fontsize=7)
    a.grid(alpha=0.3)
    b.bar(range(len(rows)), mod - meas, color="#888")
    b.set_xlabel("measured value (row, component)")
    b.set_ylabel("residual (mm)")
    b.grid(alpha=0.3)
    fitted = ", ".join(f"{p['key'].split('.')[-1]} {p['fitted']:.3g}" for p in params)
    fig.suptitle(f"{name}: {fitted}", fontsize=9)
    return save_figure(path, fig)
