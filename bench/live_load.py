"""Load and fault test of the live path (issue 6): the real ingest service on loopback.

    python bench/live_load.py [--backend sqlite|postgres|both] [--rate 1000] [--duration 60] [--kill-rounds 20]

For each backend, on a fresh database holding a year of alert history:

1. baseline: the live page's queries (``LiveStore.panel``) timed for a few
   seconds with no load;
2. load: sender threads post ``--rate`` events/s in batches (as station
   gateways do) plus every station's heartbeat, for ``--duration`` s, while a
   reader thread runs the live page's queries again and again;
3. faults: ``--kill-rounds`` times, the ingest process is killed with SIGKILL
   mid-load and restarted; senders retry unacknowledged batches with the same
   event ids, as a gateway would;
4. checks: every event acknowledged with a 2xx is stored (lost = acked but not
   stored), no fingerprint has two open alerts, and the database is consistent
   (SQLite ``PRAGMA integrity_check``; on both, every event alert's count
   equals its events and its fired / repeated history rows — the event, its
   alert update and its history were committed together or not at all).

The last line: ``RESULT sent=… acked=… stored=… lost=… dup_open=… read_p95_ms=… integrity=ok`` (one per backend).
PostgreSQL runs on a throwaway Debian server with fsync on (tools/pgserver.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import load_config  # noqa: E402
from data.db import create_schema, make_engine, session_factory  # noqa: E402
from data.live_models import Alert, AlertHistory, LiveEvent, utc_now  # noqa: E402
from ingest.client import post_until_accepted  # noqa: E402
from services.alerts import LiveStore  # noqa: E402
from tools.ingest_process import IngestProcess  # noqa: E402

STATIONS = 106  # the demo district's reporting stations
BATCH = 50
SENDERS = 4
MIX = (("vitals_abnormal", 60), ("device_offline", 20), ("hotline_ticket_opened", 15), ("sos_button", 3),
       ("fall_detected", 2))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


# ---- setup -------------------------------------------------------------------------------------------------
def prepare(url: str, history: int) -> dict[str, str]:
    """Schema, a year of resolved alerts with their history, station tokens."""
    engine = make_engine(url)
    create_schema(engine)
    rules = load_config().live.rules
    rng = random.Random(1)
    now = utc_now()
    codes = [f"LOAD-S{i:03d}" for i in range(1, STATIONS + 1)]
    with session_factory(engine).begin() as session:
        tokens = {c: LiveStore(session, rules).issue_token(role="station", station_code=c, label="bench") for c in codes}
        for start in range(0, history, 10_000):
            alerts, hist = [], []
            for i in range(start, min(history, start + 10_000)):
                rule = rng.choice(rules)
                first = now - dt.timedelta(days=rng.uniform(1, 365))
                acked = first + dt.timedelta(minutes=rng.uniform(1, 30))
                done = acked + dt.timedelta(minutes=rng.uniform(5, 240))
                station = rng.choice(codes)
                alerts.append(dict(id=i + 1, fingerprint=f"{station}/{rule.id}", rule_id=rule.id, severity=rule.severity,
                                   station_code=station, state="resolved", title=rule.title_zh, detail="历史",
                                   first_at=first, last_at=first, count=1, acked_by="值班员", acked_at=acked,
                                   resolved_by="值班员", resolved_at=done))
                hist += [dict(alert_id=i + 1, at=first, action="fired", actor="system"),
                         dict(alert_id=i + 1, at=acked, action="acknowledged", actor="值班员"),
                         dict(alert_id=i + 1, at=done, action="resolved", actor="值班员")]
            session.execute(insert(Alert), alerts)
            session.execute(insert(AlertHistory), hist)
        if engine.dialect.name == "postgresql" and history:  # explicit ids: move the sequence past them
            session.execute(text("SELECT setval(pg_get_serial_sequence('alert', 'id'), :n)"), {"n": history})
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return tokens


# ---- traffic -----------------------------------------------------------------------------------------------
class Senders:
    """Threads posting event batches at a total rate; a batch is retried until acknowledged."""

    def __init__(self, base: str, tokens: dict[str, str], rate: float) -> None:
        self.base, self.tokens, self.rate = base, tokens, rate
        self.sent: set[str] = set()
        self.acked: set[str] = set()
        self.retries = 0
        self.duplicates = 0  # events of retried batches the service had already stored before it was killed
        self.lock = threading.Lock()
        self.producing = threading.Event()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(SENDERS)]
        self.beats = threading.Thread(target=self._heartbeats, daemon=True)

    def start(self) -> None:
        self.producing.set()
        for t in [*self.threads, self.beats]:
            t.start()

    def stop(self) -> None:
        """Stop producing; return once every pending batch has been acknowledged."""
        self.producing.clear()
        self.stopping.set()
        for t in [*self.threads, self.beats]:
            t.join()

    def _retried(self) -> None:
        with self.lock:
            self.retries += 1

    def _post(self, client: httpx.Client, path: str, station: str, items: list[dict]) -> dict:
        return post_until_accepted(client, path, self.tokens[station], items, pause_s=0.05, on_retry=self._retried)

    def _run(self, worker: int) -> None:
        rng = random.Random(worker)
        kinds, weights = zip(*MIX, strict=True)
        interval = BATCH * SENDERS / self.rate
        seq, next_at = 0, time.monotonic()
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while self.producing.is_set():
                station = rng.choice(list(self.tokens))
                now = dt.datetime.now(dt.UTC).isoformat()
                batch = []
                for kind in rng.choices(kinds, weights, k=BATCH):
                    seq += 1
                    e = {"event_id": f"w{worker}-{seq}", "station_id": station, "time": now, "type": kind}
                    if kind == "hotline_ticket_opened":
                        e |= {"ticket_id": f"T{worker}-{seq}", "category": "助餐"}
                    elif kind == "vitals_abnormal":
                        e |= {"device_id": f"{station}-W", "metric": "heart_rate", "value": 128.0}
                    else:
                        e |= {"device_id": f"{station}-D"}
                    batch.append(e)
                ids = [e["event_id"] for e in batch]
                with self.lock:
                    self.sent.update(ids)
                reply = self._post(client, "/v1/events", station, batch)
                with self.lock:
                    self.acked.update(ids)
                    self.duplicates += reply["duplicates"]
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _heartbeats(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stopping.is_set():
                for station in self.tokens:
                    if self.stopping.is_set():
                        return
                    beat = {"station_id": station, "time": dt.datetime.now(dt.UTC).isoformat(), "status": "open",
                            "occupancy": 10, "capacity": 30, "staff_on_duty": 3, "devices_online": 8,
                            "devices_total": 8}
                    self._post(client, "/v1/heartbeats", station, [beat])
                    time.sleep(30 / len(self.tokens))  # each station every 30 s


class Reader(threading.Thread):
    """The live page's queries in a loop, as several open pages would run them."""

    def __init__(self, url: str, pause: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.engine = make_engine(url)
        self.rules = load_config().live.rules
        self.pause = pause
        self.times: list[float] = []
        self.running = threading.Event()
        self.running.set()

    def once(self) -> float:
        since = utc_now() - dt.timedelta(hours=8)
        t = time.perf_counter()
        with session_factory(self.engine)() as session:
            LiveStore(session, self.rules).panel(since)
        return (time.perf_counter() - t) * 1000

    def run(self) -> None:
        while self.running.is_set():
            self.times.append(self.once())
            time.sleep(self.pause)

    def take(self) -> list[float]:
        out, self.times = self.times, []
        return out

    def stop(self) -> None:
        self.running.clear()
        self.join()
        self.engine.dispose()


# ---- checks ------------------------------------------------------------------------------------------------
def check(url: str, acked: set[str]) -> dict:
    engine = make_engine(url)
    rules = {r.id: r for r in load_config().live.rules if r.kind == "event"}
    problems = []
    with session_factory(engine)() as s:
        stored_ids = set(s.scalars(select(LiveEvent.event_id)))
        dup_open = s.scalar(select(func.count()).select_from(
            select(Alert.fingerprint).where(Alert.state != "resolved").group_by(Alert.fingerprint)
            .having(func.count() > 1).subquery()))
        if engine.dialect.name == "sqlite":
            verdict = s.execute(text("PRAGMA integrity_check")).scalar()
            if verdict != "ok":
                problems.append(f"integrity_check: {verdict}")
        events = dict(((st, ty), n) for st, ty, n in s.execute(
            select(LiveEvent.station_code, LiveEvent.type, func.count()).group_by(LiveEvent.station_code,
                                                                                  LiveEvent.type)))
        history = dict(s.execute(
            select(AlertHistory.alert_id, func.count()).where(AlertHistory.action.in_(["fired", "repeated"]))
            .group_by(AlertHistory.alert_id)).all())
        for a in s.execute(select(Alert.id, Alert.rule_id, Alert.station_code, Alert.count)
                           .where(Alert.state != "resolved", Alert.rule_id.in_(list(rules)))):
            expected = events.get((a.station_code, rules[a.rule_id].event_type), 0)
            if a.count != expected or history.get(a.id, 0) != expected:
                problems.append(f"alert {a.id} {a.station_code}/{a.rule_id}: count {a.count}, "
                                f"history {history.get(a.id, 0)}, events {expected}")
    engine.dispose()
    return {"stored": len(stored_ids), "lost": len(acked - stored_ids), "dup_open": dup_open,
            "integrity": "ok" if not problems else "FAILED: " + "; ".join(problems[:5])}


# ---- one backend -------------------------------------------------------------------------------------------
def run_backend(name: str, url: str, args, work: Path) -> dict:
    print(f"\n== {name}: preparing ({args.history:,} resolved alerts of history, {STATIONS} stations)", flush=True)
    tokens = prepare(url, args.history)
    server = IngestProcess(url, log=work / f"ingest-{name}.log").start()
    reader = Reader(url)
    for _ in range(5):
        reader.once()  # warm the connection and caches
    baseline = []
    while len(baseline) * 0.05 < args.baseline_s:
        baseline.append(reader.once())
        time.sleep(0.05)
    print(f"baseline (no load): read p50 {statistics.median(baseline):.1f} ms, p95 {pct(baseline, .95):.1f} ms",
          flush=True)

    senders = Senders(server.base, tokens, args.rate)
    reader.start()
    senders.start()
    t0 = time.monotonic()
    time.sleep(args.duration)
    load_reads = reader.take()
    load_s = time.monotonic() - t0
    load_acked = len(senders.acked)
    print(f"load: {load_acked:,} events acknowledged in {load_s:.0f} s = {load_acked / load_s:,.0f}/s "
          f"(asked {args.rate:g}/s); read p50 {statistics.median(load_reads):.1f} ms, "
          f"p95 {pct(load_reads, .95):.1f} ms over {len(load_reads)} reads", flush=True)

    rng = random.Random(3)
    restart_s = []
    for i in range(args.kill_rounds):
        time.sleep(rng.uniform(1.0, 3.0))
        server.kill()
        t = time.monotonic()
        server.start()
        restart_s.append(time.monotonic() - t)
        print(f"  kill -9 round {i + 1}/{args.kill_rounds}: restarted in {restart_s[-1]:.1f} s, "
              f"acked so far {len(senders.acked):,}", flush=True)
    fault_reads = reader.take()
    senders.stop()
    reader.stop()
    server.stop()
    result = check(url, senders.acked)
    out = {"sent": len(senders.sent), "acked": len(senders.acked), **result,
           "read_p95_ms": pct(load_reads, .95), "read_base_p95_ms": pct(baseline, .95),
           "read_fault_p95_ms": pct(fault_reads, .95), "rate": load_acked / load_s, "retries": senders.retries}
    print(f"faults: {args.kill_rounds} kills, restart median {statistics.median(restart_s) if restart_s else 0:.1f} s, "
          f"{senders.retries:,} retried posts, {senders.duplicates:,} re-sent events already stored; read p95 during faults {out['read_fault_p95_ms']:.1f} ms")
    print(f"events: sent {out['sent']:,}, acknowledged {out['acked']:,}, stored {out['stored']:,}, lost {out['lost']}, "
          f"duplicate open alerts {out['dup_open']}, integrity {out['integrity']}")
    print(f"reader p95 under load {out['read_p95_ms']:.1f} ms vs {out['read_base_p95_ms']:.1f} ms idle "
          f"({out['read_p95_ms'] / out['read_base_p95_ms']:.1f}×); target ≤ 300 ms")
    print(f"RESULT sent={out['sent']} acked={out['acked']} stored={out['stored']} lost={out['lost']} "
          f"dup_open={out['dup_open']} read_p95_ms={out['read_p95_ms']:.0f} integrity={out['integrity']} "
          f"backend={name} rate={out['rate']:.0f}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--rate", type=float, default=1000, help="events per second (default 1000)")
    ap.add_argument("--duration", type=float, default=60, help="seconds of steady load (default 60)")
    ap.add_argument("--kill-rounds", type=int, default=20, help="kill -9 and restart rounds (default 20)")
    ap.add_argument("--history", type=int, default=100_000, help="resolved alerts of history to start with")
    ap.add_argument("--baseline-s", type=float, default=5, help="seconds of reads with no load")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="live-load-"))
    results = []
    if args.backend in ("sqlite", "both"):
        results.append(run_backend("sqlite", f"sqlite:///{work / 'live.db'}", args, work))
    if args.backend in ("postgres", "both"):
        from tools.pgserver import PostgresServer, find_pg_bin

        bindir = find_pg_bin()
        if bindir is None:
            print("PostgreSQL + PostGIS not installed (apt-get install postgresql postgresql-postgis)", file=sys.stderr)
            return 2
        pg = PostgresServer(bindir, fsync=True)
        try:
            results.append(run_backend("postgres", pg.start(), args, work))
        finally:
            pg.stop()
    ok = all(r["lost"] == 0 and r["dup_open"] == 0 and r["integrity"] == "ok" for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
