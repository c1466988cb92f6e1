"""The benchmarks `sagsim bench` runs, inside the package so that they work from an installed
wheel: the sagging cube against scikit-fem (`fem_cube`), the spring lattice (`spring_lattice`),
the default aging run (`aging_run`), thread lifts (`lift_plans`), sweep throughput
(`sweep_throughput`) and scans registered against known answers (`registration`). Each
measures in fresh processes where compilation or peak memory would otherwise blur the figure;
none asserts a speed."""
