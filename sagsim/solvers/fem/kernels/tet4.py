"""Linear tetrahedron: internal force, consistent tangent and energy, assembled into CSR.

Notation for one element with reference shape gradients G_a (a = 0..3, rows of (4,3)),
deformation gradient F = sum_a x_a G_a^T, volume V0, J = det F:
  f_a = F G_a,   c_a = F^-T G_a (spatial gradient of N_a),   Gab = G_a . G_b.
Each law is split into a "shear" part and the volumetric part U(J) = k/2 (ln J)^2. The
volumetric part enters through two coefficients (a1, a2): force V0 a1 c_a, tangent
V0 [a2 c_ai c_bk - a1 c_ak c_bi]. The standard element uses a1 = k ln J, a2 = k. The averaged
nodal pressure element (see anp.py) uses a1 = a2 = J q_e, q_e its patch-averaged U'(J), and adds
the U'' part per patch.

Elements are split into one partition per thread over disjoint node ranges, plus the few
elements between partitions: threads never write the same rows of K or R (no races, no
atomics), and there is one fork-join per assembly, which matters on a busy machine.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

NEO_HOOKEAN = 0
MOONEY_RIVLIN = 1


@njit(cache=True, inline="always")
def _element_kinematics(u, tet, dminv, hoff, G, f, c, m):
    """Fill G (the element's reference shape gradients, from ``dminv``) and f, c, m (4,3) for
    one element; return (J, ln J, I1 - 3). See :func:`_kinematics`."""
    for j in range(3):
        G[1, j] = dminv[0, j]
        G[2, j] = dminv[1, j]
        G[3, j] = dminv[2, j]
        G[0, j] = -(dminv[0, j] + dminv[1, j] + dminv[2, j])
    return _kinematics(u, tet, 4, G, hoff, f, c, m)


@njit(cache=True, inline="always")
def _kinematics(u, nodes, count, G, hoff, f, c, m):
    """Fill f, c, m (count,3) for a deformation gradient that is linear in the displacements of
    ``count`` nodes with gradients G (count,3): a tetrahedron's four corners, or the support of
    a smoothing domain (smoothed.py); return (J, ln J, I1 - 3).

    Growth: an element whose stress-free shape is its reference shape mapped by a growth
    tensor Fg has G = (Dm^-1 Fg^-1 rows) and ``hoff`` (3,3) = Fg^-1 - I, so that the elastic
    deformation F = (I + grad u) Fg^-1 = I + H with H = grad u Fg^-1 + hoff (hoff = 0 without
    growth).

    F = I + H with H = sum_a u_a G_a^T, the displacement gradient: working from
    displacements instead of positions keeps the stress exact to round-off relative to the
    strain, not to the coordinates (positions far from the origin, or tiny loads, otherwise
    leave a residual floor Newton cannot get under). For the same reason the force uses
    m_a = (F - F^-T) G_a = H G_a + F^-T H^T G_a, J - 1 and I1 - 3 are expanded in H, and
    ln J = log1p(J - 1).
    """
    H00 = H01 = H02 = H10 = H11 = H12 = H20 = H21 = H22 = 0.0
    for a in range(count):
        n = nodes[a]
        u0, u1, u2 = u[n, 0], u[n, 1], u[n, 2]
        g0, g1, g2 = G[a, 0], G[a, 1], G[a, 2]
        H00 += u0 * g0; H01 += u0 * g1; H02 += u0 * g2
        H10 += u1 * g0; H11 += u1 * g1; H12 += u1 * g2
        H20 += u2 * g0; H21 += u2 * g1; H22 += u2 * g2
    H00 += hoff[0, 0]; H01 += hoff[0, 1]; H02 += hoff[0, 2]
    H10 += hoff[1, 0]; H11 += hoff[1, 1]; H12 += hoff[1, 2]
    H20 += hoff[2, 0]; H21 += hoff[2, 1]; H22 += hoff[2, 2]
    F00, F11, F22 = 1.0 + H00, 1.0 + H11, 1.0 + H22
    # cofactor matrix: F^-T = cof(F) / J
    C00 = F11 * F22 - H12 * H21; C01 = H12 * H20 - H10 * F22; C02 = H10 * H21 - F11 * H20
    C10 = H02 * H21 - H01 * F22; C11 = F00 * F22 - H02 * H20; C12 = H01 * H20 - F00 * H21
    C20 = H01 * H12 - H02 * F11; C21 = H02 * H10 - F00 * H12; C22 = F00 * F11 - H01 * H10
    trH = H00 + H11 + H22
    i2H = H00 * H11 + H11 * H22 + H00 * H22 - H01 * H10 - H12 * H21 - H02 * H20
    detH = (H00 * (H11 * H22 - H12 * H21) - H01 * (H10 * H22 - H12 * H20)
            + H02 * (H10 * H21 - H11 * H20))
    Jm1 = trH + i2H + detH
    J = 1.0 + Jm1
    I1m3 = 2.0 * trH + (H00 * H00 + H01 * H01 + H02 * H02 + H10 * H10 + H11 * H11 + H12 * H12
                        + H20 * H20 + H21 * H21 + H22 * H22)
    if J <= 0.0:
        return J, 0.0, I1m3
    lnJ = math.log1p(Jm1)
    iJ = 1.0 / J
    for a in range(count):
        g0, g1, g2 = G[a, 0], G[a, 1], G[a, 2]
        h0 = H00 * g0 + H01 * g1 + H02 * g2  # H G_a
        h1 = H10 * g0 + H11 * g1 + H12 * g2
        h2 = H20 * g0 + H21 * g1 + H22 * g2
        t0 = H00 * g0 + H10 * g1 + H20 * g2  # H^T G_a
        t1 = H01 * g0 + H11 * g1 + H21 * g2
        t2 = H02 * g0 + H12 * g1 + H22 * g2
        f[a, 0] = g0 + h0
        f[a, 1] = g1 + h1
        f[a, 2] = g2 + h2
        c[a, 0] = (C00 * g0 + C01 * g1 + C02 * g2) * iJ
        c[a, 1] = (C10 * g0 + C11 * g1 + C12 * g2) * iJ
        c[a, 2] = (C20 * g0 + C21 * g1 + C22 * g2) * iJ
        m[a, 0] = h0 + (C00 * t0 + C01 * t1 + C02 * t2) * iJ
        m[a, 1] = h1 + (C10 * t0 + C11 * t1 + C12 * t2) * iJ
        m[a, 2] = h2 + (C20 * t0 + C21 * t1 + C22 * t2) * iJ
    return J, lnJ, I1m3


@njit(cache=True, inline="always")
def _shear_coefficients(kind, p0, p1, J, lnJ, I1m3):
    """Coefficients of the shear part and its energy density.

    Returns (e, sm, sc, kd, kfc, kcc, kx, dd) such that
      force_a  = V0 [sm m_a + sc c_a]
      tangent  = V0 [kd d_ik Gab + kfc (f_ai c_bk + c_ai f_bk) + kcc c_ai c_bk + kx c_ak c_bi
                     + dd t_ai t_bk],   t_a = sm m_a + sc c_a
    Neo-Hookean: W_s = mu/2 (I1-3) - mu ln J, so P_s = mu (F - F^-T).
    Mooney-Rivlin: W_s = C10 (I1b-3) + C20 (I1b-3)^2, I1b = J^-2/3 I1, so
      P_s = psi' J^-2/3 (2 F - 2/3 I1 F^-T) = psi' J^-2/3 (2 (F - F^-T) - 2/3 (I1-3) F^-T).
    """
    if kind == NEO_HOOKEAN:
        mu = p0
        e = 0.5 * mu * I1m3 - mu * lnJ
        return e, mu, 0.0, mu, 0.0, 0.0, mu, 0.0
    c10, c20 = p0, p1
    j23m1 = math.expm1(-2.0 / 3.0 * lnJ)
    j23 = 1.0 + j23m1
    i1bm3 = j23 * I1m3 + 3.0 * j23m1
    I1 = I1m3 + 3.0
    d1 = c10 + 2.0 * c20 * i1bm3  # psi' (>= C10 > 0, since I1b >= 3)
    d2 = 2.0 * c20  # psi''
    e = c10 * i1bm3 + c20 * i1bm3 * i1bm3
    sm = 2.0 * d1 * j23
    sc = -(2.0 / 3.0) * d1 * j23 * I1m3
    kd = 2.0 * d1 * j23
    kfc = -(4.0 / 3.0) * d1 * j23
    kcc = (4.0 / 9.0) * d1 * j23 * I1
    kx = (2.0 / 3.0) * d1 * j23 * I1
    dd = d2 / (d1 * d1)  # psi'' dI1b (x) dI1b, with dI1b = t / psi'
    return e, sm, sc, kd, kfc, kcc, kx, dd


@njit(cache=True, inline="always")
def _element_force_tangent(kind, p0, p1, V0, J, lnJ, I1m3, a1, a2, G, f, c, m, fe, Ke):
    """Element force fe (4,3) and tangent Ke (12,12) given the volumetric coefficients a1, a2,
    entry by entry (the assembly regroups the same terms). Returns the shear energy V0 W_s."""
    e, sm, sc, kd, kfc, kcc, kx, dd = _shear_coefficients(kind, p0, p1, J, lnJ, I1m3)
    for a in range(4):
        for i in range(3):
            fe[a, i] = V0 * (sm * m[a, i] + (sc + a1) * c[a, i])
    for a in range(4):
        for b in range(4):
            gab = G[a, 0] * G[b, 0] + G[a, 1] * G[b, 1] + G[a, 2] * G[b, 2]
            for i in range(3):
                for k in range(3):
                    v = ((kcc + a2) * c[a, i] * c[b, k] + (kx - a1) * c[a, k] * c[b, i]
                         + kfc * (f[a, i] * c[b, k] + c[a, i] * f[b, k])
                         + dd * (sm * m[a, i] + sc * c[a, i]) * (sm * m[b, k] + sc * c[b, k]))
                    if i == k:
                        v += kd * gab
                    Ke[3 * a + i, 3 * b + k] = V0 * v
    return V0 * e


@njit(cache=True, parallel=True)
def assemble(u, tets, dminv, hoff, vol0, mat_kind, mat_par, elem_mat, part_ptr, node_ptr, qvol,
             bptr, deg3, kpos, R, data, want_K, shear, element_bulk):
    """Element internal forces into R (3N,) and tangents into CSR ``data``, both zeroed here
    first, at displacements ``u`` (N,3) from the reference; returns (shear + standard volumetric energy, number of inverted elements).

    ``elem_mat[e]`` indexes the material tables ``mat_kind`` (int) and ``mat_par`` (rows of
    p0, p1, k). ``qvol`` is empty for the standard element; otherwise it holds q_e, the
    averaged nodal pressure coefficient of each element (its volumetric energy is then computed
    per patch, not here). ``shear`` (M,) weighs each element's shear part, or is empty for a
    weight of 1: less than 1 in the edge-smoothed formulation only, whose smoothing domains
    carry the rest of it (smoothed.py). ``element_bulk`` (per material, or empty for none): with
    averaged nodal pressure, the bulk modulus each element keeps of its own volumetric energy
    (the edge-smoothed formulation's, smoothed.ELEMENT_BULK); the patches carry the rest.

    Elements are sorted into partitions (csr.partition_elements): the ranges
    ``part_ptr[t]:part_ptr[t+1]`` for t < T write disjoint rows and run in parallel; the last
    range, the elements between partitions, runs after them. Partition t owns the nodes
    ``node_ptr[t]:node_ptr[t+1]`` and zeroes their rows first (no separate pass over memory).
    """
    T = part_ptr.shape[0] - 2
    energy = np.zeros(T + 1)
    inverted = np.zeros(T + 1, np.int64)
    for t in prange(T):
        _zero_rows(node_ptr[t], node_ptr[t + 1], bptr, R, data, want_K)
        energy[t], inverted[t] = _assemble_range(
            part_ptr[t], part_ptr[t + 1], u, tets, dminv, hoff, vol0, mat_kind, mat_par, elem_mat, qvol,
            bptr, deg3, kpos, R, data, want_K, shear, element_bulk)
    energy[T], inverted[T] = _assemble_range(
        part_ptr[T], part_ptr[T + 1], u, tets, dminv, hoff, vol0, mat_kind, mat_par, elem_mat, qvol,
        bptr, deg3, kpos, R, data, want_K, shear, element_bulk)
    return energy.sum(), inverted.sum()


@njit(cache=True)
def _zero_rows(n0, n1, bptr, R, data, want_K):
    # plain loops, so that numba does not turn a slice assignment into a nested parfor
    for i in range(3 * n0, 3 * n1):
        R[i] = 0.0
    if want_K:
        d1 = bptr[n1] if n1 < bptr.shape[0] else data.shape[0]
        for p in range(bptr[n0], d1):
            data[p] = 0.0


@njit(cache=True)
def _assemble_range(e0, e1, u, tets, dminv, hoff, vol0, mat_kind, mat_par, elem_mat, qvol,
                    bptr, deg3, kpos, R, data, want_K, shear, element_bulk):
    G = np.empty((4, 3)); f = np.empty((4, 3)); c = np.empty((4, 3)); m4 = np.empty((4, 3))
    row = np.empty((4, 4, 3))  # per element node: the vectors a tangent row block is built from
    anp = qvol.shape[0] > 0
    weighed = shear.shape[0] > 0
    own_bulk = element_bulk.shape[0] > 0
    energy = 0.0
    inverted = 0
    for e in range(e0, e1):
        m = elem_mat[e]
        kind = mat_kind[m]
        p0, p1, kv = mat_par[m, 0], mat_par[m, 1], mat_par[m, 2]
        tet = tets[e]
        J, lnJ, I1m3 = _element_kinematics(u, tet, dminv[e], hoff[e], G, f, c, m4)
        if J <= 0.0:
            inverted += 1
            continue
        if anp:
            a1 = J * qvol[e]
            a2 = a1
            if own_bulk:  # the element's own part of U = k/2 (ln J)^2
                ke = element_bulk[m]
                a1 += ke * lnJ
                a2 += ke
                energy += vol0[e] * 0.5 * ke * lnJ * lnJ
        else:
            a1 = kv * lnJ
            a2 = kv
            energy += vol0[e] * 0.5 * kv * lnJ * lnJ
        V0 = vol0[e]
        es, sm, sc, kd, kfc, kcc, kx, dd = _shear_coefficients(kind, p0, p1, J, lnJ, I1m3)
        if weighed and shear[e] != 1.0:  # every term is linear in the modulus but dd, which t = dd d (x) d squares
            w = shear[e]
            es *= w; sm *= w; sc *= w; kd *= w; kfc *= w; kcc *= w; kx *= w
            dd = dd / w if w > 0.0 else 0.0
        energy += V0 * es
        for a in range(4):
            A = tet[a]
            for i in range(3):
                R[3 * A + i] += V0 * (sm * m4[a, i] + (sc + a1) * c[a, i])
        if want_K:
            _scatter_tangent(tet, 4, V0, kcc + a2, kx - a1, kfc, kd, dd, sm, sc, kind != NEO_HOOKEAN,
                             G, f, c, m4, row, kpos[e], bptr, deg3, data)
    return energy, inverted


@njit(cache=True, inline="always")
def _scatter_tangent(tet, count, V0, ccoef, xcoef, kfc, kd, dd, sm, sc, full, G, f, c, m, row,
                     kp, bptr, deg3, data):
    """Add the tangent of an element (or of a smoothing domain: ``count`` support nodes ``tet``,
    ``kp`` the block positions of their pairs at count * a + b) block by block, computing only
    the blocks b >= a (the tangent is symmetric) and writing each also transposed. Block (a, b),
    entry (i, k):
        s_ai c_bk + q_ak c_bi + g_ab d_ik  [+ w_ai f_bk + t_ai d_bk  for Mooney-Rivlin]
    with s = V0 (ccoef c + kfc f), q = V0 xcoef c, w = V0 kfc c, t = V0 dd d, d = sm m + sc c,
    g_ab = V0 kd G_a . G_b (the terms of _element_force_tangent, regrouped). The 3x3 block is
    spelled out in scalars: LLVM keeps them in registers, which halves the time of the loop
    version."""
    for a in range(count):
        for i in range(3):
            row[a, 0, i] = V0 * (ccoef * c[a, i] + kfc * f[a, i])
            row[a, 1, i] = V0 * xcoef * c[a, i]
            row[a, 2, i] = V0 * kfc * c[a, i]
            row[a, 3, i] = sm * m[a, i] + sc * c[a, i]  # d_a
    vdd = V0 * dd
    for a in range(count):
        A = tet[a]
        strideA = deg3[A]
        s0, s1, s2 = row[a, 0, 0], row[a, 0, 1], row[a, 0, 2]
        q0, q1, q2 = row[a, 1, 0], row[a, 1, 1], row[a, 1, 2]
        for b in range(a, count):
            g = V0 * kd * (G[a, 0] * G[b, 0] + G[a, 1] * G[b, 1] + G[a, 2] * G[b, 2])
            c0, c1, c2 = c[b, 0], c[b, 1], c[b, 2]
            k00 = s0 * c0 + q0 * c0 + g; k01 = s0 * c1 + q1 * c0; k02 = s0 * c2 + q2 * c0
            k10 = s1 * c0 + q0 * c1; k11 = s1 * c1 + q1 * c1 + g; k12 = s1 * c2 + q2 * c1
            k20 = s2 * c0 + q0 * c2; k21 = s2 * c1 + q1 * c2; k22 = s2 * c2 + q2 * c2 + g
            if full:
                w0, w1, w2 = row[a, 2, 0], row[a, 2, 1], row[a, 2, 2]
                t0, t1, t2 = vdd * row[a, 3, 0], vdd * row[a, 3, 1], vdd * row[a, 3, 2]
                f0, f1, f2 = f[b, 0], f[b, 1], f[b, 2]
                d0, d1, d2 = row[b, 3, 0], row[b, 3, 1], row[b, 3, 2]
                k00 += w0 * f0 + t0 * d0; k01 += w0 * f1 + t0 * d1; k02 += w0 * f2 + t0 * d2
                k10 += w1 * f0 + t1 * d0; k11 += w1 * f1 + t1 * d1; k12 += w1 * f2 + t1 * d2
                k20 += w2 * f0 + t2 * d0; k21 += w2 * f1 + t2 * d1; k22 += w2 * f2 + t2 * d2
            p = bptr[A] + 3 * kp[count * a + b]
            data[p] += k00; data[p + 1] += k01; data[p + 2] += k02
            p += strideA
            data[p] += k10; data[p + 1] += k11; data[p + 2] += k12
            p += strideA
            data[p] += k20; data[p + 1] += k21; data[p + 2] += k22
            if b != a:
                B = tet[b]
                strideB = deg3[B]
                p = bptr[B] + 3 * kp[count * b + a]
                data[p] += k00; data[p + 1] += k10; data[p + 2] += k20
                p += strideB
                data[p] += k01; data[p + 1] += k11; data[p + 2] += k21
                p += strideB
                data[p] += k02; data[p + 1] += k12; data[p + 2] += k22


@njit(cache=True)
def element_force_tangent(kind, p0, p1, kv, ue, dminv, V0, hoff):
    """One element's force (4,3), tangent (12,12) and energy, standard volumetric part, at
    corner displacements ``ue`` (4,3), growth term ``hoff`` (3,3; zeros: none). For tests and
    tools."""
    G = np.empty((4, 3)); f = np.empty((4, 3)); c = np.empty((4, 3)); m = np.empty((4, 3))
    fe = np.zeros((4, 3)); Ke = np.zeros((12, 12))
    tet = np.arange(4)
    J, lnJ, I1m3 = _element_kinematics(ue, tet, dminv, hoff, G, f, c, m)
    if J <= 0.0:
        return fe, Ke, np.nan
    e = _element_force_tangent(kind, p0, p1, V0, J, lnJ, I1m3, kv * lnJ, kv, G, f, c, m, fe, Ke)
    return fe, Ke, e + V0 * 0.5 * kv * lnJ * lnJ
