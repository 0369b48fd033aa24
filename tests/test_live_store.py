"""The alert lifecycle on a fake clock, on a real (temporary) database."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from config import load_config
from data.db import create_schema, make_engine, session_factory
from data.live_models import Alert, AlertHistory, LiveEvent
from planning.alerts import AlertStateError
from services.alerts import EventRow, HeartbeatRow, LiveStore

T0 = dt.datetime(2026, 11, 23, 8, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, **kw) -> None:
        self.t += dt.timedelta(**kw)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    create_schema(engine)
    clock = Clock()
    factory = session_factory(engine)

    def run(fn):
        with factory.begin() as session:
            return fn(LiveStore(session, load_config().live.rules, now=clock))

    yield run, clock
    engine.dispose()


def hb(station="S1", at=T0, occupancy=5, capacity=20):
    return HeartbeatRow(station, at, True, occupancy, 2, 3, 3, capacity)


def ev(event_id, type_="sos_button", station="S1", at=T0, **payload):
    return EventRow(event_id, station, at, type_, payload or {"device_id": "D1"})


def open_alerts(run, rule=None):
    df = run(lambda s: s.alerts("open"))
    return df[df["rule_id"] == rule] if rule else df


def test_sos_fires_repeats_update_ack_resolve_with_history(live):
    run, clock = live
    assert run(lambda s: s.add_events([ev("e1")])) == (1, 0)
    a = open_alerts(run, "sos")
    assert len(a) == 1 and a.iloc[0]["state"] == "firing" and a.iloc[0]["severity"] == "critical"
    clock.advance(minutes=1)
    run(lambda s: s.add_events([ev("e2", at=clock.t)]))
    a = open_alerts(run, "sos")
    assert len(a) == 1 and a.iloc[0]["count"] == 2 and a.iloc[0]["last_event_id"] == "e2"  # one open alert
    aid = int(a.iloc[0]["id"])
    clock.advance(minutes=2)
    run(lambda s: s.acknowledge(aid, "王调度", "已电话联系"))
    with pytest.raises(AlertStateError, match="只有“告警中”的告警可以确认"):
        run(lambda s: s.acknowledge(aid, "李调度"))
    clock.advance(minutes=10)
    run(lambda s: s.resolve(aid, "王调度", "家属已到场"))
    row = run(lambda s: s.alerts()).iloc[0]
    assert (row["state"], row["acked_by"], row["acked_at"], row["resolved_by"]) == (
        "resolved", "王调度", T0 + dt.timedelta(minutes=3), "王调度")
    history = run(lambda s: s.history(aid))
    assert history["action"].tolist() == ["fired", "repeated", "acknowledged", "resolved"]
    assert history["actor"].tolist()[2:] == ["王调度", "王调度"]
    with pytest.raises(AlertStateError, match="已解决"):
        run(lambda s: s.resolve(aid, "王调度"))
    # After resolution the same fingerprint fires a new alert
    run(lambda s: s.add_events([ev("e3", at=clock.t)]))
    assert len(open_alerts(run, "sos")) == 1
    assert run(lambda s: s.response_times(T0)) == (180.0, 780.0)


def test_duplicate_event_is_stored_once_and_fires_once(live):
    run, _ = live
    assert run(lambda s: s.add_events([ev("e1"), ev("e1")])) == (1, 1)
    assert run(lambda s: s.add_events([ev("e1")])) == (0, 1)
    assert run(lambda s: s.session.scalar(select(func.count()).select_from(LiveEvent))) == 1
    assert open_alerts(run, "sos").iloc[0]["count"] == 1


def test_nodata_raised_and_cleared(live):
    run, clock = live
    run(lambda s: s.add_heartbeats([hb()]))
    clock.advance(minutes=9, seconds=59)
    assert run(lambda s: s.run_timed_rules())["silent"] == 0
    clock.advance(seconds=2)
    assert run(lambda s: s.run_timed_rules())["silent"] == 1
    clock.advance(minutes=5)
    run(lambda s: s.run_timed_rules())  # still silent: the same alert, refreshed, no new history
    a = open_alerts(run, "station_silent")
    assert len(a) == 1 and "15 分钟无心跳" in a.iloc[0]["detail"]
    aid = int(a.iloc[0]["id"])
    run(lambda s: s.add_heartbeats([hb(at=clock.t)]))
    assert open_alerts(run, "station_silent").empty
    history = run(lambda s: s.history(aid))
    assert history["action"].tolist() == ["fired", "resolved"] and history["actor"].tolist() == ["system"] * 2


def test_over_capacity_fires_and_clears(live):
    run, clock = live
    run(lambda s: s.add_heartbeats([hb(occupancy=21, capacity=20)]))
    assert open_alerts(run, "over_capacity").iloc[0]["detail"] == "在站 21 人，额定 20 人"
    clock.advance(minutes=1)
    run(lambda s: s.add_heartbeats([hb(at=clock.t, occupancy=20, capacity=20)]))
    assert open_alerts(run, "over_capacity").empty


def test_an_older_heartbeat_does_not_overwrite_the_status(live):
    run, clock = live
    run(lambda s: s.add_heartbeats([hb(at=T0 + dt.timedelta(minutes=5), occupancy=7)]))
    run(lambda s: s.add_heartbeats([hb(at=T0, occupancy=3)]))  # late delivery
    status = run(lambda s: s.station_status()).iloc[0]
    assert status["occupancy"] == 7 and status["last_heartbeat_at"] == T0 + dt.timedelta(minutes=5)


def test_ticket_past_sla_is_escalated_then_cleared_when_closed(live):
    run, clock = live
    run(lambda s: s.add_events([ev("t1-open", "hotline_ticket_opened", ticket_id="T1", category="助餐")]))
    clock.advance(minutes=29)
    assert run(lambda s: s.run_timed_rules())["escalated"] == 0
    clock.advance(minutes=2)
    assert run(lambda s: s.run_timed_rules())["escalated"] == 1
    assert run(lambda s: s.run_timed_rules())["escalated"] == 0  # escalated once
    a = open_alerts(run, "ticket_sla")
    assert len(a) == 1 and "工单 T1 已开 31 分钟未结" in a.iloc[0]["detail"]
    assert run(lambda s: s.history(int(a.iloc[0]["id"])))["action"].tolist() == ["escalated"]
    run(lambda s: s.add_events([ev("t1-close", "hotline_ticket_closed", at=clock.t, ticket_id="T1",
                                   outcome="已上门")]))
    assert open_alerts(run, "ticket_sla").empty


def test_database_refuses_a_second_open_alert_per_fingerprint(live):
    run, _ = live
    run(lambda s: s.add_events([ev("e1")]))
    row = {c: v for c, v in open_alerts(run).iloc[0].items() if c != "id"}
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        run(lambda s: s.session.execute(Alert.__table__.insert().values(**row)))
    assert run(lambda s: s.session.scalar(select(func.count()).select_from(AlertHistory))) == 1


def test_a_batch_updates_each_alert_once_and_keeps_every_repeat_in_history(live):
    run, clock = live
    batch = [ev("b1"), ev("b2", at=T0 + dt.timedelta(seconds=1)), ev("b3", at=T0 + dt.timedelta(seconds=2)),
             ev("b4", "fall_detected"), ev("b2"), ev("b5", station="S2")]
    assert run(lambda s: s.add_events(batch)) == (5, 1)
    sos = open_alerts(run, "sos").set_index("station_code")
    assert (sos.loc["S1", "count"], sos.loc["S2", "count"]) == (3, 1)
    assert sos.loc["S1", "last_event_id"] == "b3" and sos.loc["S1", "last_at"] == T0 + dt.timedelta(seconds=2)
    history = run(lambda s: s.history(int(sos.loc["S1", "id"])))
    assert list(history["action"]) == ["fired", "repeated", "repeated"]
    assert run(lambda s: s.add_events([ev("b6")])) == (1, 0)
    assert open_alerts(run, "sos").set_index("station_code").loc["S1", "count"] == 4


def test_panel_lists_the_most_severe_first_and_counts_beyond_the_limit(live):
    run, clock = live
    run(lambda s: s.add_events([ev(f"i{i}", "device_offline", station=f"S{i}") for i in range(5)]))
    clock.advance(minutes=1)
    run(lambda s: s.add_events([ev("c1", station="S9")]))
    clock.advance(minutes=1)
    run(lambda s: s.add_events([ev("i9", "device_offline", station="S8")]))
    panel = run(lambda s: s.panel(T0, alert_limit=3))
    assert list(panel.alerts["severity"]) == ["critical", "info", "info"]
    assert list(panel.alerts["station_code"])[:2] == ["S9", "S8"]  # then the newest
    assert panel.open_counts == {"critical": 1, "info": 6}
    assert run(lambda s: s.panel(T0, stations=["S1", "S9"])).open_counts == {"critical": 1, "info": 1}
