"""Reads and writes of the live tables: ingest, alert lifecycle, the live panel's queries.

Every write happens in the caller's transaction, so an event, the alert it
fires and the alert's history commit together or not at all. No decisions are
taken here: the alert rules (``planning.alerts``) are applied by
``services.alerts.LiveStore``, which hands this module what to write. A fire is
any object with ``fingerprint``, ``rule`` (id, severity, title_zh), ``station_code``,
``at``, ``detail``, ``event_id``, ``counts_repeats`` and ``action``; a clear one with
``fingerprint``, ``at`` and ``note`` (planning.alerts.Fire and Clear).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import and_, case, func, literal, literal_column, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from data.live_models import (
    READING_COLUMNS,
    Alert,
    AlertHistory,
    Heartbeat,
    HotlineTicket,
    IngestCredential,
    LiveEvent,
    StationStatus,
    utc_now,
)

SYSTEM = "system"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class HeartbeatRow:
    station_code: str
    at: dt.datetime  # UTC, no zone
    is_open: bool
    occupancy: int
    staff_on_duty: int
    devices_online: int
    devices_total: int
    capacity: int | None = None


@dataclass(frozen=True)
class Panel:
    """What the live page reads at every refresh."""

    status: pd.DataFrame
    alerts: pd.DataFrame   # open, most severe first, then newest (at most ``alert_limit``)
    open_counts: dict[str, int]  # every open alert by severity, whatever the limit
    actions: pd.DataFrame  # latest acknowledgements / resolutions by people
    mtta_s: float | None
    mttr_s: float | None


@dataclass(frozen=True)
class EventRow:
    event_id: str
    station_code: str
    at: dt.datetime  # UTC, no zone
    type: str
    payload: dict


def _attrs(model) -> list:
    """A model's mapped columns as ORM attributes (an ORM statement, so a session's township scope applies)."""
    return [getattr(model, c.key) for c in model.__table__.columns]


class LiveTables:
    """The live tables through one session; ``now`` is the clock (a fake one in tests)."""

    def __init__(self, session: Session, *, now: Callable[[], dt.datetime] = utc_now, actor=None) -> None:
        self.session = session
        self.now = now
        self.actor = actor  # data.audit.Actor of the person acknowledging or resolving (None: the OS user)
        self._pg = session.get_bind().dialect.name == "postgresql"

    def _insert(self, model):
        return (postgresql.insert if self._pg else sqlite.insert)(model)

    # ---- credentials ------------------------------------------------------
    def issue_token(self, *, role: str, station_code: str | None = None, label: str = "") -> str:
        """A new bearer token; only its hash is stored, so it is shown once."""
        token = secrets.token_urlsafe(32)
        self.session.add(IngestCredential(role=role, station_code=station_code, token_sha256=token_hash(token),
                                          label=label, created_at=self.now()))
        self.session.flush()
        return token

    def credentials(self, stations: Sequence[str] | None = None) -> pd.DataFrame:
        """Every token's label, role, station and dates (never the token: only its hash is kept), newest first;
        ``stations``: station tokens of these stations only (reader tokens included)."""
        c = IngestCredential
        stmt = select(c.id, c.role, c.station_code, c.label, c.created_at, c.revoked_at)
        if stations is not None:
            stmt = stmt.where((c.role == "reader") | c.station_code.in_(list(stations)))
        return self._frame(stmt.order_by(c.id.desc()))

    def revoke_token(self, credential_id: int) -> bool:
        """Revoke one token at once (the ingest API refuses it from the next request); False when unknown or
        already revoked."""
        done = self.session.execute(update(IngestCredential).where(IngestCredential.id == credential_id,
                                                                   IngestCredential.revoked_at.is_(None))
                                    .values(revoked_at=self.now()))
        return done.rowcount == 1

    def credential(self, token: str) -> tuple[str, str | None] | None:
        """(role, station code) of a valid token, None for an unknown or revoked one (a removed district's
        stations' tokens are revoked with it: demo.loader.remove_demo)."""
        row = self.session.execute(
            select(IngestCredential.role, IngestCredential.station_code)
            .where(IngestCredential.token_sha256 == token_hash(token), IngestCredential.revoked_at.is_(None))
        ).first()
        return (row.role, row.station_code) if row else None

    def station_exists(self, code: str) -> bool:
        """Whether ``code`` is a facility of some district's current data."""
        from data.models import DataVersion, Facility

        return self.session.scalar(select(Facility.id).join(DataVersion, DataVersion.id == Facility.version_id)
                                   .where(DataVersion.is_current, Facility.code == code).limit(1)) is not None

    def operating_stations(self, kinds: Sequence[str]) -> list[tuple[str, int, int]]:
        """(code, beds, staff) of the operating facilities of these kinds in every district's current data."""
        from data.models import DataVersion, Facility

        return [tuple(r) for r in self.session.execute(
            select(Facility.code, Facility.beds_total, Facility.staff_total)
            .join(DataVersion, DataVersion.id == Facility.version_id)
            .where(DataVersion.is_current, Facility.kind_id.in_(list(kinds)), Facility.status == "operating")
            .order_by(Facility.code)).all()]

    def revoke_labelled_tokens(self, label: str) -> int:
        """Revoke every token issued under ``label`` (the simulator's); how many."""
        return self.session.execute(update(IngestCredential).where(IngestCredential.label == label,
                                                                   IngestCredential.revoked_at.is_(None))
                                    .values(revoked_at=self.now())).rowcount

    def revoke_station_tokens(self, codes: Sequence[str]) -> int:
        """Revoke every token of these stations (their district removed); how many."""
        done = self.session.execute(update(IngestCredential).where(IngestCredential.station_code.in_(list(codes)),
                                                                   IngestCredential.revoked_at.is_(None))
                                    .values(revoked_at=self.now()))
        return done.rowcount

    # ---- alert decisions --------------------------------------------------
    def _history(self, rows: list[dict]) -> None:
        if rows:
            self.session.execute(self._insert(AlertHistory),
                                 [{**r, "note": r.get("note", "")[:500]} for r in rows])

    def fire(self, fires: Sequence) -> None:
        """Fires of one fingerprint, oldest first: one UPDATE of the open alert (or one INSERT), and a
        history row for each fire of an event rule (counted), as the alert's count says."""
        f = fires[-1]
        n = len(fires) if f.counts_repeats else 1
        changes = {"last_at": max(x.at for x in fires), "detail": f.detail[:1000]}
        if f.event_id is not None:
            changes["last_event_id"] = f.event_id
        if f.counts_repeats:
            changes["count"] = Alert.count + n

        def history(alert_id: int, first_action: str | None) -> None:
            rows = [{"alert_id": alert_id, "at": x.at, "action": "repeated", "actor": SYSTEM, "note": x.detail}
                    for x in fires] if f.counts_repeats else []
            if first_action:
                rows[:1] = [{"alert_id": alert_id, "at": fires[0].at, "action": first_action, "actor": SYSTEM,
                             "note": fires[0].detail}]
            self._history(rows)

        open_alert = and_(Alert.fingerprint == f.fingerprint, Alert.state != "resolved")
        updated = self.session.execute(update(Alert).where(open_alert).values(**changes).returning(Alert.id)).first()
        if updated is not None:
            history(updated.id, None)
            return
        # No open alert: insert. Two PostgreSQL writers may race here; the partial unique
        # index turns the second insert into an update (xmax = 0 tells a fresh row).
        stmt = self._insert(Alert).values(
            fingerprint=f.fingerprint, rule_id=f.rule.id, severity=f.rule.severity, station_code=f.station_code,
            state="firing", title=f.rule.title_zh, detail=f.detail[:1000], first_at=fires[0].at,
            last_at=changes["last_at"], count=n, last_event_id=f.event_id)
        stmt = stmt.on_conflict_do_update(
            index_elements=["fingerprint"], index_where=text("state != 'resolved'"),
            set_={k: (stmt.excluded[k] if k != "count" else Alert.count + n) for k in changes})
        inserted = literal_column("xmax = 0") if self._pg else literal(True)
        row = self.session.execute(stmt.returning(Alert.id, inserted.label("inserted"))).one()
        history(row.id, fires[0].action if row.inserted else None)

    def clear(self, c) -> None:
        rows = self.session.execute(
            update(Alert).where(Alert.fingerprint == c.fingerprint, Alert.state != "resolved")
            .values(state="resolved", resolved_by=SYSTEM, resolved_at=c.at, resolve_note=c.note)
            .returning(Alert.id)).all()
        self._history([{"alert_id": r.id, "at": c.at, "action": "resolved", "actor": SYSTEM, "note": c.note}
                       for r in rows])

    # ---- ingest -------------------------------------------------------------
    def store_heartbeats(self, rows: Sequence[HeartbeatRow]) -> list[dict]:
        """Store heartbeats and keep each station's latest; returns those latest readings (one per station)."""
        if not rows:
            return []
        received = self.now()
        values = [dict(station_code=r.station_code, at=r.at, is_open=r.is_open, occupancy=r.occupancy,
                       capacity=r.capacity, staff_on_duty=r.staff_on_duty, devices_online=r.devices_online,
                       devices_total=r.devices_total, received_at=received) for r in rows]
        self.session.execute(self._insert(Heartbeat), values)
        latest: dict[str, dict] = {}
        for v in values:
            if v["station_code"] not in latest or v["at"] >= latest[v["station_code"]]["at"]:
                latest[v["station_code"]] = v
        for v in latest.values():
            status = {k: v[k] for k in READING_COLUMNS} | {"last_heartbeat_at": v["at"]}
            stmt = self._insert(StationStatus).values(station_code=v["station_code"], **status)
            stmt = stmt.on_conflict_do_update(index_elements=["station_code"], set_=status,
                                              where=StationStatus.last_heartbeat_at <= v["at"])
            self.session.execute(stmt)
        return list(latest.values())

    def store_events(self, rows: Sequence[EventRow]) -> list[EventRow]:
        """The events of ``rows`` stored now (in order, each once): an event id already stored is skipped.

        One INSERT for the batch (RETURNING says which ids were new)."""
        if not rows:
            return []
        received = self.now()
        stmt = self._insert(LiveEvent).values([
            dict(event_id=r.event_id, station_code=r.station_code, at=r.at, type=r.type, payload=r.payload,
                 received_at=received) for r in rows])
        new = set(self.session.scalars(stmt.on_conflict_do_nothing(index_elements=["event_id"])
                                       .returning(LiveEvent.event_id)))
        stored: dict[str, EventRow] = {}
        for r in rows:
            if r.event_id in new and r.event_id not in stored:
                stored[r.event_id] = r
        return list(stored.values())

    def ticket_opened(self, r: EventRow) -> None:
        self._ticket_opened(r)

    def ticket_closed(self, r: EventRow) -> bool:
        """Record the closing; whether the station still has an escalated ticket open."""
        return self._ticket_closed(r)

    def _ticket_opened(self, r: EventRow) -> None:
        stmt = self._insert(HotlineTicket).values(ticket_id=r.payload["ticket_id"], station_code=r.station_code,
                                                  opened_at=r.at)
        self.session.execute(stmt.on_conflict_do_update(index_elements=["ticket_id"], set_={"opened_at": r.at},
                                                        where=HotlineTicket.opened_at.is_(None)))

    def _ticket_closed(self, r: EventRow) -> bool:
        tid = r.payload["ticket_id"]
        stmt = self._insert(HotlineTicket).values(ticket_id=tid, station_code=r.station_code, closed_at=r.at)
        self.session.execute(stmt.on_conflict_do_update(index_elements=["ticket_id"], set_={"closed_at": r.at}))
        return bool(self.session.scalar(
            select(func.count()).select_from(HotlineTicket).where(
                HotlineTicket.station_code == r.station_code, HotlineTicket.closed_at.is_(None),
                HotlineTicket.escalated_at.is_not(None))))

    def last_heartbeats(self) -> dict[str, dt.datetime]:
        """Each station's latest heartbeat time."""
        return dict(self.session.execute(select(StationStatus.station_code, StationStatus.last_heartbeat_at)).all())

    def open_tickets(self) -> list[tuple[str, str, dt.datetime]]:
        """(ticket id, station, opened at) of the hotline tickets open and not yet escalated."""
        return [(t.ticket_id, t.station_code, t.opened_at) for t in self.session.execute(
            select(HotlineTicket).where(HotlineTicket.closed_at.is_(None), HotlineTicket.escalated_at.is_(None),
                                        HotlineTicket.opened_at.is_not(None))).scalars()]

    def mark_escalated(self, ticket_id: str, at: dt.datetime) -> None:
        self.session.execute(update(HotlineTicket).where(HotlineTicket.ticket_id == ticket_id)
                             .values(escalated_at=at))

    # ---- people -----------------------------------------------------------
    def alert_state(self, alert_id: int) -> str | None:
        return self.session.scalar(select(Alert.state).where(Alert.id == alert_id))

    def step(self, alert_id: int, *, action: str, from_state: str, to_state: str, user: str, note: str) -> None:
        """A person's acknowledgement or resolution (the new state decided by the caller): written only if the
        alert is still in ``from_state`` (else ValueError: someone else changed it), with its history row and an
        audit row naming the handler."""
        now = self.now()
        values = ({"acked_by": user, "acked_at": now, "ack_note": note[:500]} if action == "acknowledge" else
                  {"resolved_by": user, "resolved_at": now, "resolve_note": note[:500]})
        done = self.session.execute(update(Alert).where(Alert.id == alert_id, Alert.state == from_state)
                                    .values(state=to_state, **values))
        if done.rowcount != 1:
            msg = "告警状态已被他人更改，请刷新后再试"
            raise ValueError(msg)
        self._history([{"alert_id": alert_id, "at": now, "action": "acknowledged" if action == "acknowledge" else
                        "resolved", "actor": user, "note": note}])
        from data import audit  # the handler as typed (staff, not an elder); the note's words stay in the history

        audit.record_now(self.session, f"alert.{action}", actor=self.actor or audit.os_actor(),
                         object=f"告警 {alert_id}",
                         detail={"handler": user[:40], "note_chars": len(note)})

    # ---- readers ----------------------------------------------------------
    def _frame(self, stmt) -> pd.DataFrame:
        result = self.session.execute(stmt)
        return pd.DataFrame(result.all(), columns=list(result.keys()))

    def station_status(self) -> pd.DataFrame:
        return self._frame(select(*_attrs(StationStatus)).order_by(StationStatus.station_code))

    def alerts(self, state: str | None = None, *, limit: int = 500) -> pd.DataFrame:
        """Alerts, newest first; ``state``: firing, acknowledged, resolved or open (not resolved)."""
        stmt = select(*_attrs(Alert))
        if state == "open":
            stmt = stmt.where(Alert.state != "resolved")
        elif state is not None:
            stmt = stmt.where(Alert.state == state)
        return self._frame(stmt.order_by(Alert.last_at.desc(), Alert.id.desc()).limit(limit))

    def history(self, alert_id: int) -> pd.DataFrame:
        return self._frame(select(*_attrs(AlertHistory)).where(AlertHistory.alert_id == alert_id)
                           .order_by(AlertHistory.id))

    def actions(self, *, limit: int = 20, stations: Sequence[str] | None = None) -> pd.DataFrame:
        """The latest acknowledgements and resolutions by people (not the system), newest first; ``stations``:
        of these stations only."""
        where = [AlertHistory.actor != SYSTEM, AlertHistory.action.in_(["acknowledged", "resolved"])]
        if stations is not None:
            where.append(Alert.station_code.in_(list(stations)))
        return self._frame(
            select(AlertHistory.at, AlertHistory.action, AlertHistory.actor, AlertHistory.note, Alert.id.label("alert_id"),
                   Alert.title, Alert.severity, Alert.station_code)
            .join(Alert, Alert.id == AlertHistory.alert_id)
            .where(*where).order_by(AlertHistory.id.desc()).limit(limit))

    def alert_station(self, alert_id: int) -> str | None:
        """The station an alert belongs to (None: no such alert)."""
        return self.session.scalar(select(Alert.station_code).where(Alert.id == alert_id))

    def panel(self, since: dt.datetime, *, stations: Sequence[str] | None = None, alert_limit: int = 300,
              action_limit: int = 15) -> Panel:
        """The live page's queries (also timed under load by bench/live_load.py); ``stations``
        narrows the open alerts, their counts and the latest actions (a district's or a township's stations)."""
        rank = case({"critical": 0, "warning": 1, "info": 2}, value=Alert.severity, else_=3)
        where = [Alert.state != "resolved"] + ([Alert.station_code.in_(list(stations))] if stations is not None else [])
        alerts = self._frame(select(*_attrs(Alert)).where(*where)
                             .order_by(rank, Alert.last_at.desc(), Alert.id.desc()).limit(alert_limit))
        counts = dict(self.session.execute(select(Alert.severity, func.count()).where(*where)
                                           .group_by(Alert.severity)).all())
        return Panel(self.station_status(), alerts, counts, self.actions(limit=action_limit, stations=stations),
                     *self.response_times(since))

    def response_times(self, since: dt.datetime) -> tuple[float | None, float | None]:
        """Mean seconds from first firing to acknowledgement, and to a person's resolution, since ``since``."""
        def mean_s(done_col, by_col):
            rows = self.session.execute(select(Alert.first_at, done_col).where(
                done_col >= since, by_col.is_not(None), by_col != SYSTEM)).all()
            return (sum((d - f).total_seconds() for f, d in rows) / len(rows)) if rows else None

        return mean_s(Alert.acked_at, Alert.acked_by), mean_s(Alert.resolved_at, Alert.resolved_by)
