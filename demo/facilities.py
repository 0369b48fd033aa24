"""Synthetic facilities following the 1+3+N pattern, with gaps left to find.

One district dispatch centre; a care centre and a health centre per township
(街道/镇/乡); stations in most urban communities and mutual-aid homes in
about half of the villages; day care, meal points, institutions with beds,
village clinics, rehab and nursing stations. A few townships are left
clearly under-served, and some centres miss a medical partner or a trained
professional, so the scorecard has something to show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Point

_UNDERSERVED_SHARE = 0.2  # of agricultural townships


@dataclass(frozen=True)
class Site:
    code: str  # community code, or township code for seat facilities
    name: str
    township_code: str
    township_name: str
    point: Point  # metric
    urban: bool


def short_name(name: str) -> str:
    """'一街村村委会' -> '一街村', '花园路社区居委会' -> '花园路社区'."""
    if name.endswith("村委会"):
        stem = name.removesuffix("村委会")
        return stem if stem.endswith("村") else stem + "村"
    return name.removesuffix("居委会")


def _jitter(p: Point, rng: np.random.Generator, r: float) -> Point:
    a = rng.uniform(0, 2 * np.pi)
    d = r * np.sqrt(rng.uniform(0, 1))
    return Point(p.x + d * np.cos(a), p.y + d * np.sin(a))


def _date(rng: np.random.Generator, first_year: int, last_year: int) -> dt.date:
    start = dt.date(first_year, 1, 1).toordinal()
    end = dt.date(last_year, 12, 31).toordinal()
    return dt.date.fromordinal(int(rng.integers(start, end + 1)))


def build_facilities(
    *,
    district_seat: tuple[str, str, Point],
    seats: list[Site],
    communities: list[Site],
    agricultural: set[str],
    inside: Callable[[str, Point], bool],
    rng: np.random.Generator,
    district_name: str = "静海区",
    code_prefix: str = "JH",
) -> list[dict]:
    """Facility records (metric ``point``); the caller adds WGS84 geometry. Codes start with ``code_prefix`` (unique
    in a database of several districts: the live tables key a station by its code); names and addresses carry
    ``district_name``."""
    short = district_name.removesuffix("新区").removesuffix("区")
    out: list[dict] = []
    counter: dict[str, int] = {}

    def add(kind: str, name: str, site: Site, point: Point, **attrs) -> None:
        counter[kind] = counter.get(kind, 0) + 1
        if not inside(site.township_code, point):
            point = site.point
        rec = {
            "code": f"{code_prefix}-{kind.upper()}-{counter[kind]:04d}",
            "kind_id": kind,
            "name": name,
            "address": f"天津市{district_name}{site.township_name}{'' if site.code == site.township_code else short_name(site.name)}",
            "township_code": site.township_code,
            "community_code": None if site.code == site.township_code else site.code,
            "point": point,
            "beds_total": 0,
            "beds_care": 0,
            "beds_dementia": 0,
            "staff_total": 0,
            "staff_professional": 0,
            "staff_prejob_trained": 0,
            "medical_partner": False,
            "medical_partner_name": None,
            "operating_model": "公办公营",
            "star_rating": None,
            "opened_on": _date(rng, 2012, 2025),
            "status": "operating",
        }
        rec.update(attrs)
        out.append(rec)

    health_names: dict[str, str] = {}
    underserved = {
        s.township_code
        for s in seats
        if s.township_code in agricultural and rng.uniform() < _UNDERSERVED_SHARE
    }

    seat_code, seat_name, seat_point = district_seat
    dseat = Site(seat_code, seat_name, seat_code, seat_name, seat_point, True)
    add(
        "dispatch_centre", f"{district_name}养老服务调度指挥中心（12349）", dseat, seat_point,
        staff_total=18, staff_professional=6, staff_prejob_trained=18,
        operating_model="公建民营", opened_on=dt.date(2021, 6, 18),
    )

    for s in seats:
        is_street = s.township_name.endswith("街道")
        hname = f"{district_name}{s.township_name}{'社区卫生服务中心' if is_street else '卫生院'}"
        health_names[s.township_code] = hname
        staff = int(rng.integers(25, 70))
        add(
            "health_centre", hname, s, _jitter(s.point, rng, 400),
            staff_total=staff, staff_professional=int(staff * 0.7), staff_prejob_trained=staff,
            beds_total=int(rng.integers(10, 40)) if not is_street else 0,
        )

    for s in seats:
        building = s.township_code in underserved and rng.uniform() < 0.5
        staff = int(rng.integers(4, 12))
        beds = int(rng.integers(10, 30))
        care = int(beds * rng.uniform(0.4, 0.8))
        add(
            "township_centre", f"{s.township_name}居家和社区养老服务中心", s, _jitter(s.point, rng, 300),
            beds_total=beds, beds_care=care, beds_dementia=int(care * rng.uniform(0, 0.3)),
            staff_total=staff, staff_professional=int(rng.integers(0 if s.township_code in underserved else 1, 4)),
            staff_prejob_trained=int(staff * rng.uniform(0.7, 1.0)),
            medical_partner=bool(rng.uniform() < 0.9), operating_model=str(rng.choice(["公建民营", "公办公营"])),
            star_rating=int(rng.integers(2, 6)), status="building" if building else "operating",
        )
        if s.township_code in agricultural and rng.uniform() < 0.85:
            beds = int(rng.integers(40, 160))
            care = int(beds * rng.uniform(0.35, 0.7))
            staff = int(beds / rng.uniform(4, 8))
            add(
                "institution", f"{district_name}{s.township_name}敬老院", s, _jitter(s.point, rng, 900),
                beds_total=beds, beds_care=care, beds_dementia=int(care * rng.uniform(0.05, 0.25)),
                staff_total=staff, staff_professional=int(staff * rng.uniform(0.3, 0.6)),
                staff_prejob_trained=int(staff * rng.uniform(0.8, 1.0)), medical_partner=True,
                operating_model=str(rng.choice(["公建民营", "公办公营"])), star_rating=int(rng.integers(1, 5)),
            )
        for k in range(int(rng.integers(1, 3))):
            add(
                "meal_point", f"{s.township_name}老人家食堂{'' if k == 0 else k + 1}", s, _jitter(s.point, rng, 700),
                staff_total=int(rng.integers(2, 6)), operating_model=str(rng.choice(["公建民营", "民办"])),
            )
            out[-1]["staff_prejob_trained"] = out[-1]["staff_total"]

    for c in communities:
        weak = c.township_code in underserved
        hname = health_names.get(c.township_code)
        partner = bool(rng.uniform() < (0.6 if weak else 0.88))
        if c.urban:
            if rng.uniform() < (0.55 if weak else 0.85):
                staff = int(rng.integers(2, 7))
                add(
                    "community_station", f"{short_name(c.name)}养老服务站", c, _jitter(c.point, rng, 120),
                    beds_total=int(rng.integers(0, 6)), staff_total=staff,
                    staff_professional=int(rng.integers(0, 3)), staff_prejob_trained=int(staff * rng.uniform(0.5, 1.0)),
                    medical_partner=partner, medical_partner_name=hname if partner else None,
                    operating_model=str(rng.choice(["公建民营", "民办", "公办公营"])),
                    star_rating=int(rng.integers(1, 4)) if rng.uniform() < 0.5 else None,
                )
            if rng.uniform() < 0.6:
                staff = int(rng.integers(3, 9))
                beds = int(rng.integers(4, 16))
                add(
                    "day_care", f"{short_name(c.name)}老年日间照料中心", c, _jitter(c.point, rng, 150),
                    beds_total=beds, beds_care=int(beds * 0.5), staff_total=staff,
                    staff_professional=int(rng.integers(0, 3)), staff_prejob_trained=int(staff * rng.uniform(0.6, 1.0)),
                    medical_partner=partner, medical_partner_name=hname if partner else None,
                    operating_model="公建民营",
                )
            if rng.uniform() < 0.3:
                add(
                    "meal_point", f"{short_name(c.name)}助餐点", c, _jitter(c.point, rng, 150),
                    staff_total=int(rng.integers(1, 4)), operating_model="民办",
                )
        else:
            r = rng.uniform()
            if r < (0.15 if weak else 0.45):
                staff = int(rng.integers(1, 4))
                add(
                    "rural_mutual_aid", f"{short_name(c.name)}农村幸福院", c, _jitter(c.point, rng, 120),
                    beds_total=int(rng.integers(0, 10)), staff_total=staff,
                    staff_professional=int(rng.integers(0, 2)), staff_prejob_trained=int(staff * rng.uniform(0.3, 1.0)),
                    medical_partner=partner, medical_partner_name=hname if partner else None,
                    operating_model="村集体", status="suspended" if rng.uniform() < 0.06 else "operating",
                )
            elif r < (0.2 if weak else 0.55):
                staff = int(rng.integers(1, 4))
                add(
                    "community_station", f"{short_name(c.name)}养老服务站", c, _jitter(c.point, rng, 120),
                    staff_total=staff, staff_professional=int(rng.integers(0, 2)),
                    staff_prejob_trained=int(staff * rng.uniform(0.5, 1.0)),
                    medical_partner=partner, medical_partner_name=hname if partner else None,
                    operating_model="公建民营",
                )
            if rng.uniform() < 0.72:
                add(
                    "village_clinic", f"{short_name(c.name)}卫生室", c, _jitter(c.point, rng, 150),
                    staff_total=int(rng.integers(1, 4)), operating_model="村集体",
                )
                out[-1]["staff_professional"] = out[-1]["staff_total"]
                out[-1]["staff_prejob_trained"] = out[-1]["staff_total"]

    # Private institutions and the one embedded complex in the district town,
    # plus a handful of rehab and nursing stations.
    # (a rural county without a residents' committee: its villages; a district with one draws as it always did)
    urban = [c for c in communities if c.urban] or list(communities)
    for k in range(4):
        c = urban[int(rng.integers(0, len(urban)))]
        beds = int(rng.integers(120, 300))
        care = int(beds * rng.uniform(0.5, 0.75))
        staff = int(beds / rng.uniform(3.5, 6))
        add(
            "institution", f"{short}{['康宁', '颐和', '福寿', '仁爱'][k]}养老院", c, _jitter(c.point, rng, 400),
            beds_total=beds, beds_care=care, beds_dementia=int(care * rng.uniform(0.1, 0.3)),
            staff_total=staff, staff_professional=int(staff * rng.uniform(0.4, 0.7)),
            staff_prejob_trained=staff, medical_partner=True, medical_partner_name=f"{district_name}医院",
            operating_model="民办", star_rating=int(rng.integers(3, 6)),
        )
    c = urban[int(rng.integers(0, len(urban)))]
    add(
        "embedded_complex", f"{short_name(c.name)}嵌入式养老服务综合体", c, _jitter(c.point, rng, 150),
        beds_total=48, beds_care=36, beds_dementia=10, staff_total=22, staff_professional=9,
        staff_prejob_trained=22, medical_partner=True, medical_partner_name=f"{district_name}医院",
        operating_model="公建民营", star_rating=4, opened_on=dt.date(2023, 9, 1),
    )
    for _ in range(5):
        c = communities[int(rng.integers(0, len(communities)))]
        add(
            "rehab_nursing", f"{short_name(c.name)}医养康复护理站", c, _jitter(c.point, rng, 150),
            staff_total=int(rng.integers(3, 8)), staff_professional=3, staff_prejob_trained=3,
            medical_partner=True, medical_partner_name=health_names.get(c.township_code),
            operating_model="民办",
        )
    return out


def facilities_on(rows: list[dict], date: dt.date) -> list[dict]:
    """The facility list as it stood on ``date``, derived from the opening dates: built facilities
    (operating or suspended now) opened on or before it. Beds, staff and partners as now."""
    return [dict(r) for r in rows
            if r["status"] in ("operating", "suspended") and r["opened_on"] is not None and r["opened_on"] <= date]
