"""Cached service functions the pages call. The only UI module that touches data/."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import streamlit as st

from config import DashboardConfig, load_config
from data.db import create_schema, make_engine, session_factory
from data.repository import ELDER_COUNT_COLUMNS, Repository
from geo.density import hex_density
from planning.kpis import OverviewKPIs, overview_kpis


class DataMissingError(RuntimeError):
    """The database has no district loaded yet."""


@st.cache_resource(show_spinner=False)
def get_config() -> DashboardConfig:
    return load_config()


@st.cache_resource(show_spinner=False)
def get_engine(url: str):
    engine = make_engine(url)
    create_schema(engine)
    return engine


def _repo_call(url: str, fn):
    """Run ``fn(repository)`` against the database at ``url`` (the caller's cache key)."""
    engine = get_engine(url)
    with session_factory(engine)() as session:
        return fn(Repository(session))


@dataclass(frozen=True)
class BaseLayers:
    meta: dict[str, str]
    district: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    elders: gpd.GeoDataFrame


@st.cache_data(ttl=300, show_spinner="正在读取数据 …")
def base_layers(url: str) -> BaseLayers:
    def read(repo: Repository) -> BaseLayers:
        district = repo.district()
        if district.empty:
            msg = "数据库中还没有区县数据。请先运行 `python cli.py demo` 生成演示数据库（或 `make run`）。"
            raise DataMissingError(msg)
        return BaseLayers(
            meta=repo.meta(),
            district=district,
            townships=repo.townships(),
            facilities=repo.facilities(),
            elders=repo.elder_groups(),
        )

    return _repo_call(url, read)


@st.cache_data(ttl=300, show_spinner="正在读取道路 …")
def roads(url: str, township_code: str | None) -> gpd.GeoDataFrame:
    return _repo_call(url, lambda repo: repo.roads(township_code=township_code))


@st.cache_data(ttl=300, show_spinner=False)
def density(url: str, township_code: str | None, resolution: int) -> gpd.GeoDataFrame:
    elders = base_layers(url).elders
    if township_code:
        elders = elders[elders["township_code"] == township_code]
    return hex_density(elders, resolution=resolution, count_columns=("age_60_69", "age_70_79", "age_80_plus"))


def area_kpis(layers: BaseLayers, township_code: str | None) -> OverviewKPIs:
    config = get_config()
    fac, eld = layers.facilities, layers.elders
    if township_code:
        fac = fac[fac["township_code"] == township_code]
        eld = eld[eld["township_code"] == township_code]
    return overview_kpis(
        fac,
        eld[list(ELDER_COUNT_COLUMNS)],
        level_ids=tuple(lv.id for lv in config.levels),
        care_kind_ids=frozenset(k.id for k in config.facility_kinds if k.care_service),
    )
