#!/usr/bin/env bash
# The device check of the mass-spring core's GPU path, prepared for a session that is lent a GPU
# machine (one call of the device tool, about 3 minutes; its image has numpy, scipy, numba,
# numba-cuda and pytest, which is all this path imports):
#   1. the CUDA kernels against the CPU kernels on the real GPU (tests/test_spring_cuda.py),
#   2. `sagsim bench springs` at n = 64 and 128: plain loop, CPU core and GPU core, one JSON.
# Results go to $OUT (set by the device tool) or results/gpu: gpu.txt, tests.log, bench.log,
# springs_gpu.json. Run from the repository root: bash benchmarks/gpu_check.sh
set -euo pipefail
OUT=${OUT:-results/gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/nbcache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
SAGSIM_GPU_TESTS=1 python3 -m pytest -q -p no:cacheprovider tests/test_spring_cuda.py 2>&1 | tee "$OUT/tests.log"
python3 -m sagsim.cli bench springs --n 64 128 --repeats 3 --json "$OUT/springs_gpu.json" 2>&1 | tee "$OUT/bench.log"
