"""The mesh job: build the procedural face, the real face (the vendored head over its fitted
skull), carry the real face's anatomy onto a scan by registration, or grow plain layers under an
imported skin surface, and save it as a model file pair (VTU + JSON sidecar with its provenance;
a registration also writes its report, ``<out>.registration.json``)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..anatomy.face import FaceParams, build_face
from ..anatomy.mesh import quality_report
from ..anatomy.real_face import build_named_real_face
from ..anatomy.register import UNITS, register, to_metres
from ..anatomy.skin_import import layers_under_skin
from ..anatomy.tissue_depths import with_depths, with_skull
from ..errors import MeshError
from ..io import read_json, read_surface, write_json
from ..meshfile import load_face, save_model


FACES = ("procedural", "real")
#: what --skin does: "register" carries the real face onto the scan, "offset" grows plain
#: layers under it (no skull, compartments or ligaments: for patches and test surfaces)
METHODS = ("register", "offset")


def mesh(out: str | Path, resolution: str = "default", *, face: str = "real", variant: str = "female",
         skin: str | Path | None = None, thickness: str | Path | None = None,
         landmarks: str | Path | None = None, units: str | None = None, method: str = "register",
         depths: str | Path | None = None, skull: str | Path | None = None) -> dict:
    """Write the face to ``out`` (.vtu, the .json beside it): the ``face`` "procedural" or
    "real" (the vendored head, ``variant`` "female" or "male", over its fitted skull) at
    ``resolution``; or, with ``skin`` (a scan: STL, OBJ, PLY, VTK...; ``units`` "mm", "cm" or
    "m"), that real face registered onto it (``method`` "register") or plain layers grown under
    it ("offset", ``thickness`` JSON: layer name -> m). ``landmarks`` (JSON: name -> [x, y, z]
    in the scan's units and frame) guide a registration or name points of an offset skin;
    ``depths`` (JSON: landmark -> soft-tissue depth in mm, measured) go into a registered or
    real face; ``skull`` (the subject's skull surface, in the scan's units and frame) puts a
    registered face's bone there. Returns the counts, mesh quality and provenance; ``report``
    is what `sagsim mesh` prints."""
    out = Path(out)
    if face not in FACES:
        raise MeshError(f"mesh: face: expected one of {', '.join(FACES)}, got {face!r}")
    if method not in METHODS:
        raise MeshError(f"mesh: method: expected one of {', '.join(METHODS)}, got {method!r}")
    if depths is not None and (face != "real" or (skin is not None and method != "register")):
        raise MeshError("mesh: --depths applies to the real face and to a registered scan, whose columns reach bone")
    if skull is not None and (skin is None or method != "register"):
        raise MeshError("mesh: --skull applies to a registered scan (--skin): the skull is read in the scan's units and frame")
    if skin is not None and method == "register" and thickness is not None:
        raise MeshError("mesh: --thickness applies to --method offset; a registered face keeps the template's tissue "
                        "depths, scaled with the face (--depths or --skull give the subject's own)")
    out.parent.mkdir(parents=True, exist_ok=True)
    lines, registration = [], None
    if skin is not None and method == "register":
        skin = Path(skin)
        points, triangles = read_surface(skin)
        marks = read_json(landmarks) if landmarks else None
        template = load_face(resolution) if variant == "female" else build_named_real_face(variant, resolution)[0]
        fitted = register(template, points, triangles, units=units, landmarks=marks, where=str(skin),
                          name=f"{skin.name} (real face, {variant} template, {resolution})")
        model, registration = fitted.model, fitted.report
        if skull is not None:
            bone, bone_triangles = read_surface(skull)
            bone = fitted.scan_to_model(to_metres(bone, units, str(skull)))
            model, registration["skull"] = with_skull(model, bone, bone_triangles, str(skull))
        described = {"skin": str(skin), "units": fitted.report["units"], "method": "register",
                     "template": {"variant": variant, "resolution": resolution}, "landmarks": marks or {},
                     "scale": fitted.report["scale"], "rotation": fitted.report["rotation"],
                     "shift_m": fitted.report["shift_m"]}
        lines = registration_lines(fitted.report, out.with_suffix(".registration.json"))
        if skull is not None:
            met = registration["skull"]
            lines.append(f"skull: {met['met_skull']} of {met['bone_columns']} bone columns end on it, their depth "
                         f"{met['depth_ratio_median']:.2f} times the template's (median)")
    elif skin is not None:
        skin = Path(skin)
        points, triangles = read_surface(skin)
        if units is not None:
            points = points * UNITS[units]
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
    if depths is not None:
        model, given = with_depths(model, read_json(depths), str(depths))
        described["tissue_depths_mm"] = given
        if registration is not None:
            registration["tissue_depths_given"] = given
        lines.append("measured depths: " + ", ".join(f"{k.replace('_', ' ')} {v['model_mm']:.1f} -> {v['result_mm']:.1f} mm"
                                                     for k, v in given.items()))
    provenance = save_model(out, model, described)
    if registration is not None:
        write_json(out.with_suffix(".registration.json"), registration)
    quality = quality_report(model.nodes, model.tets)
    report = (f"{out}: {model.n_nodes} nodes, {model.n_tets} tetrahedra, {int(model.springs.is_ligament.sum())} ligament fibres, "
              f"min dihedral {quality['min_dihedral_deg']:.1f} deg, max aspect {quality['max_aspect_ratio']:.1f}, "
              f"hash {provenance['content_hash'][:12]}")
    return {"model": model, "quality": quality, "provenance": provenance, "report": [report, *lines]}


def registration_lines(report: dict, where: Path) -> list[str]:
    """What `sagsim mesh` prints of a registration: scale, gaps by region, missing data."""
    gaps = report["gap_template_to_scan"]
    worst = sorted(((k, v) for k, v in gaps.items() if v and k != "all"), key=lambda kv: -kv[1]["mean_mm"])[:3]
    lacking = [f"{k.replace('_', ' ')} {100 * v:.0f} %" for k, v in report["no_scan_data_fraction"].items() if v >= 0.1]
    return [f"registered in {report['seconds']['total']:.1f} s: scale {report['scale']:.3f} of the template, "
            f"gap to the scan {gaps['all']['mean_mm']:.2f} mm mean, {gaps['all']['p95_mm']:.2f} mm 95th percentile",
            "largest gaps: " + ", ".join(f"{k.replace('_', ' ')} {v['mean_mm']:.2f} mm" for k, v in worst),
            "no scan data under: " + (", ".join(lacking) if lacking else "none (every region at least 90 % covered)"),
            f"full report: {where}"]
