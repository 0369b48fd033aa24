"""What a scope may be shown on a map or in an export (issue 26): nothing of another township reaches the browser.

The walking computations read the whole district (an elder next to a station across the border is covered, and
counts so); what they hand to a map or a file is cut to the user's townships here, in one place for every page
and report:

- the scope's own facilities, with every column;
- the facilities of other townships that reach an elder of the scope within the walk, as **position and kind
  only** (no code, name, address or figure), since they explain the coverage the figures count;
- elder hexagons, walking bands and service areas of the scope's townships only (bands and areas clipped to
  their outline).

A ``townships`` of None is the whole district: everything, unchanged. The sites of a neighbouring district that
walk to the scope's elders (services.border) are neighbours too, for every scope: kind and position only.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from geo.reach import PointIndex, Reach, walk_pairs
from geo.snapping import Snapped

NEIGHBOUR_COLUMNS = ["kind_id", "geometry"]  # all a neighbouring township's facility may show


@dataclass(frozen=True)
class SitesInView:
    own: gpd.GeoDataFrame  # the scope's facilities, every column
    neighbours: gpd.GeoDataFrame  # other townships' facilities within the walk of the scope's elders: NEIGHBOUR_COLUMNS
    neighbour_ids: tuple = ()  # the neighbours' facility ids, for the services' own joins; never drawn or exported


def no_neighbours(crs="EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kind_id": []}, geometry=[], crs=crs)


def sites_in_view(eng, facilities: gpd.GeoDataFrame, snapped: Snapped, townships: frozenset[str] | None, *,
                  cutoff_m: float) -> SitesInView:
    """The sites of ``facilities`` (snapped as ``snapped``, same order) a user of ``townships`` may see: their own,
    and the others that reach one of their elders within ``cutoff_m`` walking metres as kind and position only."""
    if townships is None:
        return SitesInView(facilities, no_neighbours(facilities.crs))
    inside = facilities["township_code"].isin(townships).to_numpy()
    reached = reaching(eng, snapped, ~inside, townships, cutoff_m=cutoff_m)
    return SitesInView(facilities[inside], facilities.iloc[reached][NEIGHBOUR_COLUMNS].reset_index(drop=True),
                       tuple(facilities["id"].iloc[reached]))


def reaching(eng, snapped: Snapped, candidates: np.ndarray, townships: frozenset[str] | None, *,
             cutoff_m: float) -> np.ndarray:
    """The indexes of the ``candidates`` (a mask over ``snapped``) that reach an elder of ``townships`` (None: of the
    whole district) within ``cutoff_m`` walking metres.

    The walk is checked by the engine's own search from each candidate site to the scope's elders; a site farther
    than ``cutoff_m`` in a straight line from every such elder cannot reach one and is not searched."""
    demand: Snapped = eng.model.demand
    mine = demand.ok.copy() if townships is None else eng.groups["township_code"].isin(townships).to_numpy() & demand.ok
    candidates = np.flatnonzero(np.asarray(candidates, dtype=bool) & snapped.ok)
    if not mine.any() or not len(candidates):
        return np.array([], dtype=int)
    dist, _ = cKDTree(demand.xy[mine]).query(snapped.xy[candidates], k=1, distance_upper_bound=cutoff_m)
    candidates = candidates[np.isfinite(dist)]
    if not len(candidates):
        return np.array([], dtype=int)
    points = demand.subset(mine)
    pick = np.zeros(len(snapped.ok), dtype=bool)
    pick[candidates] = True
    pairs = walk_pairs(Reach(eng.net), PointIndex(eng.net, points), snapped.subset(pick), points, cutoff_m=cutoff_m)
    return candidates[np.unique(pairs.site)]


def outline(townships_frame: gpd.GeoDataFrame, townships: frozenset[str]):
    """The union of the outlines of ``townships`` (a frame of township polygons with ``code``)."""
    part = townships_frame[townships_frame["code"].isin(townships)]
    return shapely.union_all(part.geometry.values)


def clip(frame: gpd.GeoDataFrame, area) -> gpd.GeoDataFrame:
    """``frame`` cut to ``area`` (a polygon), rows left empty dropped; a new frame (the input is shared)."""
    out = frame.copy()
    out["geometry"] = shapely.intersection(out.geometry.values, area)
    return out[~shapely.is_empty(out.geometry.values)].reset_index(drop=True)
