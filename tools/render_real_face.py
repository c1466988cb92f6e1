"""Draw the real face: its skin from the front, three-quarter and profile, and a cut-away
through the left cheek with the fitted skull, the layers, the gliding spaces, the masseter, the
nose's cartilage and the ligaments.

    python tools/render_real_face.py [--face real-default] [--out docs/images]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyvista as pv

from sagsim.anatomy.head import load_head
from sagsim.anatomy.skull import fit_skull
from sagsim.meshfile import load_face
from sagsim.render.layers import BONE_COLOR, layers_plotter


def surface(points: np.ndarray, triangles: np.ndarray) -> pv.PolyData:
    return pv.PolyData(points, np.hstack([np.full((len(triangles), 1), 3), triangles]).ravel())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--face", default="real-default")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = load_face(args.face)
    skin = surface(model.nodes, model.skin_faces)
    c = np.array(skin.center)
    views = pv.Plotter(shape=(1, 3), off_screen=True, window_size=(1500, 600))
    for k, (eye, title) in enumerate([((0, 0, 1), "front"), ((0.7, 0, 0.7), "three-quarter"), ((1, 0, 0), "profile")]):
        views.subplot(0, k)
        views.add_mesh(skin, color="#e8b796", smooth_shading=True, specular=0.2)
        views.add_text(title, font_size=10)
        views.camera_position = [tuple(c + 0.6 * np.array(eye)), tuple(c), (0, 1, 0)]
        views.camera.zoom(1.6)
    views.screenshot(str(args.out / "real_face_views.png"))
    views.close()

    skull = fit_skull(load_head("female"))
    # through the left mid-cheek (the layers over the maxilla and the mandible), and further out
    # through the masseter (its gliding space, the muscle over the ramus)
    for name, fraction, title in (("real_face_cutaway", 0.7, "the real face, cut through the left cheek"),
                                  ("real_face_cutaway_masseter", 0.86, "cut through the left masseter")):
        cut = model.nodes[:, 0].min() + fraction * np.ptp(model.nodes[:, 0])
        plotter = layers_plotter(model, camera="cutaway", cut=fraction, dissect=False, window_size=(1200, 900),
                                 title=title)
        bone = surface(skull.points, skull.triangles).clip(normal="x", origin=(cut, 0, 0), invert=True)
        plotter.add_mesh(bone, color=BONE_COLOR, smooth_shading=True, name="skull")
        plotter.screenshot(str(args.out / f"{name}.png"))
        plotter.close()
    print(f"wrote the real face's views and cut-aways to {args.out}")


if __name__ == "__main__":
    main()
