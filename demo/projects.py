"""Synthetic residential projects with housing and facility milestones.

Most follow the four-synchronous (四同步) rules; a deliberate share break
them in the ways planners meet in practice: an undersized facility room, a
facility that lags the housing at some stage, a missing date, a room not in
elderly-care use after delivery.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from shapely.geometry import Point

_COMPOUND_NAMES = (
    "康馨苑", "和顺家园", "福安里", "颐景花园", "悦澜府", "锦绣华庭", "运河湾", "丰泽园",
    "盛世嘉园", "华康佳苑", "润泽名邸", "金域蓝湾", "阳光新城", "书香苑", "龙湖春晓", "尚品雅居",
    "馨宁苑", "瑞景家园", "团泊湖畔", "子牙河院", "青泊雅苑", "安和里", "富康园", "益寿家园",
)

_STAGES = ("plan", "build", "accept", "deliver")


def _add_days(d: dt.date, days: int) -> dt.date:
    return d + dt.timedelta(days=int(days))


def build_projects(
    *,
    sites: list[tuple[str, str, Point]],
    count: int,
    as_of: dt.date,
    inside,
    rng: np.random.Generator,
) -> list[dict]:
    """``sites``: (township code, township name, metric point) near which compounds sit."""
    out = []
    for k in range(count):
        town_code, town_name, centre = sites[int(rng.integers(0, len(sites)))]
        for _ in range(50):
            a, r = rng.uniform(0, 2 * np.pi), rng.uniform(200, 1500)
            p = Point(centre.x + r * np.cos(a), centre.y + r * np.sin(a))
            if inside(town_code, p):
                break
        else:
            p = centre
        households = int(rng.integers(3, 26) * 100 + rng.integers(0, 100))
        area_type = "old" if rng.uniform() < 0.2 else "new"
        per100 = 20.0 if area_type == "new" else 15.0
        need = households / 100.0 * per100

        plan = dt.date(2018, 1, 1) + dt.timedelta(days=int(rng.integers(0, 6 * 365)))
        housing = {"plan": plan}
        housing["build"] = _add_days(plan, rng.integers(120, 300))
        housing["accept"] = _add_days(housing["build"], rng.integers(600, 900))
        housing["deliver"] = _add_days(housing["accept"], rng.integers(60, 180))
        for stage in _STAGES:
            if housing[stage] > as_of:
                housing[stage] = None
        facility = {s: housing[s] for s in _STAGES}
        area = round(need * rng.uniform(1.0, 1.5), 1)
        in_use = housing["deliver"] is not None

        fault = rng.uniform()
        if fault < 0.12:
            area = round(need * rng.uniform(0.5, 0.95), 1)  # undersized room
        elif fault < 0.24:
            stage = str(rng.choice([s for s in _STAGES if housing[s] is not None]))
            facility[stage] = _add_days(housing[stage], rng.integers(30, 400))  # lagging stage
            later = _STAGES[_STAGES.index(stage) + 1:]
            for s in later:
                if facility[s] is not None and facility[s] < facility[stage]:
                    facility[s] = _add_days(facility[stage], rng.integers(0, 60))
        elif fault < 0.32:
            stage = str(rng.choice([s for s in _STAGES if housing[s] is not None]))
            for s in _STAGES[_STAGES.index(stage):]:
                facility[s] = None  # facility stage never reached
        elif fault < 0.38 and in_use:
            in_use = False  # delivered but used for something else

        for s in _STAGES:
            if facility[s] is not None and facility[s] > as_of:
                facility[s] = None
        out.append(
            {
                "name": f"{town_name.removesuffix('街道').removesuffix('镇').removesuffix('乡')}·{_COMPOUND_NAMES[k % len(_COMPOUND_NAMES)]}{'' if k < len(_COMPOUND_NAMES) else '二期'}",
                "township_code": town_code,
                "point": p,
                "households": households,
                "area_type": area_type,
                "facility_area_m2": area,
                "facility_in_elderly_use": bool(in_use and facility["deliver"] is not None),
                **{f"housing_{s}_on": housing[s] for s in _STAGES},
                **{f"facility_{s}_on": facility[s] for s in _STAGES},
            }
        )
    return out
