"""The live panels' data (实时监测): the live tables read fresh at every refresh, and the alert actions.

Nothing here is cached: the panels must show what the ingest service wrote a
second ago. The queries are the ones ``bench/live_load.py`` times under load.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from config import DashboardConfig
from data import audit as data_audit
from data.db import session_factory
from data.live_models import utc_now
from data.versions import DataRef
from planning.alerts import AlertStateError, station_state
from services import audit, base
from services.access import AccessDenied, Caller, Scope, scope_of
from services.alerts import LiveStore

SEVERITY_ORDER = ("critical", "warning", "info")


@dataclass(frozen=True)
class LiveView:
    """One refresh of the live panels."""

    stations: gpd.GeoDataFrame  # every station (config live.station_kinds) with its state now
    alerts: pd.DataFrame        # open alerts, most severe first, then newest (at most 300)
    open_counts: dict[str, int]  # all open alerts by severity (of the area)
    actions: pd.DataFrame       # latest acknowledgements and resolutions by people
    mtta_s: float | None        # today (local day), seconds
    mttr_s: float | None
    now: dt.datetime            # local, with zone

    def online(self) -> int:
        return int(self.stations["state"].isin(["open", "closed"]).sum())

    def open_by_severity(self) -> dict[str, int]:
        return {s: int(self.open_counts.get(s, 0)) for s in SEVERITY_ORDER}


def station_sites(layers: base.BaseLayers, config: DashboardConfig) -> gpd.GeoDataFrame:
    f = layers.facilities
    sites = f[f["kind_id"].isin(config.live.station_kinds) & (f["status"] == "operating")]
    return sites[["code", "name", "kind_id", "township_code", "geometry"]].reset_index(drop=True)


def scoped_sites(layers: base.BaseLayers, config: DashboardConfig, scope: Scope) -> gpd.GeoDataFrame:
    """The stations of the townships the user may see."""
    sites = station_sites(layers, config)
    if scope.whole:
        return sites
    return sites[sites["township_code"].isin(scope.townships)].reset_index(drop=True)


def local_day_start(now_utc: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """Midnight of the local day of ``now_utc`` (UTC, no zone), as UTC without a zone."""
    local = now_utc.replace(tzinfo=dt.UTC).astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)


def to_local(values: pd.Series, zone: dt.tzinfo) -> pd.Series:
    """Stored UTC times → local wall-clock strings."""
    t = pd.to_datetime(values)
    return t.dt.tz_localize("UTC").dt.tz_convert(zone).dt.strftime("%m-%d %H:%M:%S").fillna("—")


def live_view(ref: DataRef, layers: base.BaseLayers, config: DashboardConfig, *, scope: Scope,
              township: str | None = None, now: dt.datetime | None = None) -> LiveView:
    """The panels' data for the stations of the user's ``scope``; ``township`` narrows stations, alerts and
    actions further (the response times are the district's, a figure without any row)."""
    now = now or utc_now()
    zone = config.app.zone
    nodata = config.live.rule("nodata")
    sites = scoped_sites(layers, config, scope)
    if township:
        sites = sites[sites["township_code"] == township].reset_index(drop=True)
    with session_factory(base.get_engine(ref.url), townships=scope.townships,
                         districts={ref.district_code})() as session:  # RLS on PostgreSQL
        store = LiveStore(session, config.live.rules, now=lambda: now)
        # the district's (or township's) stations only: other districts share the live tables
        panel = store.panel(local_day_start(now, zone), stations=list(sites["code"]))
    status, alerts, actions = panel.status, panel.alerts, panel.actions

    names = dict(zip(sites["code"], sites["name"], strict=True))
    by_code = status.set_index("station_code") if len(status) else None
    rows = []
    for code in sites["code"]:
        s = by_code.loc[code] if by_code is not None and code in by_code.index else None
        rows.append({
            "state": station_state(last_heartbeat=None if s is None else s["last_heartbeat_at"],
                                   is_open=None if s is None else bool(s["is_open"]), now=now,
                                   nodata_minutes=nodata.minutes if nodata else 10),
            "occupancy": None if s is None else int(s["occupancy"]),
            "capacity": None if s is None or pd.isna(s["capacity"]) else int(s["capacity"]),
            "last_heartbeat_at": None if s is None else s["last_heartbeat_at"],
        })
    stations = sites.join(pd.DataFrame(rows, index=sites.index))
    stations["last_seen"] = to_local(stations["last_heartbeat_at"], zone)
    per_station = alerts.groupby("station_code")["severity"]
    stations["open_alerts"] = stations["code"].map(per_station.size()).fillna(0).astype(int)
    worst = per_station.agg(lambda g: min(g, key=SEVERITY_ORDER.index)) if len(alerts) else pd.Series(dtype=object)
    stations["worst"] = stations["code"].map(worst).astype(object).fillna("")

    if len(alerts):  # already most severe first, then newest
        alerts["station_name"] = [names.get(c, c) for c in alerts["station_code"]]
        alerts["first_local"] = to_local(alerts["first_at"], zone)
        alerts["last_local"] = to_local(alerts["last_at"], zone)
        alerts["acked_local"] = to_local(alerts["acked_at"], zone)
    if len(actions):
        actions["station_name"] = [names.get(c, c) for c in actions["station_code"]]
        actions["at_local"] = to_local(actions["at"], zone)
    return LiveView(stations=stations, alerts=alerts.reset_index(drop=True), open_counts=panel.open_counts, actions=actions, mtta_s=panel.mtta_s,
                    mttr_s=panel.mttr_s, now=now.replace(tzinfo=dt.UTC).astimezone(zone))


def act(ref: DataRef, layers: base.BaseLayers, config: DashboardConfig, alert_id: int, action: str,
        caller: Caller, note: str = "") -> str | None:
    """Acknowledge or resolve under the caller's account; None when done, else the reason in Chinese (nothing
    changed). Only an operator may, and only for an alert of a station in their scope (refusals audited)."""
    try:
        audit.allowed(ref.url, caller, "alert.handle", object=f"告警 {alert_id}")
    except AccessDenied as exc:
        return str(exc)
    scope = scope_of(caller.user, ref.district_code) if caller.user else Scope(ref.district_code)
    in_scope = set(scoped_sites(layers, config, scope)["code"])
    try:
        with session_factory(base.get_engine(ref.url), townships=scope.townships,
                             districts={ref.district_code}).begin() as session:
            store = LiveStore(session, config.live.rules, actor=caller.actor)
            if store.alert_station(alert_id) not in in_scope:
                audit_row = {"object": f"告警 {alert_id}", "outcome": "refused", "detail": {"why": "out of scope"}}
                data_audit.record_now(session, f"alert.{action}", actor=caller.actor, **audit_row)
                return f"告警 {alert_id} 不在您负责的范围内（或不存在），未作处理。"
            (store.acknowledge if action == "acknowledge" else store.resolve)(alert_id, caller.actor.login, note)
    except (AlertStateError, ValueError, KeyError) as exc:
        return str(exc.args[0] if exc.args else exc)
    return None
