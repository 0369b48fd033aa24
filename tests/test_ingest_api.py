"""The ingest API: tokens, validation that names the field, idempotent events, reads; and a real server."""

import datetime as dt

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from config import load_config
from data.db import create_schema, make_engine, session_factory
from data.live_models import Heartbeat, LiveEvent
from ingest.app import create_app
from services.alerts import LiveStore
from tools.ingest_process import IngestProcess

NOW = "2026-11-23T08:00:00+08:00"
SERVER_NOW = dt.datetime(2026, 11, 23, 0, 5)  # the service's clock in these tests (naive UTC): NOW + 5 min


def issue(url: str, **kw) -> str:
    engine = make_engine(url)
    create_schema(engine)
    with session_factory(engine).begin() as session:
        token = LiveStore(session, load_config().live.rules).issue_token(**kw)
    engine.dispose()
    return token


def count(url: str, model) -> int:
    engine = make_engine(url)
    with session_factory(engine)() as session:
        n = session.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return n


@pytest.fixture
def api(tmp_path):
    url = f"sqlite:///{tmp_path / 'ingest.db'}"
    station = issue(url, role="station", station_code="S1")
    reader = issue(url, role="reader", label="12349 platform")
    with TestClient(create_app(url, run_timer=False, now=lambda: SERVER_NOW)) as client:
        yield client, url, {"Authorization": f"Bearer {station}"}, {"Authorization": f"Bearer {reader}"}


def sos(event_id="e1", **kw):
    return {"event_id": event_id, "station_id": "S1", "time": NOW, "type": "sos_button", "device_id": "btn-7"} | kw


def test_tokens(api):
    client, url, station, reader = api
    assert client.post("/v1/events", json=sos()).status_code == 401
    r = client.post("/v1/events", json=sos(), headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = client.post("/v1/events", json=sos(station_id="S2"), headers=station)
    assert r.status_code == 403 and "body[0].station_id 'S2'" in r.json()["detail"]
    assert client.post("/v1/events", json=sos(), headers=reader).status_code == 403
    assert client.get("/v1/alerts", headers=station).status_code == 403
    assert count(url, LiveEvent) == 0


@pytest.mark.parametrize(("payload", "field"), [
    (sos(time="2026-11-23T08:00:00"), "body.time"),  # no timezone
    ([sos("a"), sos("b", device_id="")], "body[1].device_id"),
    ([sos("a"), {**sos("b"), "elder_name": "张三"}], "body[1].elder_name"),  # no names
    (sos(type="explosion"), "body.type"),
    ({"station_id": "S1", "time": NOW, "status": "open", "occupancy": -1, "staff_on_duty": 1, "devices_online": 1,
      "devices_total": 1}, "body.occupancy"),
])
def test_malformed_payload_names_the_field_and_stores_nothing(api, payload, field):
    client, url, station, _ = api
    path = "/v1/heartbeats" if isinstance(payload, dict) and "status" in payload else "/v1/events"
    r = client.post(path, json=payload, headers=station)
    assert r.status_code == 422, r.text
    body = r.json()
    assert field in [e["field"] for e in body["errors"]], body
    assert body["message"].startswith("invalid payload, nothing stored")
    assert count(url, LiveEvent) == 0 and count(url, Heartbeat) == 0


def test_duplicate_event_is_stored_once(api):
    client, url, station, reader = api
    r = client.post("/v1/events", json=[sos("e1"), sos("e2")], headers=station)
    assert r.status_code == 201 and r.json() == {"stored": 2, "duplicates": 0}
    r = client.post("/v1/events", json=sos("e1"), headers=station)  # a retry after a lost reply
    assert r.status_code == 201 and r.json() == {"stored": 0, "duplicates": 1}
    assert count(url, LiveEvent) == 2
    alerts = client.get("/v1/alerts", headers=reader).json()
    assert len(alerts) == 1 and alerts[0]["count"] == 2 and alerts[0]["state"] == "firing"


def test_heartbeats_and_status(api):
    client, _, station, reader = api
    beats = [{"station_id": "S1", "time": t, "status": "open", "occupancy": o, "capacity": 10, "staff_on_duty": 2,
              "devices_online": 4, "devices_total": 5} for t, o in (("2026-11-23T08:00:00+08:00", 3),
                                                                     ("2026-11-23T08:01:00+08:00", 12))]
    assert client.post("/v1/heartbeats", json=beats, headers=station).json() == {"stored": 2, "duplicates": 0}
    (status,) = client.get("/v1/stations/status", headers=reader).json()
    assert status["occupancy"] == 12 and status["last_heartbeat_at"] == "2026-11-23T00:01:00Z"  # stored in UTC
    (alert,) = client.get("/v1/alerts?state=firing", headers=reader).json()
    assert alert["rule_id"] == "over_capacity"
    assert client.get("/v1/alerts?state=bogus", headers=reader).status_code == 422
    assert "/v1/events" in client.get("/openapi.json").json()["paths"]


def test_batch_limit(api):
    client, _, station, _ = api
    n = load_config().live.max_batch + 1
    r = client.post("/v1/events", json=[sos(f"e{i}") for i in range(n)], headers=station)
    assert r.status_code == 413


def test_real_server_on_loopback(tmp_path):
    """python cli.py ingest as its own process; events posted over HTTP land in the database."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    station = issue(url, role="station", station_code="S1")
    reader = issue(url, role="reader")
    with IngestProcess(url, log=tmp_path / "ingest.log") as server:
        now = dt.datetime.now(dt.UTC).isoformat()
        events = [sos(f"sos-{i}", time=now) for i in range(5)] + [
            {"event_id": "fall-1", "station_id": "S1", "time": now, "type": "fall_detected", "device_id": "r-1",
             "confidence": 0.93}]
        with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {station}"}) as client:
            assert client.post("/v1/events", json=events).json() == {"stored": 6, "duplicates": 0}
        assert count(url, LiveEvent) == 6  # committed before the reply
        alerts = httpx.get(f"{server.base}/v1/alerts", headers={"Authorization": f"Bearer {reader}"}).json()
        assert sorted((a["rule_id"], a["count"]) for a in alerts) == [("fall", 1), ("sos", 5)]
        assert httpx.get(f"{server.base}/docs").status_code == 200


def test_concurrent_writers_store_each_event_once_with_one_open_alert(api):
    """Four senders at once, half of their event ids shared: every id once, one open SOS alert counting them."""
    from concurrent.futures import ThreadPoolExecutor

    client, url, station, reader = api

    def send(sender: int) -> list[int]:
        codes = []
        for batch in range(10):
            ids = [f"shared-{batch}-{i}" if i % 2 else f"own-{sender}-{batch}-{i}" for i in range(10)]
            codes.append(client.post("/v1/events", json=[sos(e) for e in ids], headers=station).status_code)
        return codes

    with ThreadPoolExecutor(4) as pool:
        codes = [c for cs in pool.map(send, range(4)) for c in cs]
    assert set(codes) == {201}
    expected = 4 * 10 * 5 + 10 * 5  # own ids of every sender + the shared ids once
    assert count(url, LiveEvent) == expected
    (alert,) = client.get("/v1/alerts", headers=reader).json()
    assert alert["count"] == expected


def test_a_sender_resends_the_same_batch_until_accepted():
    from ingest.client import IngestRejected, IngestUnavailable, post_until_accepted

    replies = iter([503, "drop", 502, 201])
    seen = []

    def handler(request):
        seen.append(request.content)
        status = next(replies)
        if status == "drop":
            raise httpx.ConnectError("connection reset", request=request)
        return httpx.Response(status, json={"stored": 1, "duplicates": 0} if status == 201 else {})

    retries = []
    with httpx.Client(transport=httpx.MockTransport(handler), base_url="http://ingest") as client:
        body = post_until_accepted(client, "/v1/events", "tok", [sos("r1")], pause_s=0, on_retry=lambda: retries.append(1))
        assert body == {"stored": 1, "duplicates": 0}
        assert len(seen) == 4 and len(set(seen)) == 1 and len(retries) == 3  # the same items each time

    def client_answering(status: int) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(status, text="x")),
                            base_url="http://ingest")

    with client_answering(422) as client, pytest.raises(IngestRejected, match="422"):
        post_until_accepted(client, "/v1/events", "tok", [sos("r2")], pause_s=0)
    with client_answering(503) as client, pytest.raises(IngestUnavailable):
        post_until_accepted(client, "/v1/events", "tok", [sos("r3")], pause_s=0, max_attempts=3)


def asgi_post(app, headers: dict[str, str], chunks, *, path: str = "/v1/events"):
    """POST straight through the app's ASGI interface: (status, body, how many times the body was asked for).
    ``chunks`` is an iterator of body pieces; an endless one is a sender that never stops."""
    import asyncio

    asked = 0
    sent: list[dict] = []

    async def receive():
        nonlocal asked
        asked += 1
        piece = next(chunks, None)
        return {"type": "http.request", "body": piece or b"", "more_body": piece is not None}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, asked


def endless(piece: bytes = b"x" * 1_000_000):
    while True:
        yield piece


def test_a_write_is_authenticated_and_bounded_before_its_body_is_read(tmp_path):
    """FastAPI parses a body before it checks the token; the guard in front of it must not: an unknown sender's
    endless body is never read, and a known sender's oversized body is read only up to the limit."""
    import json

    url = f"sqlite:///{tmp_path / 'ingest.db'}"
    token = issue(url, role="station", station_code="S1")
    app = create_app(url, run_timer=False, now=lambda: SERVER_NOW)
    limit = load_config().live.max_body_kb * 1024

    code, body, asked = asgi_post(app, {"content-type": "application/json"}, endless())
    assert (code, asked) == (401, 0) and b"missing bearer token" in body
    code, body, asked = asgi_post(app, {"authorization": "Bearer forged"}, endless())
    assert (code, asked) == (401, 0) and b"unknown or revoked token" in body

    mine = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    code, body, asked = asgi_post(app, {**mine, "content-length": str(10**9)}, endless())
    assert (code, asked) == (413, 0)
    code, body, asked = asgi_post(app, mine, endless())  # chunked: no length announced
    assert code == 413 and asked == limit // 1_000_000 + 1  # read up to the limit and not one piece more
    assert count(url, LiveEvent) == 0

    small = json.dumps(sos()).encode()
    code, body, _ = asgi_post(app, mine, iter([small[:10], small[10:]]))  # a small body in two pieces passes
    assert code == 201, body
    assert count(url, LiveEvent) == 1


@pytest.mark.parametrize(("time", "why"), [
    ("2099-01-01T08:00:00+08:00", "ahead of the server's clock"),  # a device whose clock says 2099
    ("2026-11-23T08:10:01+08:00", "ahead of the server's clock"),  # 5 min 1 s after the server's 08:05
    ("2026-09-01T08:00:00+08:00", "older than 30 days"),
])
def test_implausible_times_are_refused_and_nothing_stored(api, time, why):
    client, url, station, _ = api
    r = client.post("/v1/events", json=[sos("ok"), sos("late", time=time)], headers=station)
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "body[1].time" and why in error["message"]
    assert count(url, LiveEvent) == 0


def test_times_within_the_window_are_taken(api):
    client, url, station, _ = api
    times = ["2026-11-23T08:09:59+08:00", "2026-10-25T08:06:00+08:00"]  # 4 min 59 s ahead; 29 days back
    r = client.post("/v1/events", json=[sos(f"t{i}", time=t) for i, t in enumerate(times)], headers=station)
    assert r.status_code == 201 and r.json()["stored"] == 2


def test_nan_and_infinity_are_refused(api):
    client, url, station, _ = api
    vitals = '{"event_id": "v1", "station_id": "S1", "time": "%s", "type": "vitals_abnormal", "device_id": "w-1", ' \
             '"metric": "heart_rate", "value": %s}'
    for bad in ("NaN", "Infinity", "-Infinity"):
        r = client.post("/v1/events", content=vitals % (NOW, bad), headers={**station, "content-type": "application/json"})
        assert r.status_code == 422, (bad, r.text)
        assert "body.value" in [e["field"] for e in r.json()["errors"]]
    assert count(url, LiveEvent) == 0


def test_a_time_beyond_the_calendar_is_refused_not_a_server_error(api):
    """Issue 26: 9999-12-31T23:59:59-23:59 is a valid aware time whose UTC is in the year 10000 (HTTP 500 before)."""
    client, url, station, _ = api
    r = client.post("/v1/events", json=sos(time="9999-12-31T23:59:59-23:59"), headers=station)
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "body.time" and "out of range" in error["message"]
    assert count(url, LiveEvent) == 0


TICKET = {"event_id": "t1", "station_id": "S1", "time": NOW, "type": "hotline_ticket_opened", "ticket_id": "T-1",
          "category": "助餐"}
CLOSED = {"event_id": "t2", "station_id": "S1", "time": NOW, "type": "hotline_ticket_closed", "ticket_id": "T-1"}


@pytest.mark.parametrize(("payload", "field", "what"), [
    ({**TICKET, "category": "老人王秀英（身份证 120223195001011234，电话 13800138000）"}, "body.category", "ID card"),
    ({**TICKET, "category": "回访 138-0013-8000"}, "body.category", "mobile number"),
    ({**TICKET, "category": "联系 022-28912345"}, "body.category", "phone number"),
    ({**TICKET, "category": "助餐" * 21}, "body.category", "at most 40 characters"),
    ({**CLOSED, "outcome": "已联系家属 13912345678"}, "body.outcome", "mobile number"),
    ({**CLOSED, "outcome": "已办结，" + "情况说明" * 12}, "body.outcome", "at most 40"),
    (sos(elder_ref="120223195001011234"), "body.elder_ref", "ID card"),
    (sos(elder_ref="12022319500101123X"), "body.elder_ref", "ID card"),
    (sos(elder_ref="13800138000"), "body.elder_ref", "mobile number"),
])
def test_personal_data_in_free_text_and_references_is_refused_saying_why(api, payload, field, what):
    client, url, station, _ = api
    r = client.post("/v1/events", json=payload, headers=station)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == [field] and what in errors[0]["message"], errors
    assert "120223195001011234" not in r.text  # the refusal does not echo the number back
    assert count(url, LiveEvent) == 0


def test_pseudonyms_codes_and_short_notes_are_still_taken(api):
    client, url, station, _ = api
    ok = [sos("p1", elder_ref="elder-0042"), {**TICKET, "category": "助餐"},
          {**CLOSED, "outcome": "已办结"}]
    r = client.post("/v1/events", json=ok, headers=station)
    assert r.status_code == 201 and r.json()["stored"] == 3


def test_cli_tokens_are_audited_and_end_with_a_removed_demo(writable_demo_url):
    """Issue 26, finding 11: `cli.py token` is a row of the audit trail like the page's; `demo --remove` revokes
    the demo stations' tokens, so a heartbeat of a removed station is refused."""
    import subprocess
    import sys

    import sqlalchemy as sa

    from tests.conftest import ROOT
    from tests.test_live_page import stations

    url = writable_demo_url
    code = stations(url)[0][0]

    def cli(*args):
        return subprocess.run([sys.executable, "cli.py", *args, "--database-url", url], cwd=ROOT,
                              capture_output=True, text=True)

    issued = cli("token", "--station", code, "--label", "网关 1")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert cli("token", "--station", "NO-SUCH-STATION").returncode == 2
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT actor, action, object, outcome FROM audit_entry WHERE action = "
                                    "'token.issue' ORDER BY id")).all()
    assert [(r[1], r[2], r[3]) for r in rows] == [("token.issue", code, "ok")] and rows[0][0].startswith("os:")
    heartbeat = {"station_id": code, "time": NOW, "status": "open", "occupancy": 3, "staff_on_duty": 1,
                 "devices_online": 1, "devices_total": 1}
    with TestClient(create_app(url, run_timer=False, now=lambda: SERVER_NOW)) as client:
        ok = client.post("/v1/heartbeats", json=heartbeat, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 201, ok.text
    removed = cli("demo", "--remove")
    assert removed.returncode == 0 and "吊销其站点令牌 1 个" in removed.stdout, removed.stdout + removed.stderr
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT revoked_at IS NOT NULL FROM ingest_credential")).scalars().all() == [1]
    engine.dispose()
    with TestClient(create_app(url, run_timer=False, now=lambda: SERVER_NOW)) as client:
        gone = client.post("/v1/heartbeats", json=heartbeat, headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401
