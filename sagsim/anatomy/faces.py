"""The built-in faces by name, each -> (kind, resolution); sagsim.meshfile.load_face loads them.

The plain names are the real face (the vendored female head over its fitted skull,
anatomy.real_face); "real-*" are the same faces under their earlier names; the procedural face
(layers stacked on a parametric bone sheet, anatomy.face) stays as a small, fast test bed.
"""

BUILT_IN_FACES = {
    **{res: ("real", res) for res in ("coarse", "default", "fine")},
    **{f"real-{res}": ("real", res) for res in ("coarse", "default", "fine")},
    **{f"procedural-{res}": ("procedural", res) for res in ("coarse", "default", "fine")},
}
