"""The alert rules applied to the live tables: what the ingest service, the simulator and the live page call.

``LiveStore`` is the live tables of one session (data.live.LiveTables: storage only) with the decisions of
``planning.alerts`` on top: a heartbeat or an event stored here fires or clears the alerts its rules say, in the
same transaction; the timed rules (silent stations, tickets past their SLA) run on demand; a person's
acknowledgement or resolution follows the alert's state machine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from config.settings import AlertRule
from data.live import EventRow, HeartbeatRow, LiveTables, token_hash  # noqa: F401  (the ingest service's rows)
from data.live_models import utc_now  # noqa: F401  (the ingest service's clock)
from planning.alerts import (
    AlertStateError,  # noqa: F401  (what a refused step raises)
    Clear,
    Fire,
    OpenTicket,
    next_state,
    on_event,
    on_heartbeat,
    overdue_tickets,
    silent_stations,
    sla_cleared,
)


class LiveStore(LiveTables):
    """The live tables through one session, with the alert rules applied; ``now`` is the clock."""

    def __init__(self, session: Session, rules: Sequence[AlertRule], *,
                 now: Callable[[], dt.datetime] = utc_now, actor=None) -> None:
        super().__init__(session, now=now, actor=actor)
        self.rules = tuple(rules)

    def apply(self, decisions: Sequence[Fire | Clear]) -> None:
        """Apply in order; consecutive fires of one fingerprint become one write."""
        group: list[Fire] = []
        for d in [*decisions, None]:
            if group and (not isinstance(d, Fire) or d.fingerprint != group[0].fingerprint):
                self.fire(group)
                group = []
            if isinstance(d, Fire):
                group.append(d)
            elif isinstance(d, Clear):
                self.clear(d)

    def add_heartbeats(self, rows: Sequence[HeartbeatRow]) -> int:
        """Store heartbeats, keep each station's latest, apply the heartbeat rules."""
        for v in self.store_heartbeats(rows):
            self.apply(on_heartbeat(self.rules, station_code=v["station_code"], at=v["at"],
                                    occupancy=v["occupancy"], capacity=v["capacity"]))
        return len(rows)

    def add_events(self, rows: Sequence[EventRow]) -> tuple[int, int]:
        """(stored, duplicates): an event id already stored is skipped, with no second alert; one alert write per
        fingerprint in the batch, its history rows in one statement."""
        stored = self.store_events(rows)
        fires: dict[str, list[Fire]] = {}
        for r in stored:
            for f in on_event(self.rules, station_code=r.station_code, event_type=r.type, at=r.at,
                              event_id=r.event_id, payload=r.payload):
                fires.setdefault(f.fingerprint, []).append(f)
            if r.type == "hotline_ticket_opened":
                self.ticket_opened(r)
            elif r.type == "hotline_ticket_closed" and not self.ticket_closed(r):
                self.apply(sla_cleared(self.rules, station_code=r.station_code, at=r.at,
                                       ticket_id=r.payload["ticket_id"]))
        for group in fires.values():
            self.fire(group)
        return len(stored), len(rows) - len(stored)

    def run_timed_rules(self) -> dict[str, int]:
        """Silent stations (nodata) and tickets past their SLA, as of ``now()``."""
        now = self.now()
        silent = silent_stations(self.rules, now=now, last_heartbeat=self.last_heartbeats())
        self.apply(silent)
        open_tickets = [OpenTicket(t, s, at) for t, s, at in self.open_tickets()]
        overdue = overdue_tickets(self.rules, now=now, tickets=open_tickets)
        for ticket, fire in overdue:
            self.fire([fire])
            self.mark_escalated(ticket.ticket_id, now)
        return {"silent": len(silent), "escalated": len(overdue)}

    def _step(self, alert_id: int, action: str, user: str, note: str) -> None:
        user = user.strip()
        if not user:
            msg = "请填写处理人"
            raise ValueError(msg)
        state = self.alert_state(alert_id)
        if state is None:
            msg = f"告警 {alert_id} 不存在"
            raise KeyError(msg)
        self.step(alert_id, action=action, from_state=state, to_state=next_state(state, action), user=user,
                  note=note)

    def acknowledge(self, alert_id: int, user: str, note: str = "") -> None:
        self._step(alert_id, "acknowledge", user, note)

    def resolve(self, alert_id: int, user: str, note: str = "") -> None:
        self._step(alert_id, "resolve", user, note)
