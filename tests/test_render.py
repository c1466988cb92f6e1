"""`sagsim render` on an aging folder: pictures with content, the layer colours in the cut-away,
one animation frame per age, and an HTML page whose links all resolve."""
import re
import subprocess
import sys

import numpy as np
import pytest

SCENARIO = """
[scenario]
name = "quick"
face = "coarse"
end_age = 50
step_years = 5
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from sagsim.render import render_folder
    folder = tmp_path_factory.mktemp("aging")
    (folder / "s.toml").write_text(SCENARIO)
    subprocess.run([sys.executable, "-m", "sagsim.cli", "age", str(folder / "s.toml"), "--out", str(folder / "out"),
                    "--quiet"], check=True, capture_output=True, timeout=300)
    return folder / "out", render_folder(folder / "out")


def test_pictures_are_not_blank_and_the_cutaway_shows_every_layer(rendered):
    import imageio.v3 as iio
    from sagsim.model import Layer
    from sagsim.viz import LAYER_COLORS
    out, files = rendered
    for p in files:
        if p.suffix == ".png":
            img = iio.imread(p)
            assert img.std() > 5, p  # not a blank frame
    cut = iio.imread(out / "render" / "cutaway.png")[..., :3].reshape(-1, 3).astype(int)
    for layer in (Layer.SKIN, Layer.SUPERFICIAL_FAT, Layer.SMAS, Layer.DEEP_FAT):
        rgb = np.array([int(LAYER_COLORS[layer][i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(cut - rgb).max(axis=1) < 40).sum() > 20, layer  # its colour (shaded) is there


def test_the_animation_has_a_frame_per_age(rendered):
    import imageio.v3 as iio
    out, _ = rendered
    assert iio.imread(out / "render" / "aging.gif", index=None).shape[0] == 3  # ages 40, 45, 50
    import imageio.v2 as iio2
    with iio2.get_reader(out / "render" / "aging.mp4", format="FFMPEG") as reader:
        assert reader.count_frames() == 3


def test_the_page_links_resolve(rendered):
    out, _ = rendered
    page = (out / "render" / "index.html").read_text()
    links = re.findall(r"(?:src|href)='([^']+)'", page)
    assert len(links) >= 8
    for link in links:
        assert (out / "render" / link).resolve().exists(), link



def test_render_refuses_a_folder_that_is_not_an_aging_run(tmp_path):
    from sagsim.errors import DataFileError
    from sagsim.render import render_folder
    with pytest.raises(DataFileError, match="not an aging results folder"):
        render_folder(tmp_path)
    assert not (tmp_path / "render").exists()
