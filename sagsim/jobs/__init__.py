"""The jobs: the only code that strings loading, solving, writing and drawing together. One
module a job; `sagsim`'s commands, the public API and a sweep's runs all call these.

- `age`: a scenario's face over the years, its results folder and (asked) the diagnosis
- `lift`: a thread plan on the (aged) face, the months after, the sweep and the verdict
- `demo`: the face (or the slab) settles under gravity once, by either solver core
- `mesh`: the procedural face, or the layers under an imported skin, saved as a model file
"""
