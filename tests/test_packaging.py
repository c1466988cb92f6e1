"""What an installed wheel holds: every module (the benchmarks `sagsim bench` runs included) and
the data the package reads at run time (the shipped faces, the literature table), so that the
commands work from `pip install` and not only from a checkout."""
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_module_and_the_data(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("sagsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "sagsim").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    data = {p.relative_to(ROOT).as_posix() for p in (ROOT / "sagsim" / "data").rglob("*") if p.is_file()}
    assert {"sagsim/data/tissue_parameters.csv", "sagsim/data/meshes/procedural-default.vtu",
            "sagsim/data/meshes/procedural-default.json"} <= data
    assert data <= names, sorted(data - names)
