"""AppTest of 实时监测: KPIs and the alert list from the live tables; acknowledge and resolve record the user."""

import datetime as dt

import pytest
import sqlalchemy as sa

from config import load_config
from dashboard.state import LIVE_NOTE, MAP_TOWNSHIP
from data.live_models import Alert, AlertHistory, utc_now
from data.models import DataVersion, Facility
from services.alerts import EventRow, HeartbeatRow
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


def test_acknowledge_is_recorded_under_the_signed_in_operator(page):
    import sqlalchemy as sa

    at, url, _facts = page
    sos, _ = alert_row(url, "sos")
    at.text_input(key=LIVE_NOTE).input("已电话联系家属")
    at.run()
    at.button(key=f"ack-{sos.id}").click().run()
    row, history = alert_row(url, "sos")
    who = "test.operator"  # the account app_test signed in: no name box to type another one into
    assert (row.state, row.acked_by, row.ack_note) == ("acknowledged", who, "已电话联系家属")
    assert history == [("fired", "system"), ("acknowledged", who)]
    assert any("已确认" in s.value for s in at.success)
    assert at.text_input(key=LIVE_NOTE).value == ""  # the note is not carried to the next alert
    assert metrics(at)["今日确认用时"] != "—"
    actions = at.dataframe[0].value
    assert list(actions["处理人"]) == [who] and list(actions["动作"]) == ["确认"]

    at.button(key=f"res-{sos.id}").click().run()
    row, history = alert_row(url, "sos")
    assert (row.state, row.resolved_by) == ("resolved", who)
    assert metrics(at)["紧急（未解除）"] == "0"
    assert not any(b.key == f"res-{sos.id}" for b in at.button)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        trail = conn.execute(sa.text("SELECT actor, role, action, outcome FROM audit_entry WHERE action LIKE "
                                     "'alert.%' ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in trail] == [(who, "operator", "alert.acknowledge", "ok"),
                                         (who, "operator", "alert.resolve", "ok")]


def test_a_leader_reads_the_live_page_but_handles_no_alert(writable_demo_url, monkeypatch):
    seed(writable_demo_url)
    at = app_test("pages/live.py", writable_demo_url, monkeypatch, role="leader")
    at.run()
    assert_clean(at)
    assert metrics(at)["紧急（未解除）"] == "1"
    assert not [b for b in at.button if b.key and b.key.startswith(("ack-", "res-"))]


def test_an_operator_of_one_township_sees_and_handles_only_its_stations(writable_demo_url, monkeypatch):
    from data.accounts import User
    from services import base, live
    from services.access import Caller, Scope

    facts = seed(writable_demo_url)
    sos, _ = alert_row(writable_demo_url, "sos")
    ref = base.current_ref(writable_demo_url, "120118")
    layers = base.base_layers(ref)
    config = base.get_config()
    sos_town = layers.facilities.set_index("code").loc[sos.station_code, "township_code"]
    other = next(c for c in layers.townships["code"] if c != sos_town)
    operator = User(1, "op.other", "", ("operator",), None, (other,), False)
    view = live.live_view(ref, layers, config, scope=Scope("120118", frozenset([other])))
    assert set(view.stations["township_code"]) <= {other}
    assert sos.id not in set(view.alerts["id"]) if len(view.alerts) else True
    said = live.act(ref, layers, config, int(sos.id), "acknowledge", Caller(operator))
    assert said and "不在您负责的范围内" in said
    assert alert_row(writable_demo_url, "sos")[0].state == "firing"  # nothing changed
    assert facts["total"] > len(view.stations)


def test_township_narrows_stations_and_alerts(page):
    at, _url, facts = page
    at.session_state[MAP_TOWNSHIP] = facts["township_a"]
    at.run()
    assert_clean(at)
    m = metrics(at)
    online, total = m["在线站点"].split(" / ")
    assert int(total) < facts["total"] and int(online) >= 1
    assert m["紧急（未解除）"] == "1"
