"""The aging job: a scenario's face aged over the years, written as a results folder with its
pictures, and (when asked) the diagnosis of which mechanism causes how much of the sag.

`run` loads, checks and solves (what a sweep or a calibration needs); `age` is the whole job
that `sagsim age` runs: run, diagnose, write, draw, tidy the checkpoint away.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from ..aging.diagnosis import Diagnosis, diagnose
from ..aging.run import CHECKPOINT, AgingResult, run_aging
from ..aging.settings import AgingSettings
from ..inputs import Scenario, check_against_model, load_scenario
from ..meshfile import load_face
from ..model import TissueModel
from ..results.aging import MARKER, write_results, write_summary
from ..results.folder import claim


@dataclass
class AgeOutcome:
    """What the aging job did: the scenario and face it ran, the result, the diagnosis (with
    the face and settings it ran on) when asked for, the folder and the files written."""

    scenario: Scenario
    model: TissueModel
    result: AgingResult
    out: Path
    paths: list[Path]
    diagnosis: Diagnosis | None = None
    diagnosis_model: TissueModel | None = None
    diagnosis_settings: AgingSettings | None = None


def scenario_of(scenario: Scenario | str | Path) -> Scenario:
    """A Scenario as it is, or read from its file (every fault of the file raised here)."""
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def face_of(scenario: Scenario, model: TissueModel | None = None, face: str | Path | None = None) -> TissueModel:
    """The face a scenario runs on (``model`` as given, else ``face`` or the scenario's face
    loaded), checked against the scenario's landmarks and compartments."""
    model = model if model is not None else load_face(face if face is not None else scenario.face)
    check_against_model(scenario, model)
    return model


def run(scenario: Scenario | str | Path, out: Path | None = None, *, model: TissueModel | None = None,
        start=None, progress: bool = False) -> tuple[Scenario, TissueModel, AgingResult]:
    """Age the scenario's face (or ``model``, e.g. a face a worker keeps loaded) from ``start``
    (a `start_state`, shared by the runs of one face) and return (scenario, face, result). With
    ``out`` the run checkpoints into out/checkpoint and resumes a run found there."""
    scenario = scenario_of(scenario)
    model = face_of(scenario, model)
    return scenario, model, run_aging(model, scenario.mechanisms, scenario.settings, out, progress=progress,
                                      start=start)


def age(scenario: Scenario | str | Path, out: str | Path | None = None, *, explain: bool = False,
        pictures: bool = True, progress: bool = False, keep_checkpoint: bool = False, checkpoint: bool = True,
        model: TissueModel | None = None, start=None) -> AgeOutcome:
    """Run the aging job into ``out`` (default results/<scenario name>): metrics, landmarks,
    the time series, the end state and a summary; with ``pictures`` its plots; with
    ``explain`` the Shapley diagnosis of the sag (2^n extra runs on the scenario's diagnosis
    face). ``checkpoint``: checkpoint while running, so that a rerun on ``out`` resumes (kept
    afterwards with ``keep_checkpoint``)."""
    scenario = scenario_of(scenario)  # every scenario error surfaces here, before any solve
    model = face_of(scenario, model)
    diag_model = diag_settings = None
    if explain:
        diag_face = scenario.diagnosis["face"]
        diag_model = model if diag_face == scenario.face else face_of(scenario, face=diag_face)
        diag_settings = replace(scenario.settings, step_years=scenario.diagnosis["step_years"])
    out = Path(out) if out is not None else Path("results") / scenario.name
    with claim(out, MARKER):  # a folder sagsim can write, no other run is writing, not yet complete
        result = run_aging(model, scenario.mechanisms, scenario.settings, out if checkpoint else None,
                           progress=progress, start=start)
        diagnosis = None
        if explain:
            diagnosis = diagnose(diag_model, scenario.mechanisms, diag_settings, scenario.diagnosis["mechanisms"],
                                 progress=progress)
        paths = write_results(out, result, scenario, diagnosis, finish=False)
        if pictures:
            from ..render.aging import write_pictures  # pyvista and matplotlib: only when drawing
            paths += write_pictures(out, result, diagnosis)
        paths.append(write_summary(out, result, scenario, diagnosis))  # last: the folder is complete
        if not keep_checkpoint:
            shutil.rmtree(out / CHECKPOINT, ignore_errors=True)  # the results hold everything now
    return AgeOutcome(scenario, model, result, out, paths, diagnosis, diag_model, diag_settings)


#: the end-age metrics `sagsim age` prints, and the diagnosis rows it shows
REPORTED = ("jowl_descent_mm", "jawline_overhang_change_mm", "fat_moved_below_subnasale_ml", "fat_centroid_descent_mm",
            "max_skin_displacement_mm")
EXPLAINED = ("jowl_descent_mm", "jawline_overhang_change_mm", "fat_moved_below_subnasale_ml", "descent_mm:jowl_left",
             "descent_mm:malar_eminence_left", "descent_mm:oral_commissure_left")


def report(outcome: AgeOutcome) -> list[str]:
    """What `sagsim age` prints of a finished job: the run, the end-age metrics, the diagnosis
    table when there is one, and the files written."""
    result, t = outcome.result, outcome.result.timings
    steps = sorted(t["steps_s"])
    median = float(steps[len(steps) // 2]) if steps else 0.0
    last = result.rows[-1]
    lines = [f"{outcome.scenario.name}: {outcome.model.name}, age {result.ages[0]:g} -> {result.ages[-1]:g} in "
             f"{len(result.ages) - 1} steps (start {t['start_s']:.1f} s, median {median:.2f} s per step)"]
    lines += [f"  {key:32s} {last[key]:8.3f}" for key in REPORTED if key in last]
    if outcome.diagnosis is not None:
        d = outcome.diagnosis
        lines.append(f"what causes the sag ({outcome.diagnosis_model.name}, "
                     f"{outcome.diagnosis_settings.step_years:g}-year steps; Shapley values, "
                     f"interaction = total - sum of each mechanism alone):")
        lines.append(d.table([o for o in d.outcomes if o in EXPLAINED]))
    lines.append("wrote " + ", ".join(str(p) for p in outcome.paths))
    return lines
