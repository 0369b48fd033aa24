"""A city's view (issue 29, item 3): its districts, their outlines and the city's card from each district's own.

A user sees a city only when they may see every district of it held in the database (an account bound to the
city, or to no area): ``cities_of``. A district's planner or a township head never gets a city figure here, so no
other district's number reaches them through it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely

from data.accounts import User
from data.db import session_factory
from data.models import KIND_ZH
from data.versions import DataRef, DatedRef, cities
from planning.kpis import OverviewKPIs
from planning.scorecard import Scorecard, city_scorecard
from services import access, results
from services.base import current_ref, district_list, get_config, get_engine, repo_call
from services.cache import memo
from services.scorecard import HISTORY_KINDS, dated_ref, scorecard
from services.scorecard import since_dates as district_since_dates


@dataclass(frozen=True)
class City:
    code: str
    name: str
    districts: pd.DataFrame  # code, name, is_demo: the districts of the city held in the database, by code

    @property
    def names(self) -> dict[str, str]:
        """District code → name, in code order."""
        return dict(zip(self.districts["code"], self.districts["name"], strict=True))


def cities_of(url: str, user: User) -> list[City]:
    """The cities with at least two districts in the database whose every district the user may see."""
    listing = district_list(url)
    names = _city_names(url)
    out = []
    for code, part in listing.groupby("city_code"):
        if len(part) < 2 or not all(access.may_see_district(user, c) for c in part["code"]):
            continue
        if user.townships and not user.has("leader", "planner"):
            continue  # a township head's view is their township
        out.append(City(str(code), names.get(code, f"市 {code}"),
                        part[["code", "name", "is_demo"]].reset_index(drop=True)))
    return out


def _city_names(url: str) -> dict[str, str]:
    with session_factory(get_engine(url))() as session:
        held = cities(session)
    return dict(zip(held["code"], held["name"], strict=True))


def district_refs(url: str, city: City) -> tuple[DataRef, ...]:
    """The current versions of every district of the city (read on every run: an import shows at once)."""
    return tuple(current_ref(url, code) for code in city.districts["code"])


@memo(ttl_s=600, max_entries=8, message="正在汇总全市各区县的考核指标 …")
def city_card(refs: tuple[DataRef, ...]) -> Scorecard:
    """The city's card from each district's own card at ``refs`` (planning.scorecard.city_scorecard)."""
    return city_scorecard({ref.district_code: scorecard(ref) for ref in refs},
                          amber_share=get_config().scorecard.amber_share)


@memo(ttl_s=300)
def since_dates(refs: tuple[DataRef, ...]) -> list[dt.date]:
    """The baselines a city comparison can pick: every earlier data date of any of its districts, newest first."""
    return sorted({d for ref in refs for d in district_since_dates(ref)}, reverse=True)


@memo(ttl_s=600, max_entries=8, message="正在汇总全市各区县基期的考核指标 …")
def city_card_since(refs: tuple[DataRef, ...], date: dt.date) -> tuple[Scorecard, dict[str, DatedRef]]:
    """The city's card of the data as it stood on ``date`` (each district's as it stood then: a kind a district
    has no version that old of reads its earliest, as a district's own comparison does), and which versions."""
    dated = {ref.district_code: dated_ref(ref, date) for ref in refs}
    card = city_scorecard({code: scorecard(d.ref) for code, d in dated.items()},
                          amber_share=get_config().scorecard.amber_share)
    return card, dated


def since_words(dated: dict[str, DatedRef], names: dict[str, str]) -> str:
    """Which data a city baseline is, kind by kind: held that old by every district, or by which not."""
    parts = []
    for kind in sorted(HISTORY_KINDS):
        held = [code for code, d in dated.items() if kind in d.dates]
        late = [code for code in held if kind in dated[code].later]
        if not held:
            continue
        if not late:
            parts.append(f"{KIND_ZH[kind]}：各区县均为该日或更早的版本")
        elif len(late) == len(held):
            parts.append(f"{KIND_ZH[kind]}：各区县都没有该日或更早的版本，按现有最早版本计")
        else:
            parts.append(f"{KIND_ZH[kind]}：{'、'.join(names.get(c, c) for c in late)}没有该日或更早的版本，按现有最早版本计")
    return "基期数据：" + ("；".join(parts) or "—")


@memo(ttl_s=600, max_entries=8)
def district_outlines(refs: tuple[DataRef, ...]) -> gpd.GeoDataFrame:
    """code, name and outline of every district at ``refs`` (WGS84), by code."""
    frames = [repo_call(ref.only(("district",)), lambda r: r.district()).reset_index(drop=True) for ref in refs]
    out = gpd.GeoDataFrame(pd.concat(frames), geometry="geometry", crs="EPSG:4326")
    out = out.dissolve(by="code", as_index=False)[["code", "name", "geometry"]]
    return out.set_index("code", drop=False)


@memo(ttl_s=600, max_entries=8)  # the page says it at every rerun; new data makes new refs
def cards_computed(refs: tuple[DataRef, ...]) -> str:
    """When and how the districts' stored cards at ``refs`` were computed, in words (the city's figures sum them)."""
    found = [results.stored_when(ref, "scorecard") for ref in refs]
    held = [f for f in found if f is not None]
    if not held:
        return "各区县考核结果为本次计算"
    zone = get_config().app.zone
    first, last = (t.replace(tzinfo=dt.UTC).astimezone(zone) for t in (min(f[0] for f in held), max(f[0] for f in held)))
    batch = sum(str(f[1]).startswith("batch") for f in held)
    a, b = f"{first:%Y-%m-%d %H:%M}", f"{last:%Y-%m-%d %H:%M}"
    when = a if a == b else f"{a} 至 {b}"
    by_batch = f"（其中 {batch} 个由批量计算）" if batch else ""
    return (f"{len(held)} 个区县的考核结果计算于 {when}{by_batch}，均对应其当前数据版本与参数"
            + (f"；{len(refs) - len(held)} 个区县为本次计算" if len(held) < len(refs) else ""))


@memo(ttl_s=600, max_entries=8)
def data_dates(refs: tuple[DataRef, ...]) -> list[str]:
    """The districts' data dates, each once, in order (their meta only: no layer is read for it)."""
    return sorted({repo_call(ref, lambda r: r.meta()).get("data_date", "—") for ref in refs})


def city_outline(outlines: gpd.GeoDataFrame, city: City) -> gpd.GeoDataFrame:
    """The city's boundary (the union of its districts') as a one-row frame, as the maps draw a district's."""
    return gpd.GeoDataFrame({"code": [city.code], "name": [city.name]},
                            geometry=[shapely.union_all(outlines.geometry.values)], crs="EPSG:4326")


class CityError(ValueError):
    """No such city in the database (the message says which cities there are)."""


def city_named(url: str, code: str) -> City:
    """The city of ``code`` with its districts held in the database (for the command line: no account)."""
    listing = district_list(url)
    part = listing[listing["city_code"] == code]
    if part.empty:
        held = sorted(set(listing["city_code"]))
        msg = (f"数据库中没有城市 {code} 的区县；已有的城市代码：{'、'.join(held) or '无'}"
               f"（演示城市：python cli.py demo --city 120000）")
        raise CityError(msg)
    return City(code, _city_names(url).get(code, f"市 {code}"), part[["code", "name", "is_demo"]].reset_index(drop=True))


CITY_RESOLUTION = 7  # the city map's elder hexagons (about 5 km² each): the whole city at once in a browser


@dataclass(frozen=True)
class CityCircle:
    """15分钟服务圈 for a whole city: each district by its own engine (its neighbours' sites counted as the
    configuration says), summed; each elder counted once, in their own district."""

    table: pd.DataFrame  # per district (index code): elders, covered, own, across, gap, share
    counted: bool  # the neighbours' sites count in ``covered`` ([coverage] count_neighbouring_districts)
    shares: gpd.GeoDataFrame  # elder hexagons at CITY_RESOLUTION: hex, elders, uncovered, share (geo.density)

    @property
    def elders(self) -> float:
        return float(self.table["elders"].sum())

    @property
    def covered(self) -> float:
        return float(self.table["covered"].sum())

    @property
    def across(self) -> float:
        return float(self.table["across"].sum())

    @property
    def share(self) -> float:
        return self.covered / self.elders if self.elders else 0.0


@memo(kind="resource", ttl_s=600, max_entries=16, message="正在计算全市各区县的步行覆盖 …")
def city_circle(refs: tuple[DataRef, ...], kind_ids: tuple[str, ...], minutes: int, speed: float,
                category: str) -> CityCircle:
    """Every district's walk to these kinds' sites within ``minutes`` at ``speed``: its elders of ``category``,
    those reached (by its own sites, and only across its border), and the city's hexagons of them."""
    from geo.density import uncovered_share
    from services import coverage

    rows, covered, uncovered = [], [], []
    counted = get_config().coverage.count_neighbouring_districts
    for ref in refs:
        eng = coverage.engine(ref)
        own, across, total = coverage.across_border(eng, kind_ids, minutes, speed).total(category)
        result = coverage.evaluate(eng, kind_ids, minutes, speed)
        cov, unc = coverage.coverage_hexes(eng, result, category, CITY_RESOLUTION)
        covered.append(cov)
        uncovered.append(unc)
        reached = own + across if counted else own
        rows.append({"code": ref.district_code, "elders": total, "covered": reached, "own": own, "across": across,
                     "gap": total - reached, "share": reached / total if total else 0.0})
    shares = uncovered_share(pd.concat(covered, ignore_index=True), pd.concat(uncovered, ignore_index=True))
    return CityCircle(pd.DataFrame(rows).set_index("code"), counted, shares)


@dataclass(frozen=True)
class CityLayers:
    """一张图 for a whole city: every district's facilities and elders read as each district's pages read them."""

    facilities: gpd.GeoDataFrame  # every district's (their own columns), with ``district_code``
    density: gpd.GeoDataFrame  # the city's elders (60+) in hexagons at CITY_RESOLUTION: hex, total, geometry
    kpis: OverviewKPIs  # of the whole city: sums over every row, not over the districts' figures
    by_district: pd.DataFrame  # per district (index code): elders, elders_80, facilities (operating), beds_per_1000


@memo(kind="resource", ttl_s=600, max_entries=4, message="正在读取全市各区县的设施与老人 …")
def city_layers(refs: tuple[DataRef, ...]) -> CityLayers:
    from geo.density import hex_density
    from services.base import area_kpis, base_layers, kpis_of

    facilities, elders, rows = [], [], []
    for ref in refs:
        layers = base_layers(ref)
        facilities.append(layers.facilities.assign(district_code=ref.district_code))
        elders.append(layers.elders)
        k = area_kpis(layers, None)
        rows.append({"code": ref.district_code, "elders": k.elders_60_plus, "elders_80": k.elders_80_plus,
                     "facilities": sum(k.facilities_by_level.values()), "beds_per_1000": k.beds_per_1000})
    fac = gpd.GeoDataFrame(pd.concat(facilities, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    eld = gpd.GeoDataFrame(pd.concat(elders, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    kpis = kpis_of(fac, eld)  # over every row of the city: its beds per 1,000 is not a mean of the districts'
    density = hex_density(eld, resolution=CITY_RESOLUTION, count_columns=("age_60_69", "age_70_79", "age_80_plus"))
    return CityLayers(fac, density, kpis, pd.DataFrame(rows).set_index("code"))
