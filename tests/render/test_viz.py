"""sagsim.render (displacement, layers): pictures checked for content (size, not blank, colours, range), not pixels."""
import os

os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")  # before pyvista is imported: never a window

import numpy as np
import pytest
from matplotlib.image import imread

from sagsim.render.displacement import displacement_plotter, render_displacement
from sagsim.render.layers import (LAYER_COLORS, LAYER_LABELS, LIGAMENT_COLORS, bone_faces, layers_plotter,
                                  render_layers)
from sagsim.render.scene import to_pyvista
from sagsim.anatomy.mesh import box_tets
from sagsim.errors import SagsimError
from sagsim.materials import NeoHookean
from sagsim.model import Layer, State, TissueModel

LAYERS = (Layer.SMAS, Layer.SUPERFICIAL_FAT, Layer.SKIN)  # bottom to top: z up to the skin
SIZE = (320, 240)


@pytest.fixture(scope="module")
def model() -> TissueModel:
    """A 3-layer slab (x 40 mm, y 30 mm, z 9 mm), one cell per layer."""
    size = (0.04, 0.03, 0.009)
    nodes, tets = box_tets((4, 3, 3), size=size)
    zc = nodes[tets].mean(axis=1)[:, 2]
    layer = np.array(LAYERS, np.int8)[np.minimum((zc / size[2] * 3).astype(int), 2)]
    return TissueModel(nodes=nodes, tets=tets, tet_layer=layer,
                       materials={lay: NeoHookean(1e3, 1e4) for lay in LAYERS}, name="slab")


@pytest.fixture(scope="module")
def state(model) -> State:
    """Sag growing with z (towards the skin) and x: extremes on the boundary, 0 at z = 0."""
    p = model.nodes
    u = np.zeros_like(p)
    u[:, 1] = -3e-3 * (p[:, 2] / p[:, 2].max()) * (0.5 + p[:, 0] / p[:, 0].max())
    return State(x=p + u, reference=p.copy())


def png(path) -> np.ndarray:
    """The picture as (H, W, 3) uint8."""
    img = imread(path)
    return np.round(img[..., :3] * 255).astype(np.uint8) if img.dtype != np.uint8 else img[..., :3]


def colour_count(img: np.ndarray, hex_colour: str, tol: int = 3) -> int:
    """Pixels within ``tol`` (per channel, 0..255) of ``hex_colour``."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(img.astype(int) - rgb).max(axis=-1) <= tol).sum())


def test_layer_colors_are_fixed_hex_and_distinct():
    assert set(LAYER_COLORS) == set(Layer)
    for colour in LAYER_COLORS.values():
        assert len(colour) == 7 and colour[0] == "#" and int(colour[1:], 16) >= 0
    assert len(set(LAYER_COLORS.values())) == len(Layer)


def test_to_pyvista_carries_layers_and_displacement_in_mm(model, state):
    grid = to_pyvista(model, state.x)
    assert grid.n_cells == model.n_tets and grid.n_points == model.n_nodes
    assert np.array_equal(grid.cell_data["layer"], model.tet_layer)
    assert np.allclose(grid.point_data["displacement_mm"], (state.x - model.nodes) * 1e3, rtol=0, atol=1e-12)
    assert np.allclose(to_pyvista(model).point_data["displacement_mm"], 0.0)


def test_render_displacement_writes_a_picture(model, state, tmp_path):
    path = render_displacement(model, state, tmp_path / "disp.png", title="sag", window_size=SIZE)
    img = png(path)
    assert img.shape == (SIZE[1], SIZE[0], 3)
    assert img.std() > 20  # not blank (a blank white picture has 0)
    assert [p.name for p in tmp_path.iterdir()] == ["disp.png"]  # no temporary left


def test_colour_bar_spans_the_displacement_range_in_mm(model, state):
    mm = np.linalg.norm(state.x - state.reference, axis=1) * 1e3
    plotter = displacement_plotter(model, state, window_size=SIZE)
    try:
        assert plotter.off_screen
        assert np.allclose(plotter.actors["deformed"].mapper.scalar_range, (mm.min(), mm.max()), rtol=1e-12)
        bar = plotter.scalar_bars["displacement [mm]"]
        assert bar.GetTitle() == "displacement [mm]"
        assert np.allclose(bar.GetLookupTable().GetRange(), (mm.min(), mm.max()), rtol=1e-12)
    finally:
        plotter.close()
    plotter = displacement_plotter(model, state, window_size=SIZE, clim=(0.0, 10.0), show_reference=False)
    try:
        assert tuple(plotter.actors["deformed"].mapper.scalar_range) == (0.0, 10.0)
        assert "reference" not in plotter.actors
    finally:
        plotter.close()


@pytest.mark.parametrize("camera, direction", [("front", (0, 0, 1)), ("side", (1, 0, 0)), ("iso", (1, 1, 1))])
def test_camera_presets_are_deterministic(model, state, camera, direction):
    views = []
    for _ in range(2):
        plotter = displacement_plotter(model, state, camera=camera, window_size=SIZE)
        cam = plotter.camera_position
        views.append(np.array([cam.position, cam.focal_point, cam.viewup]))
        plotter.close()
    assert np.array_equal(views[0], views[1])
    position, focus, up = views[0]
    look = (position - focus) / np.linalg.norm(position - focus)
    assert np.allclose(look, np.array(direction) / np.linalg.norm(direction))
    assert np.allclose(up, (0, 1, 0))


def test_render_layers_shows_the_layer_colours(model, state, tmp_path):
    img = png(render_layers(model, state, tmp_path / "layers.png", window_size=SIZE, legend=False))
    assert img.shape == (SIZE[1], SIZE[0], 3) and img.std() > 20
    for layer in LAYERS:  # drawn unlit, so each layer shows exactly its colour
        assert colour_count(img, LAYER_COLORS[layer]) > 100, layer.name
    for layer in set(Layer) - set(LAYERS):
        assert colour_count(img, LAYER_COLORS[layer]) < 5, layer.name
    plotter = layers_plotter(model, state, window_size=SIZE)
    try:
        assert {f"layer_{lay.name}" for lay in LAYERS} <= set(plotter.actors)
        legend = plotter.actors["legend"]
        assert [legend.GetEntryString(i) for i in range(legend.GetNumberOfEntries())] == \
            [LAYER_LABELS[lay] for lay in sorted(LAYERS)]
    finally:
        plotter.close()


def test_bad_camera_is_a_sagsim_error(model, state, tmp_path):
    with pytest.raises(SagsimError, match="camera"):
        render_displacement(model, state, tmp_path / "x.png", camera="top")
    assert list(tmp_path.iterdir()) == []


def test_the_cutaway_dissects_the_far_side_down_to_bone_and_ligaments(model, tmp_path):
    from sagsim.model import Springs
    bottom = np.flatnonzero(model.nodes[:, 2] == 0.0)
    top = np.flatnonzero((model.nodes[:, 2] == model.nodes[:, 2].max()) & (model.nodes[:, 0] > 0.03))
    lig = Springs(nodes=np.column_stack([top, np.full(len(top), -1)]), anchors=model.nodes[top] * [1, 1, 0],
                  stiffness=np.ones(len(top)), rest_length=np.full(len(top), 0.009),
                  tension_only=np.ones(len(top), bool), group=np.zeros(len(top), np.int64), names=("zygomatic_left",))
    fixed = model.with_(fixed=bottom, springs=lig)
    assert len(bone_faces(fixed)) == 2 * 4 * 3  # the slab's bottom: 4 x 3 cells of two triangles
    plotter = layers_plotter(fixed, None, window_size=SIZE, camera="cutaway", cut=0.5)
    try:
        labels = [plotter.actors["legend"].GetEntryString(i) for i in range(plotter.actors["legend"].GetNumberOfEntries())]
        assert labels[-2:] == ["bone", "zygomatic ligament"]
        bone = plotter.actors["bone"].GetMapper().GetInput()
        assert np.asarray(bone.GetBounds())[0] >= 0.02 - 1e-12  # only beyond the cut
        assert {"ligament_zygomatic", "layer_SKIN"} <= set(plotter.actors)
    finally:
        plotter.close()
    img = png(render_layers(fixed, None, tmp_path / "cut.png", window_size=SIZE, camera="cutaway", legend=False))
    assert colour_count(img, LIGAMENT_COLORS["zygomatic"], tol=3) > 10  # drawn unlit: exactly its colour
    with pytest.raises(SagsimError, match="cut"):
        layers_plotter(fixed, None, cut=1.5)
