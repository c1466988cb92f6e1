"""The soft-tissue layers between bone and skin: their order, materials and regional
thickness, with the source of every number beside it.

Thickness maps are smooth blends of the values measured at named sites (Gaussian weights
around each site over a background value), in metres. Where no measurement exists the value
is an ESTIMATE, flagged so in its source: a calibratable parameter, not a fact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import materials as mat
from ..model import Layer


@dataclass(frozen=True)
class LayerSpec:
    layer: Layer
    thickness_m: float
    cells: int
    source: str


#: Layers from bone outwards, with their background (cheek) thickness:
#: - deep fat 2.71 mm: deep medial cheek fat, youngest group (25-34 y), derived in the
#:   reference table from the ultrasound study of midface deep fat (0.70 mm loss = 25.83 %).
#: - SMAS 1.0 mm: ESTIMATE. No absolute SMAS thickness at the cheek was found (Okuda et al.
#:   2023 report only that it thins with age).
#: - superficial fat 3.38 mm: middle of the facial range 1.61 (radix) - 5.14 mm (perioral),
#:   Kim et al. 2019 Clin Anat; the cheek lies inside that range.
#: - skin 1.74 mm: middle of 1.51 (radix) - 1.97 mm (infraorbital), Kim et al. 2019 Clin Anat.
LAYER_STACK = (
    LayerSpec(Layer.DEEP_FAT, 2.71e-3, 2, "deep medial cheek fat, young (derived; reference table)"),
    LayerSpec(Layer.SMAS, 1.0e-3, 1, "ESTIMATE: no absolute value in the literature found"),
    LayerSpec(Layer.SUPERFICIAL_FAT, 0.5 * (1.61e-3 + 5.14e-3), 2, "Kim et al. 2019, middle of range"),
    LayerSpec(Layer.SKIN, 0.5 * (1.51e-3 + 1.97e-3), 1, "Kim et al. 2019, middle of range"),
)

#: Materials per layer (see sagsim.materials for each citation). SMAS and superficial fat share
#: the Barbarino et al. (2011) Mooney-Rivlin set that the Flynn face model uses for both.
DEFAULT_MATERIALS = {
    Layer.SKIN: mat.SKIN,
    Layer.SUPERFICIAL_FAT: mat.SMAS_SUPERFICIAL_FAT,
    Layer.SMAS: mat.SMAS_SUPERFICIAL_FAT,
    Layer.DEEP_FAT: mat.FAT,
}


@dataclass(frozen=True)
class Site:
    """A measured (or estimated) thickness at a site: arc length from the midline ``s`` (m,
    mirrored to both sides), height ``y`` (m, 0 at subnasale), extent ``width`` (m)."""

    layer: Layer
    thickness_m: float
    s: float
    y: float
    width: float
    source: str


SITES = (
    Site(Layer.SKIN, 1.51e-3, 0.0, 0.020, 0.010, "radix/dorsum, Kim et al. 2019 (thinnest)"),
    Site(Layer.SKIN, 1.97e-3, 0.035, 0.030, 0.012, "infraorbital, Kim et al. 2019 (thickest)"),
    Site(Layer.SUPERFICIAL_FAT, 1.61e-3, 0.0, 0.020, 0.010, "radix/dorsum, Kim et al. 2019 (thinnest)"),
    Site(Layer.SUPERFICIAL_FAT, 5.14e-3, 0.025, -0.020, 0.014, "perioral, Kim et al. 2019 (thickest)"),
    Site(Layer.DEEP_FAT, 1.75e-3, 0.040, 0.030, 0.012, "SOOF, youngest group (derived; reference table)"),
    Site(Layer.DEEP_FAT, 5.0e-3, 0.060, -0.020, 0.014, "ESTIMATE: buccal fat pad region, no value found"),
    Site(Layer.DEEP_FAT, 0.5e-3, 0.0, -0.045, 0.012, "ESTIMATE: chin, deep fat nearly absent"),
    Site(Layer.DEEP_FAT, 0.5e-3, 0.105, -0.010, 0.020, "ESTIMATE: over the masseter, a thin glide plane"),
)

CELLS = {"coarse": (1, 1, 1, 1), "default": (2, 1, 2, 1), "fine": (3, 2, 3, 2)}


def cells_through_thickness(resolution: str) -> tuple[int, ...]:
    return CELLS[resolution]


def thickness_maps(s: np.ndarray, y: np.ndarray, params) -> np.ndarray:
    """(L, ...) thickness of each layer of LAYER_STACK at arc lengths ``s`` and heights ``y``:
    each site pulls its neighbourhood towards its value, Gaussian-weighted, over the layer's
    background value; ``params.thickness_scale`` (layer name -> factor) scales a layer."""
    out = []
    for spec in LAYER_STACK:
        value = np.full(np.shape(s), spec.thickness_m)
        for site in SITES:
            if site.layer != spec.layer:
                continue
            for side in ((-1.0, 1.0) if site.s else (1.0,)):
                w = np.exp(-0.5 * (((s - side * site.s) / site.width) ** 2 + ((y - site.y) / site.width) ** 2))
                value = value + w * (site.thickness_m - value)
        out.append(value * params.thickness_scale.get(spec.layer.name, 1.0))
    return np.stack(out)


def landmark_targets(params) -> dict[str, tuple[float, float]]:
    """Anatomical landmark positions as (azimuth, height): a modelling choice for the default
    proportions, not measurements. (Placing the retaining ligaments by the distances of the
    reference table, and checking these points against them, is the next step of issue 3.)"""
    def phi(s: float) -> float:  # azimuth of arc length s on the plain elliptic section
        grid = np.linspace(-params.azimuth_max, params.azimuth_max, 2001)
        a, b = params.half_width, params.depth
        r = a * b / np.sqrt((b * np.sin(grid)) ** 2 + (a * np.cos(grid)) ** 2)
        return float(np.interp(s, r * grid, grid))

    out = {"subnasale": (0.0, 0.0), "pogonion": (0.0, params.chin_y + 0.012), "menton": (0.0, params.chin_y + 0.002)}
    for side, tag in ((1.0, "left"), (-1.0, "right")):
        out[f"oral_commissure_{tag}"] = (phi(side * 0.025), -0.022)
        out[f"malar_eminence_{tag}"] = (phi(side * 0.052), 0.018)
        out[f"lateral_canthus_{tag}"] = (phi(side * 0.048), params.top_y - 0.002)
        out[f"jowl_{tag}"] = (phi(side * 0.040), -0.045)
        out[f"gonion_{tag}"] = (side * 0.82 * params.azimuth_max, params.gonion_y + 0.008)
        out[f"tragus_{tag}"] = (side * 0.98 * params.azimuth_max, 0.005)
        for k, (s_k, y_k) in enumerate(((0.014, 0.002), (0.020, -0.008), (0.024, -0.016))):
            out[f"nasolabial_{k + 1}_{tag}"] = (phi(side * s_k), y_k)
    return out


@dataclass(frozen=True)
class Compartment:
    """A named fat compartment: a region of one layer, |s| (arc length from the midline) and y
    bounds in metres, left side mirrored to the right."""

    name: str
    layer: Layer
    s_range: tuple[float, float]
    y_range: tuple[float, float]


#: The compartments, laid out after the classical anatomical description of facial fat
#: (Rohrich and Pessa, Plast Reconstr Surg 2007): a modelling choice of where each lies on
#: this face, not measured boundaries. Index 0 of ``compartment_names`` is "none".
COMPARTMENTS = (
    Compartment("nasolabial", Layer.SUPERFICIAL_FAT, (0.014, 0.028), (-0.028, 0.008)),
    Compartment("medial_cheek", Layer.SUPERFICIAL_FAT, (0.028, 0.045), (-0.005, 0.030)),
    Compartment("middle_cheek", Layer.SUPERFICIAL_FAT, (0.045, 0.065), (-0.010, 0.030)),
    Compartment("lateral_cheek", Layer.SUPERFICIAL_FAT, (0.065, 0.110), (-0.030, 0.030)),
    Compartment("jowl", Layer.SUPERFICIAL_FAT, (0.020, 0.055), (-0.060, -0.028)),
    Compartment("SOOF", Layer.DEEP_FAT, (0.025, 0.060), (0.020, 0.040)),
    Compartment("deep_medial_cheek", Layer.DEEP_FAT, (0.015, 0.045), (-0.010, 0.020)),
    Compartment("buccal", Layer.DEEP_FAT, (0.045, 0.075), (-0.035, -0.005)),
)
COMPARTMENT_NAMES = ("none",) + tuple(c.name for c in COMPARTMENTS)


def assign_compartments(tet_layer: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Compartment index (into COMPARTMENT_NAMES) of each tetrahedron, from its layer and the
    arc length ``s`` and height ``y`` of its column; 0 where none applies."""
    out = np.zeros(len(tet_layer), np.int16)
    a = np.abs(s)
    for k, c in enumerate(COMPARTMENTS, start=1):
        inside = ((tet_layer == c.layer) & (a >= c.s_range[0]) & (a < c.s_range[1])
                  & (y >= c.y_range[0]) & (y < c.y_range[1]))
        out[inside & (out == 0)] = k
    return out
