"""The pictures of docs/registration.md: the real face registered onto the example scan
(examples/scans/fran_cut.vtk) and onto the male head, the scan in tan, the registered skin as a
blue wireframe, front, profile and three-quarter.

    python tools/render_registration.py   # writes docs/images/registration_*.png (about 20 s)
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")
import pyvista as pv  # noqa: E402

from sagsim.anatomy.register import UNITS, register  # noqa: E402
from sagsim.bench.registration import CASES, make_scan, truth_model  # noqa: E402
from sagsim.io import read_surface  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def poly(points, triangles):
    return pv.PolyData(points, np.column_stack([np.full(len(triangles), 3), triangles]).ravel())


def picture(points, triangles, units, title, out, landmarks=None):
    fitted = register(truth_model("female", "default"), points, triangles, units=units, landmarks=landmarks)
    scan = poly(fitted.scan_to_model(points * UNITS[units]), triangles)
    m = fitted.model
    skin = poly(m.nodes, m.skin_faces)
    marks = np.array([m.landmark_position(k) for k in sorted(m.landmarks)])
    plotter = pv.Plotter(off_screen=True, window_size=(1500, 520), shape=(1, 3), theme=pv.themes.DocumentTheme())
    for i, view in enumerate(("xy", "zy", "xy")):
        plotter.subplot(0, i)
        plotter.add_mesh(scan, color="tan", smooth_shading=True)
        plotter.add_mesh(skin, color="steelblue", style="wireframe", line_width=1, opacity=0.7)
        plotter.add_points(marks, color="crimson", point_size=8, render_points_as_spheres=True)
        getattr(plotter, f"view_{view}")()
        if i == 2:  # three-quarter
            plotter.camera.azimuth = 40
    plotter.subplot(0, 0)
    plotter.add_text(title, font_size=10)
    plotter.screenshot(str(out))
    plotter.close()
    gaps = fitted.report["gap_template_to_scan"]["all"]
    print(f"{out}: gap {gaps['mean_mm']:.2f} mm mean, {gaps['p95_mm']:.2f} mm 95th percentile")


def main() -> None:
    images = ROOT / "docs" / "images"
    points, triangles = read_surface(ROOT / "examples" / "scans" / "fran_cut.vtk")
    picture(points, triangles, "m", "a laser scan (VTK's fran_cut.vtk): scan tan, registered skin blue, landmarks red",
            images / "registration_scan.png")
    scan = make_scan(CASES[6], "default")
    picture(scan["points"], scan["triangles"], "cm", "the female template on the male head",
            images / "registration_male.png")


if __name__ == "__main__":
    main()
