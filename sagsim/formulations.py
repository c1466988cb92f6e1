"""The FEM core's element formulations, by name (a light module: the command line and the
scenario schema list them without loading the numba kernels).

- ``standard``: linear tetrahedra; too stiff in bending and, for nearly incompressible tissue,
  locked by the volume constraint of every element.
- ``anp``: the volumetric part per nodal patch (averaged nodal pressure, Bonet and Burton 1998):
  free of volumetric locking; the shear part is still the linear tetrahedron's.
- ``es-anp``: that, and the shear part per edge-based smoothing domain (the selective ES/NS
  smoothed FEM): also removes most of the stiffness in bending (docs/elements.md).
- ``tet10``: quadratic tetrahedra (a node at each edge's middle) with a mean dilatation per
  element (P2/P0): converges fastest in bending and near incompressibility, and under a stiff
  skin over nearly incompressible fat, where the linear elements above lock (docs/elements.md).
"""
FORMULATIONS = ("standard", "anp", "es-anp", "tet10")
#: the formulations with nodes of their own at the edges' midpoints (solvers/fem/quadratic.py)
QUADRATIC = ("tet10",)
#: the formulations whose volumetric part is per nodal patch
NODAL_PRESSURE = ("anp", "es-anp")
#: what a face is solved in unless asked otherwise (aging, lifts, settling, the demo): the
#: edge-smoothed element, whose answers on the faces converge (docs/elements.md)
FACE_DEFAULT = "es-anp"
