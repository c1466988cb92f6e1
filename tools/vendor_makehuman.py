"""Vendor the part of the MakeHuman base mesh that sagsim uses: the outer skin of the head and
upper neck, with the adult female and male targets and the smile expression restricted to it.

    python tools/vendor_makehuman.py SOURCE_DIR  [--out sagsim/data/head/makehuman_head.npz]

SOURCE_DIR holds base.obj and targets/ from the MakeHuman repository (makehumancommunity/
makehuman, commit a8bc2d54ff0ac92e78ff71431b1023eda42bf482; CC0 1.0). What is kept:

- the `body` group's quads whose four vertices lie above NECK_Y (the head and the upper neck);
- of those, the ones a viewer outside can see: a quad is outer skin when at least one of a fan
  of rays from its centre (its normal and the normal tilted 35 degrees four ways) leaves the
  head without hitting it. The lining of the mouth, the eye sockets behind the lids, the nasal
  vestibules and the ear canals fail every ray; what stays is the skin, open at the palpebral
  fissures, the mouth slit and the nostrils;
- with the pinholes closed again: a dropped quad that shares at least 3 of its 4 edges with kept
  ones is kept (a quad or two at the lateral canthi and behind the ears fail every ray, but
  are skin between skin), until none changes;
- the largest connected piece of that (stray quads deep in the ear are dropped).

The file stores the neutral vertices in the source's units (decimetres), the quads, each
vertex's index in base.obj, and the targets' offsets for those vertices. The result is
deterministic: the same source gives the same file, byte for byte (members in a fixed order,
with fixed dates).
"""
from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

from sagsim.anatomy.head import largest_piece

NECK_Y = 5.9  # decimetres: below the jaw, above the shoulders
TARGETS = {"female": "macrodetails_caucasian-female-young", "male": "macrodetails_caucasian-male-young",
           "smile": "expression_units_caucasian_mouth-corner-puller"}
TILT_DEG = 35.0
RAY_LENGTH = 3.0  # decimetres: longer than the head
START = 0.005  # decimetres: rays start half a millimetre off the quad (not to hit itself)


def read_obj(path: Path):
    verts, groups, group = [], {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("v "):
            verts.append([float(t) for t in line.split()[1:4]])
        elif line.startswith("g "):
            group = line.split()[1]
        elif line.startswith("f "):
            groups.setdefault(group, []).append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    return np.array(verts), {k: np.array(v) for k, v in groups.items()}


def read_target(path: Path, n: int) -> np.ndarray:
    d = np.zeros((n, 3))
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            i, dx, dy, dz = line.split()
            d[int(i)] = [float(dx), float(dy), float(dz)]
    return d


def outer_quads(V: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Mask of the quads seen from outside (see the module docstring)."""
    import pyvista as pv  # VTK's OBB tree for the ray casts; only this tool needs it

    tris = np.concatenate([Q[:, [0, 1, 2]], Q[:, [0, 2, 3]]])
    mesh = pv.PolyData(V, np.hstack([np.full((len(tris), 1), 3), tris]).ravel())
    tree = pv._vtk.vtkOBBTree()
    tree.SetDataSet(mesh)
    tree.BuildLocator()
    P = V[Q]
    centre = P.mean(axis=1)
    normal = np.cross(P[:, 2] - P[:, 0], P[:, 3] - P[:, 1])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    t = np.radians(TILT_DEG)
    hits = pv._vtk.vtkPoints()
    seen = np.zeros(len(Q), bool)
    for i, (c, n) in enumerate(zip(centre, normal)):
        u = np.cross(n, [0.0, 1.0, 0.0] if abs(n[1]) < 0.9 else [1.0, 0.0, 0.0])
        u /= np.linalg.norm(u)
        w = np.cross(n, u)
        for d in (n, *(np.cos(t) * n + np.sin(t) * s for s in (u, -u, w, -w))):
            hits.Reset()
            tree.IntersectWithLine(c + START * d, c + RAY_LENGTH * d, hits, None)
            if hits.GetNumberOfPoints() == 0:
                seen[i] = True
                break
    return seen


def close_pinholes(Q: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``keep`` with every dropped quad that has at least 3 kept neighbours across its edges
    added back, repeatedly."""
    keep = keep.copy()
    edges = np.sort(np.stack([Q[:, [0, 1]], Q[:, [1, 2]], Q[:, [2, 3]], Q[:, [3, 0]]], axis=1), axis=2)  # (n, 4, 2)
    key = edges[..., 0] * (Q.max() + 1) + edges[..., 1]
    while True:
        kept_edges = np.unique(key[keep])
        shared = np.isin(key, kept_edges).sum(axis=1)
        add = ~keep & (shared >= 3)
        if not add.any():
            return keep
        keep |= add


def vendor(source: Path) -> dict:
    V, groups = read_obj(source / "base.obj")
    body = groups["body"]
    head = body[(V[body][:, :, 1] > NECK_Y).all(axis=1)]
    # visibility on the female head (the default); the targets move the surface by millimetres
    female = V + read_target(source / "targets" / f"{TARGETS['female']}.target", len(V))
    head = head[close_pinholes(head, outer_quads(female, head))]
    head = head[largest_piece(head)]
    used = np.unique(head)
    local = np.full(len(V), -1)
    local[used] = np.arange(len(used))
    out = {"points_dm": V[used], "quads": local[head].astype(np.int32), "source_index": used.astype(np.int32)}
    for name, target in TARGETS.items():
        out[f"target_{name}_dm"] = read_target(source / "targets" / f"{target}.target", len(V))[used]
    return out


def write_npz(path: Path, arrays: dict) -> None:
    """An npz (deflated) with fixed member dates, so the same arrays give the same bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path, default=Path("sagsim/data/head/makehuman_head.npz"))
    args = parser.parse_args()
    arrays = vendor(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, arrays)
    print(f"wrote {args.out}: {len(arrays['points_dm'])} vertices, {len(arrays['quads'])} quads")


if __name__ == "__main__":
    main()
