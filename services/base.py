"""The district's data as the pages, reports and CLI read it: configuration, engine, base layers, density."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd

from data import versions
from data.db import session_factory
from data.models import DATA_KINDS, KIND_ZH  # noqa: F401  (the pages read the kinds here)
from data.repository import ELDER_COUNT_COLUMNS, Repository
from data.versions import DataRef, DatedRef  # noqa: F401
from geo.density import hex_density
from geo.walk import walk_cutoff_m  # noqa: F401  (pages, reports and commands read it from the services)
from planning.kpis import OverviewKPIs, overview_kpis
from services.cache import memo

# re-exported: the pages' and services' way in
from services.engine import deployment_problem, get_config, get_engine  # noqa: F401


class DataMissingError(RuntimeError):
    """The district lacks a kind of data the pages need; the message says which and how to load it."""


# Every page needs these; roads, communities and projects are asked for by the pages that use them.
REQUIRED_KINDS = ("district", "townships", "facilities", "elders")


def missing_message(district_code: str, kinds: list[str]) -> str:
    lines = [f"区县 {district_code} 还缺少以下数据，页面暂时无法显示（missing data）："]
    lines += [f"- {KIND_ZH[k]}：`python cli.py import {k} FILE --district {district_code}`"
              if k != "district" else f"- {KIND_ZH[k]}：`python cli.py import district FILE --code {district_code} --name 名称`"
              for k in kinds]
    return "\n".join(lines)


def repo_call(ref: DataRef, fn, townships: frozenset[str] | None = None):
    """Run ``fn(repository)`` on the district and versions of ``ref`` (the caller's cache key), reading that
    district's rows only, and of it the rows of ``townships`` only when given (the data layer's scope; row-level
    security on PostgreSQL)."""
    engine = get_engine(ref.url)
    with session_factory(engine, townships=townships, districts={ref.district_code})() as session:
        return fn(Repository(session, ref.district_code, ref.version_map))


def district_list(url: str):
    """The districts in the database (code, name, is_demo, created_at); read on every run (cheap)."""
    with session_factory(get_engine(url))() as session:
        return versions.districts(session)


def current_ref(url: str, district_code: str) -> DataRef:
    """The district's current versions: read on every run, so an import or rollback shows at once."""
    with session_factory(get_engine(url))() as session:
        return versions.data_ref(session, url, district_code)


@dataclass(frozen=True)
class BaseLayers:
    ref: DataRef
    meta: dict[str, str]
    outline: gpd.GeoDataFrame  # the district's boundary
    townships: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    elders: gpd.GeoDataFrame


@memo(ttl_s=300, message="正在读取数据 …")
def base_layers(ref: DataRef, townships: frozenset[str] | None = None) -> BaseLayers:
    """The district's outline, townships, facilities and elder groups; with ``townships`` (a township head's
    scope) the facilities and elders of those townships only, read through the scoped data layer. The services'
    own computations (coverage, scorecard) read the whole district."""
    def read(repo: Repository) -> BaseLayers:
        missing = [k for k in REQUIRED_KINDS if not repo.has(k)]
        if missing:
            raise DataMissingError(missing_message(ref.district_code, missing))
        return BaseLayers(
            ref=ref,
            meta=repo.meta(),
            outline=repo.district(),
            townships=repo.townships(),
            facilities=repo.facilities(),
            elders=repo.elder_groups(),
        )

    return repo_call(ref, read, townships)


@memo(kind="resource", ttl_s=300, message="正在读取道路 …")  # shared, not copied: read it, never change it
def roads(ref: DataRef, township_code: str | None) -> gpd.GeoDataFrame:
    return repo_call(ref, lambda repo: repo.roads(township_code=township_code))


@memo(ttl_s=300, message="正在读取村（社区） …")
def communities(ref: DataRef) -> gpd.GeoDataFrame:
    """The district's villages and communities (empty when none were imported)."""
    return repo_call(ref, lambda repo: repo.communities() if repo.has("communities") else
                     gpd.GeoDataFrame({"code": [], "is_urban": []}, geometry=[], crs="EPSG:4326"))


@memo(ttl_s=300)
def density(ref: DataRef, township_code: str | None, resolution: int) -> gpd.GeoDataFrame:
    elders = base_layers(ref).elders
    if township_code:
        elders = elders[elders["township_code"] == township_code]
    return hex_density(elders, resolution=resolution, count_columns=("age_60_69", "age_70_79", "age_80_plus"))


@memo(ttl_s=3600, max_entries=64)
def area_of(ref: DataRef, township_code: str | None) -> float:
    """The area of the district or one township, km² (in its UTM zone)."""
    from geo.crs import utm_crs_for

    layers = base_layers(ref)
    shape = layers.townships[layers.townships["code"] == township_code] if township_code else layers.outline
    c = shape.union_all().centroid
    return float(shape.to_crs(utm_crs_for(c.x, c.y)).area.sum()) / 1e6


def street_detail(ref: DataRef, township_code: str | None) -> bool:
    """Whether the maps of the district or of one township draw side streets and lanes: a township always, a
    district when it is as small as [density] street_detail_km2 (a town centre, not a county)."""
    return bool(township_code) or area_of(ref, None) <= get_config().density.street_detail_km2


@memo(ttl_s=3600, max_entries=64)
def density_resolution(ref: DataRef, township_code: str | None, *, coverage: bool = False) -> int:
    """The H3 resolution of the elder hexagons of the district or one township, from its area ([density]:
    ``target_cells`` for 一张图's density, ``coverage_target_cells`` for the coverage maps, which show gaps
    smaller than a walk), never finer than the elders' positions support (geo.density.finest_resolution)."""
    import numpy as np

    from geo.density import finest_resolution, resolution_for

    layers = base_layers(ref)
    area_km2 = area_of(ref, township_code)
    elders = layers.elders
    finest = finest_resolution(elders["cell_h3"], np.column_stack([elders.geometry.x, elders.geometry.y]),
                               elders[["age_60_69", "age_70_79", "age_80_plus"]].sum(axis=1).to_numpy())
    density = get_config().density
    return resolution_for(area_km2, target_cells=density.coverage_target_cells if coverage else density.target_cells,
                          finest=finest)


def area_kpis(layers: BaseLayers, township_code: str | None) -> OverviewKPIs:
    fac, eld = layers.facilities, layers.elders
    if township_code:
        fac = fac[fac["township_code"] == township_code]
        eld = eld[eld["township_code"] == township_code]
    return kpis_of(fac, eld)


def kpis_of(fac: gpd.GeoDataFrame, eld: gpd.GeoDataFrame) -> OverviewKPIs:
    """The overview's KPIs over these facilities and elder groups (an area's, a district's or a city's rows)."""
    config = get_config()
    return overview_kpis(
        fac,
        eld[list(ELDER_COUNT_COLUMNS)],
        level_ids=tuple(lv.id for lv in config.levels),
        care_kind_ids=frozenset(k.id for k in config.facility_kinds if k.care_service),
    )
