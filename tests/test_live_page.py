"""AppTest of 实时监测: KPIs and the alert list from the live tables; acknowledge and resolve record the user."""

import datetime as dt

import pytest
import sqlalchemy as sa

from config import load_config
from dashboard.state import LIVE_NOTE, LIVE_USER, MAP_TOWNSHIP
from data.live import EventRow, HeartbeatRow
from data.live_models import Alert, AlertHistory, utc_now
from data.models import DataVersion, Facility
from tests.conftest import app_test, assert_clean, live_write


def stations(url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Facility.code, Facility.township_code).join(  # the current facility list
            DataVersion, DataVersion.id == Facility.version_id).where(DataVersion.is_current,
            Facility.status == "operating", Facility.kind_id.in_(load_config().live.station_kinds))
            .order_by(Facility.code)).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def seed(url: str) -> dict:
    """Three stations reporting (one of them silent for 15 minutes), an SOS, an abnormal vitals event."""
    now = utc_now()
    (a, twp_a), (b, _), (c, _) = stations(url)[:3]

    def write(store):
        store.add_heartbeats([HeartbeatRow(a, now, True, 10, 3, 8, 8, 30), HeartbeatRow(b, now, False, 0, 1, 8, 8, 30),
                              HeartbeatRow(c, now - dt.timedelta(minutes=15), True, 5, 2, 8, 8, 30)])
        store.add_events([
            EventRow("page-sos-1", a, now, "sos_button", {"device_id": "PAGE-BTN-1", "elder_ref": "E12345"}),
            EventRow("page-vit-1", b, now, "vitals_abnormal",
                     {"device_id": "PAGE-W-2", "metric": "spo2", "value": 86.0, "threshold": 90.0})])
        store.run_timed_rules()

    live_write(url, write)
    return {"a": a, "township_a": twp_a, "total": len(stations(url))}


def alert_row(url: str, rule: str):
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(Alert).where(Alert.rule_id == rule)).one()
        actors = conn.execute(sa.select(AlertHistory.action, AlertHistory.actor)
                              .where(AlertHistory.alert_id == row.id).order_by(AlertHistory.id)).all()
    engine.dispose()
    return row, [tuple(a) for a in actors]


@pytest.fixture
def page(writable_demo_url, monkeypatch):
    facts = seed(writable_demo_url)
    at = app_test("pages/live.py", writable_demo_url, monkeypatch)
    at.run()
    assert_clean(at)
    return at, writable_demo_url, facts


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_kpis_and_alerts_from_the_live_tables(page):
    at, _url, facts = page
    m = metrics(at)
    assert m["在线站点"] == f"2 / {facts['total']}"  # the silent one is not online
    assert (m["紧急（未解除）"], m["警告（未解除）"], m["提示（未解除）"]) == ("1", "2", "0")  # vitals + silent
    text = " ".join(md.value for md in at.markdown)
    assert "紧急呼叫" in text and "设备 PAGE-BTN-1" in text and "指标 血氧" in text and "站点失联" in text
    assert "E12345" not in text  # the elder's pseudonym is never shown
    assert m["今日确认用时"] == "—"


def test_acknowledge_needs_a_name_then_records_it(page):
    at, url, _facts = page
    sos, _ = alert_row(url, "sos")
    at.button(key=f"ack-{sos.id}").click().run()
    assert any("请先在左侧填写处理人" in e.value for e in at.error)
    assert alert_row(url, "sos")[0].state == "firing"  # nothing changed

    at.text_input(key=LIVE_USER).input("调度员 张三")
    at.text_input(key=LIVE_NOTE).input("已电话联系家属")
    at.run()
    at.button(key=f"ack-{sos.id}").click().run()
    row, history = alert_row(url, "sos")
    assert (row.state, row.acked_by, row.ack_note) == ("acknowledged", "调度员 张三", "已电话联系家属")
    assert history == [("fired", "system"), ("acknowledged", "调度员 张三")]
    assert any("已确认" in s.value for s in at.success)
    assert at.text_input(key=LIVE_NOTE).value == ""  # the note is not carried to the next alert
    assert metrics(at)["今日确认用时"] != "—"
    actions = at.dataframe[0].value
    assert list(actions["处理人"]) == ["调度员 张三"] and list(actions["动作"]) == ["确认"]

    at.button(key=f"res-{sos.id}").click().run()
    row, history = alert_row(url, "sos")
    assert (row.state, row.resolved_by) == ("resolved", "调度员 张三")
    assert metrics(at)["紧急（未解除）"] == "0"
    assert not any(b.key == f"res-{sos.id}" for b in at.button)


def test_township_narrows_stations_and_alerts(page):
    at, _url, facts = page
    at.session_state[MAP_TOWNSHIP] = facts["township_a"]
    at.run()
    assert_clean(at)
    m = metrics(at)
    online, total = m["在线站点"].split(" / ")
    assert int(total) < facts["total"] and int(online) >= 1
    assert m["紧急（未解除）"] == "1"
