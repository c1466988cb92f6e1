"""sagsim.io: round trips, parseable reports, atomic writes, clear errors on bad data."""
import csv
import dataclasses
import json
import re
import sys
from pathlib import Path

import meshio
import numpy as np
import pytest

from sagsim import io
from sagsim.anatomy.mesh import box_tets
from sagsim.errors import ModelError, SagsimError
from sagsim.materials import NeoHookean
from sagsim.model import Layer, State, TissueModel

LAYERS = (Layer.SMAS, Layer.SUPERFICIAL_FAT, Layer.SKIN)  # bottom to top: z up to the skin


def slab(shape=(3, 2, 3), size=(0.03, 0.02, 0.009)) -> TissueModel:
    """Three layers stacked in z, one cell thick each, with two compartments split at x = mid."""
    nodes, tets = box_tets(shape, size=size)
    centre = nodes[tets].mean(axis=1)
    layer = np.array(LAYERS, np.int8)[np.minimum((centre[:, 2] / size[2] * 3).astype(int), 2)]
    compartment = (centre[:, 0] > size[0] / 2).astype(np.int16)
    return TissueModel(nodes=nodes, tets=tets, tet_layer=layer, tet_compartment=compartment,
                       materials={lay: NeoHookean(1e3, 1e4) for lay in LAYERS},
                       compartment_names=("medial", "lateral"), name="slab")


def sagged(model: TissueModel, amount: float = 2e-3, seed: int = 0) -> State:
    """A made-up displaced state: downward sag growing towards the skin, plus noise."""
    rng = np.random.default_rng(seed)
    z = model.nodes[:, 2] / model.nodes[:, 2].max()
    u = np.zeros_like(model.nodes)
    u[:, 1] = -amount * z
    u += 1e-5 * rng.standard_normal(u.shape)  # no round numbers: exactness is tested
    return State(x=model.nodes + u, reference=model.nodes.copy(), time=1.0)


@pytest.fixture(scope="module")
def model() -> TissueModel:
    return slab()


def test_vtu_round_trip_is_exact(model, tmp_path):
    state = sagged(model)
    extra_p = np.linspace(0.0, 1.0, model.n_nodes)
    extra_c = np.arange(model.n_tets) * 0.5
    path = io.write_vtu(tmp_path / "slab.vtu", model, state, point_data={"pressure": extra_p},
                        cell_data={"strain": extra_c})
    points, tets, pdata, cdata = io.read_vtu(path)
    assert points.dtype == np.float64 and np.array_equal(points, state.x)
    assert tets.dtype == np.int64 and np.array_equal(tets, model.tets)
    assert pdata["displacement"].dtype == np.float64
    assert np.array_equal(pdata["displacement"], state.x - state.reference)
    assert np.array_equal(pdata["pressure"], extra_p)
    assert np.array_equal(cdata["layer"], model.tet_layer)
    assert np.array_equal(cdata["compartment"], model.tet_compartment)
    assert np.array_equal(cdata["strain"], extra_c)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slab.vtu"]  # no temporary left


def test_a_quadratic_state_is_written_as_ten_node_tetrahedra(model, tmp_path):
    # curved edges: ParaView's quadratic tetrahedron (VTK type 24), midside nodes after the
    # corners; read back by its corners, and meshio sees the midsides where they were put
    from sagsim.model import midside_edges

    state = sagged(model)
    edges, tet_edges = midside_edges(model.tets)
    rng = np.random.default_rng(3)
    mid = 0.5 * (state.x[edges[:, 0]] + state.x[edges[:, 1]]) + 1e-4 * rng.standard_normal((len(edges), 3))
    state = dataclasses.replace(state, internal={**state.internal, "midside": mid})
    extra = np.linspace(0.0, 1.0, model.n_nodes)
    path = io.write_vtu(tmp_path / "curved.vtu", model, state, point_data={"pressure": extra})
    raw = meshio.vtu.read(str(path))
    assert [c.type for c in raw.cells] == ["tetra10"]
    assert np.array_equal(raw.cells[0].data[:, 4:], model.n_nodes + tet_edges)
    np.testing.assert_array_equal(raw.points[model.n_nodes:], mid)
    ref_mid = 0.5 * (state.reference[edges[:, 0]] + state.reference[edges[:, 1]])
    np.testing.assert_allclose(raw.point_data["displacement"][model.n_nodes:], mid - ref_mid, atol=1e-15)
    np.testing.assert_allclose(raw.point_data["pressure"][model.n_nodes:],
                               0.5 * (extra[edges[:, 0]] + extra[edges[:, 1]]), atol=1e-15)
    points, tets, pdata, _ = io.read_vtu(path)
    assert np.array_equal(points, state.x) and np.array_equal(tets, model.tets)
    assert np.array_equal(pdata["pressure"], extra)
    with pytest.raises(ModelError, match="midside"):
        io.write_vtu(tmp_path / "bad.vtu", model, dataclasses.replace(state, internal={"midside": mid[:-1]}))


def test_vtu_without_state_is_the_reference(model, tmp_path):
    points, _, pdata, _ = io.read_vtu(io.write_vtu(tmp_path / "ref.vtu", model))
    assert np.array_equal(points, model.nodes)
    assert not pdata["displacement"].any()


def test_json_is_parseable_sorted_and_converts_numpy(tmp_path):
    obj = {"b": np.float32(1.5), "a": {"arr": np.arange(3), "m": np.eye(2)}, "flag": np.bool_(True),
           Layer.SMAS: np.int64(7), "layer": Layer.SKIN, "path": tmp_path}
    path = io.write_json(tmp_path / "r.json", obj)
    text = path.read_text()
    back = json.loads(text)
    assert back == {"b": 1.5, "a": {"arr": [0, 1, 2], "m": [[1.0, 0.0], [0.0, 1.0]]}, "flag": True,
                    "SMAS": 7, "layer": "SKIN", "path": str(tmp_path)}
    assert list(back) == sorted(back) and '\n  "a": {' in text  # sorted keys, indent 2
    assert io.read_json(path) == back


def test_csv_is_parseable(tmp_path):
    rows = [{"step": np.int64(0), "sag_mm": np.float64(0.25), "name": "jowl"},
            {"step": 1, "sag_mm": 1 / 3, "note": None}]
    path = io.write_csv(tmp_path / "t.csv", rows)
    with open(path, newline="") as f:
        back = list(csv.DictReader(f))
    assert list(back[0]) == ["step", "sag_mm", "name", "note"]
    assert back[0] == {"step": "0", "sag_mm": "0.25", "name": "jowl", "note": ""}
    assert float(back[1]["sag_mm"]) == 1 / 3  # full precision
    with pytest.raises(ModelError, match="row 0"):
        io.write_csv(tmp_path / "u.csv", [{"a": 1, "b": 2}], columns=["a"])


def test_atomic_write_leaves_nothing_when_the_writer_raises(tmp_path):
    def failing(tmp: Path) -> None:
        tmp.write_text("half of it")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        io.atomic_write(tmp_path / "out.txt", failing)
    assert list(tmp_path.iterdir()) == []
    # An existing file is left exactly as it was.
    (tmp_path / "out.txt").write_text("old")
    with pytest.raises(RuntimeError):
        io.atomic_write(tmp_path / "out.txt", failing)
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"] and (tmp_path / "out.txt").read_text() == "old"
    io.atomic_write(tmp_path / "out.txt", lambda tmp: tmp.write_text("new"))
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"] and (tmp_path / "out.txt").read_text() == "new"


def test_atomic_write_needs_an_existing_folder(tmp_path):
    with pytest.raises(SagsimError, match="missing"):
        io.atomic_write(tmp_path / "missing" / "x.txt", lambda tmp: tmp.write_text("x"))


def _bad_state(model):
    x = model.nodes.copy()
    x[5, 1] = np.nan
    return State(x=x, reference=model.nodes.copy())


@pytest.mark.parametrize("case, field", [
    ("json", "a.b[1]"),
    ("csv", "row 1 column sag"),
    ("vtu_state", "state.x"),
    ("vtu_point", "point_data[p]"),
    ("vtu_cell", "cell_data[c]"),
    ("xdmf", "state.x"),
])
def test_non_finite_data_raises_naming_the_field(model, tmp_path, case, field):
    inf_cells = np.zeros(model.n_tets)
    inf_cells[3] = np.inf
    write = {
        "json": lambda: io.write_json(tmp_path / "f.json", {"a": {"b": [1.0, float("nan")]}}),
        "csv": lambda: io.write_csv(tmp_path / "f.csv", [{"sag": 1.0}, {"sag": np.float64("inf")}]),
        "vtu_state": lambda: io.write_vtu(tmp_path / "f.vtu", model, _bad_state(model)),
        "vtu_point": lambda: io.write_vtu(tmp_path / "f.vtu", model, point_data={"p": np.full(model.n_nodes, np.nan)}),
        "vtu_cell": lambda: io.write_vtu(tmp_path / "f.vtu", model, cell_data={"c": inf_cells}),
        "xdmf": lambda: io.write_xdmf_series(tmp_path / "f.xdmf", model, [(0.0, State.initial(model)), (1.0, _bad_state(model))],
                                             data_format="XML"),
    }[case]
    with pytest.raises(ModelError) as err:
        write()
    assert f"'{field}'" in str(err.value) and "f." in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_wrong_number_of_rows_raises(model, tmp_path):
    with pytest.raises(ModelError, match=r"point_data\[p\].*48 rows"):
        io.write_vtu(tmp_path / "f.vtu", model, point_data={"p": np.zeros(3)})
    with pytest.raises(ModelError, match="displacement"):
        io.write_vtu(tmp_path / "f.vtu", model, point_data={"displacement": np.zeros((model.n_nodes, 3))})


def test_reading_missing_or_malformed_files_names_the_file(tmp_path):
    garbage = tmp_path / "garbage.vtu"
    garbage.write_text("<VTKFile>not really")
    broken = tmp_path / "broken.json"
    broken.write_text('{"a": 1,,}')
    nan_json = tmp_path / "nan.json"
    nan_json.write_text('{"a": NaN}')
    for read, path in [(io.read_vtu, tmp_path / "none.vtu"), (io.read_vtu, garbage),
                       (io.read_json, tmp_path / "none.json"), (io.read_json, broken), (io.read_json, nan_json)]:
        with pytest.raises(io.DataFileError) as err:
            read(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(io.DataFileError, match="line 1 column 9"):
        io.read_json(broken)


def _read_series(path):
    with meshio.xdmf.TimeSeriesReader(str(path)) as reader:
        points, cells = reader.read_points_cells()
        steps = [reader.read_data(k) for k in range(reader.num_steps)]
    return points, cells, steps


def _check_series(model, path, states, times):
    points, cells, steps = _read_series(path)
    assert np.array_equal(points, model.nodes)
    assert cells[0].type == "tetra" and np.array_equal(cells[0].data, model.tets)
    assert [t for t, _, _ in steps] == times
    for (_, pdata, cdata), state in zip(steps, states):
        assert np.array_equal(pdata["displacement"], state.x - state.reference)
        assert np.array_equal(pdata["warp"], state.x - model.nodes)
        assert np.array_equal(pdata["speed"], np.full(model.n_nodes, state.time))
        assert np.array_equal(cdata["layer"][0], model.tet_layer)


def _series(model):
    states = [State.initial(model), sagged(model, 1e-3, 1), sagged(model, 3e-3, 2)]
    states = [State(x=s.x, reference=s.reference, time=t) for s, t in zip(states, (0.0, 0.5, 2.25))]
    return states, [s.time for s in states]


def test_xdmf_series_round_trip_xml(model, tmp_path):
    states, times = _series(model)
    path = io.write_xdmf_series(tmp_path / "run.xdmf", model, ((s.time, s) for s in states),
                                point_data_fn=lambda s: {"speed": np.full(model.n_nodes, s.time)}, data_format="XML")
    _check_series(model, path, states, times)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.xdmf"]


def test_xdmf_series_round_trip_hdf(model, tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # meshio alone would put the .h5 in the current folder
    out = tmp_path / "out"
    out.mkdir()
    states, times = _series(model)
    path = io.write_xdmf_series(out / "run.xdmf", model, [(s.time, s) for s in states],
                                point_data_fn=lambda s: {"speed": np.full(model.n_nodes, s.time)})
    assert sorted(p.name for p in out.iterdir()) == ["run.h5", "run.xdmf"]
    assert list(elsewhere.iterdir()) == []
    assert re.search(r">run\.h5:/", path.read_text())
    _check_series(model, path, states, times)


def test_xdmf_without_h5py_says_so(model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` fail
    with pytest.raises(io.DataFileError, match="h5py"):
        io.write_xdmf_series(tmp_path / "run.xdmf", model, [(0.0, State.initial(model))])
    assert list(tmp_path.iterdir()) == []


def test_xdmf_rejects_bad_times_and_empty_series(model, tmp_path):
    s = State.initial(model)
    with pytest.raises(ModelError, match="'time'.*increasing"):
        io.write_xdmf_series(tmp_path / "a.xdmf", model, [(1.0, s), (1.0, s)], data_format="XML")
    with pytest.raises(ModelError, match="'time'.*finite"):
        io.write_xdmf_series(tmp_path / "a.xdmf", model, [(float("nan"), s)], data_format="XML")
    with pytest.raises(ModelError, match="at least one"):
        io.write_xdmf_series(tmp_path / "a.xdmf", model, [], data_format="XML")
    assert list(tmp_path.iterdir()) == []


def test_only_io_imports_meshio():
    # meshio is barely maintained: keep it replaceable behind sagsim/io.py.
    root = Path(io.__file__).parent
    users = [p.relative_to(root).as_posix() for p in root.rglob("*.py")
             if re.search(r"^\s*(import|from)\s+meshio", p.read_text(), re.M)]
    assert users == ["io.py"]
