"""How dense each district of the demo city is: its seat, people, elders, streets and projects.

Real (approximate, public): each district government's seat, read off public maps to about a kilometre, and each
district's resident population in the 2020 census (七普, rounded to thousands; Tianjin's 16 sum to 13.86 million).
Synthetic: everything derived from them. Elders are the population times the share of people aged 60 and over,
higher in the six old central districts (天津 2020: 21.7 % overall); Jinghai keeps the demo's own 150,000, so the
Jinghai demo is the same district whether built alone or in its city.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class RoadProfile:
    """The district town's street grid: how far it reaches from the seat and how fine it is (metres)."""

    town_half_m: float = 2600.0
    block_m: float = 150.0
    step_m: float = 50.0
    whole_district: bool = False  # the grid covers the whole outline (a central urban district)


@dataclass(frozen=True)
class DistrictProfile:
    code: str
    seat: tuple[float, float]  # the district government's seat, WGS84 (approximate)
    population: int  # resident population, 2020 census (rounded)
    elders: int  # synthetic 60+ total
    projects: int  # synthetic residential projects
    roads: RoadProfile
    central: bool  # one of the six old urban districts


_CENTRAL_SHARE = 0.26  # 60+ share used for the old central districts
_OUTER_SHARE = 0.20
_URBAN = RoadProfile(block_m=110.0, step_m=22.0, whole_district=True)
_SUBURBAN = RoadProfile(town_half_m=4200.0, block_m=130.0, step_m=32.0)
_RURAL = RoadProfile()

# code: (seat lon, seat lat, population 2020)
_TIANJIN = {
    "120101": (117.2180, 39.1172, 355_000),  # 和平区
    "120102": (117.2517, 39.1281, 859_000),  # 河东区
    "120103": (117.2233, 39.1097, 822_000),  # 河西区
    "120104": (117.1506, 39.1383, 890_000),  # 南开区
    "120105": (117.1969, 39.1481, 648_000),  # 河北区
    "120106": (117.1517, 39.1675, 483_000),  # 红桥区
    "120110": (117.3142, 39.0864, 857_000),  # 东丽区
    "120111": (117.0089, 39.1414, 1_195_000),  # 西青区
    "120112": (117.3572, 38.9378, 928_000),  # 津南区
    "120113": (117.1353, 39.2242, 909_000),  # 北辰区
    "120114": (117.0440, 39.3842, 1_151_000),  # 武清区
    "120115": (117.3097, 39.7169, 722_000),  # 宝坻区
    "120116": (117.7100, 39.0031, 2_067_000),  # 滨海新区
    "120117": (117.8264, 39.3300, 395_000),  # 宁河区
    "120118": (116.9185, 38.9345, 787_000),  # 静海区
    "120119": (117.4078, 40.0453, 795_000),  # 蓟州区
}
_CENTRAL = ("120101", "120102", "120103", "120104", "120105", "120106")
_SUBURBS = ("120110", "120111", "120112", "120113", "120116")
JINGHAI = "120118"
JINGHAI_ELDERS = 150_000
JINGHAI_PROJECTS = 40
CITY_NAMES = {"120000": "天津市"}  # a province's: demo.sources.city_names
# the origin of the street lattice the central districts share (WGS84; near 海河's bend in 和平区): their grids are
# pieces of one lattice, so their streets join across the district borders
CITY_LATTICE_ORIGIN = (117.2000, 39.1200)


def district_profile(code: str) -> DistrictProfile:
    """The profile of one Tianjin district, or of a bundled province's (:func:`synthetic_profile`; ValueError naming
    the known codes for any other)."""
    if code not in _TIANJIN:
        return synthetic_profile(code)
    lon, lat, people = _TIANJIN[code]
    central = code in _CENTRAL
    if code == JINGHAI:
        elders, projects = JINGHAI_ELDERS, JINGHAI_PROJECTS
    else:
        elders = round(people * (_CENTRAL_SHARE if central else _OUTER_SHARE), -3)
        projects = max(12, min(80, round(JINGHAI_PROJECTS * people / _TIANJIN[JINGHAI][2])))
    roads = _URBAN if central else _SUBURBAN if code in _SUBURBS else _RURAL
    return DistrictProfile(code, (lon, lat), people, int(elders), projects, roads, central)


# A province's districts (issue 30): no seat or census figure per district is bundled, so each is synthetic from
# its city's 2020 census population (七普, millions, rounded; as quoted by public reports, not checked against the
# bulletins: they sum to Hebei's 74.6 million) shared among the city's districts by area, an urban district (区)
# three times as dense as a county; its seat the outline's representative point; elders at Hebei's 60+ share.
_HEBEI_CITY_PEOPLE_M = {"130100": 11.24, "130200": 7.72, "130300": 3.14, "130400": 9.41, "130500": 7.11,
                        "130600": 11.54, "130700": 4.12, "130800": 3.35, "130900": 7.30, "131000": 5.46,
                        "131100": 4.21}
_HEBEI_ELDER_SHARE = 0.1985  # 河北 2020: 60+ share of residents
_URBAN_WEIGHT = 3.0


@functools.cache
def _metric_area_km2(code: str) -> float:
    from demo.sources import load_district
    from geo.crs import WGS84, transform_geom, utm_crs_for

    outline = load_district(code).outline
    c = outline.centroid
    return transform_geom(outline, WGS84, utm_crs_for(c.x, c.y)).area / 1e6


def synthetic_profile(code: str) -> DistrictProfile:
    """The synthetic profile of a bundled province's district (ValueError for a code of no bundled province)."""
    from demo.sources import city_district_codes, load_district

    city = code[:4] + "00"
    if city not in _HEBEI_CITY_PEOPLE_M:
        msg = f"no demo profile for district {code!r}; known: Tianjin's {sorted(_TIANJIN)} and Hebei's (13xxxx)"
        raise ValueError(msg)
    src = load_district(code)

    def weight(c: str) -> float:
        return _metric_area_km2(c) * (_URBAN_WEIGHT if load_district(c).name.endswith("区") else 1.0)

    siblings = city_district_codes(city)
    people = _HEBEI_CITY_PEOPLE_M[city] * 1e6 * weight(code) / sum(weight(c) for c in siblings)
    urban = src.name.endswith("区")
    seat = src.outline.representative_point()
    elders = int(round(people * _HEBEI_ELDER_SHARE, -3))
    projects = max(12, min(80, round(JINGHAI_PROJECTS * people / _TIANJIN[JINGHAI][2])))
    return DistrictProfile(code, (round(seat.x, 4), round(seat.y, 4)), int(round(people, -3)), max(elders, 1000),
                           projects, _SUBURBAN if urban else _RURAL, False)
