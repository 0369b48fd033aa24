"""A city's view (issue 29, item 3): its districts, their outlines and the city's card from each district's own.

A user sees a city only when they may see every district of it held in the database (an account bound to the
city, or to no area): ``cities_of``. A district's planner or a township head never gets a city figure here, so no
other district's number reaches them through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely

from data.accounts import User
from data.db import session_factory
from data.versions import DataRef, cities
from planning.scorecard import Scorecard, city_scorecard
from services import access
from services.base import current_ref, district_list, get_config, get_engine, repo_call
from services.cache import memo
from services.scorecard import scorecard


@dataclass(frozen=True)
class City:
    code: str
    name: str
    districts: pd.DataFrame  # code, name, is_demo: the districts of the city held in the database, by code


def cities_of(url: str, user: User) -> list[City]:
    """The cities with at least two districts in the database whose every district the user may see."""
    listing = district_list(url)
    with session_factory(get_engine(url))() as session:
        held = cities(session)
    names = dict(zip(held["code"], held["name"], strict=True))
    out = []
    for code, part in listing.groupby("city_code"):
        if len(part) < 2 or not all(access.may_see_district(user, c) for c in part["code"]):
            continue
        if user.townships and not user.has("leader", "planner"):
            continue  # a township head's view is their township
        out.append(City(str(code), names.get(code, f"市 {code}"),
                        part[["code", "name", "is_demo"]].reset_index(drop=True)))
    return out


def district_refs(url: str, city: City) -> tuple[DataRef, ...]:
    """The current versions of every district of the city (read on every run: an import shows at once)."""
    return tuple(current_ref(url, code) for code in city.districts["code"])


@memo(ttl_s=600, max_entries=8, message="正在汇总全市各区县的考核指标 …")
def city_card(refs: tuple[DataRef, ...]) -> Scorecard:
    """The city's card from each district's own card at ``refs`` (planning.scorecard.city_scorecard)."""
    return city_scorecard({ref.district_code: scorecard(ref) for ref in refs},
                          amber_share=get_config().scorecard.amber_share)


@memo(ttl_s=600, max_entries=8)
def district_outlines(refs: tuple[DataRef, ...]) -> gpd.GeoDataFrame:
    """code, name and outline of every district at ``refs`` (WGS84), by code."""
    frames = [repo_call(ref.only(("district",)), lambda r: r.district()).reset_index(drop=True) for ref in refs]
    out = gpd.GeoDataFrame(pd.concat(frames), geometry="geometry", crs="EPSG:4326")
    out = out.dissolve(by="code", as_index=False)[["code", "name", "geometry"]]
    return out.set_index("code", drop=False)


@memo(ttl_s=600, max_entries=8)
def data_dates(refs: tuple[DataRef, ...]) -> list[str]:
    """The districts' data dates, each once, in order (their meta only: no layer is read for it)."""
    return sorted({repo_call(ref, lambda r: r.meta()).get("data_date", "—") for ref in refs})


def city_outline(outlines: gpd.GeoDataFrame, city: City) -> gpd.GeoDataFrame:
    """The city's boundary (the union of its districts') as a one-row frame, as the maps draw a district's."""
    return gpd.GeoDataFrame({"code": [city.code], "name": [city.name]},
                            geometry=[shapely.union_all(outlines.geometry.values)], crs="EPSG:4326")
