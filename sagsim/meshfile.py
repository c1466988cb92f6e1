"""A TissueModel as files: the mesh as VTU (ParaView opens it: layer and compartment tags,
fixed nodes) and everything else as a JSON sidecar next to it (materials, ligaments,
landmarks, skin surface, gravity), with the provenance that makes a shipped mesh
reproducible: generator version, parameters and a content hash.

``MESH.vtu`` + ``MESH.json``: the pair is what `sagsim mesh --out MESH.vtu` writes and
:func:`load_model` reads.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .version import __version__
from .anatomy.faces import BUILT_IN_FACES
from .errors import DataFileError
from .io import read_json, read_vtu, write_json, write_vtu
from .materials import MooneyRivlin, NeoHookean
from .model import Landmark, Layer, Springs, TissueModel

_MATERIALS = {"NeoHookean": NeoHookean, "MooneyRivlin": MooneyRivlin}


def content_hash(model: TissueModel) -> str:
    """SHA-256 over everything that defines the model, in a fixed order and dtype: the same
    arrays give the same hash on any machine (a face *rebuilt* on another processor can differ
    in a coordinate's last bit, numpy's vectorised trigonometry being processor-specific)."""
    h = hashlib.sha256()
    for arr, dtype in ((model.nodes, "<f8"), (model.tets, "<i8"), (model.tet_layer, "<i1"),
                       (model.tet_compartment, "<i2"), (model.fixed, "<i8"), (model.skin_faces, "<i8"),
                       (model.gravity, "<f8"), (model.springs.nodes, "<i8"), (model.springs.anchors, "<f8"),
                       (model.springs.stiffness, "<f8"), (model.springs.rest_length, "<f8"),
                       (model.springs.tension_only, "|b1"), (model.springs.group, "<i8")):
        h.update(np.ascontiguousarray(arr, dtype=dtype).tobytes())
    for name in sorted(model.landmarks):
        lm = model.landmarks[name]
        h.update(name.encode() + np.int64(lm.tet).tobytes() + np.asarray(lm.bary, "<f8").tobytes())
    for text in (*model.springs.names, *model.compartment_names, model.name):
        h.update(text.encode() + b"\0")
    for layer in sorted(model.materials):
        h.update(repr(model.materials[layer]).encode())
    return h.hexdigest()


def save_model(path: str | Path, model: TissueModel, parameters: dict | None = None) -> dict:
    """Write ``path`` (.vtu) and its sidecar (.json); returns the provenance written."""
    path = Path(path)
    if path.suffix != ".vtu":
        raise DataFileError(f"{path}: expected a .vtu file name for the mesh")
    fixed = np.zeros(model.n_nodes, np.int32)
    fixed[model.fixed] = 1
    provenance = {"generator": f"sagsim {__version__}", "parameters": parameters or {},
                  "content_hash": content_hash(model), "nodes": model.n_nodes, "tetrahedra": model.n_tets}
    s = model.springs
    sidecar = {
        "provenance": provenance,
        "name": model.name,
        "gravity": model.gravity,
        "materials": {Layer(k).name: {"type": type(m).__name__, **{f: getattr(m, f) for f in _fields(m)}}
                      for k, m in model.materials.items()},
        "compartment_names": list(model.compartment_names),
        "skin_faces": model.skin_faces,
        "springs": {"nodes": s.nodes, "anchors": s.anchors, "stiffness": s.stiffness, "rest_length": s.rest_length,
                    "tension_only": s.tension_only.astype(int), "group": s.group, "names": list(s.names)},
        "landmarks": {k: {"tet": int(v.tet), "bary": v.bary} for k, v in model.landmarks.items()},
    }
    write_vtu(path, model, point_data={"fixed": fixed})
    write_json(path.with_suffix(".json"), sidecar)
    return provenance


def load_model(path: str | Path) -> tuple[TissueModel, dict]:
    """Read a model written by :func:`save_model`; returns it and its provenance. A model
    whose content no longer matches its recorded hash is refused."""
    path = Path(path)
    side = read_json(path.with_suffix(".json"))
    points, tets, point_data, cell_data = read_vtu(path)
    try:
        materials = {Layer[k]: _MATERIALS[v.pop("type")](**v) for k, v in side["materials"].items()}
        sp = side["springs"]
        springs = Springs(nodes=np.asarray(sp["nodes"], np.int64).reshape(-1, 2),
                          anchors=np.asarray(sp["anchors"], float).reshape(-1, 3), stiffness=sp["stiffness"],
                          rest_length=sp["rest_length"], tension_only=np.asarray(sp["tension_only"], bool),
                          group=sp["group"], names=tuple(sp["names"]))
        model = TissueModel(
            nodes=points, tets=tets, tet_layer=cell_data["layer"], materials=materials, springs=springs,
            fixed=np.flatnonzero(point_data["fixed"]), skin_faces=np.asarray(side["skin_faces"], np.int64).reshape(-1, 3),
            landmarks={k: Landmark(tet=v["tet"], bary=np.asarray(v["bary"], float)) for k, v in side["landmarks"].items()},
            gravity=side["gravity"], tet_compartment=cell_data["compartment"],
            compartment_names=tuple(side["compartment_names"]), name=side["name"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"{path.with_suffix('.json')}: malformed model sidecar ({type(exc).__name__}: {exc})") from None
    provenance = side["provenance"]
    if content_hash(model) != provenance.get("content_hash"):
        raise DataFileError(f"{path}: content does not match the hash its provenance records (edited or corrupted)")
    return model, provenance


def _fields(material) -> list[str]:
    return [f for f in ("mu", "lam", "c10", "c20", "kappa", "density", "source") if hasattr(material, f)]


def load_face(face: str | Path) -> TissueModel:
    """A face by name or file: a built-in face (anatomy.faces.BUILT_IN_FACES: "coarse",
    "default" or "fine" for the real face, the vendored female head over its fitted skull;
    "procedural-coarse", "procedural-default" or "procedural-fine" for the procedural test bed)
    -- the mesh shipped in sagsim/data/meshes, built when absent -- or a model saved by
    `sagsim mesh` (.vtu + .json)."""
    if str(face) not in BUILT_IN_FACES:
        return load_model(face)[0]
    kind, resolution = BUILT_IN_FACES[str(face)]
    shipped = Path(__file__).resolve().parent / "data" / "meshes" / f"{kind}-{resolution}.vtu"
    if shipped.exists():
        return load_model(shipped)[0]
    if kind == "procedural":
        from .anatomy.face import build_face
        return build_face(resolution)
    from .anatomy.real_face import build_named_real_face
    return build_named_real_face("female", resolution)[0]
