"""Constitutive laws, and the parameter sets the literature gives for facial tissue.

Two isotropic hyperelastic laws, both written as a "shear" part plus a volumetric part
U(J) = k/2 (ln J)^2, because the volumetric part is what locks nearly incompressible
tetrahedra and the solver may treat it separately (averaged nodal pressure):

- compressible Neo-Hookean:  W = mu/2 (I1 - 3) - mu ln J + lam/2 (ln J)^2        (k = lam)
- Mooney-Rivlin with C20:    W = C10 (I1b - 3) + C20 (I1b - 3)^2 + kappa/2 (ln J)^2 (k = kappa)
  with I1b = J^(-2/3) I1, the form of the ArtiSynth face models the reference table cites.

Every default below comes from sagsim/data/tissue_parameters.csv; the citation sits
next to the value. Where the literature gives a range, the middle is used and the range kept.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import MaterialError

NEO_HOOKEAN = 0
MOONEY_RIVLIN = 1


def _check(name: str, value: float, ok: bool, expected: str) -> None:
    if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and ok):
        raise MaterialError(f"material field '{name}': expected {expected}, got {value!r}")


@dataclass(frozen=True)
class NeoHookean:
    """Compressible Neo-Hookean solid. ``mu`` and ``lam`` in Pa, ``density`` in kg/m^3."""

    mu: float
    lam: float
    density: float = 1000.0
    source: str = ""
    kind: int = field(default=NEO_HOOKEAN, init=False, repr=False)

    def __post_init__(self) -> None:
        _check("mu", self.mu, self.mu > 0, "a shear modulus > 0 Pa")
        _check("lam", self.lam, self.lam >= 0, "a Lame parameter >= 0 Pa")
        _check("density", self.density, self.density > 0, "a density > 0 kg/m^3")

    @classmethod
    def from_young(cls, E: float, nu: float, density: float = 1000.0, source: str = "") -> "NeoHookean":
        """Neo-Hookean solid with the small-strain response of Young's modulus ``E``, Poisson ``nu``."""
        _check("E", E, E > 0, "a Young's modulus > 0 Pa")
        _check("nu", nu, 0.0 <= nu < 0.5, "a Poisson ratio in [0, 0.5)")
        mu = E / (2.0 * (1.0 + nu))
        lam = E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
        return cls(mu=mu, lam=lam, density=density, source=source)

    @property
    def shear_modulus(self) -> float:
        return self.mu

    @property
    def bulk_modulus(self) -> float:
        return self.lam + 2.0 * self.mu / 3.0

    @property
    def volumetric_modulus(self) -> float:
        """``k`` of the volumetric part U(J) = k/2 (ln J)^2."""
        return self.lam

    def kernel_params(self) -> tuple[int, float, float, float]:
        """(kind, p0, p1, k) as the numba kernels read them."""
        return NEO_HOOKEAN, self.mu, 0.0, self.lam

    def scaled(self, factor: float) -> "NeoHookean":
        """The same solid with every modulus times ``factor`` (same Poisson ratio)."""
        _check("factor", factor, factor > 0, "a modulus factor > 0")
        return replace(self, mu=self.mu * factor, lam=self.lam * factor)


@dataclass(frozen=True)
class MooneyRivlin:
    """Mooney-Rivlin solid W = C10 (I1b-3) + C20 (I1b-3)^2 + kappa/2 (ln J)^2 (Pa, kg/m^3)."""

    c10: float
    c20: float
    kappa: float
    density: float = 1000.0
    source: str = ""
    kind: int = field(default=MOONEY_RIVLIN, init=False, repr=False)

    def __post_init__(self) -> None:
        _check("c10", self.c10, self.c10 > 0, "C10 > 0 Pa")
        _check("c20", self.c20, self.c20 >= 0, "C20 >= 0 Pa")
        _check("kappa", self.kappa, self.kappa > 0, "a bulk modulus > 0 Pa")
        _check("density", self.density, self.density > 0, "a density > 0 kg/m^3")

    @property
    def shear_modulus(self) -> float:
        return 2.0 * self.c10

    @property
    def bulk_modulus(self) -> float:
        return self.kappa

    @property
    def volumetric_modulus(self) -> float:
        return self.kappa

    def kernel_params(self) -> tuple[int, float, float, float]:
        return MOONEY_RIVLIN, self.c10, self.c20, self.kappa

    def scaled(self, factor: float) -> "MooneyRivlin":
        """The same solid with every modulus times ``factor``."""
        _check("factor", factor, factor > 0, "a modulus factor > 0")
        return replace(self, c10=self.c10 * factor, c20=self.c20 * factor, kappa=self.kappa * factor)


Material = NeoHookean | MooneyRivlin


def poisson_ratio(material: Material) -> float:
    """Small-strain Poisson ratio of ``material``."""
    k, g = material.bulk_modulus, material.shear_modulus
    return (3.0 * k - 2.0 * g) / (2.0 * (3.0 * k + g))


# --- Parameter sets from the literature (see sagsim/data/tissue_parameters.csv) ---------

#: Whole-face soft tissue, Mooney-Rivlin. C10 = 2500 Pa, C20 = 1175 Pa, bulk 25000 Pa (= 10 C10,
#: a modelling choice), density 1040 kg/m^3.
FACE_BULK = MooneyRivlin(
    c10=2500.0, c20=1175.0, kappa=25000.0, density=1040.0,
    source="ArtiSynth BadinFaceDemo.java (Nazari 2010 Motor Control; density Buchaillard 2009)",
)

#: SMAS and superficial fat, Mooney-Rivlin: C10 = 400 Pa, C20 = 1400 Pa, bulk 50000 Pa.
#: Density: subcutaneous fat 971 kg/m^3 (Burns 2017 review, Table 1).
SMAS_SUPERFICIAL_FAT = MooneyRivlin(
    c10=400.0, c20=1400.0, kappa=50000.0, density=971.0,
    source="Barbarino et al. 2011 via ArtiSynth BadinJawTongueFaceTension.java (Flynn face model); "
    "density Burns 2017 Table 1",
)

#: Facial skin (dermis-dominated), Neo-Hookean from the initial Young's modulus measured by
#: aspiration on cheek, cheekbone, forehead and lower lip: 31-42 kPa, middle 36.5 kPa
#: (Luboz, Promayon, Payan 2014, hal-01092748). Poisson 0.49 as in the linear face model of
#: ArtiSynth BadinFaceDemo (Nazari 2010). Density of dermis 1116 kg/m^3 (Burns 2017, Table 1).
SKIN_YOUNG_RANGE_PA = (31e3, 42e3)
SKIN = NeoHookean.from_young(
    E=0.5 * sum(SKIN_YOUNG_RANGE_PA), nu=0.49, density=1116.0,
    source="Luboz et al. 2014 hal-01092748 (E 31-42 kPa, middle); nu 0.49 ArtiSynth BadinFaceDemo; "
    "density Burns 2017 Table 1",
)

#: Subcutaneous (deep) fat, Neo-Hookean shear modulus 0.53 kPa (porcine subdermal fat, MRI and
#: inverse FE; Sims et al. 2010 Biomech Model Mechanobiol 9:703). Poisson 0.49 as above.
#: Density 971 kg/m^3 (Burns 2017, Table 1).
FAT_SHEAR_MODULUS_PA = 530.0
FAT = NeoHookean.from_young(
    E=2.0 * FAT_SHEAR_MODULUS_PA * (1.0 + 0.49), nu=0.49, density=971.0,
    source="Sims et al. 2010 (mu 0.53 kPa); nu 0.49 ArtiSynth BadinFaceDemo; density Burns 2017 Table 1",
)

#: Passive (relaxed) skeletal muscle, the masseter at rest: Neo-Hookean with shear modulus
#: 1.0 kPa, in vivo MR elastography at 50 Hz of gluteal muscle (the literature table's "shear
#: modulus |G*|, passive skeletal muscle in vivo, undeformed"; no masseter value in the table; a
#: dynamic modulus, so if anything stiffer than at rest).
#: Poisson 0.49 as above; density 1047 kg/m^3 (Kay and Laby, the literature table).
MUSCLE_SHEAR_MODULUS_PA = 1000.0
MUSCLE = NeoHookean.from_young(
    E=2.0 * MUSCLE_SHEAR_MODULUS_PA * (1.0 + 0.49), nu=0.49, density=1047.0,
    source="MRE |G*| 1.0 kPa passive muscle (J Mech Behav Biomed Mater 2023); nu 0.49; density Kay and Laby",
)

#: Nasal (alar) cartilage: Neo-Hookean from the compressive Young's modulus 2.09 +- 0.81 MPa of the
#: alar cartilages (Griffin et al. 2016 J Mater Sci Mater Med 27:11, PMC4681753; the literature
#: table). Poisson 0.49 as above (ESTIMATE for cartilage); density ESTIMATE: the dermis's 1116
#: kg/m^3 (no cartilage value in the table).
NASAL_CARTILAGE = NeoHookean.from_young(
    E=2.09e6, nu=0.49, density=1116.0,
    source="Griffin et al. 2016 PMC4681753 (alar cartilage E 2.09 MPa); nu 0.49 and density ESTIMATES",
)

#: The loose areolar tissue of the sub-SMAS gliding spaces (prezygomatic, premasseteric), where
#: the SMAS slides over the deep fascia. ESTIMATE: NO MEASUREMENT FOUND. A shear modulus a tenth
#: of the fat's (0.53 kPa, Sims et al. 2010) says "much looser than fat", the anatomy's
#: description of these spaces; calibrate within LOOSE_AREOLAR_SHEAR_RANGE_PA. Poisson 0.49,
#: density the fat's (971 kg/m^3, Burns 2017).
LOOSE_AREOLAR_SHEAR_MODULUS_PA = 53.0
LOOSE_AREOLAR_SHEAR_RANGE_PA = (5.0, 530.0)
LOOSE_AREOLAR = NeoHookean.from_young(
    E=2.0 * LOOSE_AREOLAR_SHEAR_MODULUS_PA * (1.0 + 0.49), nu=0.49, density=971.0,
    source="ESTIMATE: a tenth of the fat's shear modulus (no measurement found); nu 0.49; density Burns 2017",
)
