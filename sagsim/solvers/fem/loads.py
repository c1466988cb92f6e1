"""Load items: what acts on the tissue besides its own elasticity, handed to the solve.

As FElupe hands gravity, trusses and point loads to a Step, `solve_static` takes its loads as
items of two kinds:

* a dead load has ``force(system, growth) -> (3N,)``: a nodal force that does not depend on
  the configuration (`Gravity`);
* a spring term has ``assemble(system, x, R, data, want_tangent) -> energy``: it adds its
  internal force to ``R`` (3N,), its tangent to the system's CSR ``data`` (when
  ``want_tangent``) and returns its stored energy (`Trusses`, `CogSprings`). Every node pair
  it couples must already be in the system's pattern.

The model-level description stays `sagsim.model.Loads` (gravity scale, nodal forces,
prescriptions, ramped over the load steps); the model's own springs are the system's
`Trusses`, always assembled. Extra items (a lift's cogs) are held constant through a solve:
`solve_static(model, state, loads, options, system=system, items=[CogSprings(...)])`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...model import Springs
from ..truss import assemble_springs
from .kernels.cogs import assemble_cogs

if TYPE_CHECKING:  # system.py imports this module
    from .system import FEMSystem


@dataclass(frozen=True)
class Gravity:
    """Gravity acceleration (3,) m/s^2 acting on the lumped mass of the stress-free shape."""

    acceleration: np.ndarray

    def force(self, system: FEMSystem, growth: np.ndarray | None = None) -> np.ndarray:
        """Nodal body force (3N,); with ``growth`` (model order), of the reference grown by it."""
        return system.gravity_force(self.acceleration, growth)


@dataclass(frozen=True)
class Trusses:
    """The model's springs (ligaments, tension-only, and two-way springs), node to node or node
    to a fixed point. Their node pairs are in every FEMSystem's pattern; the system keeps
    their block positions (``spring_kpos``)."""

    springs: Springs

    def assemble(self, system: FEMSystem, x: np.ndarray, R: np.ndarray, data: np.ndarray,
                 want_tangent: bool) -> float:
        s = self.springs
        if not len(s):
            return 0.0
        return assemble_springs(x, s.nodes, s.anchors, s.stiffness, s.rest_length, s.tension_only,
                                system.spring_kpos, system.pattern.bptr, system.pattern.deg3, R, data,
                                want_tangent)


@dataclass(frozen=True)
class CogSprings:
    """Points embedded in elements pulled to targets by zero-length springs (a thread's cogs):
    ``tet`` (S,) element indices (model order), ``bary`` (S,4) barycentric positions (the
    element's own shape functions carry them: quadratic ones over its midsides too),
    ``targets`` (S,3) m, ``stiffness`` (S,) N/m. ``whole``: pull each element's volume mean
    position instead (its tissue as a whole: a cog's grip spread over the elements it
    engages), which for linear elements is their centroid and for quadratic ones weighs the
    midsides 1/5 and the corners -1/20, as gravity does. Pulled at their centroid points
    alone (midsides 1/4, corners -1/8) quadratic elements pull more locally: the default plan
    on the coarse face aged in `tet10` raised the right jowl 1.47 mm that way, 1.62 mm pulled
    as a whole (1.80 mm in `es-anp`, whose elements it does not change). Their elements'
    nodes are coupled in every pattern already (they share an element)."""

    tet: np.ndarray
    bary: np.ndarray
    targets: np.ndarray
    stiffness: np.ndarray
    whole: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "tet", np.asarray(self.tet, np.int64))
        object.__setattr__(self, "bary", np.asarray(self.bary, np.float64))
        object.__setattr__(self, "targets", np.asarray(self.targets, np.float64))
        object.__setattr__(self, "stiffness", np.asarray(self.stiffness, np.float64))

    def assemble(self, system: FEMSystem, x: np.ndarray, R: np.ndarray, data: np.ndarray,
                 want_tangent: bool) -> float:
        if not len(self.stiffness):
            return 0.0
        nodes, kpos = system.element_positions(self.tet)  # with midsides for quadratic elements
        return assemble_cogs(x, nodes, system.embedding_weights(self.bary, self.whole), self.targets, self.stiffness,
                             kpos, system.pattern.bptr, system.pattern.deg3, R, data, want_tangent)
