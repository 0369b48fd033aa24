"""Realistic live traffic for the demo stations, posted through the real ingest API.

``python cli.py simulate`` issues a token for every station (revoked when it
stops), brings every station online with a first heartbeat, then every
second posts heartbeats and events as the stations and their home devices
would:

- stations open 08:00–18:00 local time; occupancy follows the day (a morning
  and an afternoon peak) and one station runs over capacity for a while;
- events at ``rate`` per second: abnormal vitals, devices dropping off,
  12349 tickets opened and closed a few minutes later, occasional SOS presses
  and falls;
- one station goes silent (its last heartbeat is older than the NoData rule),
  and one ticket was opened before the run and passes its SLA;
- a burst: for a few seconds a gateway replays its buffer at many times the
  rate, re-sending events already delivered (stored once by their event id).

Times are sent with the local offset; the service stores UTC.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2 as httpx
from sqlalchemy.orm import Session

from config.settings import Live
from ingest.client import IngestRejected, IngestUnavailable, post_until_accepted
from services.alerts import LiveStore, LiveTables

LABEL = "simulator"
OPEN_HOURS = (8, 18)
EVENT_MIX = (  # (type, weight): the everyday traffic; SOS and falls are rare
    ("vitals_abnormal", 55), ("device_offline", 20), ("hotline_ticket_opened", 17),
    ("sos_button", 5), ("fall_detected", 3),
)
VITALS = (("heart_rate", 128, 120), ("spo2", 88, 90), ("systolic_bp", 176, 160), ("blood_glucose", 13.2, 11.1),
          ("temperature", 38.6, 37.5))
TICKET_CATEGORIES = ("助餐", "助洁", "助浴", "助医", "紧急救助", "咨询", "投诉")
BURST_SECONDS = 5
BURST_FACTOR = 20


class SimulatorError(Exception):
    """The simulator cannot run; the message says what to do."""


@dataclass(frozen=True)
class Station:
    code: str
    capacity: int   # day places: the simulator's choice, from beds and staff
    staff: int
    devices: int


def load_stations(session: Session, kinds: tuple[str, ...]) -> list[Station]:
    rows = LiveTables(session).operating_stations(kinds)
    return [Station(code, capacity=max(12, 2 * beds + 4 * staff), staff=max(1, staff), devices=8 + 2 * staff)
            for code, beds, staff in rows]


@dataclass
class Traffic:
    """Payloads for a moment of the simulated day; all randomness from ``rng``."""

    stations: list[Station]
    rng: random.Random
    zone: dt.tzinfo
    silent: str
    crowded: str
    sent: list[dict] = field(default_factory=list)   # recent events, for the burst's re-sends
    open_tickets: list[tuple[float, str, str]] = field(default_factory=list)  # (close at, station, ticket)
    seq: int = 0

    def _id(self, prefix: str) -> str:
        self.seq += 1
        return f"sim-{prefix}-{int(time.time())}-{self.seq}"

    def heartbeat(self, s: Station, now: dt.datetime, *, crowded: bool = False) -> dict:
        local = now.astimezone(self.zone)
        hour = local.hour + local.minute / 60
        is_open = OPEN_HOURS[0] <= hour < OPEN_HOURS[1]
        if is_open:  # two peaks: mid-morning and mid-afternoon
            shape = 0.45 + 0.35 * max(0.0, 1 - abs(hour - 10) / 2.5) + 0.3 * max(0.0, 1 - abs(hour - 15) / 2.5)
            occupancy = round(s.capacity * min(1.0, shape) * self.rng.uniform(0.8, 1.0))
        else:
            occupancy = 0
        if crowded:
            occupancy = s.capacity + self.rng.randint(2, 8)
        online = s.devices - (self.rng.random() < 0.1) * self.rng.randint(1, 2)
        return {"station_id": s.code, "time": local.isoformat(), "status": "open" if is_open or crowded else "closed",
                "occupancy": occupancy, "capacity": s.capacity,
                "staff_on_duty": s.staff if is_open else min(1, s.staff), "devices_online": online,
                "devices_total": s.devices}

    def event(self, now: dt.datetime, *, kind: str | None = None, station: Station | None = None) -> dict:
        kinds, weights = zip(*EVENT_MIX, strict=True)
        kind = kind or self.rng.choices(kinds, weights)[0]
        s = station or self.rng.choice([s for s in self.stations if s.code != self.silent])
        local = now.astimezone(self.zone)
        e = {"event_id": self._id(kind.split("_")[0]), "station_id": s.code, "time": local.isoformat(), "type": kind}
        device = f"{s.code}-D{self.rng.randint(1, s.devices):02d}"
        elder = f"E{self.rng.randint(10_000, 99_999)}"  # a pseudonymous reference
        if kind == "sos_button":
            e |= {"device_id": device, "elder_ref": elder}
        elif kind == "fall_detected":
            e |= {"device_id": device, "elder_ref": elder, "confidence": round(self.rng.uniform(0.7, 0.99), 2)}
        elif kind == "vitals_abnormal":
            metric, value, threshold = self.rng.choice(VITALS)
            e |= {"device_id": device, "elder_ref": elder, "metric": metric,
                  "value": round(value * self.rng.uniform(0.97, 1.08), 1), "threshold": threshold}
        elif kind == "device_offline":
            e |= {"device_id": device}
        elif kind == "hotline_ticket_opened":
            ticket = self._id("T")
            e |= {"ticket_id": ticket, "category": self.rng.choice(TICKET_CATEGORIES)}
            self.open_tickets.append((time.monotonic() + self.rng.uniform(60, 600), s.code, ticket))
        self.sent.append(e)
        del self.sent[:-500]
        return e

    def closed_tickets(self, now: dt.datetime) -> list[dict]:
        due = [t for t in self.open_tickets if t[0] <= time.monotonic()]
        self.open_tickets = [t for t in self.open_tickets if t[0] > time.monotonic()]
        local = now.astimezone(self.zone).isoformat()
        return [{"event_id": self._id("close"), "station_id": code, "time": local, "type": "hotline_ticket_closed",
                 "ticket_id": ticket, "outcome": "已办结"} for _, code, ticket in due]


@dataclass
class Report:
    posts: int = 0
    heartbeats: int = 0
    events: int = 0
    stored: int = 0
    duplicates: int = 0
    retries: int = 0
    by_type: Counter = field(default_factory=Counter)

    def line(self) -> str:
        kinds = "，".join(f"{k} {n}" for k, n in sorted(self.by_type.items()))
        return (f"已发送：心跳 {self.heartbeats}，事件 {self.events}（新存 {self.stored}，重复 {self.duplicates}），"
                f"请求 {self.posts}，重试 {self.retries}；{kinds}")


class Poster:
    """POSTs with the station's token; retries 503s and dropped connections with the same ids."""

    def __init__(self, api: str, tokens: dict[str, str], report: Report) -> None:
        self.client = httpx.Client(base_url=api.rstrip("/"), timeout=30)
        self.tokens, self.report = tokens, report

    def post(self, path: str, station: str, items: list[dict]) -> None:
        def retried() -> None:
            self.report.retries += 1

        try:
            body = post_until_accepted(self.client, path, self.tokens[station], items, pause_s=0.2, backoff=2,
                                       max_attempts=6, on_retry=retried)
        except IngestRejected as exc:
            msg = f"{path} 被拒绝（HTTP {exc.status}）：{exc.text[:300]}"
            raise SimulatorError(msg) from None
        except IngestUnavailable:
            msg = f"{path}：接入服务多次无响应，请检查 python cli.py ingest 是否在运行"
            raise SimulatorError(msg) from None
        self.report.posts += 1
        if path.endswith("events"):
            self.report.stored += body["stored"]
            self.report.duplicates += body["duplicates"]

    def close(self) -> None:
        self.client.close()


def issue_tokens(session: Session, live: Live, stations: list[Station]) -> dict[str, str]:
    store = LiveStore(session, live.rules)
    return {s.code: store.issue_token(role="station", station_code=s.code, label=LABEL) for s in stations}


def revoke_tokens(session: Session) -> int:
    return LiveTables(session).revoke_labelled_tokens(LABEL)


def run(stations: list[Station], tokens: dict[str, str], live: Live, *, api: str, rate: float, duration: float,
        zone: dt.tzinfo, heartbeat_s: float = 30, seed: int = 7, progress: Callable[[str], None] = print,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> Report:
    """Post traffic for ``duration`` seconds (0: until interrupted). Returns what was sent."""
    if not stations:
        msg = "数据库中没有运营中的站点（live.station_kinds），请先运行 python cli.py demo"
        raise SimulatorError(msg)
    rng = random.Random(seed)
    silent, crowded = rng.sample([s.code for s in stations], 2) if len(stations) > 1 else (stations[0].code, "")
    traffic = Traffic(stations, rng, zone, silent=silent, crowded=crowded)  # the stations' local time
    report = Report()
    poster = Poster(api, tokens, report)
    by_code = {s.code: s for s in stations}
    try:
        poster.client.get("/health").raise_for_status()
    except httpx.HTTPError:
        poster.close()
        msg = f"无法连接实时数据接入服务 {api}：请先运行 python cli.py ingest"
        raise SimulatorError(msg) from None

    def send_events(events: list[dict]) -> None:
        for code in {e["station_id"] for e in events}:
            poster.post("/v1/events", code, [e for e in events if e["station_id"] == code])
        report.events += len(events)
        report.by_type.update(e["type"] for e in events)

    def send_heartbeats(beats: list[dict]) -> None:
        for b in beats:
            poster.post("/v1/heartbeats", b["station_id"], [b])
        report.heartbeats += len(beats)

    nodata, sla = live.rule("nodata"), live.rule("sla")
    now = clock()
    # The silent station's last word, older than the NoData rule; a ticket opened before the run, past its SLA.
    send_heartbeats([traffic.heartbeat(by_code[silent], now - dt.timedelta(minutes=(nodata.minutes if nodata else
                                                                                      10) + 1))])
    late = traffic.event(now - dt.timedelta(minutes=(sla.minutes if sla else 30) + 5), kind="hotline_ticket_opened",
                         station=stations[0] if stations[0].code != silent else stations[-1])
    traffic.open_tickets[-1] = (time.monotonic() + max(60.0, duration * 2 / 3 or 300), late["station_id"],
                                late["ticket_id"])
    send_events([late])
    progress(f"模拟 {len(stations)} 个站点：每秒 {rate:g} 个事件，心跳每 {heartbeat_s:g} 秒；"
             f"失联站点 {silent}，超员站点 {crowded}")

    # Over capacity for its first heartbeats (half the run, at least one): counted in beats, not
    # wall time, so a slow tick (the burst) cannot skip the episode.
    crowded_beats = max(1, int((duration / 2 if duration else 300) / heartbeat_s))
    # Every station but the silent one comes online first, so the live page knows each of them however short
    # the run or slow the service; the regular beats after that are staggered over the interval.
    send_heartbeats([traffic.heartbeat(s, clock(), crowded=s.code == crowded) for s in stations if s.code != silent])
    crowded_beats -= bool(crowded)
    start = time.monotonic()
    burst_at = min(60.0, duration / 3) if duration else 60.0
    beat_next = {s.code: start + rng.uniform(0, heartbeat_s) for s in stations if s.code != silent}
    tick, carry, last_report = 0, 0.0, start
    try:
        while not duration or time.monotonic() - start < duration:
            tick += 1
            now = clock()
            elapsed = time.monotonic() - start
            in_burst = burst_at <= elapsed < burst_at + BURST_SECONDS
            carry += rate * (BURST_FACTOR if in_burst else 1)
            n, carry = int(carry), carry - int(carry)
            events = [traffic.event(now) for _ in range(n)] + traffic.closed_tickets(now)
            if in_burst and traffic.sent:  # the gateway re-sends part of what it already delivered
                events += rng.sample(traffic.sent[:-n or None], min(len(traffic.sent) - n, max(1, n // 4)))
            if events:
                send_events(events)
            due = [code for code, at in beat_next.items() if at <= time.monotonic()]
            send_heartbeats([traffic.heartbeat(by_code[c], now, crowded=c == crowded and crowded_beats > 0)
                             for c in due])
            for c in due:
                beat_next[c] += heartbeat_s
                crowded_beats -= c == crowded
            if time.monotonic() - last_report >= 10:
                progress(f"[{elapsed:5.0f} s] {report.line()}")
                last_report = time.monotonic()
            time.sleep(max(0.0, start + tick - time.monotonic()))
    except KeyboardInterrupt:
        progress("已停止（Ctrl-C）")
    finally:
        poster.close()
    return report
