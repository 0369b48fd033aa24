"""Coverage across district borders (issue 29): which neighbouring districts a district's walk reads, and what of them.

A 15-minute walk does not stop at an administrative line. A district's walking network and coverage take in the
roads and operating sites of the other districts of its city that lie within ``[coverage] border_margin_m`` of its
outline: the roads so that a walk can cross the border, the sites so that an elder next to a station across it is
reached. What is read of a neighbour is for the computation only: its sites are kept as id, kind and position (no
name, address or figure), and nothing of them is drawn or exported here; what a page may show of them is cut by
``services.scoped`` like any other scope's neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely

from data.versions import DataRef
from geo.crs import WGS84, transform_geom, utm_crs_for
from services.base import current_ref, district_list, get_config, repo_call
from services.cache import memo

BORDER_KINDS = ("roads", "facilities")  # what a district's walk reads of its neighbours
SITE_COLUMNS = ["id", "kind_id", "district_code", "geometry"]  # all a neighbouring district's site keeps here


@dataclass(frozen=True)
class BorderRows:
    """The neighbours' roads and operating sites within the margin of a district."""

    lines: list  # shapely LineStrings (WGS84), whole: a road is kept if any of it lies within the margin
    tags: list  # their stored OSM tags (or None), same order
    sites: gpd.GeoDataFrame  # SITE_COLUMNS


def no_sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": pd.Series(dtype="int64"), "kind_id": pd.Series(dtype="object"),
                             "district_code": pd.Series(dtype="object")}, geometry=[], crs="EPSG:4326")


def neighbour_refs(ref: DataRef) -> tuple[DataRef, ...]:
    """The current versions (roads and facilities) of the districts whose walk reaches into ``ref``'s district: the
    other districts of its city whose outline lies within the margin of its own, in code order."""
    margin = get_config().coverage.border_margin_m
    codes = _neighbour_codes(ref.url, ref.district_code, outline_version(ref), margin)
    return tuple(current_ref(ref.url, code).only(BORDER_KINDS) for code in codes)


def outline_version(ref: DataRef) -> int | None:
    """The version of the district's outline ``ref`` reads: its own, else the current one (a ref narrowed to
    other kinds still has a district, and the same neighbours)."""
    return dict(ref.versions).get("district") or dict(current_ref(ref.url, ref.district_code).versions).get("district")


@memo(ttl_s=300, max_entries=64)
def _neighbour_codes(url: str, district_code: str, outline_version: int | None, margin_m: float) -> tuple[str, ...]:
    listing = district_list(url)
    city = listing.loc[listing["code"] == district_code, "city_code"]
    if city.empty or outline_version is None:
        return ()
    others = listing[(listing["city_code"] == city.iloc[0]) & (listing["code"] != district_code)]["code"]
    own = _outline(current_ref(url, district_code))
    if own is None:
        return ()
    metric = utm_crs_for(own.centroid.x, own.centroid.y)
    reach = transform_geom(own, WGS84, metric).buffer(margin_m)
    out = []
    for code in others:
        theirs = _outline(current_ref(url, code))
        if theirs is not None and reach.intersects(transform_geom(theirs, WGS84, metric)):
            out.append(code)
    return tuple(out)


def _outline(ref: DataRef):
    version = dict(ref.versions).get("district")
    return None if version is None else _outline_of(ref.url, ref.district_code, version)


@memo(kind="resource", ttl_s=3600, max_entries=128)  # shared, not copied: never change it
def _outline_of(url: str, district_code: str, version: int):
    """A district's outline (one geometry) at a version: read once, however many neighbours ask for it."""
    frame = repo_call(DataRef(url, district_code, (("district", version),)), lambda r: r.district())
    return shapely.union_all(frame.geometry.values) if len(frame) else None


def border_rows(ref: DataRef, neighbours: tuple[DataRef, ...], margin_m: float) -> BorderRows:
    """The roads and operating sites of ``neighbours`` within ``margin_m`` of ``ref``'s outline (each neighbour read
    with its own district's scope)."""
    own = _outline(ref)
    if own is None or not neighbours:
        return BorderRows([], [], no_sites())
    metric = utm_crs_for(own.centroid.x, own.centroid.y)
    area = transform_geom(transform_geom(own, WGS84, metric).buffer(margin_m), metric, WGS84)
    shapely.prepare(area)
    lines, tags, sites = [], [], []
    for nref in neighbours:
        versions = dict(nref.versions)
        if "roads" in versions:  # the lines whose boxes meet the area's, then those that meet the area
            roads = repo_call(nref, lambda r: r.roads(bbox=area.bounds))
            near = shapely.intersects(area, roads.geometry.values)
            lines += list(roads.geometry.values[near])
            tags += list(roads["osm_tags"].to_numpy()[near])
        if "facilities" in versions:
            f = repo_call(nref, lambda r: r.facility_points())
            f = f[(f["status"] == "operating") & shapely.contains(area, f.geometry.values)]
            sites.append(gpd.GeoDataFrame({"id": f["id"].to_numpy(), "kind_id": f["kind_id"].to_numpy(),
                                           "district_code": nref.district_code}, geometry=f.geometry.values,
                                          crs="EPSG:4326"))
    frame = pd.concat(sites, ignore_index=True) if sites else no_sites()
    return BorderRows(lines, tags, gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")[SITE_COLUMNS])
