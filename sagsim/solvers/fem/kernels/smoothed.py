"""Edge-smoothed shear: the shear part of the energy per smoothing domain around each edge.

A linear tetrahedron's strain is constant, and a mesh of them is too stiff in bending: the
error of the sagging cube's corner displacement at 16 cells a side (lambda = 10) is 4.6 % with
the standard element and still 2.4 % once the averaged nodal pressure (anp.py) has removed
volumetric locking (docs/elements.md). The edge-based smoothed FEM (ES-FEM; Liu, Nguyen-Thoi
and Lam 2009, J Sound Vib 320:1100; selective smoothing for nearly incompressible
hyperelasticity in 3D, CMES 2021, doi 10.32604/cmes.2021.014947) evaluates the shear energy on
domains that straddle elements, which softens it where the standard element is too stiff, with
no new unknowns.

Each domain d belongs to one edge and one material: a sixth of the volume of each element of
that material around the edge (a domain never smooths across a material boundary, so each
layer keeps its shear modulus). Its deformation gradient is the volume-weighted mean of theirs,
    F_d = I + sum_a u_a gbar_a^T + hbar,   gbar_a = sum_e (V_e/6) G_ea / V_d,
linear in the displacements of the domain's support nodes (the corners of its elements), with
hbar the mean growth term (tet4._kinematics). The shear energy is sum_d V'_d W_s(F_d)
+ sum_e s_e V_e W_s(F_e), where element e keeps the share s_e of its own (:data:`ELEMENT_SHARE`,
more for slivers: :data:`SLIVER_DIHEDRAL_DEG`) and leaves the rest to its domains,
V'_d = sum_e (1 - s_e) V_e / 6 over the domain's elements; the domains' force and tangent follow from
tet4's formulas with G = gbar over the support nodes. The volumetric part stays per nodal patch
(anp.py), less a small bulk modulus each element keeps of its own (:data:`ELEMENT_BULK`), which
makes this the selective ES/NS formulation.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .tet4 import NEO_HOOKEAN, _kinematics, _scatter_tangent, _shear_coefficients

#: the share of the shear energy each element keeps (the domains carry the rest). Pure smoothing
#: (0) leaves a sliver element with no shear energy of its own: on the real face one turns over
#: while the rest of the mesh barely moves, and the stress-free recovery cannot go on. The
#: element's share (with its ln J barrier) keeps every element right side out, at the price of
#: a little of the linear tetrahedron's stiffness (measured in docs/elements.md).
ELEMENT_SHARE = 0.05

#: a sliver (smallest dihedral angle under the second angle, in degrees) keeps more of its own
#: shear energy, all of it under the first (linear in between). The domains average a sliver's
#: gradient by its tiny volume, so they barely feel its height: with only ELEMENT_SHARE of its
#: own, the stress-free recovery flattened the real coarse face's slivers (the two worst to
#: dihedral angles of 0.06 and 0.16 degrees, stretched 22- and 26-fold upright; with this rule
#: no element stretches more than 4-fold, as with averaged nodal pressure), and their stiff
#: ln J terms cost Newton iterations in every later aging year (103 iterations in all, against
#: 65 with this rule and 56 with averaged nodal pressure; the jowl's descent changed by 0.6 %).
#: The angles are numerical choices, measured in docs/elements.md, not tissue properties.
SLIVER_DIHEDRAL_DEG = (0.5, 3.0)

#: the bulk modulus each element keeps of its own volumetric energy, in shear moduli of its
#: material (at most the material's bulk modulus; the nodal patches carry the rest, anp.py).
#: The patches constrain only their elements' summed volume, so one element can swell while
#: its neighbours shrink; with its full shear energy (anp) an element resists that, with 5 % of
#: it (here) it did not: next to a thread's cogs on the real default face four elements swelled
#: 8- to 11-fold (stretched 10- to 13-fold), where averaged nodal pressure's largest lift strain
#: is 1.7. With half a shear modulus of its own it is 1.7 here too. Scaled by the shear modulus,
#: not the bulk modulus, so that it locks no more as the tissue nears incompressibility: the
#: cantilever at Poisson's ratio 0.49, two cells thick, bends 0.75 of beam theory (0.83 without
#: it; anp 0.52). A numerical choice, measured in docs/elements.md, not a tissue property.
ELEMENT_BULK = 0.5


@njit(cache=True, parallel=True)
def assemble_domains(u, dom_ptr, dom_nodes, dom_grad, dom_hoff, dom_vol, dom_mat, mat_kind, mat_par,
                     part_ptr, kpos_ptr, dom_kpos, max_support, bptr, deg3, R, data, want_K):
    """Add the domains' shear forces to R (3N,) and tangents to CSR ``data`` (neither zeroed
    here: the element pass, tet4.assemble, zeroes and fills them first); return (shear energy,
    number of domains turned inside out).

    Domain d's support nodes are ``dom_nodes[dom_ptr[d]:dom_ptr[d+1]]`` with gradients
    ``dom_grad`` (rows alike), ``dom_vol[d]`` its energy weight (domain_averages),
    ``dom_kpos[kpos_ptr[d]:kpos_ptr[d+1]]`` the block positions of their pairs, row-major.
    Domains are sorted into groups over disjoint node ranges (csr.partition_groups):
    ``part_ptr`` bounds the groups, the last one (straddlers) runs alone.
    """
    T = part_ptr.shape[0] - 2
    energy = np.zeros(T + 1)
    inverted = np.zeros(T + 1, np.int64)
    for t in prange(T):
        energy[t], inverted[t] = _domain_range(
            part_ptr[t], part_ptr[t + 1], u, dom_ptr, dom_nodes, dom_grad, dom_hoff, dom_vol, dom_mat, mat_kind,
            mat_par, kpos_ptr, dom_kpos, max_support, bptr, deg3, R, data, want_K)
    energy[T], inverted[T] = _domain_range(
        part_ptr[T], part_ptr[T + 1], u, dom_ptr, dom_nodes, dom_grad, dom_hoff, dom_vol, dom_mat, mat_kind,
        mat_par, kpos_ptr, dom_kpos, max_support, bptr, deg3, R, data, want_K)
    return energy.sum(), inverted.sum()


@njit(cache=True)
def _domain_range(d0, d1, u, dom_ptr, dom_nodes, dom_grad, dom_hoff, dom_vol, dom_mat, mat_kind, mat_par,
                  kpos_ptr, dom_kpos, max_support, bptr, deg3, R, data, want_K):
    f = np.empty((max_support, 3)); c = np.empty((max_support, 3)); m4 = np.empty((max_support, 3))
    row = np.empty((max_support, 4, 3))
    energy = 0.0
    inverted = 0
    for d in range(d0, d1):
        s0, s1 = dom_ptr[d], dom_ptr[d + 1]
        count = s1 - s0
        nodes = dom_nodes[s0:s1]
        G = dom_grad[s0:s1]
        J, lnJ, I1m3 = _kinematics(u, nodes, count, G, dom_hoff[d], f, c, m4)
        if J <= 0.0:
            inverted += 1
            continue
        m = dom_mat[d]
        kind = mat_kind[m]
        es, sm, sc, kd, kfc, kcc, kx, dd = _shear_coefficients(kind, mat_par[m, 0], mat_par[m, 1], J, lnJ, I1m3)
        V = dom_vol[d]
        energy += V * es
        for a in range(count):
            A = nodes[a]
            for i in range(3):
                R[3 * A + i] += V * (sm * m4[a, i] + sc * c[a, i])
        if want_K:
            _scatter_tangent(nodes, count, V, kcc, kx, kfc, kd, dd, sm, sc, kind != NEO_HOOKEAN,
                             G, f, c, m4, row, dom_kpos[kpos_ptr[d]:kpos_ptr[d + 1]], bptr, deg3, data)
    return energy, inverted


@njit(cache=True, parallel=True)
def domain_averages(inc_ptr, inc_elem, inc_loc, dom_ptr, dminv, hoff, vol0, share, dom_vol, dom_grad, dom_hoff):
    """Fill each domain's energy weight, support gradients and growth term from its elements:
    ``inc_elem[inc_ptr[d]:inc_ptr[d+1]]`` are domain d's elements and ``inc_loc`` (same rows, 4)
    their corners' positions in its support list. The gradients are volume-weighted means; the
    weight is what the elements leave to the domain, sum_e (1 - share_e) V_e / 6."""
    for d in prange(dom_ptr.shape[0] - 1):
        s0, s1 = dom_ptr[d], dom_ptr[d + 1]
        for s in range(s0, s1):
            for j in range(3):
                dom_grad[s, j] = 0.0
        for i in range(3):
            for j in range(3):
                dom_hoff[d, i, j] = 0.0
        V = 0.0
        weight = 0.0
        for q in range(inc_ptr[d], inc_ptr[d + 1]):
            e = inc_elem[q]
            w = vol0[e] / 6.0
            V += w
            weight += (1.0 - share[e]) * w
            for j in range(3):
                g1, g2, g3 = dminv[e, 0, j], dminv[e, 1, j], dminv[e, 2, j]
                dom_grad[s0 + inc_loc[q, 0], j] -= w * (g1 + g2 + g3)
                dom_grad[s0 + inc_loc[q, 1], j] += w * g1
                dom_grad[s0 + inc_loc[q, 2], j] += w * g2
                dom_grad[s0 + inc_loc[q, 3], j] += w * g3
            for i in range(3):
                for j in range(3):
                    dom_hoff[d, i, j] += w * hoff[e, i, j]
        dom_vol[d] = weight
        for s in range(s0, s1):
            for j in range(3):
                dom_grad[s, j] /= V
        for i in range(3):
            for j in range(3):
                dom_hoff[d, i, j] /= V
