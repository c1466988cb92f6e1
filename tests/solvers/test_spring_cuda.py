"""The GPU core's kernels (numba.cuda) against the CPU kernels, on the CUDA simulator (and on a
real GPU when SAGSIM_GPU_TESTS=1: benchmarks/gpu_check.sh runs it on a device machine).

The simulator must be switched on before numba is imported, so the comparison runs in a
subprocess with NUMBA_ENABLE_CUDASIM=1; the problem is tiny (the simulator runs each GPU
thread as a Python thread)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
from sagsim.anatomy.mesh import box_tets
from sagsim.materials import MooneyRivlin, NeoHookean
from sagsim.model import Layer, Springs, TissueModel
from sagsim.solvers.springs import SpringOptions, SpringSystem, explicit_steps
from sagsim.solvers.springs.integrators import _setup
from sagsim.solvers.springs.kernels import cuda as C
import spring_twins as tw

nodes, tets = box_tets((2, 1, 1))
nodes = nodes + 0.02 * np.random.default_rng(0).standard_normal(nodes.shape)
layer = np.where(np.arange(len(tets)) % 2 == 0, Layer.SKIN, Layer.SMAS).astype(np.int8)
spr = Springs(nodes=[[0, 11], [5, -1], [3, 8]], anchors=[[0, 0, 0], [0.5, 0.5, -0.3], [0, 0, 0]],
              stiffness=[2.0, 3.0, 1.5], rest_length=[0.5, 0.1, 3.0], tension_only=[True, True, False],
              group=[0, 0, 0], names=("lig",))
model = TissueModel(nodes=nodes, tets=tets, tet_layer=layer, springs=spr,
                    materials={{Layer.SKIN: NeoHookean(mu=1.0, lam=20.0), Layer.SMAS: MooneyRivlin(0.4, 1.4, 50.0)}},
                    fixed=np.flatnonzero(nodes[:, 2] < 0.05), gravity=[0, -0.5, 0])
out = {{"available": C.gpu_available(), "device": C.device_name()}}
dt, n_steps = 0.01, 3
for volume in ("nodal", "tet", "none"):
    s = SpringSystem.from_model(model, SpringOptions(volume=volume))
    x0 = s.to_kernel(model.nodes + 0.01 * np.random.default_rng(1).standard_normal(model.nodes.shape))
    x0[s.k_inv_m == 0] = s.k_X[s.k_inv_m == 0]
    x, v, inv_m, f_ext, gamma, cons = _setup(s, s.to_model(x0), None, None, 0.3)
    # two models in one batch: the second with twice the load
    f2 = np.stack([f_ext, 2 * f_ext])
    for method, theta in (("symplectic_euler", 0.0), ("verlet", 0.5)):
        cpu = []
        for f in f2:
            xc, vc, F = x.copy(), v.copy(), np.zeros_like(x)
            if theta == 0.0:
                explicit_steps(s, xc, vc, F, f, inv_m, gamma, dt, dt, theta, n_steps)
            else:
                explicit_steps(s, xc, vc, F, f, inv_m, gamma, dt / 2, dt, theta, 1)
                explicit_steps(s, xc, vc, F, f, inv_m, gamma, dt, dt, theta, n_steps - 1)
                explicit_steps(s, xc, vc, F, f, inv_m, gamma, dt / 2, 0.0, theta, 1)
            cpu.append(xc)
        cpu = np.array(cpu)
        g = C.CudaSprings(s, batch=2, block=32)
        g.set_state(x, v, gamma=gamma, f_ext=f2)
        for per_launch in (1, n_steps):
            g.set_state(x, v)
            g.run(n_steps, dt, method, per_launch=per_launch)
            key = f"{{volume}}/{{method}}/per_launch={{per_launch}}"
            out[key] = float(np.abs(g.positions() - cpu).max())
            out[key + "/moved"] = float(np.abs(cpu - x[None]).max())
    # the GPU path against the NumPy twin too (one step, model order)
    xt, _ = tw.symplectic_euler(s, s.to_model(x), np.zeros_like(x), 1, dt, np.full(s.n_nodes, 0.3), s.to_model(f_ext))
    g = C.CudaSprings(s, batch=1, block=32)
    g.set_state(x, v, gamma=gamma, f_ext=f_ext)
    g.run(1, dt)
    out[f"{{volume}}/twin"] = float(np.abs(s.to_model(g.positions()[0]) - xt).max())
# prescribed dofs: two free nodes pulled along y and held there, as the CPU core's constraints hold them
from sagsim.model import Loads
s = SpringSystem.from_model(model)
pulled = [k for k in range(model.n_nodes) if k not in set(model.fixed.tolist())][:2]
loads = Loads(prescribed_dofs=np.array([3 * k + 1 for k in pulled]), prescribed_values=np.array([0.02, -0.01]))
x, v, inv_m, f_ext, gamma, cons = _setup(s, None, None, loads, 0.3)
xc, vc, F = x.copy(), v.copy(), np.zeros_like(x)
explicit_steps(s, xc, vc, F, f_ext, inv_m, gamma, dt, dt, 0.0, n_steps, cons)
g = C.CudaSprings(s, batch=1, block=32)
g.set_state(x, v, gamma=gamma, f_ext=f_ext)
g.set_prescribed(cons.node, cons.axis)
for per_launch in (1, n_steps):
    g.set_state(x, v)
    g.run(n_steps, dt, per_launch=per_launch)
    out[f"prescribed/per_launch={{per_launch}}"] = float(np.abs(g.positions()[0] - xc).max())
    out[f"prescribed/held/per_launch={{per_launch}}"] = float(np.abs(g.positions()[0][cons.node, cons.axis] - cons.value).max())
out["prescribed/moved"] = float(np.abs(xc - x).max())
print(json.dumps(out))
"""


@pytest.mark.parametrize("where", ["simulator", pytest.param("device", marks=pytest.mark.skipif(
    os.environ.get("SAGSIM_GPU_TESTS") != "1", reason="on a GPU machine: SAGSIM_GPU_TESTS=1 (benchmarks/gpu_check.sh)"))])
def test_cuda_kernels_equal_cpu_kernels(where):
    env = dict(os.environ)
    if where == "simulator":
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    else:
        env.pop("NUMBA_ENABLE_CUDASIM", None)
    # the GPU contracts a*b+c into FMAs where the CPU may not: a few more ulps on the device
    tol = 1e-13 if where == "simulator" else 1e-12
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    code = SCRIPT.format(tests=str(ROOT / "tests"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["available"]
    for key, value in out.items():
        if key.endswith("/moved"):
            assert value > 1e-5, key  # the comparison is not of two resting states
        elif "/" in key:
            assert value <= tol, (key, value)


def test_cpu_only_use_never_imports_numba_cuda():
    code = ("import sys; from sagsim.solvers.springs import SpringSystem; "
            "import sagsim.solvers.springs.integrators; print('numba.cuda' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="the simulator is always available")
def test_bench_skips_the_gpu_cleanly_without_one():
    from sagsim.solvers.springs.kernels import cuda as spring_cuda

    if spring_cuda.gpu_available():
        pytest.skip("a GPU is present")
    from sagsim.bench import spring_lattice as bench_springs

    assert bench_springs.gpu_record(2, steps=2) is None
