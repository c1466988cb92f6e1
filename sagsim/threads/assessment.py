"""Whether a lift suits the face: the landmarks a plan aims at and the verdict on a lift's
summary (target reached, over-tension, dimpling, cogs slipping, excess skin). The rules are
stated, not learned; their thresholds are ESTIMATES."""
from __future__ import annotations

import numpy as np

from .lift import LiftResult

#: excess skin (stress-free area growth since the start age, %) beyond which threads alone are
#: not advised: ESTIMATE (clinical judgement has no number in the reference table)
EXCESS_SKIN_LIMIT_PCT = 8.0
#: over-tensioned tissue (mL) or dimpling cogs (share) beyond which a plan counts as pulling too
#: hard: ESTIMATES, like the thresholds they count
OVER_TENSION_ML = 1.0
DIMPLING_SHARE = 0.1


def target_landmarks(model, plan) -> tuple:
    """The landmarks a plan aims at: its threads' entry landmarks."""
    return tuple(dict.fromkeys(th.entry for th in plan.threads if isinstance(th.entry, str)))


def assess(summary: dict, result: LiftResult, info: dict) -> dict:
    """Whether the plan reaches the target lift without over-tension, and when the sag is too
    large for threads alone. Rules (stated, not learned): reached and no over-tension or
    dimpling -> suitable; not reached while cogs slip or tissue is over-tensioned, or excess
    skin above EXCESS_SKIN_LIMIT_PCT -> threads alone cannot hold it, a facelift would serve
    better; not reached otherwise -> more pull or threads may (run the sweep)."""
    target = info.get("target_lift_mm")
    lift = summary.get("target_lift_mm") or 0.0
    over = (summary["over_tension"]["volume_ml"] > OVER_TENSION_ML
            or summary["unevenness"]["cogs_dimpling"] > DIMPLING_SHARE * len(result.cogs.tet))
    slipping = bool(np.any(result.slip > 0))
    excess = info.get("excess_skin_pct") or 0.0
    if target is None:
        verdict = "no target: give --target-lift or age the face in the plan"
    elif excess > EXCESS_SKIN_LIMIT_PCT:
        verdict = (f"excess skin {excess:.1f} % (> {EXCESS_SKIN_LIMIT_PCT:g} %): threads alone will not hold it; "
                   "a facelift would serve better")
    elif lift >= target and not over:
        verdict = f"suitable: {lift:.2f} mm of the {target:.2f} mm target without over-tension"
    elif lift >= target:
        verdict = f"reaches {lift:.2f} mm of {target:.2f} mm but over-tensions the tissue: use more threads with less pull"
    elif slipping or over:
        verdict = (f"reaches only {lift:.2f} mm of {target:.2f} mm with cogs at their limit or tissue over-tensioned: "
                   "the sag is too large for threads alone; a facelift would serve better")
    else:
        verdict = f"reaches {lift:.2f} mm of {target:.2f} mm: more pull or more threads may reach it (run --sweep)"
    low = info.get("lift_at_low_holding_mm")
    if low is not None and target is not None and lift >= target and low < target:
        verdict += (f"; but with cogs holding {info['holding_force_low_end']:.0%} of the estimate it reaches only "
                    f"{low:.2f} mm: not robust")
    return {**info, "lift_mm": lift, "over_tension_or_dimpling": over, "cogs_slipping": slipping,
            "verdict": verdict}
