"""Reading and writing sagsim's files: JSON and CSV reports, VTU meshes, XDMF time series.

meshio is barely maintained, so it stays behind this module: no other part of sagsim imports
it. Every writer goes through :func:`atomic_path`, so an error or a crash never leaves a
half-written file where a finished one is expected. Data are written in SI units (metres).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import enum
import json
import math
import numbers
import os
import secrets
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import meshio
import meshio.vtu
import meshio.xdmf
import numpy as np

from .errors import DataFileError, ModelError
from .model import State, TissueModel, midside_edges

PathLike = str | os.PathLike

#: Arrays the writers always write; extra arrays may not reuse their names.
_VTU_POINT = ("displacement",)
_SERIES_POINT = ("displacement", "warp")
_CELL = ("layer", "compartment")


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (meshio and XML parsers sometimes use several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


# --------------------------------------------------------------------------- atomic writes


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block succeeds, rename it to ``path``.

    The temporary name keeps the suffix, since meshio and VTK choose the format from it, and
    lives in the same folder, so the final rename is atomic. If the block raises, the
    temporary file is removed and ``path`` is left as it was.

    Raises
    ------
    DataFileError
        The folder does not exist, the block wrote nothing, or the OS refused (OSError).
    """
    final = Path(path)
    if not final.parent.is_dir():
        raise DataFileError(f"{final}: expected an existing folder '{final.parent}' to write into")
    # Not created here (mkstemp would give it mode 0600): the writer creates it with the
    # usual permissions; 32 random bits make a clash with another writer negligible.
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp{final.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise DataFileError(f"{final}: expected the writer to create a file, it wrote nothing")
        os.replace(tmp, final)
    except OSError as exc:
        raise DataFileError(f"{final}: cannot write ({exc.strerror or _one_line(exc)})") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # gone already after a successful rename


def atomic_write(path: PathLike, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp)`` on a temporary path, then rename ``tmp`` to ``path``.

    Returns
    -------
    The final path. On any error nothing is left behind (see :func:`atomic_path`).
    """
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


# --------------------------------------------------------------------------- JSON and CSV


def _json_key(key: Any, file: str, field: str) -> str:
    if isinstance(key, enum.Enum):
        return key.name
    if isinstance(key, str):
        return key
    if isinstance(key, (numbers.Integral, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return str(int(key))
    raise ModelError(f"{file}: field '{field}': expected str, int or Enum keys, got {type(key).__name__} {key!r}")


def _jsonable(obj: Any, file: str, field: str) -> Any:
    """``obj`` as plain JSON types; numpy and Enum converted, non-finite numbers refused.

    ``file`` and ``field`` (a path like ``a.b[3]``) only name the culprit in errors.
    """
    if obj is None or isinstance(obj, (str, bool)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, enum.Enum):  # before int: Layer is an IntEnum, its name reads better
        return obj.name
    if isinstance(obj, (numbers.Integral, np.integer)):
        return int(obj)
    if isinstance(obj, (numbers.Real, np.floating)):
        if not math.isfinite(obj):
            raise ModelError(f"{file}: field '{field}': expected a finite number, got {float(obj)}")
        return float(obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f" and not np.isfinite(obj).all():
            bad = np.argwhere(~np.isfinite(obj))[0].tolist()
            raise ModelError(f"{file}: field '{field}': expected finite numbers, found {obj[tuple(bad)]} at index {bad}")
        if obj.dtype.kind in "biuf":
            return obj.tolist()
        return [_jsonable(v, file, f"{field}[{i}]") for i, v in enumerate(obj.tolist())]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            key = _json_key(k, file, field)
            out[key] = _jsonable(v, file, f"{field}.{key}" if field else key)
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, file, f"{field}[{i}]") for i, v in enumerate(obj)]
    raise ModelError(f"{file}: field '{field}': expected JSON-compatible data (number, str, list, "
                     f"dict, array), got {type(obj).__name__}")


def write_json(path: PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON (sorted keys, indent 2), atomically.

    numpy scalars and arrays become numbers and lists, Enums their names, dataclasses dicts.

    Raises
    ------
    ModelError
        A value is NaN or infinite, or not representable in JSON; the message names its field.
    """
    data = _jsonable(obj, str(path), "")
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _read_text(path: PathLike) -> str:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(f"{p}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{p}: expected UTF-8 text, {_one_line(exc)}") from None
    except OSError as exc:
        raise DataFileError(f"{p}: cannot read ({exc.strerror or _one_line(exc)})") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"expected finite numbers, found {name}")


def read_json(path: PathLike) -> Any:
    """Read a JSON file.

    Raises
    ------
    DataFileError
        The file is missing, unreadable, or not valid JSON (NaN and Infinity included).
    """
    text = _read_text(path)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}: expected JSON, {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise DataFileError(f"{path}: {_one_line(exc)}") from None


def _csv_cell(value: Any, file: str, field: str) -> Any:
    if value is None:
        return ""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        raise ModelError(f"{file}: field '{field}': expected a single value per cell, got {type(value).__name__}")
    return _jsonable(value, file, field)


def write_csv(path: PathLike, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` (dicts) as a CSV table with a header row, atomically.

    Parameters
    ----------
    columns
        Column order; by default the keys in the order they first appear. A row may lack a
        column (empty cell) but may not have a key outside ``columns``.

    Raises
    ------
    ModelError
        A value is NaN, infinite or not a scalar, or a row has an unknown column.
    """
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    columns = [str(c) for c in columns]
    known = set(columns)
    table = []
    for i, row in enumerate(rows):
        extra = [k for k in row if str(k) not in known]
        if extra:
            raise ModelError(f"{path}: field 'row {i}': expected columns {columns}, got extra {extra}")
        cells = {str(k): v for k, v in row.items()}
        table.append([_csv_cell(cells.get(c), str(path), f"row {i} column {c}") for c in columns])
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(columns)
        out.writerows(table)
    return Path(path)


# --------------------------------------------------------------------------- mesh data


def _checked(where: str, name: str, value: Any, rows: int) -> np.ndarray:
    """``value`` as a numeric array with ``rows`` rows and finite values."""
    arr = np.asarray(value)
    if arr.dtype == bool:
        arr = arr.astype(np.int32)  # VTU and XDMF have no boolean type
    if arr.dtype.kind not in "iuf" or arr.ndim == 0 or len(arr) != rows:
        raise ModelError(f"{where}: field '{name}': expected a numeric array with {rows} rows, "
                         f"got {arr.dtype} with shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ModelError(f"{where}: field '{name}': expected finite values, found NaN or inf at row {row}")
    if arr.dtype.kind in "iu" and arr.dtype.itemsize < 4:
        arr = arr.astype(np.int32)  # XDMF's XML format knows no 8/16-bit integers
    return arr


def _state_arrays(model: TissueModel, state: State | None, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Current positions and displacement ``x - reference`` (m), checked against ``model``."""
    if state is None:
        return np.asarray(model.nodes), np.zeros_like(model.nodes)
    n = model.n_nodes
    x = _checked(where, "state.x", state.x, n).astype(np.float64)
    ref = _checked(where, "state.reference", state.reference, n).astype(np.float64)
    if x.shape != (n, 3) or ref.shape != (n, 3):
        raise ModelError(f"{where}: field 'state': expected x and reference of shape ({n}, 3), got {x.shape} and {ref.shape}")
    return x, x - ref


def _extras(where: str, kind: str, data: Mapping[str, Any] | None, rows: int,
            reserved: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {}
    for name, value in dict(data or {}).items():
        if name in reserved:
            raise ModelError(f"{where}: field '{kind}[{name}]': expected a name other than {', '.join(reserved)} (written already)")
        out[str(name)] = _checked(where, f"{kind}[{name}]", value, rows)
    return out


def _tags(model: TissueModel) -> dict[str, np.ndarray]:
    # int32: ParaView and XDMF both read it, and it holds every Layer and compartment index.
    return {"layer": np.asarray(model.tet_layer, np.int32),
            "compartment": np.asarray(model.tet_compartment, np.int32)}


def write_vtu(path: PathLike, model: TissueModel, state: State | None = None,
              point_data: Mapping[str, Any] | None = None,
              cell_data: Mapping[str, Any] | None = None) -> Path:
    """Write the tetrahedral mesh at the state's positions (or the reference) as VTU.

    Point data: ``displacement`` (m, state.x - state.reference) and ``point_data``; cell
    data: ``layer``, ``compartment`` and ``cell_data``. Binary, zlib-compressed (ParaView
    reads it), written atomically. A state of quadratic elements (``internal["midside"]``)
    is written as ten-node tetrahedra (VTK's quadratic tetrahedron, which ParaView draws
    curved), its midside nodes after the corners; ``point_data`` there is the mean of the
    edge's two ends.

    Raises
    ------
    ModelError
        An array has the wrong number of rows or a NaN/inf; the message names it.
    """
    where = str(path)
    x, disp = _state_arrays(model, state, where)
    pdata = {"displacement": disp, **_extras(where, "point_data", point_data, model.n_nodes, _VTU_POINT)}
    cdata = {**_tags(model), **_extras(where, "cell_data", cell_data, model.n_tets, _CELL)}
    cells = ("tetra", np.asarray(model.tets, np.int64))
    midside = None if state is None else state.internal.get("midside")
    if midside is not None:
        x, pdata, cells = _quadratic(where, model, x, x - disp, midside, pdata)
    mesh = meshio.Mesh(x, [cells], point_data=pdata, cell_data={k: [v] for k, v in cdata.items()})
    with atomic_path(path) as tmp:
        meshio.vtu.write(str(tmp), mesh, binary=True, compression="zlib")
    return Path(path)


def _quadratic(where: str, model: TissueModel, x: np.ndarray, reference: np.ndarray, midside: Any,
               pdata: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray], tuple[str, np.ndarray]]:
    """Points, point data and cells of the ten-node tetrahedra of a quadratic state."""
    edges, tet_edges = midside_edges(model.tets)
    mid = _checked(where, "state.internal[midside]", midside, len(edges)).astype(np.float64)
    if mid.shape != (len(edges), 3):
        raise ModelError(f"{where}: field 'state.internal[midside]': expected shape ({len(edges)}, 3), got {mid.shape}")
    a, b = edges[:, 0], edges[:, 1]
    out = {name: np.concatenate([v, 0.5 * (v[a] + v[b])]).astype(v.dtype, copy=False) for name, v in pdata.items()}
    out["displacement"] = np.concatenate([pdata["displacement"], mid - 0.5 * (reference[a] + reference[b])])
    cells = np.concatenate([np.asarray(model.tets, np.int64), model.n_nodes + tet_edges], axis=1)
    return np.concatenate([x, mid]), out, ("tetra10", cells)


def read_vtu(path: PathLike) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Read a tetrahedral VTU mesh. Ten-node tetrahedra (as write_vtu writes a quadratic
    state) are read by their corners: points and point data then stop where the midside
    nodes begin.

    Returns
    -------
    points (N, 3) float64, tets (M, 4) int64, point_data {name: array (N, ...)},
    cell_data {name: array (M, ...)} over the tetrahedra (other cell types are ignored).

    Raises
    ------
    DataFileError
        The file is missing, not VTU, or holds no tetrahedra.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{p}: file not found")
    try:
        # The VTU reader itself: meshio.read() prints and calls sys.exit(1) on a ReadError.
        mesh = meshio.vtu.read(str(p))
    except Exception as exc:  # meshio raises ReadError, XML, zlib, Key/ValueErrors on bad input
        why = type(exc).__name__ + ("" if _one_line(exc) == type(exc).__name__ else f": {_one_line(exc)}")
        raise DataFileError(f"{p}: expected a VTU mesh, meshio says {why}") from None
    blocks = [i for i, c in enumerate(mesh.cells) if c.type in ("tetra", "tetra10")]
    if not blocks:
        found = ", ".join(c.type for c in mesh.cells) or "none"
        raise DataFileError(f"{p}: field 'cells': expected tetrahedra (tetra or tetra10), found {found}")
    tets = np.concatenate([mesh.cells[i].data[:, :4] for i in blocks]).astype(np.int64)
    cell_data = {name: np.concatenate([np.asarray(arrs[i]) for i in blocks])
                 for name, arrs in mesh.cell_data.items()}
    n = len(mesh.points)
    midsides = [mesh.cells[i].data[:, 4:] for i in blocks if mesh.cells[i].type == "tetra10"]
    if midsides:
        mids = np.unique(np.concatenate([m.ravel() for m in midsides]))
        n -= len(mids)
        if mids.min() < n or tets.max() >= n:
            raise DataFileError(f"{p}: field 'cells': ten-node tetrahedra whose midside nodes are not the last points")
    point_data = {name: np.asarray(v)[:n] for name, v in mesh.point_data.items()}
    return np.asarray(mesh.points, np.float64)[:n], tets, point_data, cell_data


# --------------------------------------------------------------------------- surfaces


def read_surface(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A triangulated surface from a file: STL, OBJ, PLY, OFF... through meshio, VTK's own
    formats (.vtk legacy polydata, which meshio does not read, and .vtp) through VTK.

    Returns points (N, 3) float64 and triangles (F, 3) int64: quads and polygons are split into
    triangles (scans often come as quads), other cells ignored. Raises DataFileError when the
    file is missing, unreadable or holds no faces.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{p}: file not found")
    if p.suffix.lower() in (".vtk", ".vtp"):
        return _read_surface_vtk(p)
    try:
        mesh = meshio.read(str(p)) if p.suffix.lower() != ".vtu" else meshio.vtu.read(str(p))
    except SystemExit:  # meshio.read exits on an unknown format instead of raising
        raise DataFileError(f"{p}: meshio cannot read this format") from None
    except Exception as exc:
        raise DataFileError(f"{p}: expected a triangulated surface, meshio says {_one_line(exc)}") from None
    faces = [_fan(np.asarray(c.data, np.int64)) for c in mesh.cells
             if c.type in ("triangle", "quad") or c.type.startswith("polygon")]
    if not faces:
        found = ", ".join(c.type for c in mesh.cells) or "none"
        raise DataFileError(f"{p}: field 'cells': expected triangles, found {found}")
    return np.asarray(mesh.points, np.float64)[:, :3], np.concatenate(faces)


def _fan(polygons: np.ndarray) -> np.ndarray:
    """Polygons (F, k) as triangles (F (k - 2), 3), fanned from each polygon's first corner."""
    k = polygons.shape[1]
    return np.concatenate([polygons[:, [0, i, i + 1]] for i in range(1, k - 1)]) if k > 3 else polygons


def _read_surface_vtk(p: Path) -> tuple[np.ndarray, np.ndarray]:
    import pyvista as pv

    try:
        mesh = pv.read(str(p))
        surface = mesh.extract_surface().triangulate() if not isinstance(mesh, pv.PolyData) else mesh.triangulate()
    except Exception as exc:
        raise DataFileError(f"{p}: expected a triangulated surface, VTK says {_one_line(exc)}") from None
    faces = np.asarray(surface.faces, np.int64)
    if surface.n_cells == 0 or len(faces) == 0:
        raise DataFileError(f"{p}: field 'cells': expected triangles, found none")
    return np.asarray(surface.points, np.float64), faces.reshape(-1, 4)[:, 1:]


def write_surface(path: PathLike, points: np.ndarray, triangles: np.ndarray) -> Path:
    """A triangulated surface in the format its suffix names (.stl, .ply, .obj, .vtk...)."""
    where = str(path)
    points = _checked(where, "points", points, len(np.asarray(points)))
    mesh = meshio.Mesh(points, [("triangle", np.asarray(triangles, np.int64))])
    suffix = Path(path).suffix
    with atomic_path(path) as tmp:
        meshio.write(str(tmp), mesh, file_format={".stl": "stl", ".ply": "ply", ".obj": "obj",
                                                  ".vtk": "vtk", ".vtu": "vtu"}.get(suffix.lower()))
    return Path(path)


# --------------------------------------------------------------------------- XDMF series


class _SeriesWriter(meshio.xdmf.TimeSeriesWriter):
    """meshio's TimeSeriesWriter with its HDF5 file written where we say.

    meshio 5.3 opens ``<stem>.h5`` in the current directory rather than next to the .xdmf
    (whose references the reader resolves next to the .xdmf). Here the data go to
    ``h5_path`` (a temporary file) while the XDMF refers to ``h5_name``, the name the file
    will have once renamed next to it.
    """

    def __init__(self, xdmf_path: Path, h5_path: Path | None, h5_name: str, data_format: str) -> None:
        super().__init__(xdmf_path, data_format=data_format)
        self._h5_path, self._h5_name = h5_path, h5_name

    def __enter__(self) -> "_SeriesWriter":
        if self.data_format == "HDF":
            import h5py

            self.h5_filename = self._h5_name  # meshio writes basename(h5_filename) into the XDMF
            self.h5_file = h5py.File(self._h5_path, "w")
        return self


def write_xdmf_series(path: PathLike, model: TissueModel,
                      states_with_times: Iterable[tuple[float, State]],
                      point_data_fn: Callable[[State], Mapping[str, Any]] | None = None,
                      *, data_format: str = "HDF") -> Path:
    """Write a time series of states as XDMF, for ParaView's time controls.

    The mesh is the model's reference nodes. Each step has point data ``displacement`` (m,
    x - state.reference), ``warp`` (m, x - model.nodes: use it with Warp By Vector to see the
    current shape; it equals displacement until the reference remodels) and
    ``point_data_fn(state)``, and cell data ``layer`` and ``compartment``.

    Parameters
    ----------
    data_format
        "HDF": arrays in ``<stem>.h5`` next to the .xdmf (needs the h5py package); "XML": a
        single, larger, self-contained .xdmf (no h5py needed).

    Raises
    ------
    ModelError
        Times not finite or not increasing, no states, or an array malformed or non-finite.
    DataFileError
        h5py is missing for "HDF", or an unknown ``data_format``.
    """
    final = Path(path)
    if data_format not in ("HDF", "XML"):
        raise DataFileError(f"{final}: field 'data_format': expected 'HDF' or 'XML', got {data_format!r}")
    if data_format == "HDF":
        try:
            import h5py  # noqa: F401  (meshio imports it itself, inside the writer)
        except ImportError:
            raise DataFileError(f"{final}: XDMF with HDF5 data needs the h5py package "
                                "(pip install h5py), or pass data_format='XML'") from None
    h5 = final.with_suffix(".h5")
    tags = {k: [v] for k, v in _tags(model).items()}
    with contextlib.ExitStack() as stack:
        # Entered xdmf first, so the .h5 is renamed first: a finished .xdmf never points at
        # a missing .h5. Either error leaves neither temporary file behind.
        tmp_xdmf = stack.enter_context(atomic_path(final))
        tmp_h5 = stack.enter_context(atomic_path(h5)) if data_format == "HDF" else None
        with _SeriesWriter(tmp_xdmf, tmp_h5, h5.name, data_format) as writer:
            writer.write_points_cells(np.asarray(model.nodes), [("tetra", np.asarray(model.tets, np.int64))])
            _write_steps(writer, final, model, states_with_times, point_data_fn, tags)
    return final


def _write_steps(writer: _SeriesWriter, path: Path, model: TissueModel,
                 states_with_times: Iterable[tuple[float, State]],
                 point_data_fn: Callable[[State], Mapping[str, Any]] | None,
                 tags: dict[str, list[np.ndarray]]) -> None:
    last = -math.inf
    steps = 0
    for k, item in enumerate(states_with_times):
        where = f"{path}: step {k}"
        try:
            t, state = item
            t = float(t)
        except (TypeError, ValueError):
            raise ModelError(f"{where}: expected a (time, State) pair, got {type(item).__name__}") from None
        if not math.isfinite(t):
            raise ModelError(f"{where}: field 'time': expected a finite time in s, got {t}")
        if t <= last:
            raise ModelError(f"{where}: field 'time': expected increasing times, got {t} after {last}")
        x, disp = _state_arrays(model, state, where)
        extra = point_data_fn(state) if point_data_fn is not None else {}
        pdata = {"displacement": disp, "warp": x - model.nodes,
                 **_extras(where, "point_data_fn", extra, model.n_nodes, _SERIES_POINT)}
        writer.write_data(t, point_data=pdata, cell_data=dict(tags))
        last, steps = t, steps + 1
    if steps == 0:
        raise ModelError(f"{path}: field 'states_with_times': expected at least one (time, State) pair, got none")


def read_xdmf_series(path: PathLike, field: str = "warp") -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Times, mesh points and the point data ``field`` of every step of an XDMF time series
    (as write_xdmf_series writes it). Raises DataFileError naming the file and what is wrong."""
    where = str(path)
    try:
        with meshio.xdmf.TimeSeriesReader(where) as reader:
            points, _ = reader.read_points_cells()
            times, values = [], []
            for k in range(reader.num_steps):
                t, pdata, _ = reader.read_data(k)
                if field not in pdata:
                    raise DataFileError(f"{where}: step {k} has no point data '{field}'")
                times.append(float(t))
                values.append(np.asarray(pdata[field], np.float64))
    except DataFileError:
        raise
    except Exception as exc:  # meshio raises plain errors for a missing or broken file
        raise DataFileError(f"{where}: cannot read the time series ({_one_line(exc)})") from None
    return np.array(times), np.asarray(points, np.float64), values
