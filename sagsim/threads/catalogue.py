"""Thread materials and cog properties, with their sources.

The reference table has absorption timelines (PDO strength retention and absorption, PLA and
PCL degradation times) and one breaking strength (barbed 2-0 polypropylene); it has no cog
pull-out force and no barb-tissue interface stiffness ("NOT FOUND" for the pull-out force per
barb): those are ESTIMATES, explicit parameters to calibrate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ESTIMATE = "ESTIMATE (no value in the reference table; calibratable)"


@dataclass(frozen=True)
class ThreadMaterial:
    """``retention``: (weeks, fraction of strength left) points, linear between them and 0
    after the last; ``breaking_force``: N for a 2-0 thread; sources beside each."""

    name: str
    retention: tuple
    retention_source: str
    breaking_force: float
    breaking_source: str

    def breaking_force_of(self, size: str) -> float:
        """Breaking force (N) of a thread of USP ``size``: the 2-0 value scaled by cross-section."""
        d = sum(USP_DIAMETER_MM[size]) / 2
        d20 = sum(USP_DIAMETER_MM["2-0"]) / 2
        return self.breaking_force * (d / d20) ** 2

    def strength_fraction(self, weeks: float) -> float:
        w, f = np.array(self.retention, float).T
        return float(np.interp(weeks, w, f, right=0.0))


BARBED_2_0_BREAKING = (39.5, "Rashid RM et al. 2007 Arch Dermatol 143:869 (barbed 2-0 polypropylene, 39.5 +/- 9.0 N); "
                       "used for every material: ESTIMATE for absorbables")

MATERIALS = {
    "PDO": ThreadMaterial(
        "PDO", ((0, 1.0), (4, 0.58), (8, 0.14), (26, 0.0)),
        "PDS strength 58 % at 4 and 14 % at 8 weeks (Surg Gynecol Obstet 1981;153:497, rat); absorbed by "
        "180-210 days (2007 degradation study, rat)", *BARBED_2_0_BREAKING),
    "PLLA": ThreadMaterial(
        "PLLA", ((0, 1.0), (65, 0.0)),
        "PLA (Silhouette Soft) degrades in 6-24 months (Aesthetics Journal 2014, uncertain; clinics 12-18): "
        "linear to 0 at 15 months, ESTIMATE of the shape", *BARBED_2_0_BREAKING),
    "PCL": ThreadMaterial(
        "PCL", ((0, 1.0), (130, 0.0)),
        "PCL resorbs completely in 2-3 years (Deshpande et al. 2023 Polymers 15:3819): linear to 0 at "
        "2.5 years, ESTIMATE of the shape", *BARBED_2_0_BREAKING),
}

#: USP suture sizes: diameter range (mm), Wikipedia (de) 'Fadenstaerke' table (secondary).
USP_DIAMETER_MM = {"4-0": (0.150, 0.199), "3-0": (0.200, 0.249), "2-0": (0.250, 0.299), "0": (0.350, 0.399),
                   "1": (0.400, 0.499)}

#: Pull-out (holding) force of one cog in facial soft tissue (N): no value in the literature
#: we hold (Hong 2022, Fundaro 2026: not in the abstracts). Mean and relative spread.
COG_HOLDING_FORCE = 1.0
COG_HOLDING_SPREAD = 0.5
COG_HOLDING_RANGE = (0.05, 10.0)
#: Stiffness of the barb-tissue interface in series with the thread segment (N/m): ESTIMATE.
COG_STIFFNESS = 200.0
COG_STIFFNESS_RANGE = (5.0, 5000.0)
#: Tearing force of a bite in the deep temporal fascia, the usual fixation (Zoumalan et al.,
#: 4 fresh cadavers 60-70 y: 3.44 kg = 33.7 N; 1.90 kg = 18.6 N for a vertical bite).
TEMPORAL_FASCIA_TEARING = 33.7
