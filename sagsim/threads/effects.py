"""What a lift does besides lifting: over-tension, dimples, surface unevenness, and how much it
restricts expression. Each measure is defined where it is computed; thresholds that the
literature does not give are ESTIMATES, passed in and reported with the result.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..model import Loads, State, TissueModel, deformation_gradients, midside_edges, state_gradients
from ..solvers.fem import CogSprings, FEMSystem, NewtonOptions, growth_tensors, solve_static
from .lift import lift_options

#: Lift-induced strain above which tissue counts as over-tensioned: ESTIMATE (no threshold in
#: the reference table; a modelling choice to calibrate against stiffness complaints, which
#: clinical series report in about 1 % of patients, Bertossi 2018).
STRAIN_THRESHOLD = 0.30
#: A dent deeper than this (mm) at the skin counts as a dimple: ESTIMATE, chosen so that the
#: default plan dimples at a few of its cogs (dimpling is reported in 6-16 % of patients,
#: Niu et al. 2021), to be calibrated.
DENT_THRESHOLD_MM = 0.5
#: Smoothing radius separating the lift's broad shape from local unevenness (m): a modelling
#: choice of the scale at which unevenness is judged (about a cog spacing).
UNEVENNESS_RADIUS = 0.006


def lift_strain(model: TissueModel, x_from: np.ndarray, x_to: np.ndarray,
                gradients: tuple | None = None) -> np.ndarray:
    """Largest principal strain of the lift in each element (M,): F = dx_to/dx_from, the
    largest eigenvalue of F^T F gives the stretch lambda; strain = lambda - 1. ``gradients``:
    (F_from, F_to), each element's deformation gradient in the two states from one reference
    (quadratic elements' means, model.state_gradients), instead of the corners' (a curved
    sliver's corners can be nearly flat: they gave a coarse face's lift 2,667 % strain)."""
    F = deformation_gradients(model.tets, x_from, x_to) if gradients is None else gradients[1] @ np.linalg.inv(gradients[0])
    w = np.linalg.eigvalsh(np.transpose(F, (0, 2, 1)) @ F)
    return np.sqrt(np.maximum(w[:, -1], 0.0)) - 1.0


def element_gradients(model: TissueModel, start: State, end: State) -> tuple:
    """(F_start, F_end): each element's deformation gradient from ``start.reference`` in the two
    states where its elements are quadratic (both carry midsides), else (None, None): the
    corners say it."""
    if "midside" not in start.internal or "midside" not in end.internal:
        return None, None
    edges = midside_edges(model.tets)
    return tuple(state_gradients(model.tets, start.reference, s, edges) for s in (start, end))


def von_mises(model: TissueModel, reference: np.ndarray, x: np.ndarray, growth=None,
              F: np.ndarray | None = None) -> np.ndarray:
    """Von Mises equivalent of the Cauchy stress in each element (Pa), from the element's own
    deformation (growth included): sqrt(3/2 s:s), s the deviator of sigma = P F^T / J. ``F``:
    each element's deformation gradient from ``reference`` instead of its corners'
    (quadratic elements' means, model.state_gradients)."""
    F = deformation_gradients(model.tets, reference, x) if F is None else F
    if growth is not None:
        F = F @ np.linalg.inv(growth_tensors(growth, model.n_tets))
    J = np.linalg.det(F)
    Fit = np.transpose(np.linalg.inv(F), (0, 2, 1))
    I1 = np.einsum("eij,eij->e", F, F)
    sigma = np.zeros_like(F)
    for layer, mat in model.materials.items():
        e = model.tet_layer == int(layer)
        if not e.any():
            continue
        kind, p0, p1, k = mat.kernel_params()
        if kind == 0:  # Neo-Hookean: P = mu (F - F^-T) + lam ln J F^-T
            Pk = p0 * (F[e] - Fit[e])
        else:  # Mooney-Rivlin deviatoric part: P = (C10 + 2 C20 (I1b - 3)) J^-2/3 (2F - 2/3 I1 F^-T)
            j23 = J[e] ** (-2.0 / 3.0)
            d1 = p0 + 2.0 * p1 * (j23 * I1[e] - 3.0)
            Pk = (d1 * j23)[:, None, None] * (2.0 * F[e] - (2.0 / 3.0) * I1[e][:, None, None] * Fit[e])
        sigma[e] = Pk @ np.transpose(F[e], (0, 2, 1)) / J[e][:, None, None]
    s = sigma - np.trace(sigma, axis1=1, axis2=2)[:, None, None] / 3.0 * np.eye(3)
    return np.sqrt(1.5 * np.einsum("eij,eij->e", s, s))


def skin_normals(model: TissueModel, x: np.ndarray) -> np.ndarray:
    """Outward unit normal at every skin node (area-weighted from its triangles), (n_skin,3),
    in the order of model.skin_nodes; oriented away from the bone."""
    tri = x[model.skin_faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    acc = np.zeros_like(x)
    for c in range(3):
        np.add.at(acc, model.skin_faces[:, c], n)
    acc = acc[model.skin_nodes]
    acc /= np.linalg.norm(acc, axis=1)[:, None]
    bone = x[model.fixed].mean(axis=0) if len(model.fixed) else x.mean(axis=0)
    if np.mean(np.einsum("ij,ij->i", acc, x[model.skin_nodes] - bone)) < 0:
        acc = -acc
    return acc


def unevenness(model: TissueModel, x_from: np.ndarray, x_to: np.ndarray, radius: float = UNEVENNESS_RADIUS,
               dent_threshold_mm: float = DENT_THRESHOLD_MM, region: np.ndarray | None = None) -> dict:
    """Surface unevenness of the lift on the skin.

    The skin's displacement u (x_from to x_to) is split into its broad part, a linear fit of
    u over the neighbours of each skin node weighted by a Gaussian of width ``radius`` (moving
    least squares, the node itself left out: exact for any rigid motion or uniform stretch),
    and the rest; h is that rest along the
    outward skin normal: what the eye reads as bumps and dents rather than as the lift's
    shape. The index is the RMS of h (mm) over the skin nodes that moved (or ``region``); a
    dent is a skin node whose h is below -dent_threshold_mm and lowest among its neighbours
    within radius / 2. Returns the index, the dent count, h (mm, per skin node, in the order of
    model.skin_nodes) and the dents' node indices.
    """
    nodes = model.skin_nodes
    p = x_from[nodes]
    u = x_to[nodes] - p
    tree = cKDTree(p)
    pairs = tree.sparse_distance_matrix(tree, 3.0 * radius, output_type="coo_matrix")
    off = pairs.row != pairs.col  # the fit at a node leaves the node out: a dent is measured against
    rows, cols = pairs.row[off], pairs.col[off]  # its neighbours, not partly absorbed by its own value
    w = np.exp(-0.5 * (pairs.data[off] / radius) ** 2)
    normal = skin_normals(model, x_from)
    t1 = np.cross(normal, [0.0, 0.0, 1.0])
    t1[np.linalg.norm(t1, axis=1) < 0.1] = np.cross(normal[np.linalg.norm(t1, axis=1) < 0.1], [1.0, 0.0, 0.0])
    t1 /= np.linalg.norm(t1, axis=1)[:, None]
    t2 = np.cross(normal, t1)
    d = (p[cols] - p[rows]) / radius  # the fit is in each node's tangent plane: value + 2 slopes
    basis = np.stack([np.ones(len(rows)), np.einsum("ij,ij->i", d, t1[rows]), np.einsum("ij,ij->i", d, t2[rows])], 1)
    A = np.zeros((len(nodes), 3, 3))
    np.add.at(A, rows, w[:, None, None] * basis[:, :, None] * basis[:, None, :])
    b = np.zeros((len(nodes), 3, 3))
    np.add.at(b, rows, w[:, None, None] * basis[:, :, None] * u[cols][:, None, :])
    # a node with too few neighbours for slopes (a corner) falls back to their weighted mean:
    # the slopes alone are regularised, so any constant (rigid) displacement is fitted exactly
    A += 1e-6 * (A[:, 0, 0] + 1e-300)[:, None, None] * np.diag([0.0, 1.0, 1.0])
    broad = np.linalg.solve(A, b)[:, 0, :]  # the fit's value at the node itself
    h = 1e3 * np.einsum("ij,ij->i", u - broad, normal)
    moved = np.linalg.norm(u, axis=1) > 1e-6 if region is None else region
    index = float(np.sqrt(np.mean(h[moved] ** 2))) if moved.any() else 0.0
    near = tree.query_ball_point(p, 0.5 * radius)
    dents = [i for i in np.flatnonzero(h < -dent_threshold_mm) if h[i] <= h[near[i]].min()]
    return {"index_mm": index, "dents": len(dents), "field_mm": h, "dent_nodes": nodes[np.array(dents, int)]}


def cog_dents_mm(model: TissueModel, cogs, field_mm: np.ndarray, x_from: np.ndarray) -> np.ndarray:
    """Depth of the skin dent above each cog (mm, positive inward): minus the local part of the
    normal displacement at the skin node nearest the cog."""
    _, idx = cKDTree(x_from[model.skin_nodes]).query(cogs.position)
    return -field_mm[idx]


#: radius of the skin patch a probe force is spread over (m). ESTIMATE (the reference table has
#: no size for it): a muscle pulls the mouth corner through the modiolus, not through a point;
#: spread over a patch the probe does not depend on the mesh (on the real default
#: face's 1-2 mm elements, a force on the one element holding the landmark crushed it, and
#: Newton needed 14 shifted tangents and 3.5 minutes)
PROBE_RADIUS = 0.005


def probe_patch(model: TissueModel, x: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skin nodes within PROBE_RADIUS of ``centre`` (at least the three nearest) and their
    weights, a hat falling from the centre to the rim, summing to one."""
    skin = model.skin_nodes
    dist = np.linalg.norm(x[skin] - centre, axis=1)
    near = np.flatnonzero(dist <= PROBE_RADIUS)
    if len(near) < 3:
        near = np.argsort(dist)[:3]
    rim = max(PROBE_RADIUS, dist[near].max()) * (1.0 + 1e-9)  # every chosen node keeps some weight
    w = 1.0 - dist[near] / rim
    return skin[near], w / w.sum()


def expression_motion(model: TissueModel, state: State, loads: Loads | None, landmark: str, towards: str,
                      force: float, cogs: CogSprings | None = None, system: FEMSystem | None = None,
                      options: NewtonOptions | None = None) -> float:
    """How far (mm) ``landmark`` moves under a smile-like probe force of ``force`` N, spread over
    the skin within PROBE_RADIUS of it (probe_patch), pulling it towards landmark ``towards``
    (the zygomaticus major's line, mouth corner to malar eminence), from ``state``, with the
    ``cogs`` (CogSprings, see fixed_cogs) held where they are. A probe: the ratio with and
    without threads is the result, not the force."""
    opts = options or lift_options(system)
    a, b = model.landmark_position(landmark, state.x), model.landmark_position(towards, state.x)
    direction = (b - a) / np.linalg.norm(b - a)
    nodes, weights = probe_patch(model, state.x, a)
    nodal = np.zeros((model.n_nodes, 3))
    nodal[nodes] += weights[:, None] * (force * direction)[None, :]
    base = loads or Loads()
    smile = Loads(gravity_scale=base.gravity_scale, nodal_forces=nodal if base.nodal_forces is None
                  else base.nodal_forces + nodal, prescribed_dofs=base.prescribed_dofs,
                  prescribed_values=base.prescribed_values)
    out, _ = solve_static(model, state, smile, opts, from_loads=base, system=system,
                          items=[cogs] if cogs is not None else [])
    return float(1e3 * np.linalg.norm(model.landmark_position(landmark, out.x) - a))


def fixed_cogs(result):
    """The cogs of a lift as springs to where they ended (pull minus slip), for later loads."""
    from .lift import cog_springs
    return cog_springs(result.cogs, result.pull - result.slip, np.where(result.released, 0.0, result.stiffness))

