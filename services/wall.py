"""大屏 (the wall display): what a screen in the dispatch centre shows, as plain JSON data for web/wall.py.

One call reads the live panels fresh (stations and open alerts, as 实时监测 reads them), the area's KPIs and the
scorecard's lights, within the account's scope: a display account bound to a township shows that township. Only
aggregates and stations' public names: no person, no device and no free text of an alert's detail.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import shapely

from services import base, live
from services import scorecard as sc
from services.access import Scope, may_see_district, scope_of
from services.scorecard import DISTRICT

ALERTS_SHOWN = 12
STATE_ZH = {"open": "运营中", "closed": "已闭馆", "silent": "失联", "never": "未接入"}
SEVERITY_ZH = {"critical": "紧急", "warning": "警告", "info": "提示"}


class WallError(ValueError):
    """No district the account may show; the message says which."""


def wall_district(url: str, user, asked: str | None) -> str:
    """The district the wall shows: the one asked for, else the configuration's, else the account's first."""
    codes = [c for c in base.district_list(url)["code"] if may_see_district(user, c)]
    for code in (asked, base.get_config().app.district_code, *codes):
        if code and code in codes:
            if asked and code != asked:
                msg = f"账号 {user.login} 不能显示区县 {asked}；可显示：{'、'.join(codes) or '无'}"
                raise WallError(msg)
            return code
    msg = f"账号 {user.login} 没有可显示的区县"
    raise WallError(msg)


def _rings(geom, tolerance: float) -> list[list[list[float]]]:
    """A polygon's outer rings, simplified, as [[lon, lat], …] lists rounded to 5 decimals (about a metre)."""
    simple = shapely.simplify(geom, tolerance, preserve_topology=True)
    polys = getattr(simple, "geoms", [simple])
    return [np.round(np.asarray(p.exterior.coords), 5).tolist() for p in polys if not p.is_empty]


def wall_data(url: str, user, district: str, *, now: dt.datetime | None = None) -> dict:
    """Everything one refresh of the wall draws, within ``user``'s scope in ``district``."""
    config = base.get_config()
    scope: Scope = scope_of(user, district)
    ref = base.current_ref(url, district)
    layers = base.base_layers(ref, scope.townships)
    view = live.live_view(ref, layers, config, scope=scope, now=now)
    area = next(iter(scope.townships)) if not scope.whole and len(scope.townships) == 1 else None
    names = dict(zip(layers.townships["code"], layers.townships["name"], strict=True))
    shown = layers.townships[layers.townships["code"].isin(scope.townships)] if not scope.whole else layers.outline
    tolerance = 0.0005 if not scope.whole else 0.001
    kpis = base.area_kpis(layers, area)  # the layers are the scope's already: several townships sum
    fac = layers.facilities if area is None else layers.facilities[layers.facilities["township_code"] == area]
    care_sites = int((fac["kind_id"].isin(sc.care_kind_ids()) & (fac["status"] == "operating")).sum())
    card = sc.scorecard_for(ref, scope)
    cells = card.area(area or DISTRICT)  # one township's lights, else the district's
    lights = [{"id": t.id, "label": t.label_zh, "light": cells.loc[t.id, "light"],
               "text": sc.fmt_value(cells.loc[t.id, "value"], t.unit), "target": sc.fmt_target(t)}
              for t in card.targets]
    walk = next((x["text"] for x in lights if x["id"] == "walk15_coverage"), "—")
    stations = view.stations
    counts = stations["state"].value_counts()
    return {
        "area": names[area] if area else str(layers.outline["name"].iloc[0]),
        "district": district,
        "generated_at": view.now.strftime("%Y-%m-%d %H:%M:%S"),
        "outline": [ring for g in shown.geometry for ring in _rings(g, tolerance)],
        "stations": [{"x": round(p.x, 5), "y": round(p.y, 5), "state": s, "alerts": int(n)}
                     for p, s, n in zip(stations.geometry, stations["state"], stations["open_alerts"], strict=True)],
        "states": [{"state": k, "label": v, "n": int(counts.get(k, 0))} for k, v in STATE_ZH.items()],
        "alerts": [{"severity": a["severity"], "severity_zh": SEVERITY_ZH.get(a["severity"], a["severity"]),
                    "title": a["title"], "station": a["station_name"], "since": a["first_local"],
                    "state": a["state"]} for a in view.alerts.head(ALERTS_SHOWN).to_dict("records")],
        "open": view.open_by_severity(),
        "kpis": [
            {"label": "60岁以上老人", "value": f"{kpis.elders_60_plus:,}"},
            {"label": "运营中养老服务设施", "value": f"{care_sites:,}"},
            {"label": "每千名老人床位", "value": "—" if kpis.beds_per_1000 is None else f"{kpis.beds_per_1000:.1f}"},
            {"label": f"{config.scorecard.walk_minutes:g}分钟步行覆盖", "value": walk},
            {"label": "在线站点", "value": f"{view.online():,} / {len(stations):,}"},
            {"label": "未解除告警", "value": f"{sum(view.open_by_severity().values()):,}"},
        ],
        "lights": lights,
        "counts": sc.count_lights(cells["light"]),
        "mtta_min": None if view.mtta_s is None else round(view.mtta_s / 60, 1),
        "mttr_min": None if view.mttr_s is None else round(view.mttr_s / 60, 1),
    }
