"""Mass-spring kernels on the CPU: edge springs, the volume term, and the explicit step.

Formulas (x current positions, X reference, one spring of stiffness k, rest length L0 from A
to B, l = |x_B - x_A|, n = (x_B - x_A)/l; the same as solvers/truss.py, whose serial
kernel the ligaments reuse):
  energy k/2 (l - L0)^2;  force on A  +k (l - L0) n,  on B the opposite;
  Hessian blocks H_AA = H_BB = -H_AB = k [n n^T + (1 - L0/l)(I - n n^T)].
Volume term of a patch p (a node's tetrahedra of one layer, or one tetrahedron) of reference
volume V_p and current volume v_p = sum over its (tet, corner) entries of v_t / 4:
  U_p = b_p/2 V_p (J_p - 1)^2,  J_p = v_p / V_p,
  force on node a  -sum_t P_t dv_t/dx_a  with  P_t = sum over the tet's 4 corners c of
  b_c (J_c - 1) / 4  (c's patch), and dv_t/dx_1 = (x2 - x0) x (x3 - x0) / 6 (cyclic).

Parallel without races by slabs: nodes are numbered so that no spring or tetrahedron spans
more than ``width`` node indices (bandwidth-reducing reordering), node index ranges
[s*width, (s+1)*width) are slabs, and every spring and tetrahedron belongs to the slab of its
lowest node. Items of slab s then touch only slabs s and s+1, so all even slabs can scatter at
once (phase 0), then all odd slabs (phase 1). Each spring is computed once (a node gather
computes it twice), and the fused explicit step updates the nodes of slabs s and s+1 at the
end of odd slab s, whose forces are then complete. docs/springs.md has the measurements that
chose this over a node gather and over graph colouring.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# --------------------------------------------------------------------------------------------
# the straightforward reference: one serial loop over the springs, one over the nodes
# --------------------------------------------------------------------------------------------

@njit(cache=True)
def reference_steps(x, v, a, b, k, rest, mass, fixed, damping, gravity, dt, n_steps):
    """``n_steps`` symplectic Euler steps of a two-node spring lattice, in place:
    v += dt (f/m + g - c v / m); x += dt v (fixed nodes do not move). The plain loop the
    benchmark holds the fast kernels against."""
    n = x.shape[0]
    f = np.zeros((n, 3))
    for _ in range(n_steps):
        f[:] = 0.0
        for s in range(a.shape[0]):
            i = a[s]
            j = b[s]
            d0 = x[j, 0] - x[i, 0]
            d1 = x[j, 1] - x[i, 1]
            d2 = x[j, 2] - x[i, 2]
            l = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            t = k[s] * (l - rest[s]) / l
            f[i, 0] += t * d0
            f[i, 1] += t * d1
            f[i, 2] += t * d2
            f[j, 0] -= t * d0
            f[j, 1] -= t * d1
            f[j, 2] -= t * d2
        for i in range(n):
            if fixed[i]:
                continue
            for q in range(3):
                v[i, q] += dt * (f[i, q] / mass[i] + gravity[q] - damping[i] * v[i, q] / mass[i])
                x[i, q] += dt * v[i, q]


# --------------------------------------------------------------------------------------------
# small helpers (inlined)
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always", error_model="numpy")
def _spring_t(x, i, j, k, L0):
    """k (l - L0) / l and the difference vector x_j - x_i."""
    d0 = x[j, 0] - x[i, 0]
    d1 = x[j, 1] - x[i, 1]
    d2 = x[j, 2] - x[i, 2]
    l = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
    return k * (l - L0) / l, d0, d1, d2


@njit(cache=True, inline="always", error_model="numpy")
def _tet_volume(x, t0, t1, t2, t3):
    a0 = x[t1, 0] - x[t0, 0]; a1 = x[t1, 1] - x[t0, 1]; a2 = x[t1, 2] - x[t0, 2]
    b0 = x[t2, 0] - x[t0, 0]; b1 = x[t2, 1] - x[t0, 1]; b2 = x[t2, 2] - x[t0, 2]
    c0 = x[t3, 0] - x[t0, 0]; c1 = x[t3, 1] - x[t0, 1]; c2 = x[t3, 2] - x[t0, 2]
    return (a0 * (b1 * c2 - b2 * c1) + a1 * (b2 * c0 - b0 * c2) + a2 * (b0 * c1 - b1 * c0)) / 6.0


@njit(cache=True, inline="always", error_model="numpy")
def _volume_gradient(x, t0, t1, t2, t3, g):
    """dv/dx of the tetrahedron's four corners into g (4,3)."""
    a0 = x[t1, 0] - x[t0, 0]; a1 = x[t1, 1] - x[t0, 1]; a2 = x[t1, 2] - x[t0, 2]
    b0 = x[t2, 0] - x[t0, 0]; b1 = x[t2, 1] - x[t0, 1]; b2 = x[t2, 2] - x[t0, 2]
    c0 = x[t3, 0] - x[t0, 0]; c1 = x[t3, 1] - x[t0, 1]; c2 = x[t3, 2] - x[t0, 2]
    s = 1.0 / 6.0
    g[1, 0] = s * (b1 * c2 - b2 * c1); g[1, 1] = s * (b2 * c0 - b0 * c2); g[1, 2] = s * (b0 * c1 - b1 * c0)
    g[2, 0] = s * (c1 * a2 - c2 * a1); g[2, 1] = s * (c2 * a0 - c0 * a2); g[2, 2] = s * (c0 * a1 - c1 * a0)
    g[3, 0] = s * (a1 * b2 - a2 * b1); g[3, 1] = s * (a2 * b0 - a0 * b2); g[3, 2] = s * (a0 * b1 - a1 * b0)
    for q in range(3):
        g[0, q] = -(g[1, q] + g[2, q] + g[3, q])


@njit(cache=True, inline="always", error_model="numpy")
def _cross(p0, p1, p2, q0, q1, q2):
    return p1 * q2 - p2 * q1, p2 * q0 - p0 * q2, p0 * q1 - p1 * q0


@njit(cache=True, inline="always", error_model="numpy")
def _volume_gradient_derivative(x, w, t0, t1, t2, t3, h):
    """Directional derivative of dv/dx along w, into h (4,3)."""
    a0 = x[t1, 0] - x[t0, 0]; a1 = x[t1, 1] - x[t0, 1]; a2 = x[t1, 2] - x[t0, 2]
    b0 = x[t2, 0] - x[t0, 0]; b1 = x[t2, 1] - x[t0, 1]; b2 = x[t2, 2] - x[t0, 2]
    c0 = x[t3, 0] - x[t0, 0]; c1 = x[t3, 1] - x[t0, 1]; c2 = x[t3, 2] - x[t0, 2]
    da0 = w[t1, 0] - w[t0, 0]; da1 = w[t1, 1] - w[t0, 1]; da2 = w[t1, 2] - w[t0, 2]
    db0 = w[t2, 0] - w[t0, 0]; db1 = w[t2, 1] - w[t0, 1]; db2 = w[t2, 2] - w[t0, 2]
    dc0 = w[t3, 0] - w[t0, 0]; dc1 = w[t3, 1] - w[t0, 1]; dc2 = w[t3, 2] - w[t0, 2]
    s = 1.0 / 6.0
    p = _cross(db0, db1, db2, c0, c1, c2)
    q = _cross(b0, b1, b2, dc0, dc1, dc2)
    h[1, 0] = s * (p[0] + q[0]); h[1, 1] = s * (p[1] + q[1]); h[1, 2] = s * (p[2] + q[2])
    p = _cross(dc0, dc1, dc2, a0, a1, a2)
    q = _cross(c0, c1, c2, da0, da1, da2)
    h[2, 0] = s * (p[0] + q[0]); h[2, 1] = s * (p[1] + q[1]); h[2, 2] = s * (p[2] + q[2])
    p = _cross(da0, da1, da2, b0, b1, b2)
    q = _cross(a0, a1, a2, db0, db1, db2)
    h[3, 0] = s * (p[0] + q[0]); h[3, 1] = s * (p[1] + q[1]); h[3, 2] = s * (p[2] + q[2])
    for r in range(3):
        h[0, r] = -(h[1, r] + h[2, r] + h[3, r])


# --------------------------------------------------------------------------------------------
# the volume term: tet volumes -> patch ratios J -> per-tet coefficients
# --------------------------------------------------------------------------------------------

@njit(cache=True, parallel=True, error_model="numpy")
def tet_volumes(x, tets, out):
    for t in prange(tets.shape[0]):
        out[t] = _tet_volume(x, tets[t, 0], tets[t, 1], tets[t, 2], tets[t, 3])


@njit(cache=True, parallel=True, error_model="numpy")
def patch_sums(tet_values, patch_ptr, patch_tets, out):
    """out[p] = sum over the (tet, corner) entries of patch p of tet_values[tet] / 4."""
    for p in prange(patch_ptr.shape[0] - 1):
        s = 0.0
        for e in range(patch_ptr[p], patch_ptr[p + 1]):
            s += tet_values[patch_tets[e]]
        out[p] = 0.25 * s


@njit(cache=True, parallel=True, error_model="numpy")
def tet_averages(patch_values, tet_patch, out):
    """out[t] = sum over the tet's four corners of patch_values[patch of the corner] / 4."""
    for t in prange(tet_patch.shape[0]):
        out[t] = 0.25 * (patch_values[tet_patch[t, 0]] + patch_values[tet_patch[t, 1]]
                         + patch_values[tet_patch[t, 2]] + patch_values[tet_patch[t, 3]])


# --------------------------------------------------------------------------------------------
# scatter by slabs
# --------------------------------------------------------------------------------------------

@njit(cache=True, inline="always", error_model="numpy")
def _slab_items(x, F, sl, width, row_ptr, b, k, rest, tet_ptr, tets, ptet, g):
    """Scatter the forces of slab ``sl``: the springs of its nodes (CSR by lowest node: the
    springs of node i are row_ptr[i]:row_ptr[i+1], its partners b) and its tets."""
    n = row_ptr.shape[0] - 1
    scatter_row_springs(x, F, sl * width, min(n, (sl + 1) * width), row_ptr, b, k, rest)
    scatter_tet_forces(x, F, tet_ptr[sl], tet_ptr[sl + 1], tets, ptet, g)


@njit(cache=True, inline="always", error_model="numpy")
def scatter_row_springs(x, F, lo, hi, row_ptr, b, k, rest):
    """The forces of the springs of nodes lo..hi-1 (rows as in _slab_items) into F ((N,3), or
    the (N,3) view of a (3,N) array)."""
    for i in range(lo, hi):
        x0 = x[i, 0]
        x1 = x[i, 1]
        x2 = x[i, 2]
        f0 = 0.0
        f1 = 0.0
        f2 = 0.0
        for s in range(row_ptr[i], row_ptr[i + 1]):
            j = b[s]
            d0 = x[j, 0] - x0
            d1 = x[j, 1] - x1
            d2 = x[j, 2] - x2
            l = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            t = k[s] * (l - rest[s]) / l
            f0 += t * d0
            f1 += t * d1
            f2 += t * d2
            F[j, 0] -= t * d0
            F[j, 1] -= t * d1
            F[j, 2] -= t * d2
        F[i, 0] += f0
        F[i, 1] += f1
        F[i, 2] += f2


@njit(cache=True, inline="always", error_model="numpy")
def scatter_tet_forces(x, F, lo, hi, tets, ptet, g):
    """The volume term's forces -P_t dv_t/dx of tets lo..hi-1 into F ((N,3), or the (N,3) view
    of a (3,N) array)."""
    for e in range(lo, hi):
        p = ptet[e]
        if p == 0.0:
            continue
        _volume_gradient(x, tets[e, 0], tets[e, 1], tets[e, 2], tets[e, 3], g)
        for c in range(4):
            nd = tets[e, c]
            F[nd, 0] -= p * g[c, 0]
            F[nd, 1] -= p * g[c, 1]
            F[nd, 2] -= p * g[c, 2]


@njit(cache=True, parallel=True, error_model="numpy")
def slab_forces(x, F, phase, width, row_ptr, b, k, rest, tet_ptr, tets, ptet):
    """Add the spring and volume forces of the slabs of parity ``phase`` to F."""
    n_slabs = tet_ptr.shape[0] - 1
    for q in prange((n_slabs - phase + 1) // 2):
        g = np.empty((4, 3))
        _slab_items(x, F, 2 * q + phase, width, row_ptr, b, k, rest, tet_ptr, tets, ptet, g)


@njit(cache=True, inline="always", error_model="numpy")
def _update_nodes(x, v, F, f_ext, inv_m, gamma, lo, hi, kick, drift, theta):
    """v <- (v (1 - (1-theta) kick gamma) + kick (F + f_ext)/m) / (1 + theta kick gamma);
    x <- x + drift v; F <- 0. theta = 0: explicit damping, 0.5: trapezoidal. inv_m is 0 on
    fixed nodes (which must start at rest)."""
    for i in range(lo, hi):
        gk = kick * gamma[i]
        c0 = 1.0 - (1.0 - theta) * gk
        c1 = 1.0 if theta == 0.0 else 1.0 / (1.0 + theta * gk)
        w = kick * inv_m[i]
        for q in range(3):
            vq = (v[i, q] * c0 + w * (F[i, q] + f_ext[i, q])) * c1
            v[i, q] = vq
            x[i, q] += drift * vq
            F[i, q] = 0.0


@njit(cache=True, parallel=True, error_model="numpy")
def slab_step(x, v, F, f_ext, inv_m, gamma, kick, drift, theta, width,
              row_ptr, b, k, rest, tet_ptr, tets, ptet):
    """One fused explicit step: the even slabs scatter their forces, then each odd slab
    scatters its own and moves the nodes whose forces are complete (see the module
    docstring). F holds any other force on entry (ligaments) and is zero on exit; fixed
    nodes have inv_m = 0 and v = 0."""
    n = x.shape[0]
    n_slabs = tet_ptr.shape[0] - 1
    for q in prange((n_slabs + 1) // 2):
        g = np.empty((4, 3))
        _slab_items(x, F, 2 * q, width, row_ptr, b, k, rest, tet_ptr, tets, ptet, g)
    for q in prange(max(1, n_slabs // 2)):
        g = np.empty((4, 3))
        sl = 2 * q + 1
        if sl < n_slabs:
            _slab_items(x, F, sl, width, row_ptr, b, k, rest, tet_ptr, tets, ptet, g)
        lo = 0 if q == 0 else sl * width
        hi = min(n, (sl + 2) * width)
        _update_nodes(x, v, F, f_ext, inv_m, gamma, lo, hi, kick, drift, theta)


@njit(cache=True, parallel=True, error_model="numpy")
def slab_hessvec(x, w, out, phase, width, row_ptr, a, b, k, rest, tet_ptr, tets, qtet, ptet, project):
    """Add the Hessian-vector product H w of the springs and the volume term of the slabs of
    parity ``phase`` to ``out``. ``qtet``: per-tet coefficient of the Gauss-Newton part of the
    volume term (sum of b/V_p (g_p . w) over the tet's corner patches / 4); ``ptet``: the
    force coefficients, for the second-derivative part. ``project``: clamp the springs'
    transverse term at 0 and drop the volume second derivative (a positive semi-definite
    Hessian, for CG)."""
    n_slabs = tet_ptr.shape[0] - 1
    n = row_ptr.shape[0] - 1
    for q in prange((n_slabs - phase + 1) // 2):
        sl = 2 * q + phase
        g = np.empty((4, 3))
        h = np.empty((4, 3))
        for s in range(row_ptr[min(n, sl * width)], row_ptr[min(n, (sl + 1) * width)]):
            i = a[s]
            j = b[s]
            d0 = x[j, 0] - x[i, 0]
            d1 = x[j, 1] - x[i, 1]
            d2 = x[j, 2] - x[i, 2]
            l = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            n0 = d0 / l
            n1 = d1 / l
            n2 = d2 / l
            geo = 1.0 - rest[s] / l
            if project and geo < 0.0:
                geo = 0.0
            e0 = w[j, 0] - w[i, 0]
            e1 = w[j, 1] - w[i, 1]
            e2 = w[j, 2] - w[i, 2]
            ne = n0 * e0 + n1 * e1 + n2 * e2
            ks = k[s]
            h0 = ks * (ne * n0 + geo * (e0 - ne * n0))
            h1 = ks * (ne * n1 + geo * (e1 - ne * n1))
            h2 = ks * (ne * n2 + geo * (e2 - ne * n2))
            out[j, 0] += h0
            out[j, 1] += h1
            out[j, 2] += h2
            out[i, 0] -= h0
            out[i, 1] -= h1
            out[i, 2] -= h2
        for e in range(tet_ptr[sl], tet_ptr[sl + 1]):
            t0 = tets[e, 0]
            t1 = tets[e, 1]
            t2 = tets[e, 2]
            t3 = tets[e, 3]
            _volume_gradient(x, t0, t1, t2, t3, g)
            cq = qtet[e]
            for c in range(4):
                nd = tets[e, c]
                out[nd, 0] += cq * g[c, 0]
                out[nd, 1] += cq * g[c, 1]
                out[nd, 2] += cq * g[c, 2]
            if project or ptet[e] == 0.0:
                continue
            _volume_gradient_derivative(x, w, t0, t1, t2, t3, h)
            cp = ptet[e]
            for c in range(4):
                nd = tets[e, c]
                out[nd, 0] += cp * h[c, 0]
                out[nd, 1] += cp * h[c, 1]
                out[nd, 2] += cp * h[c, 2]


@njit(cache=True, parallel=True, error_model="numpy")
def tet_gradient_dot(x, w, tets, out):
    """out[t] = sum over corners c of dv_t/dx_c . w_c (the change of v_t along w)."""
    for t in prange(tets.shape[0]):
        g = np.empty((4, 3))
        _volume_gradient(x, tets[t, 0], tets[t, 1], tets[t, 2], tets[t, 3], g)
        s = 0.0
        for c in range(4):
            nd = tets[t, c]
            s += g[c, 0] * w[nd, 0] + g[c, 1] * w[nd, 1] + g[c, 2] * w[nd, 2]
        out[t] = s


@njit(cache=True, parallel=True, error_model="numpy")
def spring_energy(x, a, b, k, rest):
    e = 0.0
    for s in prange(a.shape[0]):
        i = a[s]
        j = b[s]
        d0 = x[j, 0] - x[i, 0]
        d1 = x[j, 1] - x[i, 1]
        d2 = x[j, 2] - x[i, 2]
        l = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
        e += 0.5 * k[s] * (l - rest[s]) ** 2
    return e


@njit(cache=True)
def point_spring_hessvec(x, w, nodes, anchors, k, rest, tension_only, out):
    """Add H w of the ligament springs (node to node or node to a fixed point; the formulas of
    solvers/truss.py) to ``out``. Serial: ligaments are few."""
    for s in range(k.shape[0]):
        A = nodes[s, 0]
        B = nodes[s, 1]
        if B >= 0:
            d0 = x[B, 0] - x[A, 0]; d1 = x[B, 1] - x[A, 1]; d2 = x[B, 2] - x[A, 2]
            e0 = w[B, 0] - w[A, 0]; e1 = w[B, 1] - w[A, 1]; e2 = w[B, 2] - w[A, 2]
        else:
            d0 = anchors[s, 0] - x[A, 0]; d1 = anchors[s, 1] - x[A, 1]; d2 = anchors[s, 2] - x[A, 2]
            e0 = -w[A, 0]; e1 = -w[A, 1]; e2 = -w[A, 2]
        l = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
        if (tension_only[s] and l <= rest[s]) or l <= 1e-300:
            continue
        n0 = d0 / l; n1 = d1 / l; n2 = d2 / l
        geo = 1.0 - rest[s] / l
        ne = n0 * e0 + n1 * e1 + n2 * e2
        h0 = k[s] * (ne * n0 + geo * (e0 - ne * n0))
        h1 = k[s] * (ne * n1 + geo * (e1 - ne * n1))
        h2 = k[s] * (ne * n2 + geo * (e2 - ne * n2))
        out[A, 0] -= h0; out[A, 1] -= h1; out[A, 2] -= h2
        if B >= 0:
            out[B, 0] += h0; out[B, 1] += h1; out[B, 2] += h2


# --------------------------------------------------------------------------------------------
# node-parallel helpers of the integrators
# --------------------------------------------------------------------------------------------

@njit(cache=True, parallel=True, error_model="numpy")
def update_nodes(x, v, F, f_ext, inv_m, gamma, kick, drift, theta, chunk):
    """The node update of slab_step on its own (after slab_forces)."""
    n = x.shape[0]
    for c in prange((n + chunk - 1) // chunk):
        _update_nodes(x, v, F, f_ext, inv_m, gamma, c * chunk, min(n, (c + 1) * chunk), kick, drift, theta)
