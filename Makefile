# Two commands do all the set-up on a fresh machine:
#   make demo   - builds .venv, installs sagsim, ages the default face 40 -> 70 (examples/aging_demo.toml)
#                 and renders it: pictures, animation, $(OUT)/render/index.html
#   make test   - builds .venv, installs sagsim with test extras, runs the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= results/demo

export PYVISTA_OFF_SCREEN ?= true
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache
export MPLBACKEND ?= Agg

.PHONY: demo test bench venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sagsim age examples/aging_demo.toml --out $(OUT)
	$(BIN)/sagsim render $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/sagsim bench fem --json benchmarks/results/fem.json

clean:
	rm -rf $(VENV) .numba_cache results
