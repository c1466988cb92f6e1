"""Vendor the skull surface sagsim fits inside the head (CC BY 3.0, attribution kept).

    python tools/vendor_skull.py SOURCE_DIR [--out sagsim/data/skull/skull.npz]

SOURCE_DIR holds skull_low_resolution.obj: "Skull" by YahooJAPAN (Thingiverse thing 182365),
remeshed in the odedstein/meshes collection (objects/skull, commit
835213277571d625722d25880c9c3010c6f45a5a). The npz holds its vertices (`points`, the source's
arbitrary units, y up, z forward) and triangles as they are in the file; the same file gives the
same bytes.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vendor_makehuman import write_npz


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path, default=Path("sagsim/data/skull/skull.npz"))
    args = parser.parse_args()
    verts, tris = [], []
    for line in (args.source / "skull_low_resolution.obj").read_text(encoding="utf-8").splitlines():
        if line.startswith("v "):
            verts.append([float(t) for t in line.split()[1:4]])
        elif line.startswith("f "):
            tris.append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, {"points": np.array(verts), "triangles": np.array(tris, dtype=np.int32)})
    print(f"wrote {args.out}: {len(verts)} vertices, {len(tris)} triangles")


if __name__ == "__main__":
    main()
