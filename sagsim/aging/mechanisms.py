"""The mechanisms of facial aging, each a small object that can be switched on and off.

A mechanism turns "years since the start age" into changes of the model's parameters
(`apply`); fat descent also has a memory, the creep of the fat's stress-free shape, updated
after each equilibrium (`remodel`). Every parameter carries its unit, its allowed range and
where its default comes from: a citation from sagsim/data/tissue_parameters.csv, or
ESTIMATE where the literature has no value (ligament properties, aging rates): those are
modelling choices to calibrate (`sagsim calibrate`), not measurements.

Changes are relative to the start age: the captured face is the baseline, whatever its age.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from ..model import Layer, deformation_gradients
from .context import AgedParameters, AgingContext

ESTIMATE = "ESTIMATE (no value in the reference table; calibratable)"


def param(default: Any, unit: str, lo: float, hi: float, source: str, doc: str) -> Any:
    """A mechanism parameter with its unit, allowed range [lo, hi], source and meaning (a
    callable default is a factory, for per-compartment tables)."""
    meta = {"unit": unit, "range": (lo, hi), "source": source, "doc": doc}
    if callable(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def parameters(mechanism_type: type) -> list:
    """The documented parameters of a mechanism class (every field but ``enabled``)."""
    return [f for f in fields(mechanism_type) if f.name != "enabled"]


def _transverse(normal: np.ndarray, in_plane: np.ndarray, through: np.ndarray) -> np.ndarray:
    """Growth tensors stretching by ``in_plane`` across and ``through`` along each unit normal."""
    nn = normal[:, :, None] * normal[:, None, :]
    return in_plane[:, None, None] * (np.eye(3) - nn) + through[:, None, None] * nn


@dataclass(frozen=True)
class LigamentLaxity:
    """The retaining ligaments loosen: each loses stiffness (compounded per decade) and
    lengthens (its rest length grows linearly), so the tissue drops further before it pulls."""

    name: ClassVar[str] = "ligament_laxity"
    label: ClassVar[str] = "ligament laxity"
    enabled: bool = True
    stiffness_loss: float = param(0.15, "1/decade", 0.0, 0.9, ESTIMATE,
                                  "fraction of the ligament stiffness lost per decade (compounded)")
    elongation: float = param(0.03, "1/decade", 0.0, 0.5, ESTIMATE,
                              "increase of the ligament rest length per decade, as a fraction of it")

    def apply(self, ctx: AgingContext, years: float, out: AgedParameters) -> None:
        decades = years / 10.0
        ligament = ctx.model.springs.is_ligament  # the teeth's contact is no ligament
        out.spring_stiffness[ligament] *= (1.0 - self.stiffness_loss) ** decades
        out.spring_rest[ligament] *= 1.0 + self.elongation * decades


@dataclass(frozen=True)
class SkinAging:
    """The skin stiffens (Agache 1980: its Young's modulus doubles from young to old age),
    thins, and loses its recoil: its stress-free area grows (laxity), which is the excess skin
    that hangs. Modulus compounded, thinning and laxity linear in time."""

    name: ClassVar[str] = "skin"
    label: ClassVar[str] = "skin elasticity loss"
    enabled: bool = True
    modulus_ratio: float = param(2.0, "-", 0.25, 8.0,
                                 "Agache PG et al. 1980 Arch Dermatol Res 269:221 (old/young ratio 2)",
                                 "old/young ratio of the dermal modulus, reached over modulus_span_years")
    modulus_span_years: float = param(59.0, "years", 1.0, 100.0,
                                      "Agache 1980 adult range, age 30 (elasticity drops after 30) to 89; "
                                      "our reading of the abstract",
                                      "years over which the modulus changes by modulus_ratio")
    thinning: float = param(0.04, "1/decade", 0.0, 0.3, ESTIMATE + "; bounded above by the 40% infraorbital "
                            "soft-tissue loss old vs young in men (PubMed 25111352)",
                            "fraction of the skin thickness lost per decade")
    laxity: float = param(0.01, "1/decade", 0.0, 0.2, ESTIMATE + "; with fat_descent's default, the default "
                          "face's jowl is then mostly descended fat, as Kang 2016 observed",
                          "growth of the skin's stress-free in-plane length per decade (lost recoil)")

    def apply(self, ctx: AgingContext, years: float, out: AgedParameters) -> None:
        decades = years / 10.0
        layer = Layer.SKIN
        if layer in out.materials:
            out.materials[layer] = out.materials[layer].scaled(self.modulus_ratio ** (years / self.modulus_span_years))
        e = ctx.elements_of_layer(layer)
        k = len(e)
        through = np.full(k, max(1.0 - self.thinning * decades, 0.2))
        in_plane = np.full(k, 1.0 + self.laxity * decades)
        out.growth[e] = _transverse(ctx.depth_normal[e], in_plane, through) @ out.growth[e]


#: Thickness lost per decade by each fat compartment (fraction of its start thickness).
#: Deep midface: Chang (ultrasound, n=60): SOOF -36% and DMCF -25.83% from age 25-34 to >= 55,
#: taken over three decades (our reading of the age groups). Superficial cheek: Tower et al.
#: 2018 (CT, longitudinal) found no significant change (10.33 -> 10.50 mL over 9.5 years).
FAT_LOSS_PER_DECADE = {
    "SOOF": (0.12, "Chang, ultrasound n=60: -36% from 25-34 to >=55 y, over 3 decades"),
    "deep_medial_cheek": (0.086, "Chang, ultrasound n=60: -25.83% from 25-34 to >=55 y, over 3 decades"),
    "buccal": (0.086, ESTIMATE + ": the deep medial cheek rate (Chang) for the other deep cheek pad"),
    "nasolabial": (0.0, "Tower J et al. 2018 Aesthetic Plast Surg 42:995 (superficial cheek fat: n.s.)"),
    "medial_cheek": (0.0, "Tower 2018 (superficial cheek fat volume: no significant change)"),
    "middle_cheek": (0.0, "Tower 2018 (superficial cheek fat volume: no significant change)"),
    "lateral_cheek": (0.0, "Tower 2018 (superficial cheek fat volume: no significant change)"),
    "jowl": (0.0, "Kang MS et al. 2016 J Craniomaxillofac Surg 44:1126 (the jowl is descended fat, not lost)"),
}


@dataclass(frozen=True)
class FatDeflation:
    """Fat compartments lose volume as thinner pads: each element's stress-free thickness
    (along the depth normal) shrinks by its compartment's rate, linearly in time."""

    name: ClassVar[str] = "fat_deflation"
    label: ClassVar[str] = "fat deflation"
    enabled: bool = True
    loss: dict = param(lambda: {k: v[0] for k, v in FAT_LOSS_PER_DECADE.items()},
                       "1/decade", 0.0, 0.5, "per compartment, see FAT_LOSS_PER_DECADE",
                       "thickness fraction lost per decade, by compartment name")
    min_thickness: float = param(0.3, "-", 0.05, 1.0, "numerical floor",
                                 "smallest remaining thickness fraction of a deflating pad")

    def apply(self, ctx: AgingContext, years: float, out: AgedParameters) -> None:
        decades = years / 10.0
        for name, rate in self.loss.items():
            e = ctx.elements_of_compartment(name)
            if rate == 0.0 or not len(e):
                continue
            through = np.full(len(e), max(1.0 - rate * decades, self.min_thickness))
            out.growth[e] = _transverse(ctx.depth_normal[e], np.ones(len(e)), through) @ out.growth[e]


@dataclass(frozen=True)
class FatDescent:
    """Fat under sustained gravity remodels: its stress-free shape creeps toward the loaded
    one with a time constant, so it keeps moving down over the years at constant stiffness;
    its volume is kept (volume is deflation's to change). (Sims 2010's Prony time of 700 s is
    fat's short-term viscoelasticity, not this.)"""

    name: ClassVar[str] = "fat_descent"
    label: ClassVar[str] = "fat descent"
    enabled: bool = True
    time_constant: float = param(10.0, "years", 0.5, 500.0, ESTIMATE + "; see skin.laxity",
                                 "time for the fat's elastic stretch to relax by a factor e")

    def apply(self, ctx: AgingContext, years: float, out: AgedParameters) -> None:
        pass  # acts through remodel: the creep it leaves behind

    def remodel(self, ctx: AgingContext, reference: np.ndarray, x: np.ndarray, growth: np.ndarray,
                creep: np.ndarray, dt: float, F: np.ndarray | None = None) -> np.ndarray:
        """The creep tensors after ``dt`` years at configuration ``x``: each fat element's
        elastic stretch U (F Fg^-1 = R U) relaxes by U^beta, beta = 1 - exp(-dt/tau); the
        rotation R is not remodelled (objective). ``F``: each element's mean deformation
        gradient, where its corners do not give it (quadratic elements)."""
        beta = 1.0 - np.exp(-dt / self.time_constant)
        return relax(ctx.model.tets, reference, x, growth, creep, ctx.fat_elements, beta, F)


def relax(tets: np.ndarray, reference: np.ndarray, x: np.ndarray, growth: np.ndarray, tensor: np.ndarray,
          elements: np.ndarray, beta: float, F: np.ndarray | None = None) -> np.ndarray:
    """``tensor`` (M,3,3) with the given elements' entries multiplied on the left by Ub^beta,
    where F Fg^-1 = R U is their elastic deformation (F = dx/d reference, Fg = ``growth``) and
    Ub = J^(-1/3) U its change of shape: the stress-free shape moved a fraction beta (in
    log-stretch) towards the current one, rotations untouched (objective), volumes kept.
    Creep of fat, collagen setting around threads.

    Only the shape creeps: tissue remodels its form, not its volume (volume is deflation's
    to change). Relaxing the volume as well let the fat's elastic compression under its own
    weight (rho g h over the bulk modulus: about 1 % in 3 cm of fat) set in for good, and as an
    element's weight follows its stress-free volume, that moved fat's mass up the face; it
    also gave the default face's jowl 6 % more descent at 70 (docs/aging.md).

    ``F`` (M,3,3), when given, is each element's deformation gradient instead of its corners'
    (a quadratic element's mean: QuadraticSystem.mean_deformation_gradients)."""
    if beta <= 0.0 or not len(elements):
        return tensor
    F = deformation_gradients(tets[elements], reference, x) if F is None else F[elements]
    Fe = F @ np.linalg.inv(growth[elements])
    w, V = np.linalg.eigh(np.transpose(Fe, (0, 2, 1)) @ Fe)  # C = U^2
    w = np.maximum(w, 1e-300)
    w = w / np.cbrt(np.prod(w, axis=1))[:, None]  # det C = J^2 -> 1: the shape alone
    U_beta = (V * w[:, None, :] ** (0.5 * beta)) @ np.transpose(V, (0, 2, 1))
    out = tensor.copy()
    out[elements] = U_beta @ tensor[elements]
    return out


@dataclass(frozen=True)
class BoneResorption:
    """The maxilla and the mandible recede (horizontally inward), taking the soft tissue
    and the ligaments' bone ends with them. Off by default."""

    name: ClassVar[str] = "bone_resorption"
    label: ClassVar[str] = "bone resorption"
    enabled: bool = False
    maxilla: float = param(0.5, "mm/decade", 0.0, 5.0, ESTIMATE, "inward recession of the maxilla")
    mandible: float = param(0.5, "mm/decade", 0.0, 5.0, ESTIMATE, "inward recession of the mandible")

    def apply(self, ctx: AgingContext, years: float, out: AgedParameters) -> None:
        decades = years / 10.0
        depth = 1e-3 * decades * (self.maxilla * ctx.maxilla_weight + self.mandible * ctx.mandible_weight)
        out.bone_displacement += depth[:, None] * ctx.bone_inward


MECHANISMS = (LigamentLaxity, SkinAging, FatDeflation, FatDescent, BoneResorption)
MECHANISM_TYPES = {m.name: m for m in MECHANISMS}


def default_mechanisms() -> list:
    """One of each mechanism with its defaults (bone resorption switched off)."""
    return [m() for m in MECHANISMS]


def mechanism_record(m) -> dict:
    """A mechanism's name, switch and parameter values (for summaries and fingerprints)."""
    return {"name": m.name, **asdict(m)}
