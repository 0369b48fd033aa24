"""Synthetic elder counts (60+) per community and H3 cell: aggregates only."""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

CELL_RESOLUTION = 9

# Shares of the 60+ population by age band (urban, rural), plausible for
# northern China around 2020–2025.
_AGE_SHARES = {True: (0.55, 0.31, 0.14), False: (0.57, 0.30, 0.13)}
# Base probabilities (urban, rural); disability and dementia rise with age.
_CATEGORY_P = {
    "empty_nest": (0.46, 0.55),
    "living_alone": (0.10, 0.13),
    "extreme_poverty": (0.004, 0.012),
    "low_income": (0.02, 0.05),
}


@dataclass(frozen=True)
class ElderCell:
    community_code: str
    township_code: str
    cell_h3: str
    lon: float
    lat: float
    counts: dict[str, int]


def community_sizes(urban_flags: list[bool], total: int, rng: np.random.Generator) -> np.ndarray:
    """Elders per community, summing exactly to ``total``; towns are denser."""
    weights = np.array(
        [rng.lognormal(np.log(1100 if u else 300), 0.35) for u in urban_flags], dtype=float
    )
    return rng.multinomial(total, weights / weights.sum())


def spread(
    *,
    community_code: str,
    township_code: str,
    lon: float,
    lat: float,
    elders: int,
    urban: bool,
    township_poly: BaseGeometry,
    township_factor: float,
    rng: np.random.Generator,
) -> list[ElderCell]:
    """Distribute one community's elders over nearby H3 cells inside its township."""
    home = h3.latlng_to_cell(lat, lon, CELL_RESOLUTION)
    rings = 2 if urban else 1
    cells = sorted(h3.grid_disk(home, rings))
    centres = np.array([h3.cell_to_latlng(c) for c in cells])  # (lat, lon)
    inside = shapely.contains_xy(township_poly, centres[:, 1], centres[:, 0])
    inside[cells.index(home)] = True  # the community's own cell always counts
    dist = np.array([h3.grid_distance(home, c) for c in cells], dtype=float)
    w = np.where(inside, np.exp(-dist / (1.2 if urban else 0.6)), 0.0)
    per_cell = rng.multinomial(elders, w / w.sum())

    out = []
    for cell, (clat, clon), n, ok in zip(cells, centres, per_cell, inside, strict=True):
        if n == 0 or not ok:
            continue
        if cell == home:
            clat, clon = lat, lon  # the community point is inside the township by construction
        out.append(
            ElderCell(
                community_code=community_code,
                township_code=township_code,
                cell_h3=cell,
                lon=float(clon),
                lat=float(clat),
                counts=_categories(int(n), urban, township_factor, rng),
            )
        )
    return out


def _categories(n: int, urban: bool, factor: float, rng: np.random.Generator) -> dict[str, int]:
    a60, a70, a80 = (int(x) for x in rng.multinomial(n, _AGE_SHARES[urban]))
    disabled = int(rng.binomial(a60, 0.02 * factor) + rng.binomial(a70, 0.05 * factor) + rng.binomial(a80, 0.16 * factor))
    dementia = int(rng.binomial(a60, 0.01) + rng.binomial(a70, 0.035) + rng.binomial(a80, 0.11))
    idx = 0 if urban else 1
    counts = {
        "age_60_69": a60,
        "age_70_79": a70,
        "age_80_plus": a80,
        "disabled": disabled,
        "dementia": dementia,
    }
    for name, p in _CATEGORY_P.items():
        counts[name] = int(rng.binomial(n, min(0.95, p[idx] * factor)))
    return counts
