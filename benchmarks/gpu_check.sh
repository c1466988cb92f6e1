#!/usr/bin/env bash
# The device check of the mass-spring core's GPU path, prepared for a session that is lent a GPU
# machine (one call of the device tool, about 4 minutes; its image has numpy, scipy, numba,
# numba-cuda and pytest, which is all this path imports):
#   1. the CUDA kernels against the CPU kernels on the real GPU (tests/solvers/test_spring_cuda.py),
#   2. `sagsim bench springs` at n = 64 (3 repeats) and 128 (1): plain loop, CPU core (bands
#      and rows) and GPU core.
# Results go to $OUT (set by the device tool) or results/gpu: gpu.txt, tests.log, bench.log,
# springs_gpu_64.json, springs_gpu_128.json. Run from the repository root: bash benchmarks/gpu_check.sh
set -euo pipefail
OUT=${OUT:-results/gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/nbcache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
SAGSIM_GPU_TESTS=1 python3 -m pytest -q -p no:cacheprovider tests/solvers/test_spring_cuda.py 2>&1 | tee "$OUT/tests.log"
# n = 128 once: its plain-loop reference alone is about a minute per repeat on one CPU thread
python3 -m sagsim.cli bench springs --n 64 --repeats 3 --json "$OUT/springs_gpu_64.json" 2>&1 | tee "$OUT/bench.log"
python3 -m sagsim.cli bench springs --n 128 --repeats 1 --json "$OUT/springs_gpu_128.json" 2>&1 | tee -a "$OUT/bench.log"
