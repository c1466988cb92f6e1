"""Example 2: the same slab under the mass-spring core.

`SpringSystem.from_model` turns the model into calibrated edge springs, a volume term, the
ligaments and lumped masses; FIRE statics relaxes it to a force tolerance. How far the two
cores agree, and why, is in docs/springs.md. Run: python examples/ex02_spring_core.py
"""
import sagsim
from sagsim.solvers.springs import SpringSystem, solve_static_springs


def main() -> dict:
    model = sagsim.layered_slab(cells="coarse")
    system = SpringSystem.from_model(model)
    state, log = solve_static_springs(system)
    sag_mm = float(-1e3 * (state.x - state.reference)[:, 1].min())
    print(f"{model.name}: {system.n_springs} springs ({system.layout} layout), {log.iterations} FIRE iterations, "
          f"largest downward displacement {sag_mm:.3f} mm")
    return {"max_sag_mm": sag_mm, "iterations": log.iterations, "springs": system.n_springs}


if __name__ == "__main__":
    main()
