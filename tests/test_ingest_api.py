"""The ingest API: tokens, validation that names the field, idempotent events, reads; and a real server."""

import datetime as dt

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from config import load_config
from data.db import create_schema, make_engine, session_factory
from data.live import LiveStore
from data.live_models import Heartbeat, LiveEvent
from ingest.app import create_app
from tools.ingest_process import IngestProcess

NOW = "2026-11-23T08:00:00+08:00"


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
    with TestClient(create_app(url, run_timer=False)) as client:
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
