"""The tests are laid out like the package (tests/solvers/ for sagsim/solvers/, ...); the NumPy
twins they share (twins.py, spring_twins.py) sit here, and pytest puts this folder on sys.path
for every test below it because this conftest.py lives in it."""
