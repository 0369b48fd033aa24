"""The alert rules and lifecycle, pure: what an event, a heartbeat or the clock means for alerts.

The functions return decisions (``Fire`` / ``Clear``); ``data/live.py`` applies
them in the same transaction as the write that caused them. An alert is
identified while open by its fingerprint, station + rule: one open alert per
fingerprint, repeats update it. Lifecycle: firing → acknowledged → resolved
(or firing → resolved); a resolved alert is never reopened — a new one fires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from config.settings import AlertRule

STATE_ZH = {"firing": "告警中", "acknowledged": "已确认", "resolved": "已解决"}


class AlertStateError(ValueError):
    """A lifecycle step that the alert's state does not allow (acknowledging a resolved alert, say)."""


def fingerprint(station_code: str, rule_id: str) -> str:
    return f"{station_code}/{rule_id}"


@dataclass(frozen=True)
class Fire:
    """Open an alert, or update the open one of the same fingerprint."""

    rule: AlertRule
    station_code: str
    at: dt.datetime
    detail: str
    event_id: str | None = None
    action: str = "fired"  # history action of a new alert: fired | escalated

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.station_code, self.rule.id)

    @property
    def counts_repeats(self) -> bool:
        """Event alerts count every repeat; condition alerts only refresh their detail."""
        return self.rule.kind == "event"


@dataclass(frozen=True)
class Clear:
    """Resolve the open alert of a fingerprint, by the system (its condition cleared)."""

    rule: AlertRule
    station_code: str
    at: dt.datetime
    note: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.station_code, self.rule.id)


def next_state(state: str, action: str) -> str:
    """The state after a person's ``acknowledge`` or ``resolve``; AlertStateError when not allowed."""
    if action == "acknowledge":
        if state == "firing":
            return "acknowledged"
        msg = f"只有“告警中”的告警可以确认，此告警{STATE_ZH.get(state, state)}"
        raise AlertStateError(msg)
    if action == "resolve":
        if state in ("firing", "acknowledged"):
            return "resolved"
        msg = "此告警已解决"
        raise AlertStateError(msg)
    msg = f"unknown action {action!r}; expected acknowledge or resolve"
    raise ValueError(msg)


def _rules(rules: Iterable[AlertRule], kind: str) -> list[AlertRule]:
    return [r for r in rules if r.kind == kind]


DETAIL_LABELS = {"device_id": "设备", "confidence": "置信度", "metric": "指标", "value": "测量值", "threshold": "阈值",
                 "ticket_id": "工单", "category": "类别", "outcome": "结果", "lon": "经度", "lat": "纬度"}
METRIC_ZH = {"heart_rate": "心率", "spo2": "血氧", "systolic_bp": "收缩压", "diastolic_bp": "舒张压",
             "temperature": "体温", "blood_glucose": "血糖"}


def _event_detail(event_type: str, payload: dict) -> str:
    """The event's fields in Chinese; the elder reference (a pseudonym) is still not for display."""
    parts = []
    for key, value in payload.items():
        if key == "elder_ref":
            continue
        shown = METRIC_ZH.get(value, value) if key == "metric" else value
        parts.append(f"{DETAIL_LABELS.get(key, key)} {shown}")
    return "；".join(parts) or event_type


def on_event(rules: Sequence[AlertRule], *, station_code: str, event_type: str, at: dt.datetime, event_id: str,
             payload: dict) -> list[Fire]:
    """Event rules of this event type fire at once."""
    return [Fire(r, station_code, at, _event_detail(event_type, payload), event_id=event_id)
            for r in _rules(rules, "event") if r.event_type == event_type]


def on_heartbeat(rules: Sequence[AlertRule], *, station_code: str, at: dt.datetime, occupancy: int,
                 capacity: int | None) -> list[Fire | Clear]:
    """A heartbeat clears a station-silent alert, and fires or clears over-capacity."""
    out: list[Fire | Clear] = [Clear(r, station_code, at, "心跳恢复") for r in _rules(rules, "nodata")]
    if capacity is not None and capacity > 0:
        for r in _rules(rules, "capacity"):
            if occupancy > capacity:
                out.append(Fire(r, station_code, at, f"在站 {occupancy} 人，额定 {capacity} 人"))
            else:
                out.append(Clear(r, station_code, at, f"在站 {occupancy} 人，已不超员"))
    return out


def silent_stations(rules: Sequence[AlertRule], *, now: dt.datetime,
                    last_heartbeat: dict[str, dt.datetime]) -> list[Fire]:
    """Stations whose last heartbeat is older than a nodata rule's minutes."""
    out = []
    for r in _rules(rules, "nodata"):
        limit = now - dt.timedelta(minutes=r.minutes)
        for station, last in sorted(last_heartbeat.items()):
            if last < limit:
                silent = int((now - last).total_seconds() // 60)
                out.append(Fire(r, station, now, f"已 {silent} 分钟无心跳"))
    return out


STATION_STATES = ("open", "closed", "silent", "never")


def station_state(*, last_heartbeat: dt.datetime | None, is_open: bool | None, now: dt.datetime,
                  nodata_minutes: float) -> str:
    """open / closed (reporting), silent (no heartbeat for ``nodata_minutes``), never (no heartbeat yet)."""
    if last_heartbeat is None:
        return "never"
    if now - last_heartbeat > dt.timedelta(minutes=nodata_minutes):
        return "silent"
    return "open" if is_open else "closed"


@dataclass(frozen=True)
class OpenTicket:
    ticket_id: str
    station_code: str
    opened_at: dt.datetime


def overdue_tickets(rules: Sequence[AlertRule], *, now: dt.datetime,
                    tickets: Sequence[OpenTicket]) -> list[tuple[OpenTicket, Fire]]:
    """Open, not yet escalated tickets past an SLA rule's minutes, each with its escalation."""
    out = []
    for r in _rules(rules, "sla"):
        limit = now - dt.timedelta(minutes=r.minutes)
        for t in tickets:
            if t.opened_at < limit:
                late = int((now - t.opened_at).total_seconds() // 60)
                out.append((t, Fire(r, t.station_code, now, f"工单 {t.ticket_id} 已开 {late} 分钟未结",
                                    action="escalated")))
    return out


def sla_cleared(rules: Sequence[AlertRule], *, station_code: str, at: dt.datetime, ticket_id: str) -> list[Clear]:
    """Resolutions of a station's SLA alert once its last overdue ticket closed (the caller checks that)."""
    return [Clear(r, station_code, at, f"工单 {ticket_id} 已结") for r in _rules(rules, "sla")]
