"""A generated dense city for the siting benchmark: Hexi-like density (issue 17).

Hexi district (河西区, Tianjin) is about 42 km² with some 980,000 residents, a
quarter of them 60+. No street network of it is stored offline, so the city
is generated: a 6.5 km × 6.5 km street grid of 80 m blocks (nodes jittered,
12 % of the segments missing), 12,000 residential buildings in 40 density
clusters over a uniform base holding ≥ 240,000 elders, and 110 existing
community stations placed where the elders are (so almost every elder is
within a 15-minute walk of one, and capacity is what runs out).
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import LineString

CENTRE = (117.23, 39.07)
SIDE_M = 6500.0
BLOCK_M = 80.0
N_BUILDINGS = 12_000
N_EXISTING = 110


def _lonlat(xy: np.ndarray) -> np.ndarray:
    lat0 = np.radians(CENTRE[1])
    return np.c_[CENTRE[0] + xy[:, 0] / (111_320.0 * np.cos(lat0)), CENTRE[1] + xy[:, 1] / 110_540.0]


def city(seed: int = 2026):
    """(street LineStrings, building lon/lat, elders per building, existing station lon/lat)."""
    rng = np.random.default_rng(seed)
    n = int(SIDE_M / BLOCK_M) + 1
    gx, gy = np.meshgrid(np.arange(n) * BLOCK_M, np.arange(n) * BLOCK_M)
    nodes = np.c_[gx.ravel(), gy.ravel()] - SIDE_M / 2 + rng.normal(0, 8, (n * n, 2))
    ll = _lonlat(nodes)
    idx = np.arange(n * n).reshape(n, n)
    pairs = np.r_[np.c_[idx[:, :-1].ravel(), idx[:, 1:].ravel()], np.c_[idx[:-1, :].ravel(), idx[1:, :].ravel()]]
    pairs = pairs[rng.uniform(size=len(pairs)) > 0.12]
    lines = [LineString([ll[a], ll[b]]) for a, b in pairs]
    centres = rng.uniform(-SIDE_M / 2.4, SIDE_M / 2.4, (40, 2))
    which = rng.integers(0, 40, N_BUILDINGS)
    clustered = centres[which] + rng.normal(0, 500, (N_BUILDINGS, 2))
    uniform = rng.uniform(-SIDE_M / 2, SIDE_M / 2, (N_BUILDINGS, 2))
    xy = np.where((rng.uniform(size=N_BUILDINGS) < 0.6)[:, None], clustered, uniform)
    xy = np.clip(xy, -SIDE_M / 2 + 20, SIDE_M / 2 - 20)
    elders = np.maximum(1, np.round(rng.lognormal(np.log(17), 0.6, N_BUILDINGS))).astype(float)
    station = rng.choice(N_BUILDINGS, N_EXISTING, replace=False, p=elders / elders.sum())
    return lines, _lonlat(xy), elders, _lonlat(xy[station] + rng.normal(0, 30, (N_EXISTING, 2)))
