"""TissueModel, Springs, Loads and materials validate their fields and name the bad one."""
import numpy as np
import pytest

from sagsim.anatomy.mesh import box_tets
from sagsim.errors import MaterialError, ModelError
from sagsim.materials import FACE_BULK, SKIN, MooneyRivlin, NeoHookean, poisson_ratio
from sagsim.model import Landmark, Layer, Loads, Springs, State, TissueModel


def cube(**changes):
    nodes, tets = box_tets((1, 1, 1))
    fields = dict(nodes=nodes, tets=tets, tet_layer=np.zeros(len(tets), np.int8),
                  materials={Layer.SKIN: NeoHookean(1.0, 1.0)})
    fields.update(changes)
    return TissueModel(**fields)


def test_a_valid_model_is_frozen_data():
    m = cube(fixed=[0, 1, 1])
    assert m.n_nodes == 8 and m.n_tets == 6
    assert m.fixed.tolist() == [0, 1]  # unique, sorted
    assert m.volumes.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        m.nodes[0, 0] = 5.0  # arrays are read-only


@pytest.mark.parametrize("changes, field", [
    (dict(nodes=np.full((8, 3), np.nan)), "nodes"),
    (dict(nodes=np.zeros((8, 2))), "nodes"),
    (dict(tets=np.array([[0, 1, 2, 9]])), "tets"),
    (dict(tets=np.array([[0, 1, 1, 3]])), "tets"),
    (dict(tets=np.array([[0, 2, 1, 4]])), "tets"),  # inverted
    (dict(tet_layer=np.zeros(5, np.int8)), "tet_layer"),
    (dict(tet_layer=np.full(6, 3, np.int8)), "materials"),  # DEEP_FAT has no material
    (dict(fixed=[0, 8]), "fixed"),
    (dict(gravity=[0.0, np.inf, 0.0]), "gravity"),
    (dict(landmarks={"p": Landmark(tet=0, bary=np.array([0.5, 0.5, 0.5, 0.0]))}), "landmarks[p]"),
    (dict(materials={Layer.SKIN: "rubber"}), "materials"),
])
def test_bad_model_fields_are_named(changes, field):
    with pytest.raises(ModelError, match=field.replace("[", r"\[").replace("]", r"\]")):
        cube(**changes)


def test_flat_tetrahedron_is_rejected():
    nodes = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.0]])
    with pytest.raises(ModelError, match="positive volumes"):
        TissueModel(nodes=nodes, tets=[[0, 1, 2, 3]], tet_layer=[0], materials={Layer.SKIN: SKIN})


@pytest.mark.parametrize("changes, field", [
    (dict(stiffness=[-1.0]), "stiffness"),
    (dict(rest_length=[-0.1]), "rest_length"),
    (dict(anchors=[[np.nan, 0, 0]]), "anchors"),
    (dict(group=[3]), "group"),
])
def test_bad_springs_are_named(changes, field):
    fields = dict(nodes=[[0, 1]], anchors=[[0, 0, 0]], stiffness=[1.0], rest_length=[0.1],
                  tension_only=[True], group=[0], names=("zygomatic",))
    fields.update(changes)
    with pytest.raises(ModelError, match=field):
        Springs(**fields)


def test_spring_nodes_out_of_range_are_caught_by_the_model():
    s = Springs(nodes=[[0, 12]], anchors=[[0, 0, 0]], stiffness=[1.0], rest_length=[0.1],
                tension_only=[True], group=[0], names=("zygomatic",))
    with pytest.raises(ModelError, match="springs.nodes"):
        cube(springs=s)
    ok = Springs(nodes=[[0, -1], [1, 2]], anchors=np.zeros((2, 3)), stiffness=[1.0, 2.0], rest_length=[0.1, 0.0],
                 tension_only=[True, False], group=[0, 0], names=("zygomatic",))
    assert cube(springs=ok).springs.select("zygomatic").tolist() == [0, 1]


def test_loads_validate_against_the_model():
    m = cube()
    Loads(prescribed_dofs=[0, 23], prescribed_values=[0.1, 0.0]).validate(m)
    with pytest.raises(ModelError, match="prescribed_dofs"):
        Loads(prescribed_dofs=[24], prescribed_values=[0.0]).validate(m)
    with pytest.raises(ModelError, match="prescribed_values"):
        Loads(prescribed_dofs=[0, 1], prescribed_values=[0.0]).validate(m)
    with pytest.raises(ModelError, match="nodal_forces"):
        Loads(nodal_forces=np.zeros((3, 3))).validate(m)


def test_state_starts_at_the_reference():
    m = cube()
    s = State.initial(m)
    assert not s.displacement.any() and s.x is not m.nodes


@pytest.mark.parametrize("make, field", [
    (lambda: NeoHookean(mu=-1.0, lam=1.0), "mu"),
    (lambda: NeoHookean(mu=1.0, lam=float("nan")), "lam"),
    (lambda: NeoHookean(mu=1.0, lam=1.0, density=0.0), "density"),
    (lambda: NeoHookean.from_young(E=1.0, nu=0.5), "nu"),
    (lambda: MooneyRivlin(c10=0.0, c20=1.0, kappa=1.0), "c10"),
    (lambda: MooneyRivlin(c10=1.0, c20=-1.0, kappa=1.0), "c20"),
    (lambda: MooneyRivlin(c10=1.0, c20=1.0, kappa=-5.0), "kappa"),
])
def test_bad_material_parameters_are_named(make, field):
    with pytest.raises(MaterialError, match=field):
        make()


def test_small_strain_constants_round_trip():
    m = NeoHookean.from_young(E=36.5e3, nu=0.49)
    assert poisson_ratio(m) == pytest.approx(0.49)
    assert 2 * m.shear_modulus * (1 + 0.49) == pytest.approx(36.5e3)
    # the literature set: C10 2500 Pa -> small-strain shear modulus 5 kPa, bulk 25 kPa
    assert FACE_BULK.shear_modulus == 5000.0 and FACE_BULK.bulk_modulus == 25000.0
    assert "Nazari" in FACE_BULK.source


def test_the_public_api_is_there_and_import_sagsim_stays_light():
    import subprocess
    import sys
    code = ("import sys, sagsim; light = not any(m in sys.modules for m in ('numba', 'pyvista', 'dask')); "
            "[getattr(sagsim, n) for n in sagsim.__all__]; print(light)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "True"  # solvers, pictures and Dask load on first use only
