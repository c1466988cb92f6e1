"""The tests are laid out like the package (tests/solvers/ for sagsim/solvers/, ...); the NumPy
twins they share (twins.py, spring_twins.py) sit here, and pytest puts this folder on sys.path
for every test below it because this conftest.py lives in it."""
import pytest


@pytest.fixture(scope="session")
def female_head_and_skull():
    """The vendored female head and its fitted skull (8 s to fit: once for the whole run)."""
    from sagsim.anatomy.head import load_head
    from sagsim.anatomy.skull import fit_skull

    head = load_head("female")
    return head, fit_skull(head)
