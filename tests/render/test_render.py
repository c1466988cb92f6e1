"""`sagsim render` on aging and lift folders: pictures with content, the layer colours in the
cut-away, colour ranges that match the data, one animation frame per age, an interactive view
carrying the skin, and an HTML page whose links all resolve."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest

SCENARIO = """
[scenario]
name = "quick"
face = "procedural-coarse"
end_age = 50
step_years = 5
"""

PLAN = """
[plan]
name = "quick_lift"
face = "procedural-coarse"
[[thread]]
name = "jowl_left"
entry = "jowl_left"
anchor = "tragus_left"
cogs = 4
cog_spacing = "6 mm"
pull = "5 mm"
holding_force = "0.3 N"
[[thread]]
name = "jowl_right"
entry = "jowl_right"
anchor = "tragus_right"
material = "PCL"
cogs = 4
cog_spacing = "6 mm"
pull = "3 mm"
"""


def _sagsim(*args):
    subprocess.run([sys.executable, "-m", "sagsim.cli", *map(str, args), "--quiet"], check=True,
                   capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def aging(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aging")
    (folder / "s.toml").write_text(SCENARIO)
    _sagsim("age", folder / "s.toml", "--out", folder / "out")
    from sagsim.render import render_folder
    return folder / "out", render_folder(folder / "out")


@pytest.fixture(scope="module")
def lift(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lift")
    (folder / "p.toml").write_text(PLAN)
    _sagsim("lift", folder / "p.toml", "--out", folder / "out")
    proc = subprocess.run([sys.executable, "-m", "sagsim.cli", "render", str(folder / "out")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return folder / "out", sorted((folder / "out" / "render").iterdir())


def _rgb(hex_colour):
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])


def _count(img, hex_colour, tol):
    return int((np.abs(img[..., :3].reshape(-1, 3).astype(int) - _rgb(hex_colour)).max(axis=1) <= tol).sum())


@pytest.mark.parametrize("which", ["aging", "lift"])
def test_pictures_are_not_blank_and_the_cutaway_shows_every_layer_and_the_bone(which, request):
    import imageio.v3 as iio
    from sagsim.model import Layer
    from sagsim.render.layers import BONE_COLOR, LAYER_COLORS, LIGAMENT_COLORS
    out, files = request.getfixturevalue(which)
    pngs = [p for p in files if p.suffix == ".png"]
    assert len(pngs) >= 5
    for p in pngs:
        assert iio.imread(p).std() > 5, p  # not a blank frame
    cut = iio.imread(out / "render" / "cutaway.png")
    for layer in (Layer.SKIN, Layer.SUPERFICIAL_FAT, Layer.SMAS, Layer.DEEP_FAT):
        assert _count(cut, LAYER_COLORS[layer], 30) > 20, layer  # its colour (compartments shaded) is there
    assert _count(cut, BONE_COLOR, 60) > 200  # the bone (lit, so shaded)
    assert _count(cut, LIGAMENT_COLORS["zygomatic"], 3) > 5  # ligaments drawn unlit


def test_the_colour_ranges_match_the_data(aging, lift):
    import meshio
    from sagsim.io import read_xdmf_series
    out, _ = aging
    _, _, warps = read_xdmf_series(out / "series.xdmf", "warp")
    manifest = json.loads((out / "render" / "manifest.json").read_text())
    assert manifest["kind"] == "aging"
    np.testing.assert_allclose(manifest["colour_ranges"]["change_mm"],
                               [0.0, 1e3 * np.linalg.norm(warps[-1] - warps[0], axis=1).max()], rtol=1e-9)
    out, _ = lift
    manifest = json.loads((out / "render" / "manifest.json").read_text())
    lift_m = meshio.read(out / "lift.vtu").point_data["lift"]
    np.testing.assert_allclose(manifest["colour_ranges"]["lift_mm"][1], 1e3 * np.linalg.norm(lift_m, axis=1).max(),
                               rtol=1e-9)
    assert manifest["colour_ranges"]["cog_force_N"] == [0.0, 1.0]  # the largest holding force (the default 1 N)
    assert set(manifest["pictures"]) >= {"threads_front.png", "overtension.png", "unevenness.png",
                                         "before_after.png", "cutaway.png", "view3d.html"}


def test_the_lift_pictures_show_the_threads_the_hot_spots_and_the_dimples(lift):
    import csv

    import imageio.v3 as iio
    from sagsim.render.threads import DIMPLE_COLOR, THREAD_COLORS
    out, _ = lift
    summary = json.loads((out / "summary.json").read_text())
    assert summary["over_tension"]["volume_ml"] > 0 and summary["unevenness"]["cogs_dimpling"] >= 1
    hot = iio.imread(out / "render" / "overtension.png")[..., :3].astype(int)
    reddish = (hot[..., 0] > 150) & (hot[..., 0] - hot[..., 1] > 60) & (hot[..., 0] - hot[..., 2] > 60)
    assert reddish.sum() > 200  # over-tensioned elements, drawn in reds
    assert _count(hot, THREAD_COLORS["PDO"], 60) > 20 and _count(hot, THREAD_COLORS["PCL"], 60) > 20
    dents = iio.imread(out / "render" / "unevenness.png")
    assert _count(dents, DIMPLE_COLOR, 50) > 10  # the dimpling cogs' marks
    cogs = list(csv.DictReader(open(out / "cogs.csv")))
    assert len(cogs) == 8


@pytest.mark.parametrize("which, stem, frames", [("aging", "aging", 3),  # ages 40, 45, 50
                                                 ("lift", "months", 6)])  # months 0, 1, 3, 6, 12, 18
def test_the_animations_have_a_frame_per_age_or_month(which, stem, frames, request):
    import imageio.v2 as iio2
    import imageio.v3 as iio
    out, _ = request.getfixturevalue(which)
    assert iio.imread(out / "render" / f"{stem}.gif", index=None).shape[0] == frames
    with iio2.get_reader(out / "render" / f"{stem}.mp4", format="FFMPEG") as reader:
        assert reader.count_frames() == frames


def test_the_months_series_holds_the_fading_lift(lift):
    import csv

    from sagsim.io import read_xdmf_series
    out, _ = lift
    months, points, warps = read_xdmf_series(out / "months.xdmf", "displacement")
    assert months.tolist() == [0, 1, 3, 6, 12, 18]
    rows = list(csv.DictReader(open(out / "months.csv")))
    from sagsim.meshfile import load_face
    model = load_face("procedural-coarse")
    for row, disp in zip(rows, warps, strict=True):  # the series' lift at the jowl is the table's
        lift_mm = 1e3 * (model.landmark_position("jowl_left", points + disp) - model.landmark_position("jowl_left", points))[1]
        assert lift_mm == pytest.approx(float(row["lift_mm:jowl_left"]), abs=1e-6)


@pytest.mark.parametrize("which", ["aging", "lift"])
def test_the_interactive_view_carries_the_skin_and_the_threads(which, request):
    from sagsim.meshfile import load_face
    from sagsim.render.interactive import read_payload
    out, _ = request.getfixturevalue(which)
    text = (out / "render" / "view3d.html").read_text()
    assert "http" not in text  # self-contained: nothing fetched from a network
    data = read_payload(out / "render" / "view3d.html")
    model = load_face("procedural-coarse")
    assert data["indices"].shape == model.skin_faces.shape
    assert data["positions"].shape == (len(np.unique(model.skin_faces)), 3) and data["indices"].max() < len(data["positions"])
    assert np.ptp(data["positions"], axis=0).max() > 50  # millimetres across a face
    assert len(np.unique(data["colors"], axis=0)) > 10  # coloured by the field, not flat
    if which == "lift":
        assert len(data["lines"]) == 2 * (4 + 4)  # two threads: 4 cogs + anchor = 4 segments each


@pytest.mark.parametrize("which", ["aging", "lift"])
def test_the_page_links_resolve(which, request):
    out, _ = request.getfixturevalue(which)
    page = (out / "render" / "index.html").read_text()
    links = re.findall(r"(?:src|href)='([^']+)'", page)
    assert len(links) >= 8
    for link in links:
        assert (out / "render" / link).resolve().exists(), link
    assert "view3d.html" in links


def test_render_refuses_a_folder_that_is_neither_kind(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sagsim.cli", "render", str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "not an aging or lift results folder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "render").exists()


@pytest.mark.parametrize("which", ["aging", "lift"])
def test_the_viewer_script_runs_and_frames_the_face(which, request):
    """The page's JavaScript under node with a stub WebGL context: it draws every skin triangle
    (and the threads), and its first view holds the whole face, filling a good part of it."""
    import shutil
    from pathlib import Path
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed: the viewer script cannot be run here")
    out, _ = request.getfixturevalue(which)
    harness = Path(__file__).parent / "js" / "view3d_harness.js"
    proc = subprocess.run([node, str(harness), str(out / "render" / "view3d.html")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    from sagsim.render.interactive import read_payload
    data = read_payload(out / "render" / "view3d.html")
    frame = [c for c in result["calls"] if c[0] == "drawElements"]
    assert result["frames"] == 4 and len(frame) == 4  # first draw, turn, zoom, reset
    assert frame[0][1:3] == ["TRIANGLES", data["indices"].size]
    lines = [c for c in result["calls"] if c[0] == "drawArrays" and c[1] == "LINES"]
    assert len(lines) == (4 if which == "lift" else 0) and (not lines or lines[0][3] == len(data["lines"]))
    assert result["inside"] == 1.0 and min(result["span"]) > 0.4


def test_an_older_lift_folder_is_refused_in_one_line(lift, tmp_path):
    import shutil
    out, _ = lift
    old = tmp_path / "old"
    shutil.copytree(out, old, ignore=shutil.ignore_patterns("render"))
    summary = json.loads((old / "summary.json").read_text())
    del summary["face_source"]
    (old / "summary.json").write_text(json.dumps(summary))
    proc = subprocess.run([sys.executable, "-m", "sagsim.cli", "render", str(old)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "face_source" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (old / "render").exists()
