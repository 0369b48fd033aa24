"""A city's view (issue 29, item 3): its districts, their outlines and the city's card from each district's own.

A user sees a city only when they may see every district of it held in the database (an account bound to the
city, or to no area): ``cities_of``. A district's planner or a township head never gets a city figure here, so no
other district's number reaches them through it.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely

from data.accounts import User
from data.db import session_factory
from data.models import KIND_ZH
from data.versions import DataRef, DatedRef
from planning.kpis import OverviewKPIs
from planning.scorecard import Scorecard, card_from_dict, city_scorecard
from services import access, results
from services.base import current_ref, district_list, get_config, get_engine, repo_call
from services.cache import memo
from services.scorecard import HISTORY_KINDS, dated_ref, scorecard
from services.scorecard import since_dates as district_since_dates


@dataclass(frozen=True)
class City:
    """A city, or a province (``level``), with its districts held in the database."""

    code: str
    name: str
    districts: pd.DataFrame  # code, name, is_demo: the districts of the city held in the database, by code
    level: str = "city"  # "city" | "province" (全省: its districts in two or more cities)

    @property
    def names(self) -> dict[str, str]:
        """District code → name, in code order."""
        return dict(zip(self.districts["code"], self.districts["name"], strict=True))

    @property
    def word(self) -> str:
        """市 or 省: the UI's 全市 / 全省."""
        return "省" if self.level == "province" else "市"


def cities_of(url: str, user: User, *, provinces: bool = False) -> list[City]:
    """The cities with at least two districts in the database whose every district the user may see; with
    ``provinces``, before them the provinces whose districts are in two or more cities (a province's overview)."""
    listing = district_list(url)
    if user.townships and not user.has("leader", "planner"):
        return []  # a township head's view is their township
    names = _city_names(url)
    out = []
    for code, part in listing.groupby("city_code"):
        if len(part) < 2 or not all(access.may_see_district(user, c) for c in part["code"]):
            continue
        out.append(City(str(code), names.get(code, f"市 {code}"),
                        part[["code", "name", "is_demo"]].reset_index(drop=True)))
    if provinces:  # first: the widest view an account covers opens first
        whole = []
        for prefix, part in listing.groupby(listing["code"].str[:2]):
            code = f"{prefix}0000"
            if part["city_code"].nunique() < 2 or not all(access.may_see_district(user, c) for c in part["code"]):
                continue
            whole.append(City(code, names.get(code, f"省 {code}"), part[["code", "name", "is_demo"]]
                              .reset_index(drop=True), level="province"))
        out = whole + out
    return out


def _city_names(url: str) -> dict[str, str]:
    """Every name the database gives an area code: its cities', and a generated province's (data.models.City)."""
    from sqlalchemy import select

    from data.models import City as CityRow

    with session_factory(get_engine(url))() as session:
        return dict(session.execute(select(CityRow.code, CityRow.name)).all())


def district_refs(url: str, city: City) -> tuple[DataRef, ...]:
    """The current versions of every district of the city (read on every run: an import shows at once)."""
    return tuple(current_ref(url, code) for code in city.districts["code"])


@dataclass(frozen=True)
class AreaCards:
    """A city's (or a province's) card and where each district's came from: its stored result (``held``: current
    or stale, with what changed since) or, where none was usable, computed now (``held`` None)."""

    card: Scorecard
    held: dict[str, results.Held | None]
    cards: dict[str, Scorecard]  # each district's own card, as summed
    missing: tuple[str, ...] = ()  # districts with no stored card, left out (a province: never computed on open)

    @property
    def stale(self) -> list[str]:
        return [code for code, h in self.held.items() if h is not None and not h.current]

    @property
    def computed_now(self) -> list[str]:
        return [code for code, h in self.held.items() if h is None]


@memo(ttl_s=600, max_entries=8, message="正在读取全市各区县的考核结果 …")
def area_cards(refs: tuple[DataRef, ...], compute_missing: bool = True) -> AreaCards:
    """The area's card from each district's newest stored card, stale or not (a view opens from them at once and
    says which are stale); a district with none (or one of other targets than the configuration's) is computed
    now and stored, or left out and named when not ``compute_missing``."""
    config = get_config()
    targets = {t.id: t for t in config.targets}
    cards, held, missing = {}, {}, []
    for ref in refs:
        found = results.newest(ref, "scorecard")
        usable = found is not None and set(found.payload["targets"]) | set(found.payload["unsupported"]) == set(targets)
        if usable:
            cards[ref.district_code], held[ref.district_code] = card_from_dict(found.payload, targets), found
        elif compute_missing:
            cards[ref.district_code], held[ref.district_code] = scorecard(ref), None
        else:
            missing.append(ref.district_code)
    if not cards:
        msg = "这些区县都还没有考核结果：请由数据管理员运行 python cli.py batch scorecard 计算"
        raise CityError(msg)
    return AreaCards(city_scorecard(cards, amber_share=config.scorecard.amber_share), held, cards, tuple(missing))


def city_card(refs: tuple[DataRef, ...]) -> Scorecard:
    """The city's card from each district's newest stored card (computed where none is): :func:`area_cards`."""
    return area_cards(refs).card


BY_ZH = {"batch": "批量计算", "page": "页面计算"}


def result_states(refs: tuple[DataRef, ...], names: dict[str, str]) -> pd.DataFrame:
    """Each district's stored card: code, name, state (current | stale | none), what changed since (stale), when
    (local time), by whom and how long it took — what a data admin refreshes from."""
    zone = get_config().app.zone
    rows = []
    for ref in refs:
        h = results.newest(ref, "scorecard")
        state = "none" if h is None else "current" if h.current else "stale"
        rows.append({"code": ref.district_code, "name": names.get(ref.district_code, ref.district_code),
                     "state": state, "changed": "、".join(h.newer) if h else "",
                     "computed_at": (h.computed_at.replace(tzinfo=dt.UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")
                                     if h else ""),
                     "by": BY_ZH.get(h.computed_by.split(" ")[0], h.computed_by) if h else "",
                     "seconds": h.seconds if h else float("nan")})
    return pd.DataFrame(rows)


def refresh(url: str, caller, refs: tuple[DataRef, ...], codes: list[str],
            progress=None) -> tuple[list[str], dict[str, str]]:
    """A data admin's refresh: the cards of ``codes`` among ``refs`` computed and stored for their current data
    (each district's own scope checked, the refresh audited): those computed, and each that failed with its
    reason (bad data stops only its own district). Cached area cards go."""
    from services import audit

    chosen = [ref for ref in refs if ref.district_code in set(codes)]
    for ref in chosen:  # the whole district's card: refused (and audited) outside the account's area or townships
        audit.allowed_area(url, caller, "results.refresh", ref.district_code, None)
    started = time.perf_counter()
    done, failed = [], {}
    for i, ref in enumerate(chosen):
        if progress:
            progress(i / len(chosen), ref.district_code)
        try:
            scorecard(ref)  # the current card, stored for these versions unless it already is
        except Exception as exc:  # noqa: BLE001 - a district's bad data is said, and the others go on
            failed[ref.district_code] = str(exc)[:300] or type(exc).__name__
        else:
            done.append(ref.district_code)
    area_cards.clear()
    audit.record(url, "results.refresh", object=",".join(r.district_code for r in chosen)[:200],
                 actor=caller.actor, outcome="failed" if failed else "ok",
                 detail={"computed": len(done), "failed": sorted(failed),
                         "seconds": round(time.perf_counter() - started, 1)})
    return done, failed


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


def cards_computed(cards: AreaCards, names: dict[str, str]) -> str:
    """When and how the districts' cards the area's figures sum were computed, in words: the stored ones' time
    span (and how many by the batch), those computed now, and each stale one with what has changed since."""
    held = [h for h in cards.held.values() if h is not None]
    zone = get_config().app.zone
    parts = []
    if held:
        first, last = (t.replace(tzinfo=dt.UTC).astimezone(zone)
                       for t in (min(h.computed_at for h in held), max(h.computed_at for h in held)))
        a, b = f"{first:%Y-%m-%d %H:%M}", f"{last:%Y-%m-%d %H:%M}"
        batch = sum(h.computed_by.startswith("batch") for h in held)
        parts.append(f"{len(held)} 个区县的考核结果读自已存结果，计算于 {a if a == b else f'{a} 至 {b}'}"
                     + (f"（其中 {batch} 个由批量计算）" if batch else ""))
    if cards.computed_now:
        parts.append(f"{len(cards.computed_now)} 个区县为本次计算")
    if cards.stale:
        why: dict[str, list[str]] = {}  # what changed → the districts it made stale
        for c in cards.stale:
            why.setdefault("、".join(cards.held[c].newer), []).append(c)
        parts.append("已过期（计算后有更新）：" + "；".join(
            f"{'全部区县' if len(codes) == len(cards.held) > 1 else '、'.join(names.get(c, c) for c in codes)}"
            f"（{what}）" for what, codes in why.items()))
    elif held:
        parts.append("均对应各区县当前的数据版本与参数")
    if cards.missing:
        parts.append(f"尚无结果、未计入：{'、'.join(names.get(c, c) for c in cards.missing)}")
    return "；".join(parts)


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


def default_circle() -> tuple[tuple[str, ...], int, float, str]:
    """The query a city's 15-minute circle opens with (the page's defaults): every care service, the longest
    walk band, the configured speed, all elders — the one stored per district (result ``coverage``)."""
    config = get_config()
    care = tuple(sorted(k.id for k in config.facility_kinds if k.care_service))
    return care, int(max(config.walking.time_bands_min)), float(config.walking.speed_mps), "elders"


def district_circle(ref: DataRef, kind_ids: tuple[str, ...], minutes: int, speed: float, category: str) -> dict:
    """One district's part of a city's circle, as JSON: its elders of ``category`` reached by its own sites and
    only across its border, and its covered and uncovered elders by hexagon (CITY_RESOLUTION)."""
    from services import coverage

    eng = coverage.engine(ref)
    own, across, total = coverage.across_border(eng, kind_ids, minutes, speed).total(category)
    cov, unc = coverage.coverage_hexes(eng, coverage.evaluate(eng, kind_ids, minutes, speed), category,
                                       CITY_RESOLUTION)
    return {"query": [list(kind_ids), minutes, speed, category], "own": float(own), "across": float(across),
            "total": float(total), "covered": dict(zip(cov["hex"], map(float, cov["n"]), strict=True)),
            "uncovered": dict(zip(unc["hex"], map(float, unc["n"]), strict=True))}


def circle_part(ref: DataRef, kind_ids: tuple[str, ...], minutes: int, speed: float, category: str) -> dict:
    """:func:`district_circle`, read from the stored result when the query is the default (``cli.py batch
    coverage`` fills them; the first page to compute one stores it), else computed."""
    query = (tuple(sorted(kind_ids)), int(minutes), float(speed), category)
    if query != default_circle():
        return district_circle(ref, *query)
    found = results.stored(ref, "coverage")
    if found is not None:
        return found
    started = time.perf_counter()
    part = district_circle(ref, *query)
    results.store(ref, "coverage", part, seconds=time.perf_counter() - started)
    return part


def _hexes(counts: dict[str, float]) -> gpd.GeoDataFrame:
    """Hexagons (``hex``, ``n``, ``geometry``) of stored counts."""
    from geo.density import hex_polygons

    cells = sorted(counts)
    return gpd.GeoDataFrame({"hex": cells, "n": [counts[c] for c in cells]}, geometry=hex_polygons(cells),
                            crs="EPSG:4326")


@memo(kind="resource", ttl_s=600, max_entries=16, message="正在计算全市各区县的步行覆盖 …")
def city_circle(refs: tuple[DataRef, ...], kind_ids: tuple[str, ...], minutes: int, speed: float,
                category: str) -> CityCircle:
    """Every district's walk to these kinds' sites within ``minutes`` at ``speed``: its elders of ``category``,
    those reached (by its own sites, and only across its border), and the city's hexagons of them."""
    from geo.density import uncovered_share

    rows, covered, uncovered = [], [], []
    counted = get_config().coverage.count_neighbouring_districts
    for ref in refs:
        part = circle_part(ref, kind_ids, minutes, speed, category)
        covered.append(_hexes(part["covered"]))
        uncovered.append(_hexes(part["uncovered"]))
        own, across, total = part["own"], part["across"], part["total"]
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
