"""Live operations tables: what stations and devices send, and the alerts made of it.

Written by the ingest service (the single writer; the dashboard only records
acknowledgements and resolutions). Times are UTC without a zone (``utc_now``).
Station codes are facility codes, not foreign keys: a demo reload must not be
blocked by a year of heartbeats, and the ingest checks the station itself.
Nothing here names a person: events carry device ids and at most a
pseudonymous ``elder_ref``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from data.schema import Base

# 64-bit keys on PostgreSQL (a year at 1,000 events/s overflows 32 bits); SQLite's rowid is 64-bit already.
BigId = BigInteger().with_variant(Integer, "sqlite")
ALERT_STATES = ("firing", "acknowledged", "resolved")
SEVERITIES = ("critical", "warning", "info")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class IngestCredential(Base):
    """A bearer token (kept only as its SHA-256) for one station, or for a reading system."""

    __tablename__ = "ingest_credential"
    __table_args__ = (
        CheckConstraint("role IN ('station', 'reader')", name="role_known"),
        CheckConstraint("role = 'reader' OR station_code IS NOT NULL", name="station_has_code"),
        {"comment": "ingest API tokens, hashed"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(8), nullable=False)
    station_code: Mapped[str | None] = mapped_column(String(32), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    label: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class _StationReading:
    """What a heartbeat reports, kept both per heartbeat and as each station's latest."""

    is_open: Mapped[bool] = mapped_column(Boolean, nullable=False)
    occupancy: Mapped[int] = mapped_column(Integer, nullable=False)
    capacity: Mapped[int | None] = mapped_column(Integer)
    staff_on_duty: Mapped[int] = mapped_column(Integer, nullable=False)
    devices_online: Mapped[int] = mapped_column(Integer, nullable=False)
    devices_total: Mapped[int] = mapped_column(Integer, nullable=False)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


READING_COLUMNS = tuple(_StationReading.__annotations__)


class Heartbeat(_StationReading, Base):
    __tablename__ = "heartbeat"
    __table_args__ = (
        Index("ix_heartbeat_station_at", "station_code", "at"),
        {"comment": "station heartbeats: open/closed, occupancy, staff, devices"},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_code: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class StationStatus(_StationReading, Base):
    """The latest heartbeat of each station (one row each, so the live panel reads O(stations))."""

    __tablename__ = "station_status"
    __table_args__ = {"comment": "latest heartbeat per station"}

    station_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class LiveEvent(Base):
    """An event as sent, stored once per sender's event id (a re-sent event is a no-op)."""

    __tablename__ = "live_event"
    __table_args__ = (
        Index("ix_live_event_station_at", "station_code", "at"),
        Index("ix_live_event_type_at", "type", "at"),
        {"comment": "events from stations and devices, idempotent by event_id"},
    )

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_code: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class HotlineTicket(Base):
    """A 12349 hotline ticket, from its opened / closed events; escalated once past the SLA."""

    __tablename__ = "hotline_ticket"
    __table_args__ = (
        Index("ix_hotline_ticket_open", "closed_at", "opened_at"),
        {"comment": "hotline tickets (12349) for the SLA rule"},
    )

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_code: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Alert(Base):
    """One alert per fingerprint (station + rule) while not resolved; repeats update it."""

    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint("state IN ('firing', 'acknowledged', 'resolved')", name="state_known"),
        CheckConstraint("severity IN ('critical', 'warning', 'info')", name="severity_known"),
        # The database itself keeps one open alert per fingerprint, whatever the writers do.
        Index("uq_alert_open_fingerprint", "fingerprint", unique=True,
              sqlite_where=text("state != 'resolved'"), postgresql_where=text("state != 'resolved'")),
        Index("ix_alert_state_severity", "state", "severity"),
        Index("ix_alert_resolved_at", "resolved_at"),
        Index("ix_alert_acked_at", "acked_at"),
        {"comment": "alerts with lifecycle firing → acknowledged → resolved"},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(120), nullable=False)
    rule_id: Mapped[str] = mapped_column(String(40), nullable=False)
    severity: Mapped[str] = mapped_column(String(8), nullable=False)
    station_code: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(12), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    detail: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
    first_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    last_event_id: Mapped[str | None] = mapped_column(String(64))
    acked_by: Mapped[str | None] = mapped_column(String(80))
    acked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ack_note: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolve_note: Mapped[str] = mapped_column(String(500), nullable=False, default="")


class AlertHistory(Base):
    """Every change of every alert, never deleted."""

    __tablename__ = "alert_history"
    __table_args__ = (
        CheckConstraint("action IN ('fired', 'repeated', 'acknowledged', 'resolved', 'escalated')",
                        name="action_known"),
        # the live page's "latest actions by people" reads this, not a year of system repeats
        Index("ix_alert_history_person", "id", sqlite_where=text("actor != 'system'"),
              postgresql_where=text("actor != 'system'")),
        {"comment": "alert lifecycle history"},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(BigId, ForeignKey("alert.id"), nullable=False, index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    actor: Mapped[str] = mapped_column(String(80), nullable=False)
    note: Mapped[str] = mapped_column(String(500), nullable=False, default="")
