"""Draw the real head's face region with its landmarks: front, three-quarter and profile.

    python tools/render_head.py [--variant female|male] [--out docs/images/head_female.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyvista as pv

from sagsim.anatomy.head import face_region, load_head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="female", choices=["female", "male"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path(f"docs/images/head_{args.variant}.png")
    head = face_region(load_head(args.variant))
    skin = pv.PolyData(head.points, np.hstack([np.full((len(head.triangles), 1), 3), head.triangles]).ravel())
    marks = pv.PolyData(np.array(list(head.landmarks.values())))
    plotter = pv.Plotter(shape=(1, 3), off_screen=True, window_size=(1500, 560))
    c = np.array(skin.center)
    for k, (eye, title) in enumerate([((0, 0, 1), "front"), ((0.7, 0, 0.7), "three-quarter"), ((1, 0, 0), "profile")]):
        plotter.subplot(0, k)
        plotter.add_mesh(skin, color="wheat", smooth_shading=True)
        plotter.add_mesh(marks, color="firebrick", point_size=9, render_points_as_spheres=True)
        plotter.add_text(title, font_size=10)
        plotter.camera_position = [tuple(c + 0.6 * np.array(eye)), tuple(c), (0, 1, 0)]
        plotter.camera.zoom(1.5)
    out.parent.mkdir(parents=True, exist_ok=True)
    plotter.screenshot(str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
