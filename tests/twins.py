"""Plain NumPy twins of the numba kernels: slow, obvious, written from the tensor formulas
(first Piola stress P = dW/dF and material tangent A = dP/dF), used only to check the kernels."""
from __future__ import annotations

import numpy as np

I3 = np.eye(3)


def shape_gradients(X: np.ndarray) -> tuple[np.ndarray, float]:
    """dN/dX (4,3) and volume of the tetrahedron with reference corners X (4,3)."""
    Dm = (X[1:] - X[0]).T
    Dinv = np.linalg.inv(Dm)
    G = np.vstack([-Dinv.sum(axis=0), Dinv])
    return G, np.linalg.det(Dm) / 6.0


def stress_and_tangent(kind: int, p0: float, p1: float, k: float, F: np.ndarray):
    """Energy density W, P (3,3) and A (3,3,3,3) of Neo-Hookean (kind 0: mu=p0, lam=k) or
    Mooney-Rivlin (kind 1: C10=p0, C20=p1, kappa=k)."""
    J = np.linalg.det(F)
    Fit = np.linalg.inv(F).T
    lnJ = np.log(J)
    I1 = np.sum(F * F)
    FitFit = np.einsum("ij,kl->ijkl", Fit, Fit)
    FitX = np.einsum("il,kj->ijkl", Fit, Fit)  # d(F^-T)_ij / dF_kl = -FitX
    II = np.einsum("ik,jl->ijkl", I3, I3)
    W_vol = 0.5 * k * lnJ**2
    P_vol = k * lnJ * Fit
    A_vol = k * FitFit - k * lnJ * FitX
    if kind == 0:
        mu = p0
        W = 0.5 * mu * (I1 - 3) - mu * lnJ
        P = mu * F - mu * Fit
        A = mu * II + mu * FitX
    else:
        c10, c20 = p0, p1
        j23 = J ** (-2.0 / 3.0)
        i1b = j23 * I1
        d1, d2 = c10 + 2 * c20 * (i1b - 3), 2 * c20
        W = c10 * (i1b - 3) + c20 * (i1b - 3) ** 2
        D = j23 * (2 * F - (2.0 / 3.0) * I1 * Fit)
        dD = (-(2.0 / 3.0) * np.einsum("ij,kl->ijkl", D, Fit)
              + j23 * (2 * II - (4.0 / 3.0) * np.einsum("ij,kl->ijkl", Fit, F)
                       + (2.0 / 3.0) * I1 * FitX))
        P = d1 * D
        A = d2 * np.einsum("ij,kl->ijkl", D, D) + d1 * dD
    return W + W_vol, P + P_vol, A + A_vol


def tangent_fd_error(system, x, rng, h=1e-6, items=()):
    """Relative error of the assembled tangent of ``system`` (with load ``items``) at ``x``
    against central finite differences of its force along a random direction."""
    K = system.evaluate(x, items=items).tangent
    d = rng.standard_normal(x.shape)
    fd = (system.evaluate(x + h * d, want_tangent=False, items=items).force
          - system.evaluate(x - h * d, want_tangent=False, items=items).force) / (2 * h)
    Kd = K @ d.ravel()
    return np.linalg.norm(fd - Kd) / np.linalg.norm(Kd)


def grown(X, Fg=None):
    """Shape gradients and volume of the stress-free shape: the reference corners X mapped by
    the growth tensor Fg (dN/dX Fg^-1, V0 det Fg)."""
    G, V0 = shape_gradients(X)
    if Fg is None:
        return G, V0
    return G @ np.linalg.inv(Fg), V0 * np.linalg.det(Fg)


def element(kind, p0, p1, k, X, x, Fg=None):
    """Element force (4,3), tangent (12,12) and energy (stress-free shape: X grown by Fg)."""
    G, V0 = grown(X, Fg)
    F = x.T @ G
    W, P, A = stress_and_tangent(kind, p0, p1, k, F)
    f = V0 * G @ P.T  # f_ai = V0 P_ij G_aj
    K = V0 * np.einsum("aj,ijkl,bl->aibk", G, A, G).reshape(12, 12)
    return f, K, V0 * W


def assemble_dense(model, x, growth=None):
    """Internal force (3N,), tangent (3N,3N) and energy of a TissueModel, element by element,
    standard formulation, springs included; ``growth`` (M,3,3) growth tensors."""
    R, K, E = element_sum(model, x, growth)
    Rs, Ks, Es = springs_dense(model.springs, x)
    return R + Rs, K + Ks, E + Es


def element_sum(model, x, growth=None, volumetric=True, weight=None):
    """Force (3N,), tangent (3N,3N) and energy summed element by element, each element's times
    ``weight[e]`` (default 1); without the volumetric part if not ``volumetric`` (the shear part
    alone, which anp_energy_force includes per element and the edge-smoothed formulation replaces)."""
    n = model.n_nodes
    R = np.zeros(3 * n)
    K = np.zeros((3 * n, 3 * n))
    E = 0.0
    for e, tet in enumerate(model.tets):
        kind, p0, p1, k = model.materials[model.tet_layer[e]].kernel_params()
        f, Ke, We = element(kind, p0, p1, k if volumetric else 0.0, model.nodes[tet], x[tet],
                            None if growth is None else growth[e])
        dofs = (3 * tet[:, None] + np.arange(3)).ravel()
        w = 1.0 if weight is None else weight[e]
        R[dofs] += w * f.ravel()
        K[np.ix_(dofs, dofs)] += w * Ke
        E += w * We
    return R, K, E


def springs_dense(springs, x):
    n = len(x)
    R = np.zeros(3 * n)
    K = np.zeros((3 * n, 3 * n))
    E = 0.0
    for s in range(len(springs)):
        a, b = springs.nodes[s]
        pb = x[b] if b >= 0 else springs.anchors[s]
        d = pb - x[a]
        length = np.linalg.norm(d)
        k, L0 = springs.stiffness[s], springs.rest_length[s]
        if springs.tension_only[s] and length <= L0:
            continue
        nvec = d / length
        E += 0.5 * k * (length - L0) ** 2
        g = -k * (length - L0) * nvec
        H = k * (np.outer(nvec, nvec) + (1 - L0 / length) * (I3 - np.outer(nvec, nvec)))
        da = slice(3 * a, 3 * a + 3)
        R[da] += g
        K[da, da] += H
        if b >= 0:
            db = slice(3 * b, 3 * b + 3)
            R[db] -= g
            K[db, db] += H
            K[da, db] -= H
            K[db, da] -= H
    return R, K, E


def anp_energy_force(model, x, growth=None, element_bulk=0.0):
    """Averaged-nodal-pressure energy and internal force: shear part per element, volumetric
    part U = k/2 (ln J)^2 per (node, layer) patch with J_p = v_p / V_p; ``growth`` as above.
    With ``element_bulk`` b, each element keeps the bulk modulus k_e = min(k, b mu) of its own
    (U = k_e/2 (ln J_e)^2) and the patches carry k - k_e."""
    n = model.n_nodes
    R = np.zeros(3 * n)
    E = 0.0
    V, v, kp = {}, {}, {}
    grads = {}
    for e, tet in enumerate(model.tets):
        mat = model.materials[model.tet_layer[e]]
        kind, p0, p1, k = mat.kernel_params()
        G, V0 = grown(model.nodes[tet], None if growth is None else growth[e])
        F = x[tet].T @ G
        k_e = min(k, element_bulk * mat.shear_modulus)
        W, P, _ = stress_and_tangent(kind, p0, p1, k_e, F)  # shear, and the element's own volumetric part
        R[(3 * tet[:, None] + np.arange(3)).ravel()] += (V0 * G @ P.T).ravel()
        E += V0 * W
        J = np.linalg.det(F)
        c = G @ np.linalg.inv(F)  # rows: spatial gradients F^-T G_a
        for a in tet:
            key = (a, int(model.tet_layer[e]))
            V[key] = V.get(key, 0.0) + V0 / 4
            v[key] = v.get(key, 0.0) + V0 * J / 4
            kp[key] = k - k_e
            grads.setdefault(key, []).append((tet, V0 * J / 4 * c))
    for key in V:
        J = v[key] / V[key]
        k = kp[key]
        E += V[key] * 0.5 * k * np.log(J) ** 2
        dU = k * np.log(J) / J
        for tet, g in grads[key]:
            R[(3 * tet[:, None] + np.arange(3)).ravel()] += dU * g.ravel()
    return R, E


def es_anp_energy_force_tangent(model, x, growth=None, share=0.0, element_bulk=0.0):
    """Edge-smoothed shear energy, force (3N,) and tangent (3N,3N), written from its definition:
    per (edge, layer) domain, a sixth of each of its elements' (grown) volume, F_d the
    volume-weighted mean of their deformation gradients, shear energy W_s(F_d) times the sum of
    (1 - share_e) V_e / 6 over its elements e, each element keeping ``share_e`` of its own
    (``share``: one for all, or (M,)); plus the averaged nodal pressure's volumetric energy and
    force (anp_energy_force's with ``element_bulk``, shear left out). The tangent is the domains'
    alone."""
    n = model.n_nodes
    R = np.zeros(3 * n)
    K = np.zeros((3 * n, 3 * n))
    E = 0.0
    share = np.broadcast_to(np.asarray(share, np.float64), (model.n_tets,))
    domains = {}
    for e, tet in enumerate(model.tets):
        G, V0 = grown(model.nodes[tet], None if growth is None else growth[e])
        for a in range(4):
            for b in range(a + 1, 4):
                key = (min(tet[a], tet[b]), max(tet[a], tet[b]), int(model.tet_layer[e]))
                domains.setdefault(key, []).append((tet, G, V0 / 6, 1.0 - share[e]))
    for (_, _, layer), parts in domains.items():
        kind, p0, p1, _ = model.materials[layer].kernel_params()
        support = np.unique(np.concatenate([tet for tet, *_ in parts]))
        V = sum(w for _, _, w, _ in parts)
        g = np.zeros((len(support), 3))
        for tet, G, w, _ in parts:
            g[np.searchsorted(support, tet)] += w * G / V
        F = x[support].T @ g  # the volume-weighted mean of the elements' x^T G (growth is in G)
        W, P, A = stress_and_tangent(kind, p0, p1, 0.0, F)
        dofs = (3 * support[:, None] + np.arange(3)).ravel()
        V = sum(w * left for _, _, w, left in parts)
        R[dofs] += (V * g @ P.T).ravel()
        K[np.ix_(dofs, dofs)] += V * np.einsum("aj,ijkl,bl->aibk", g, A, g).reshape(len(dofs), len(dofs))
        E += V * W
    Ra, Ea = anp_energy_force(model, x, growth, element_bulk)
    Rs, _, Es = element_sum(model, x, growth, volumetric=False, weight=1.0 - share)
    return R + Ra - Rs, K, E + Ea - Es
