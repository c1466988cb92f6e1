"""Thread lifts: nothing moves without a pull, cogs never exceed their holding force, slip
only goes towards the entry and only where a cog is at its limit, lift grows with the pull
until the cogs slip."""
import numpy as np
import pytest

from sagsim.aging import AgingSettings
from sagsim.aging.run import start_state
from sagsim.errors import ScenarioError
from sagsim.meshfile import load_face
from sagsim.model import State
from sagsim.threads import Thread, ThreadPlan, place_cogs, solve_lift
from sagsim.threads.lift import SLIP_TOL


@pytest.fixture(scope="module")
def face():
    model = load_face("coarse")
    X0, x0 = start_state(model, AgingSettings(unloaded=False, ligament_prestrain=0.0))
    return model, State(x=x0, reference=X0)


def plan(pull, holding=0.3, cogs=4):
    return ThreadPlan(tuple(Thread(f"jowl_{s}", entry=f"jowl_{s}", anchor=f"tragus_{s}", pull=pull, cogs=cogs,
                                   cog_spacing=0.006, holding_force=holding) for s in ("left", "right")))


def jowl_lift_mm(model, res, start):
    return 1e3 * (model.landmark_position("jowl_left", res.state.x) - model.landmark_position("jowl_left", start.x))[1]


def test_cogs_sit_in_their_layer_pointing_at_the_anchor(face):
    model, start = face
    cogs = place_cogs(model, plan(0.002), start.x)
    assert len(cogs.tet) == 8
    assert np.all(model.tet_layer[cogs.tet] == 1)  # superficial fat
    assert np.allclose(cogs.bary.sum(axis=1), 1.0) and (cogs.bary > -1e-12).all()
    to_anchor = model.landmark_position("tragus_left", start.x) - cogs.position[0]
    assert cogs.direction[0] @ to_anchor / np.linalg.norm(to_anchor) > 0.999


def test_without_a_pull_nothing_moves(face):
    model, start = face
    res = solve_lift(model, start, plan(0.0))
    # within the solver's tolerance (the start equilibrium is itself converged to it)
    assert np.abs(res.state.x - start.x).max() < 1e-7 and np.abs(res.force).max() < 1e-6


def test_cog_forces_stay_within_their_limit_and_slip_only_towards_the_entry(face):
    model, start = face
    res = solve_lift(model, start, plan(0.006))
    limit = 0.3
    assert res.force.max() <= limit * (1 + SLIP_TOL)
    assert (res.slip >= 0).all() and res.slip.max() > 0  # some slipped, none the other way
    slipping = res.slip > 0
    assert np.all(res.force[slipping & ~res.released] >= limit * (1 - SLIP_TOL))  # slipped cogs hold at the limit
    np.testing.assert_allclose(res.tension, np.bincount(res.cogs.thread, weights=res.force), rtol=1e-12)


def test_lift_grows_with_the_pull_until_the_cogs_slip(face):
    model, start = face
    lifts = [jowl_lift_mm(model, solve_lift(model, start, plan(p)), start) for p in (0.001, 0.002, 0.004, 0.008)]
    assert lifts[0] > 0 and np.all(np.diff(lifts) > -1e-9)
    assert lifts[1] / lifts[0] > 1.8  # elastic: proportional while no cog slips
    per_mm = np.diff(lifts) / np.diff([1.0, 2.0, 4.0, 8.0])
    assert per_mm[2] < 0.5 * per_mm[0]  # then the cogs slip and each further mm lifts less


def test_a_thread_longer_than_its_path_is_refused(face):
    model, start = face
    with pytest.raises(ScenarioError, match="do not fit"):
        place_cogs(model, plan(0.002, cogs=40), start.x)
