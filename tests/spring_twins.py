"""Plain NumPy twins of the mass-spring kernels (sagsim/solvers/kernels/spring_forces.py):
slow, obvious, written from the formulas in the kernels' docstring, in the model's node
order, used only by the tests."""
from __future__ import annotations

import numpy as np

I3 = np.eye(3)


def tet_gradient(x: np.ndarray, tet) -> np.ndarray:
    """dv/dx (4,3) of a tetrahedron's volume v = (x1-x0).((x2-x0)x(x3-x0))/6."""
    p = x[tet]
    a, b, c = p[1] - p[0], p[2] - p[0], p[3] - p[0]
    g = np.array([np.zeros(3), np.cross(b, c), np.cross(c, a), np.cross(a, b)]) / 6.0
    g[0] = -g[1:].sum(axis=0)
    return g


def tet_volume(x: np.ndarray, tet) -> float:
    p = x[tet]
    return float(np.dot(p[1] - p[0], np.cross(p[2] - p[0], p[3] - p[0])) / 6.0)


def patch_ratios(system, x: np.ndarray) -> np.ndarray:
    """J_p = v_p / V_p of every volume patch (model order positions)."""
    vol = system.volume
    vp = np.zeros(len(vol.patch_volume))
    for t, tet in enumerate(vol.tets):
        v = tet_volume(x, tet)
        for c in range(4):
            vp[vol.tet_patch[t, c]] += v / 4
    return vp / vol.patch_volume


def forces_energy(system, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Internal force (N,3) and energy of a SpringSystem at ``x`` (model order)."""
    F = np.zeros_like(x)
    E = 0.0
    for (a, b), k, L0 in zip(system.edges, system.stiffness, system.rest):
        d = x[b] - x[a]
        length = np.linalg.norm(d)
        E += 0.5 * k * (length - L0) ** 2
        f = k * (length - L0) * d / length
        F[a] += f
        F[b] -= f
    L = system.ligaments
    for s in range(len(L.stiffness)):
        a, b = L.nodes[s]
        d = (x[b] if b >= 0 else L.anchors[s]) - x[a]
        length = np.linalg.norm(d)
        if L.tension_only[s] and length <= L.rest[s]:
            continue
        E += 0.5 * L.stiffness[s] * (length - L.rest[s]) ** 2
        f = L.stiffness[s] * (length - L.rest[s]) * d / length
        F[a] += f
        if b >= 0:
            F[b] -= f
    vol = system.volume
    if vol is not None:
        J = patch_ratios(system, x)
        bmod = vol.patch_modulus
        E += float(np.sum(0.5 * bmod * vol.patch_volume * (J - 1) ** 2))
        for t, tet in enumerate(vol.tets):
            P = np.sum(bmod[vol.tet_patch[t]] * (J[vol.tet_patch[t]] - 1)) / 4
            F[tet] -= P * tet_gradient(x, tet)
    return F, E


def hessvec(system, x: np.ndarray, w: np.ndarray, project: bool = False) -> np.ndarray:
    """H w of the stored energy (model order), from the Hessian formulas."""
    out = np.zeros_like(x)

    def spring(a, b, xb, wb, k, L0, tension_only):
        d = xb - x[a]
        length = np.linalg.norm(d)
        if tension_only and length <= L0:
            return
        n = d / length
        geo = 1 - L0 / length
        if project:
            geo = max(geo, 0.0)
        H = k * (np.outer(n, n) + geo * (I3 - np.outer(n, n)))
        h = H @ (wb - w[a])
        out[a] -= h
        if b >= 0:
            out[b] += h

    for (a, b), k, L0 in zip(system.edges, system.stiffness, system.rest):
        spring(a, b, x[b], w[b], k, L0, False)
    L = system.ligaments
    for s in range(len(L.stiffness)):
        a, b = L.nodes[s]
        spring(a, b, x[b] if b >= 0 else L.anchors[s], w[b] if b >= 0 else np.zeros(3), L.stiffness[s],
               L.rest[s], L.tension_only[s])
    vol = system.volume
    if vol is not None:
        J = patch_ratios(system, x)
        bmod, V = vol.patch_modulus, vol.patch_volume
        dv = np.zeros(len(V))  # change of each patch volume along w
        for t, tet in enumerate(vol.tets):
            s = np.sum(tet_gradient(x, tet) * w[tet])
            for c in range(4):
                dv[vol.tet_patch[t, c]] += s / 4
        for t, tet in enumerate(vol.tets):
            p = vol.tet_patch[t]
            q = np.sum(bmod[p] / V[p] * dv[p]) / 4
            out[tet] += q * tet_gradient(x, tet)
            if not project:
                P = np.sum(bmod[p] * (J[p] - 1)) / 4
                h = 1e-3  # the gradient is quadratic in x: the central difference is exact
                dg = (tet_gradient(x + h * w, tet) - tet_gradient(x - h * w, tet)) / (2 * h)
                out[tet] += P * dg
    return out


def symplectic_euler(system, x, v, n_steps, dt, gamma, f_ext, theta=0.0, kick=None, drift=None):
    """Kick-drift steps in NumPy (model order): v <- (v (1 - (1-theta) h g) + h a)/(1 + theta h g),
    x <- x + drift v; fixed nodes stay."""
    kick = dt if kick is None else kick
    drift = dt if drift is None else drift
    x, v = x.copy(), v.copy()
    free = np.ones(len(x), bool)
    free[system.fixed] = False
    for _ in range(n_steps):
        F, _ = forces_energy(system, x)
        a = (F + f_ext) / system.mass[:, None]
        gk = kick * gamma[:, None]
        vn = (v * (1 - (1 - theta) * gk) + kick * a) / (1 + theta * gk)
        v = np.where(free[:, None], vn, 0.0)
        x = x + drift * v
    return x, v


def reference_steps(x, v, edges, k, rest, mass, fixed, damping, gravity, dt, n_steps):
    """The plain loop (kernels.spring_forces.reference_steps) in NumPy."""
    x, v = x.copy(), v.copy()
    for _ in range(n_steps):
        d = x[edges[:, 1]] - x[edges[:, 0]]
        length = np.linalg.norm(d, axis=1)
        f = (k * (length - rest) / length)[:, None] * d
        F = np.zeros_like(x)
        np.add.at(F, edges[:, 0], f)
        np.add.at(F, edges[:, 1], -f)
        a = F / mass[:, None] + gravity - damping[:, None] * v / mass[:, None]
        v = np.where(fixed[:, None], v, v + dt * a)
        x = np.where(fixed[:, None], x, x + dt * v)
    return x, v
