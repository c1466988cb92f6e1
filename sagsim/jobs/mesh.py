"""The mesh job: build the procedural face, the real face (the vendored head over its fitted
skull), or grow the layers under an imported skin surface, and save it as a model file pair
(VTU + JSON sidecar with its provenance)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..anatomy.face import FaceParams, build_face
from ..anatomy.mesh import quality_report
from ..anatomy.real_face import build_named_real_face
from ..anatomy.skin_import import layers_under_skin
from ..errors import MeshError
from ..io import read_json, read_surface
from ..meshfile import save_model


FACES = ("procedural", "real")


def mesh(out: str | Path, resolution: str = "default", *, face: str = "real", variant: str = "female",
         skin: str | Path | None = None, thickness: str | Path | None = None,
         landmarks: str | Path | None = None) -> dict:
    """Write the face to ``out`` (.vtu, the .json beside it): the ``face`` "procedural" or
    "real" (the vendored head, ``variant`` "female" or "male", over its fitted skull) at
    ``resolution``, or with ``skin`` the layers grown under that surface (STL, OBJ, PLY, VTK...),
    ``thickness`` (JSON: layer name -> m) and ``landmarks`` (JSON: name -> [x, y, z] on the
    skin) optional. Returns the counts, mesh quality and provenance; ``report`` is what
    `sagsim mesh` prints."""
    out = Path(out)
    if face not in FACES:
        raise MeshError(f"mesh: face: expected one of {', '.join(FACES)}, got {face!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if skin is not None:
        skin = Path(skin)
        points, triangles = read_surface(skin)
        layer_thickness = read_json(thickness) if thickness else None
        marks = read_json(landmarks) if landmarks else None
        model = layers_under_skin(points, triangles, layer_thickness, landmarks=marks, where=str(skin),
                                  name=f"layers under {skin.name}")
        described = {"skin": str(skin), "thickness_m": layer_thickness or "defaults", "landmarks": marks or {}}
    elif face == "real":
        model, built = build_named_real_face(variant, resolution)
        described = {"face": "real", "variant": variant, "resolution": resolution, **built}
        lines = built["report"]
    else:
        params = FaceParams()
        model = build_face(resolution, params)
        described = {"resolution": resolution, **dataclasses.asdict(params)}
    provenance = save_model(out, model, described)
    quality = quality_report(model.nodes, model.tets)
    report = (f"{out}: {model.n_nodes} nodes, {model.n_tets} tetrahedra, {int(model.springs.is_ligament.sum())} ligament fibres, "
              f"min dihedral {quality['min_dihedral_deg']:.1f} deg, max aspect {quality['max_aspect_ratio']:.1f}, "
              f"hash {provenance['content_hash'][:12]}")
    return {"model": model, "quality": quality, "provenance": provenance, "report": [report, *lines]}
