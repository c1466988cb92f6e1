"""What holds the real face when it lies down: the tables of docs/real_face.md ("What holds
it", "Why the skin carries it", "The element's share").

    python tools/posture_levers.py levers   # each lever alone on real-coarse (about 10 minutes)
    python tools/posture_levers.py slab     # the clamped slab, with and without skin (about 1 minute)
    python tools/posture_levers.py converge # coarse, default and fine faces ("Mesh convergence", about 20 minutes)
    python tools/posture_levers.py converge --formulation es-anp [FACE ...]  # in another element

A lever's number is the largest skin move between the upright and the supine equilibria, both
solved from the mesh as if it were stress-free (no recovery: a like-for-like comparison of
structures, not the face's settled posture, which `sagsim settle` gives).
"""
from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from sagsim import materials as mat
from sagsim.aging.settings import AgingSettings
from sagsim.anatomy import real_face as rf
from sagsim.anatomy.head import boundary_loops, load_head
from sagsim.anatomy.layers import LayerSpec
from sagsim.anatomy.skull import fit_skull
from sagsim.anatomy.slab import layered_slab
from sagsim.model import STANDARD_GRAVITY, Layer, Loads, Springs, State
from sagsim.solvers.fem import FEMSystem, solve_static

POSTURES = {"upright": (0.0, -1.0, 0.0), "supine": (0.0, 0.0, -1.0)}


def equilibrium(model, direction, formulation="anp"):
    model = model.with_(gravity=STANDARD_GRAVITY * np.array(direction))
    system = FEMSystem(model, formulation=formulation)
    opts = AgingSettings().newton(float(np.linalg.norm(system.gravity_force(model.gravity))), n_steps=2)
    opts = replace(opts, formulation=formulation)
    return solve_static(model, State.initial(model), Loads(), opts, system=system)[0].x


def largest_skin_move_mm(model, formulation="anp") -> float:
    x = {name: equilibrium(model, g, formulation) for name, g in POSTURES.items()}
    return float(1e3 * np.linalg.norm((x["supine"] - x["upright"])[model.skin_nodes], axis=1).max())


def with_poisson(model, nu):
    """Every tissue at Poisson's ratio ``nu``, its shear modulus kept."""
    out = {}
    for layer, m in model.materials.items():
        mu = m.shear_modulus
        out[layer] = (replace(m, lam=2 * mu * nu / (1 - 2 * nu)) if isinstance(m, mat.NeoHookean)
                      else replace(m, kappa=2 * mu * (1 + nu) / (3 * (1 - 2 * nu))))
    return model.with_(materials=out)


def scaled(model, layer, factor):
    mats = dict(model.materials)
    mats[layer] = mats[layer].scaled(factor)
    return model.with_(materials=mats)


def neck_foundation(model, kind, points, triangles, centre, depth_m, mu):
    """The neck columns' deep ends on springs standing for ``depth_m`` of tissue of shear
    modulus ``mu`` (normal 3 mu / depth, tangential mu / depth, per square metre), not held."""
    n = len(points)
    deep0 = model.n_nodes - n
    cut = max(boundary_loops(triangles), key=len)
    cols = np.setdiff1d(np.flatnonzero(kind == rf.KINDS.index("neck")), cut)
    area = rf._point_areas(model.nodes[deep0:], triangles)[cols]
    d = rf.inward(points[cols], centre)
    t1 = np.cross(d, [0.0, 1.0, 0.0])
    t1 /= np.linalg.norm(t1, axis=1)[:, None]
    t2 = np.cross(d, t1)
    at = model.nodes[deep0 + cols]
    dirs, k = (d, t1, t2), (3 * mu / depth_m, mu / depth_m, mu / depth_m)
    s = 3 * len(cols)
    springs = Springs(nodes=np.column_stack([np.tile(deep0 + cols, 3), -np.ones(s, np.int64)]),
                      anchors=np.concatenate([at + v for v in dirs]),
                      stiffness=np.concatenate([kk * area for kk in k]), rest_length=np.ones(s),
                      tension_only=np.zeros(s, bool), group=np.zeros(s, np.int64), names=("contact_neck",))
    return model.with_(fixed=np.setdiff1d(model.fixed, deep0 + cols), springs=rf._joined(model.springs, springs))


def levers() -> None:
    head = load_head("female")
    kept = {}
    original = rf.column_depths

    def recording(*args, **kwargs):  # the column kinds are not stored on the model
        out = original(*args, **kwargs)
        kept.update(kind=out[1], points=args[0], triangles=args[1], centre=args[2])
        return out

    rf.column_depths = recording
    m, _ = rf.build_real_face(head, fit_skull(head), "coarse")
    rf.column_depths = original
    n = len(kept["points"])
    deep0 = m.n_nodes - n
    cut = max(boundary_loops(m.skin_faces), key=len)
    deep_held = np.setdiff1d(m.fixed[m.fixed >= deep0], deep0 + cut)
    below_jowl = deep0 + np.flatnonzero(m.nodes[:n, 1] < m.landmark_position("jowl_left")[1] - 0.005)
    lig = m.springs.is_ligament
    spaces_as_fat = dict(m.materials)
    spaces_as_fat[Layer.LOOSE_AREOLAR] = mat.FAT
    rows = [
        ("as built", m, "anp"),
        ("the teeth one-sided (the first version)",
         m.with_(springs=replace(m.springs, tension_only=np.ones_like(m.springs.tension_only))), "anp"),
        ("gliding spaces as ordinary fat", m.with_(materials=spaces_as_fat), "anp"),
        ("ligaments removed", m.with_(springs=replace(m.springs, stiffness=np.where(lig, 0.0, m.springs.stiffness))), "anp"),
        ("region border free (deep ends still held)", m.with_(fixed=np.union1d(deep_held, deep0 + cut)), "anp"),
        ("SMAS shear modulus x 0.1", scaled(m, Layer.SMAS, 0.1), "anp"),
        ("superficial fat x 0.1", scaled(m, Layer.SUPERFICIAL_FAT, 0.1), "anp"),
        ("deep fat x 0.1", scaled(m, Layer.DEEP_FAT, 0.1), "anp"),
        ("skin modulus x 0.1", scaled(m, Layer.SKIN, 0.1), "anp"),
        ("plain linear tetrahedra instead of averaged nodal pressure", m, "standard"),
        ("Poisson's ratio 0.45 instead of 0.49", with_poisson(m, 0.45), "anp"),
        ("Poisson's ratio 0.3", with_poisson(m, 0.3), "anp"),
        ("the neck's deep ends on 40 mm of relaxed muscle (1 kPa) instead of held",
         neck_foundation(m, kept["kind"], kept["points"], kept["triangles"], kept["centre"], 0.04,
                         mat.MUSCLE_SHEAR_MODULUS_PA), "anp"),
        ("region border free through its whole depth", m.with_(fixed=deep_held), "anp"),
        ("border and the deep ends below the jowl free", m.with_(fixed=np.setdiff1d(deep_held, below_jowl)), "anp"),
    ]
    print("| change | largest skin move (mm) |\n|---|---|")
    for name, model, formulation in rows:
        print(f"| {name} | {largest_skin_move_mm(model, formulation):.2f} |", flush=True)


def slab() -> None:
    width = 0.06
    print("| cells across | with skin, ANP | with skin, plain | without skin, ANP | without skin, plain |")
    print("|---|---|---|---|---|")
    for cells in (8, 16, 32):
        sags = []
        for skin in (True, False):
            layers = (LayerSpec(Layer.DEEP_FAT, 0.015, 3, "the cheek's depth"),)
            if skin:
                layers += (LayerSpec(Layer.SKIN, 0.0013, 1, "the skin's"),)
            m = layered_slab(width, width, cells, layers=layers)
            side = (np.abs(m.nodes[:, 0]) > width / 2 - 1e-9) | (np.abs(m.nodes[:, 1]) > width / 2 - 1e-9)
            m = m.with_(fixed=np.union1d(m.fixed, np.flatnonzero(side)))
            top = np.flatnonzero((np.abs(m.nodes[:, 0]) < 1e-9) & (np.abs(m.nodes[:, 1]) < 1e-9)
                                 & (m.nodes[:, 2] == m.nodes[:, 2].max()))[0]
            for formulation in ("anp", "standard"):
                x = equilibrium(m, POSTURES["upright"], formulation)
                sags.append(-1e3 * (x - m.nodes)[top, 1])
        print(f"| {cells} | " + " | ".join(f"{s:.3f}" for s in sags) + " |", flush=True)


CONVERGENCE_LANDMARKS = ("jowl_left", "jowl_right", "oral_commissure_left", "malar_eminence_left")


def converge() -> None:
    """Supine minus upright, forward from the mesh, on the three real faces (the fine one is
    built, about a minute; or the faces named after the word); the jowl's upright descent and
    the largest upright skin sag too. ``--formulation F`` first: in element F (default anp)."""
    import sagsim

    args = sys.argv[2:]
    formulation = "anp"
    if args[:1] == ["--formulation"]:
        formulation, args = args[1], args[2:]
    for name in args or ("real-coarse", "real-default", "real-fine"):
        model = sagsim.load_face(name)
        x = {post: equilibrium(model, g, formulation) for post, g in POSTURES.items()}
        skin = model.skin_nodes
        move = 1e3 * np.linalg.norm((x["supine"] - x["upright"])[skin], axis=1).max()
        sag = 1e3 * np.linalg.norm((x["upright"] - model.nodes)[skin], axis=1).max()
        row = [f"{name} ({formulation}): largest skin move {move:.3f} mm, upright sag {sag:.3f} mm"]
        for k in CONVERGENCE_LANDMARKS:
            dy = 1e3 * (model.landmark_position(k, x["supine"]) - model.landmark_position(k, x["upright"]))[1]
            down = 1e3 * (model.landmark_position(k, x["upright"]) - model.landmark_position(k, model.nodes))[1]
            row.append(f"{k} supine dy {dy:.3f} mm, upright dy {down:.3f} mm")
        print("; ".join(row), flush=True)


if __name__ == "__main__":
    {"levers": levers, "slab": slab, "converge": converge}[sys.argv[1] if len(sys.argv) > 1 else "levers"]()
