"""The explicit mass-spring step on a GPU (numba.cuda), batched, and many steps per launch.

Import this module only when a GPU (or the simulator, NUMBA_ENABLE_CUDASIM=1) is wanted: the
CPU core never imports numba.cuda.

Layout: one thread per node and model; positions, velocities and external forces are
(B, 3, N) arrays (B models of one mesh, each component contiguous over nodes, so that a warp
reads coalesced); a node's springs are an ELL table (W, N) of partners, stiffness and rest
length, padded with stiffness 0 (slot-major: thread i of a warp reads word i). Each node
gathers its own springs (no atomics, no races; each spring is computed from both ends).
Ligaments are ELL entries too: tension-only ones carry a negative stiffness, and a fixed
anchor point is a ghost node after the N mesh nodes. The volume term takes three small
kernels before the node kernel: tet volumes, patch ratios b (J - 1), per-tet coefficients.

``CudaSprings.run`` launches one kernel per phase and step, or (``per_launch`` steps > 1, the
default for small models) one cooperative kernel that loops over the steps with grid-wide
barriers, so that a face of ~1e4 nodes is not bound by launch latency. The simulator runs
cooperative kernels in one block only; that is what the tests use.

The step is the CPU core's (springs/kernels/forces.py, ``_update_nodes``): with a = (F + f)/m,
v <- (v (1 - (1 - theta) kick g) + kick a) / (1 + theta kick g), x <- x + drift v.
"""
from __future__ import annotations

import math

import numpy as np

if not hasattr(np, "row_stack"):  # numba-cuda still calls it; numpy >= 2.4 removed it
    np.row_stack = np.vstack

from numba import cuda
from numba.core import config

BLOCK = 128


def gpu_available() -> bool:
    """True when numba.cuda finds a GPU (or runs the simulator)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # noqa: BLE001 (a broken driver or toolkit is no GPU)
        return False


def device_name() -> str:
    if _simulated():
        return "numba.cuda simulator"
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


# --------------------------------------------------------------------------------------------
# device functions and kernels
# --------------------------------------------------------------------------------------------

@cuda.jit(device=True, inline=True)
def _tet_volume(X, b, t0, t1, t2, t3):
    a0 = X[b, 0, t1] - X[b, 0, t0]; a1 = X[b, 1, t1] - X[b, 1, t0]; a2 = X[b, 2, t1] - X[b, 2, t0]
    b0 = X[b, 0, t2] - X[b, 0, t0]; b1 = X[b, 1, t2] - X[b, 1, t0]; b2 = X[b, 2, t2] - X[b, 2, t0]
    c0 = X[b, 0, t3] - X[b, 0, t0]; c1 = X[b, 1, t3] - X[b, 1, t0]; c2 = X[b, 2, t3] - X[b, 2, t0]
    return (a0 * (b1 * c2 - b2 * c1) + a1 * (b2 * c0 - b0 * c2) + a2 * (b0 * c1 - b1 * c0)) / 6.0


@cuda.jit(device=True, inline=True)
def _corner_gradient(X, b, t0, t1, t2, t3, c):
    """dv/dx of corner c of the tet (t0, t1, t2, t3)."""
    a0 = X[b, 0, t1] - X[b, 0, t0]; a1 = X[b, 1, t1] - X[b, 1, t0]; a2 = X[b, 2, t1] - X[b, 2, t0]
    b0 = X[b, 0, t2] - X[b, 0, t0]; b1 = X[b, 1, t2] - X[b, 1, t0]; b2 = X[b, 2, t2] - X[b, 2, t0]
    c0 = X[b, 0, t3] - X[b, 0, t0]; c1 = X[b, 1, t3] - X[b, 1, t0]; c2 = X[b, 2, t3] - X[b, 2, t0]
    s = 1.0 / 6.0
    g10 = s * (b1 * c2 - b2 * c1); g11 = s * (b2 * c0 - b0 * c2); g12 = s * (b0 * c1 - b1 * c0)
    g20 = s * (c1 * a2 - c2 * a1); g21 = s * (c2 * a0 - c0 * a2); g22 = s * (c0 * a1 - c1 * a0)
    g30 = s * (a1 * b2 - a2 * b1); g31 = s * (a2 * b0 - a0 * b2); g32 = s * (a0 * b1 - a1 * b0)
    if c == 1:
        return g10, g11, g12
    if c == 2:
        return g20, g21, g22
    if c == 3:
        return g30, g31, g32
    return -(g10 + g20 + g30), -(g11 + g21 + g31), -(g12 + g22 + g32)


@cuda.jit(device=True, inline=True)
def _tet_volumes_item(X, tets, vt, idx):
    m = tets.shape[0]
    b = idx // m
    t = idx - b * m
    vt[b, t] = _tet_volume(X, b, tets[t, 0], tets[t, 1], tets[t, 2], tets[t, 3])


@cuda.jit(device=True, inline=True)
def _patch_item(vt, patch_tets, patch_vol, patch_mod, pp, idx):
    P = patch_vol.shape[0]
    b = idx // P
    p = idx - b * P
    s = 0.0
    for q in range(patch_tets.shape[0]):
        t = patch_tets[q, p]
        if t < 0:
            break
        s += vt[b, t]
    pp[b, p] = patch_mod[p] * (0.25 * s / patch_vol[p] - 1.0)


@cuda.jit(device=True, inline=True)
def _tet_coef_item(pp, tet_patch, ptet, idx):
    m = tet_patch.shape[0]
    b = idx // m
    t = idx - b * m
    ptet[b, t] = 0.25 * (pp[b, tet_patch[t, 0]] + pp[b, tet_patch[t, 1]] + pp[b, tet_patch[t, 2]]
                         + pp[b, tet_patch[t, 3]])


@cuda.jit(device=True, inline=True)
def _node_item(X, V, XO, nbr, kk, rest, node_tets, tets, ptet, f_ext, inv_m, gamma, free,
               kick, drift, theta, idx):
    n = X.shape[2]
    b = idx // n
    i = idx - b * n
    x0 = X[b, 0, i]
    x1 = X[b, 1, i]
    x2 = X[b, 2, i]
    f0 = f_ext[b, 0, i]
    f1 = f_ext[b, 1, i]
    f2 = f_ext[b, 2, i]
    for s in range(nbr.shape[0]):
        k = kk[s, i]
        if k == 0.0:
            continue
        j = nbr[s, i]
        d0 = X[b, 0, j] - x0
        d1 = X[b, 1, j] - x1
        d2 = X[b, 2, j] - x2
        l = math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
        L0 = rest[s, i]
        if k < 0.0:  # tension-only
            if l <= L0:
                continue
            k = -k
        t = k * (l - L0) / l
        f0 += t * d0
        f1 += t * d1
        f2 += t * d2
    for s in range(node_tets.shape[0]):
        code = node_tets[s, i]
        if code < 0:
            break
        e = code >> 2
        c = code & 3
        g0, g1, g2 = _corner_gradient(X, b, tets[e, 0], tets[e, 1], tets[e, 2], tets[e, 3], c)
        p = ptet[b, e]
        f0 -= p * g0
        f1 -= p * g1
        f2 -= p * g2
    gk = kick * gamma[i]
    c0 = 1.0 - (1.0 - theta) * gk
    c1 = 1.0 / (1.0 + theta * gk)
    w = kick * inv_m[i]
    # free is 0 on a prescribed dof: it keeps its position (set with the state) and no velocity
    v0 = (V[b, 0, i] * c0 + w * f0) * c1 * free[0, i]
    v1 = (V[b, 1, i] * c0 + w * f1) * c1 * free[1, i]
    v2 = (V[b, 2, i] * c0 + w * f2) * c1 * free[2, i]
    V[b, 0, i] = v0
    V[b, 1, i] = v1
    V[b, 2, i] = v2
    XO[b, 0, i] = x0 + drift * v0
    XO[b, 1, i] = x1 + drift * v1
    XO[b, 2, i] = x2 + drift * v2


@cuda.jit
def k_tet_volumes(X, tets, vt):
    idx = cuda.grid(1)
    if idx < vt.shape[0] * tets.shape[0]:
        _tet_volumes_item(X, tets, vt, idx)


@cuda.jit
def k_patches(vt, patch_tets, patch_vol, patch_mod, pp):
    idx = cuda.grid(1)
    if idx < pp.shape[0] * patch_vol.shape[0]:
        _patch_item(vt, patch_tets, patch_vol, patch_mod, pp, idx)


@cuda.jit
def k_tet_coefficients(pp, tet_patch, ptet):
    idx = cuda.grid(1)
    if idx < ptet.shape[0] * tet_patch.shape[0]:
        _tet_coef_item(pp, tet_patch, ptet, idx)


@cuda.jit
def k_node_step(X, V, XO, nbr, kk, rest, node_tets, tets, ptet, f_ext, inv_m, gamma, free, kick, drift, theta):
    """One kick-drift step of every node of every model: reads X, writes XO."""
    idx = cuda.grid(1)
    if idx < X.shape[0] * X.shape[2]:
        _node_item(X, V, XO, nbr, kk, rest, node_tets, tets, ptet, f_ext, inv_m, gamma, free, kick, drift, theta,
                   idx)


@cuda.jit
def k_run(XA, XB, V, nbr, kk, rest, node_tets, tets, tet_patch, patch_tets, patch_vol, patch_mod,
          vt, pp, ptet, f_ext, inv_m, gamma, free, kick, drift, theta, n_steps, m, P):
    """``n_steps`` steps in one cooperative launch (grid-stride loops, grid-wide barriers
    between phases). Even steps read XA and write XB, odd steps the reverse. ``m`` tets and
    ``P`` patches (0: no volume term; the arrays then hold one unused entry)."""
    grid = cuda.cg.this_grid()
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    B = XA.shape[0]
    n = XA.shape[2]
    for step in range(n_steps):
        even = step % 2 == 0
        if m > 0:
            for idx in range(start, B * m, stride):
                if even:
                    _tet_volumes_item(XA, tets, vt, idx)
                else:
                    _tet_volumes_item(XB, tets, vt, idx)
            grid.sync()
            for idx in range(start, B * P, stride):
                _patch_item(vt, patch_tets, patch_vol, patch_mod, pp, idx)
            grid.sync()
            for idx in range(start, B * m, stride):
                _tet_coef_item(pp, tet_patch, ptet, idx)
            grid.sync()
        for idx in range(start, B * n, stride):
            if even:
                _node_item(XA, V, XB, nbr, kk, rest, node_tets, tets, ptet, f_ext, inv_m, gamma, free,
                           kick, drift, theta, idx)
            else:
                _node_item(XB, V, XA, nbr, kk, rest, node_tets, tets, ptet, f_ext, inv_m, gamma, free,
                           kick, drift, theta, idx)
        grid.sync()


# --------------------------------------------------------------------------------------------
# host side
# --------------------------------------------------------------------------------------------

def ell_tables(system):
    """The ELL tables of a SpringSystem (kernels' order), ligaments included (ghost anchor
    nodes after the mesh nodes): (nbr (W,N'), stiffness (W,N'), rest (W,N'), anchors (A,3))."""
    n = system.n_nodes
    a, b = system.k_a.astype(np.int64), system.k_b.astype(np.int64)
    k, r = system.k_stiffness, system.k_rest
    L = system.ligaments
    anchors = np.zeros((0, 3))
    if len(L.stiffness):
        ln = system.k_lig_nodes
        to_point = ln[:, 1] < 0
        anchors = L.anchors[to_point]
        partner = ln[:, 1].copy()
        partner[to_point] = n + np.arange(int(to_point.sum()))
        sign = np.where(L.tension_only, -1.0, 1.0)
        rows = np.concatenate([a, b, ln[:, 0], partner[~to_point]])
        cols = np.concatenate([b, a, partner, ln[~to_point, 0]])
        ks = np.concatenate([k, k, sign * L.stiffness, (sign * L.stiffness)[~to_point]])
        rs = np.concatenate([r, r, L.rest, L.rest[~to_point]])
    else:
        rows, cols, ks, rs = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([k, k]), np.concatenate([r, r])
    n_all = n + len(anchors)
    order = np.lexsort((cols, rows))
    rows, cols, ks, rs = rows[order], cols[order], ks[order], rs[order]
    deg = np.bincount(rows, minlength=n_all)
    W = max(int(deg.max(initial=0)), 1)
    slot = np.arange(len(rows)) - np.repeat(np.concatenate([[0], np.cumsum(deg)[:-1]]), deg)
    nbr = np.tile(np.arange(n_all, dtype=np.int32), (W, 1))
    kk = np.zeros((W, n_all))
    rest = np.zeros((W, n_all))
    nbr[slot, rows] = cols
    kk[slot, rows] = ks
    rest[slot, rows] = rs
    return nbr, kk, rest, anchors


def _ell_of_lists(owner: np.ndarray, value: np.ndarray, n_rows: int) -> np.ndarray:
    """(W, n_rows) int32 table of ``value`` grouped by ``owner``, padded with -1."""
    order = np.argsort(owner, kind="stable")
    owner, value = owner[order], value[order]
    deg = np.bincount(owner, minlength=n_rows)
    W = max(int(deg.max(initial=0)), 1)
    slot = np.arange(len(owner)) - np.repeat(np.concatenate([[0], np.cumsum(deg)[:-1]]), deg)
    table = np.full((W, n_rows), -1, np.int32)
    table[slot, owner] = value
    return table


class CudaSprings:
    """A SpringSystem on the GPU, ``batch`` copies of it (different states, loads, damping).

    Fixed nodes, and prescribed dofs (``set_prescribed``: they keep the positions the state
    gives them, as the CPU core's constraints do). Positions in and out are kernels' order,
    (N,3) for every model or (B,N,3)."""

    def __init__(self, system, batch: int = 1, block: int = BLOCK):
        self.system = system
        self.batch = int(batch)
        self.block = int(block)
        self._coop_limit: int | None = None  # blocks one cooperative launch may have (found on first launch)
        nbr, kk, rest, anchors = ell_tables(system)
        n, n_all = system.n_nodes, nbr.shape[1]
        self.n, self.n_all, self.anchors = n, n_all, anchors
        inv_m = np.zeros(n_all)
        inv_m[:n] = system.k_inv_m
        m = len(system.k_tets)
        tets = system.k_tets.astype(np.int32) if m else np.zeros((0, 4), np.int32)
        if m:
            codes = (np.arange(m)[:, None] * 4 + np.arange(4)[None, :]).astype(np.int64)
            node_tets = _ell_of_lists(tets.ravel().astype(np.int64), codes.ravel(), n_all)
            patch_tets = _ell_of_lists(system.k_tet_patch.ravel().astype(np.int64),
                                       np.repeat(np.arange(m), 4), len(system.patch_volume))
            tet_patch = system.k_tet_patch.astype(np.int32)
            pvol, pmod = system.patch_volume, system.patch_modulus
        else:  # one unused entry each: no zero-size device arrays
            node_tets = np.full((1, n_all), -1, np.int32)
            tets = np.zeros((1, 4), np.int32)
            patch_tets = np.full((1, 1), -1, np.int32)
            tet_patch = np.zeros((1, 4), np.int32)
            pvol, pmod = np.ones(1), np.zeros(1)
        B = self.batch
        d = cuda.to_device
        self.d_nbr, self.d_kk, self.d_rest = d(nbr), d(kk), d(rest)
        self.d_node_tets, self.d_tets, self.d_tet_patch = d(node_tets), d(tets), d(tet_patch)
        self.d_patch_tets, self.d_patch_vol, self.d_patch_mod = d(patch_tets), d(np.ascontiguousarray(pvol)), \
            d(np.ascontiguousarray(pmod))
        self.d_inv_m = d(inv_m)
        self.d_gamma = d(np.zeros(n_all))
        self.d_free = d(np.ones((3, n_all)))
        self.d_vt = cuda.device_array((B, len(tets)))
        self.d_ptet = cuda.to_device(np.zeros((B, len(tets))))
        self.d_pp = cuda.device_array((B, len(pvol)))
        self.d_XA = cuda.device_array((B, 3, n_all))
        self.d_XB = cuda.device_array((B, 3, n_all))
        self.d_V = cuda.device_array((B, 3, n_all))
        self.d_f = cuda.to_device(np.zeros((B, 3, n_all)))
        self.m, self.P = m, (len(pvol) if m else 0)
        self._current = 0  # 0: positions in XA, 1: in XB

    # -- state ------------------------------------------------------------------------------

    def _batched(self, a: np.ndarray, fill_anchor: bool) -> np.ndarray:
        a = np.asarray(a, np.float64)
        if a.ndim == 2:
            a = np.broadcast_to(a, (self.batch,) + a.shape)
        if a.shape != (self.batch, self.n, 3):
            raise ValueError(f"CudaSprings: expected ({self.n}, 3) or ({self.batch}, {self.n}, 3), got {a.shape}")
        out = np.zeros((self.batch, 3, self.n_all))
        out[:, :, :self.n] = np.transpose(a, (0, 2, 1))
        if fill_anchor and len(self.anchors):
            out[:, :, self.n:] = self.anchors.T[None]
        return out

    def set_state(self, x: np.ndarray, v: np.ndarray | None = None, *, gamma: np.ndarray | None = None,
                  f_ext: np.ndarray | None = None) -> None:
        """Positions and velocities (kernels' order); optionally the damping rates (N,) and
        external forces ((N,3) or (B,N,3))."""
        self.d_XA.copy_to_device(self._batched(x, True))
        self.d_XB.copy_to_device(self._batched(x, True))
        self.d_V.copy_to_device(self._batched(np.zeros((self.n, 3)) if v is None else v, False))
        self._current = 0
        if gamma is not None:
            g = np.zeros(self.n_all)
            g[:self.n] = np.broadcast_to(np.asarray(gamma, np.float64), (self.n,))
            self.d_gamma.copy_to_device(g)
        if f_ext is not None:
            self.d_f.copy_to_device(self._batched(f_ext, False))

    def set_prescribed(self, node: np.ndarray, axis: np.ndarray) -> None:
        """Prescribe dofs (kernels' node order, axis 0..2) of every model: each keeps the
        position set_state gives it, with no velocity (replaces any earlier prescription)."""
        node, axis = np.asarray(node, np.int64), np.asarray(axis, np.int64)
        if len(node) != len(axis) or (len(node) and (node.min() < 0 or node.max() >= self.n
                                                      or axis.min() < 0 or axis.max() > 2)):
            raise ValueError(f"CudaSprings.set_prescribed: expected nodes in [0, {self.n}) and axes 0..2, one each")
        free = np.ones((3, self.n_all))
        free[axis, node] = 0.0
        self.d_free.copy_to_device(free)
        V = self.d_V.copy_to_host()
        V[:, axis, node] = 0.0
        self.d_V.copy_to_device(V)

    def positions(self) -> np.ndarray:
        """(B, N, 3) positions, kernels' order."""
        X = (self.d_XA if self._current == 0 else self.d_XB).copy_to_host()
        return np.ascontiguousarray(np.transpose(X[:, :, :self.n], (0, 2, 1)))

    def velocities(self) -> np.ndarray:
        return np.ascontiguousarray(np.transpose(self.d_V.copy_to_host()[:, :, :self.n], (0, 2, 1)))

    def synchronize(self) -> None:
        cuda.synchronize()

    # -- stepping ---------------------------------------------------------------------------

    def _launch_step(self, kick: float, drift: float, theta: float) -> None:
        X, XO = (self.d_XA, self.d_XB) if self._current == 0 else (self.d_XB, self.d_XA)
        B, bs = self.batch, self.block
        if self.m:
            k_tet_volumes[-(-B * self.m // bs), bs](X, self.d_tets, self.d_vt)
            k_patches[-(-B * self.P // bs), bs](self.d_vt, self.d_patch_tets, self.d_patch_vol, self.d_patch_mod, self.d_pp)
            k_tet_coefficients[-(-B * self.m // bs), bs](self.d_pp, self.d_tet_patch, self.d_ptet)
        k_node_step[-(-B * self.n_all // bs), bs](X, self.d_V, XO, self.d_nbr, self.d_kk, self.d_rest,
                                                   self.d_node_tets, self.d_tets, self.d_ptet, self.d_f,
                                                   self.d_inv_m, self.d_gamma, self.d_free, kick, drift, theta)
        self._current ^= 1

    def _run_args(self, kick, drift, theta, n_steps):
        XA, XB = (self.d_XA, self.d_XB) if self._current == 0 else (self.d_XB, self.d_XA)
        return (XA, XB, self.d_V, self.d_nbr, self.d_kk, self.d_rest, self.d_node_tets, self.d_tets, self.d_tet_patch,
                self.d_patch_tets, self.d_patch_vol, self.d_patch_mod, self.d_vt, self.d_pp, self.d_ptet, self.d_f,
                self.d_inv_m, self.d_gamma, self.d_free, float(kick), float(drift), float(theta), int(n_steps),
                self.m, self.P)

    def _launch_run(self, kick: float, drift: float, theta: float, n_steps: int) -> None:
        args = self._run_args(kick, drift, theta, n_steps)
        k_run[self.cooperative_blocks(args), self.block](*args)
        self._current ^= n_steps % 2

    def cooperative_blocks(self, args) -> int:
        """Blocks of one cooperative launch: enough to cover the nodes, at most what can be
        resident at once (one block in the simulator, which runs grid barriers in one block)."""
        if _simulated():
            return 1
        if self._coop_limit is None:
            try:  # the compiled kernel knows its occupancy
                kernel = next(iter(k_run.specialize(*args).overloads.values()))
                self._coop_limit = int(kernel.max_cooperative_grid_blocks(self.block))
            except Exception:  # noqa: BLE001 (one block per multiprocessor is always co-resident)
                self._coop_limit = int(cuda.get_current_device().MULTIPROCESSOR_COUNT)
        need = -(-self.batch * max(self.n_all, self.m, self.P) // self.block)
        return max(1, min(need, self._coop_limit))

    def _advance(self, kick, drift, theta, n, per_launch):
        if per_launch <= 1:
            for _ in range(n):
                self._launch_step(kick, drift, theta)
            return
        done = 0
        while done < n:
            k = min(per_launch, n - done)
            self._launch_run(kick, drift, theta, k)
            done += k

    def run(self, n_steps: int, dt: float, method: str = "symplectic_euler", per_launch: int | None = None) -> None:
        """``n_steps`` steps of size ``dt``; ``per_launch``: steps per cooperative launch (1:
        one launch per phase and step; default: all steps in cooperative launches when the
        model is small enough for launch latency to matter, ~1e5 node-models, else 1)."""
        theta = {"symplectic_euler": 0.0, "verlet": 0.5}[method]
        if per_launch is None:
            per_launch = n_steps if self.batch * self.n_all <= 100_000 else 1
        n = int(n_steps)
        if theta == 0.0 or n == 0:
            self._advance(dt, dt, theta, n, per_launch)
        else:
            self._advance(0.5 * dt, dt, theta, 1, 1)
            self._advance(dt, dt, theta, n - 1, per_launch)
            self._advance(0.5 * dt, 0.0, theta, 1, 1)


def _simulated() -> bool:
    return bool(config.ENABLE_CUDASIM)
