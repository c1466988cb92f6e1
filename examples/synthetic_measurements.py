"""Make examples/calibrate_measurements.csv: SYNTHETIC landmark displacements computed by
sagsim's own model at known parameters, with noise, so `sagsim calibrate
examples/calibrate_default.toml` can be checked against the truth. Not measurements.

Run: python examples/synthetic_measurements.py
"""
from pathlib import Path

from sagsim.sweep.calibrate import synthetic_measurements

HERE = Path(__file__).parent
TRUTH = {"ligament_laxity.stiffness_loss": 0.30, "fat_descent.time_constant": 20.0}
AGES = [45, 50, 55, 60]

if __name__ == "__main__":
    from sagsim.meshfile import load_face
    landmarks = sorted(load_face("procedural-coarse").landmarks)  # all 21 of the face calibrate_default.toml uses
    path = synthetic_measurements(HERE / "calibrate_default.toml", TRUTH, HERE / "calibrate_measurements.csv",
                                  landmarks, ages=AGES, noise_mm=0.02, seed=0)
    print(f"wrote {path}")
