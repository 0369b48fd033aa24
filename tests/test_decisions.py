"""督办事项 (issue 31): decisions evaluated against hand-built dated data versions; the trend by hand; a township
head's scope; notes, evidence and their bounds; every change audited."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from shapely.geometry import Point

from tests.conftest import DEMO, demo_ref
from tests.test_reports import GAP_CENTRE, TOWNSHIP

OTHER = "120118002000"  # 朝阳街道: another township of the demo
DUE = dt.date(2027, 3, 31)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius): a second method beside the service's UTM distance."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _facilities_version(url: str, rows: list[dict], day: dt.date) -> None:
    from data.db import make_engine, session_factory
    from data.versions import store_version

    engine = make_engine(url)
    with session_factory(engine).begin() as s:
        store_version(s, DEMO, "facilities", rows, data_date=day, source_name=f"台账{day}.xlsx", sha256=None)
    engine.dispose()


def _user(login: str, role: str, townships: tuple[str, ...] = ()):
    from data.accounts import User
    from services.access import Caller

    return Caller(User(id=1, login=login, display_name=login, roles=(role,), area_code=None, townships=townships,
                       must_change_password=False))


def _item(ref, decision_id: int, on: dt.date, scope=None):
    from services import decisions

    return next(i for i in decisions.items(ref, scope, on=on) if i.id == decision_id)


# ---- the status from hand-made readings (planning, pure) ---------------------------------------------------


def test_a_trend_carried_to_the_due_date_decides_on_track_or_at_risk():
    from planning.decisions import Reading, evaluate

    readings = [Reading(dt.date(2026, 1, 1), 50.0, False, "v1"), Reading(dt.date(2026, 4, 1), 55.0, False, "v2")]
    # by hand: +5 in 90 days; 1 Jan → 1 Oct is 273 days, so 50 + 5 × 273 / 90 = 65.17 on the due date
    s = evaluate(readings, due=dt.date(2026, 10, 1), today=dt.date(2026, 5, 1), goal=60, direction="at_least")
    assert s.state == "on_track" and s.projected == pytest.approx(50 + 5 * 273 / 90)
    assert evaluate(readings, due=dt.date(2026, 10, 1), today=dt.date(2026, 5, 1), goal=70,
                    direction="at_least").state == "at_risk"
    # an at-most target falling: 50 → 45 reaches ≤ 40 only if carried far enough
    falling = [Reading(dt.date(2026, 1, 1), 50.0, False, "v1"), Reading(dt.date(2026, 4, 1), 45.0, False, "v2")]
    assert evaluate(falling, due=dt.date(2026, 10, 1), today=dt.date(2026, 5, 1), goal=40,
                    direction="at_most").state == "on_track"  # 50 − 5 × 273 / 90 = 34.8
    assert evaluate(readings, due=dt.date(2026, 4, 30), today=dt.date(2026, 5, 1), goal=60,
                    direction="at_least").state == "overdue"


def test_done_is_dated_by_the_reading_that_first_met_it_since_it_last_slipped():
    from planning.decisions import Reading, evaluate

    days = [dt.date(2026, m, 1) for m in (1, 4, 7, 10)]
    run = [Reading(d, v, m, f"v{i}") for i, (d, v, m) in enumerate(zip(days, (1, 2, 3, 4),
                                                                       (False, True, True, True), strict=True))]
    s = evaluate(run, due=dt.date(2026, 6, 1), today=dt.date(2026, 12, 1))
    assert (s.state, s.done_on, s.done_version) == ("done", days[1], "v1")  # done, though after its due date
    slipped = [Reading(d, 0, m, f"v{i}") for i, (d, m) in enumerate(zip(days, (False, True, False, True),
                                                                          strict=True))]
    assert evaluate(slipped, due=DUE, today=dt.date(2026, 12, 1)).done_on == days[3]
    assert evaluate(slipped[:3], due=DUE, today=dt.date(2026, 12, 1)).state == "on_track"


# ---- the data: a station opened in a later version ------------------------------------------------------------


def test_a_station_decision_moves_to_done_on_the_version_that_first_shows_it(writable_demo_url, demo_bundle):
    from services import decisions

    url = writable_demo_url
    ref = demo_ref(url)
    near = [f for f in demo_bundle.facilities if f["kind_id"] == "day_care"
            and _metres(GAP_CENTRE, (f["geom"].x, f["geom"].y)) <= 300]
    assert near == []  # the gap has no day-care centre within 300 m: the decision is not done at the start
    planner = _user("planner1", "planner")
    did = decisions.record(ref, planner, title="南肖楼片区新建日间照料中心", due=DUE, measure="station",
                           township_code=TOWNSHIP, kind_id="day_care", site=GAP_CENTRE, radius_m=300)
    late = decisions.record(ref, planner, title="独流镇北片区补点", due=dt.date(2026, 10, 31), measure="station",
                            township_code=TOWNSHIP, kind_id="day_care", site=GAP_CENTRE, radius_m=300)
    today = dt.date(2026, 12, 6)
    assert _item(ref, did, today).status.state == "on_track"  # 115 days left, not there yet
    assert _item(ref, did, dt.date(2027, 3, 10)).status.state == "at_risk"  # under 30 days left
    assert _item(ref, late, today).status.state == "overdue"

    same = [dict(f) for f in demo_bundle.facilities]
    _facilities_version(url, same, dt.date(2026, 9, 30))  # a new quarter's list: still no station there
    lat_step = 200 / 111_320  # 200 m north, by hand (a degree of latitude is 111.32 km)
    opened = dict(demo_bundle.facilities[[f["kind_id"] for f in demo_bundle.facilities].index("day_care")])
    opened |= {"code": "JH-NEW-DAYCARE", "name": "南肖楼日间照料中心", "township_code": TOWNSHIP,
               "geom": Point(GAP_CENTRE[0], GAP_CENTRE[1] + lat_step), "status": "operating"}
    assert 190 < _metres(GAP_CENTRE, (opened["geom"].x, opened["geom"].y)) < 210
    _facilities_version(url, [*same, opened], dt.date(2026, 12, 31))
    ref = demo_ref(url)
    item = _item(ref, did, dt.date(2027, 1, 5))
    assert item.status.state == "done"
    assert item.status.done_on == dt.date(2026, 12, 31)  # not the 2026-09-30 version, which had no station
    assert "设施 2026-12-31" in item.status.done_version
    assert [(r.date, r.value) for r in item.readings] == [(dt.date(2026, 6, 30), 0.0), (dt.date(2026, 9, 30), 0.0),
                                                         (dt.date(2026, 12, 31), 1.0)]
    assert _item(ref, late, dt.date(2027, 1, 5)).status.state == "done"  # met after its date: done, said when


def test_a_target_decision_reads_the_scorecard_of_each_data_date(writable_demo_url):
    from services import decisions
    from services.scorecard import scorecard_since

    ref = demo_ref(writable_demo_url)
    then = scorecard_since(ref, dt.date(2020, 12, 31))[0].cell("beds_per_1000", TOWNSHIP)["value"]
    mid = scorecard_since(ref, dt.date(2025, 6, 30))[0].cell("beds_per_1000", TOWNSHIP)["value"]
    now = scorecard_since(ref, dt.date(2026, 6, 30))[0].cell("beds_per_1000", TOWNSHIP)["value"]
    assert then < mid <= now  # the demo's beds grew: a goal between the first two is first met on 2025-06-30
    did = decisions.record(ref, _user("planner1", "planner"), title="独流镇床位达标", due=DUE, measure="target",
                           township_code=TOWNSHIP, target_id="beds_per_1000", target_value=(then + mid) / 2,
                           base_date=dt.date(2020, 12, 31))
    item = _item(ref, did, dt.date(2026, 12, 6))
    assert item.readings[0].date == dt.date(2020, 12, 31) and item.readings[0].value == pytest.approx(then)
    assert item.readings[1].value == pytest.approx(mid)
    assert [r.met for r in item.readings] == [False, True, True]
    assert item.status.state == "done" and item.status.done_on == dt.date(2025, 6, 30)


# ---- scope, notes, evidence, audit ----------------------------------------------------------------------------


def test_a_township_head_sees_and_changes_only_their_own_townships_items(writable_demo_url):
    from services import decisions
    from services.access import AccessDenied, scope_of

    ref = demo_ref(writable_demo_url)
    planner = _user("planner1", "planner")
    own = decisions.record(ref, planner, title="独流镇：补齐助餐点", due=DUE, measure="task", township_code=TOWNSHIP)
    other = decisions.record(ref, planner, title="朝阳街道：改造适老化设施", due=DUE, measure="task",
                             township_code=OTHER)
    dept = decisions.record(ref, planner, title="区民政局：出台运营补贴办法", due=DUE, measure="task",
                            township_code=None, owner_zh="区民政局")
    head = _user("head1", "township_head", (TOWNSHIP,))
    scope = scope_of(head.user, DEMO)
    seen = {i.id for i in decisions.items(ref, scope)}
    assert seen == {own}
    assert {i.id for i in decisions.items(ref, None)} == {own, other, dept}
    with pytest.raises(decisions.DecisionError, match="不在您的范围内"):
        decisions.add_note(ref, head, other, text="已完成")
    with pytest.raises(decisions.DecisionError, match="不在您的范围内"):
        decisions.close_task(ref, head, dept, result_zh="已完成", closed_on=dt.date(2026, 12, 1))
    with pytest.raises(AccessDenied):
        decisions.record(ref, head, title="自己登记", due=DUE, measure="task", township_code=TOWNSHIP)
    with pytest.raises(decisions.DecisionError, match="写明结果"):
        decisions.close_task(ref, head, own, result_zh=" ", closed_on=dt.date(2026, 12, 1))
    decisions.add_note(ref, head, own, text="已选址，正在装修", file_name="../../现场照片.png",
                       file_data=b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    decisions.close_task(ref, head, own, result_zh="助餐点 3 处已开放", closed_on=dt.date(2026, 12, 1))
    item = _item(ref, own, dt.date(2026, 12, 6), scope)
    assert item.status.state == "done" and item.status.done_on == dt.date(2026, 12, 1)
    notes = decisions.notes(ref, scope, own)
    assert list(notes["file_label"]) == ["现场照片.png"] and list(notes["author"]) == ["head1"]
    label, kind, data = decisions.note_file(ref, scope, int(notes["id"].iloc[0]))
    assert (label, kind, len(data)) == ("现场照片.png", "png", 108)
    with pytest.raises(decisions.DecisionError):
        decisions.notes(ref, scope, other)
    rows = _audit(writable_demo_url)
    assert rows.count(("decision.record", "planner1", "ok")) == 3
    assert ("decision.note", "head1", "ok") in rows and ("decision.update", "head1", "ok") in rows
    assert ("decision.record", "head1", "refused") in rows  # the refusal, recorded


def _audit(url: str) -> list[tuple[str, str, str]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT action, actor, outcome FROM audit_entry WHERE action LIKE 'decision.%'")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize(("name", "data", "says"), [
    ("照片.png", b"GIF89a" + b"\0" * 10, "文件头不符"),
    ("脚本.exe", b"MZ" + b"\0" * 10, "不支持"),
    ("大文件.pdf", b"%PDF-" + b"\0" * (10 * 1024 * 1024), "超过上限"),
])
def test_evidence_that_is_not_what_it_says_is_refused_and_nothing_stored(writable_demo_url, name, data, says):
    from services import decisions

    ref = demo_ref(writable_demo_url)
    planner = _user("planner1", "planner")
    did = decisions.record(ref, planner, title="材料测试", due=DUE, measure="task", township_code=TOWNSHIP)
    with pytest.raises(decisions.DecisionError, match=says):
        decisions.add_note(ref, planner, did, text="材料", file_name=name, file_data=data)
    assert decisions.notes(ref, None, did).empty


def test_a_zip_bomb_named_docx_is_refused_before_it_is_stored(writable_demo_url):
    import io
    import zipfile

    from services import decisions

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"\0" * 50_000_000)  # 50 MB of zeros pack to ~50 KB: 1000:1
    ref = demo_ref(writable_demo_url)
    planner = _user("planner1", "planner")
    did = decisions.record(ref, planner, title="压缩包测试", due=DUE, measure="task", township_code=TOWNSHIP)
    with pytest.raises(decisions.DecisionError, match="压缩比"):
        decisions.add_note(ref, planner, did, text="", file_name="说明.docx", file_data=buf.getvalue())


@pytest.mark.parametrize(("fields", "says"), [
    ({"title": " "}, "请填写督办事项的内容"),
    ({"measure": "vibes"}, "未知的完成标准"),
    ({"township_code": "120118999000"}, "不在本区"),
    ({"measure": "target", "target_id": "nope", "target_value": 1.0}, "未知的考核指标"),
    ({"measure": "station", "kind_id": "day_care", "site": None}, "请给出站点位置"),
    ({"measure": "four_sync", "project_name": "不存在的小区"}, "没有住宅项目"),
    ({"township_code": None}, "请填写责任方"),
])
def test_a_decision_with_a_wrong_field_says_which(writable_demo_url, fields, says):
    from services import decisions

    ref = demo_ref(writable_demo_url)
    given = {"title": "测试事项", "due": DUE, "measure": "task", "township_code": TOWNSHIP} | fields
    with pytest.raises(decisions.DecisionError, match=says):
        decisions.record(ref, _user("planner1", "planner"), **given)
    assert decisions.board(ref).empty


def test_the_next_meetings_deck_opens_with_every_item_and_its_status(writable_demo_url):
    import io

    from pptx import Presentation

    from reports.deck import DeckRequest, collect_deck
    from reports.deck_pptx import render_pptx
    from services import decisions

    ref = demo_ref(writable_demo_url)
    planner = _user("planner1", "planner")
    late = decisions.record(ref, planner, title="南肖楼片区补点", due=dt.date(2026, 10, 31), measure="station",
                            township_code=TOWNSHIP, kind_id="day_care", site=GAP_CENTRE)
    other = decisions.record(ref, planner, title="朝阳街道适老化改造", due=DUE, measure="task", township_code=OTHER)
    on = dt.date(2026, 12, 6)
    deck = collect_deck(ref, DeckRequest(agenda=("cover", "decisions")), on=on)
    prs = Presentation(io.BytesIO(render_pptx(deck)))
    table = next(sh.table for sh in prs.slides[1].shapes if sh.has_table)
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in list(table.rows)[1:]}
    assert rows["南肖楼片区补点"][3] == "已逾期" and rows["朝阳街道适老化改造"][3] == "按计划推进"
    assert rows["南肖楼片区补点"][1] == "独流镇" and rows["南肖楼片区补点"][2] == "2026-10-31"
    assert {late, other} == {i.id for i in decisions.items(ref, None, on=on)}
    township = collect_deck(ref, DeckRequest(township=TOWNSHIP, agenda=("decisions",)), on=on)
    assert [r[0] for r in township.slides[0].table.rows] == ["南肖楼片区补点"]  # another township's item left out


def test_a_planner_records_a_station_at_a_gaps_best_site_on_the_page(writable_demo_url, monkeypatch):
    from services import decisions
    from services.coverage import engine
    from services.scenarios import area_gaps
    from services.scorecard import walk_result
    from tests.conftest import app_test, assert_clean

    ref = demo_ref(writable_demo_url)
    eng = engine(ref)
    gaps, cands = area_gaps(ref, eng, walk_result(eng), None, top=10)
    where = dict(zip(cands.ids.tolist(), cands.lonlat.tolist(), strict=True))
    best = where[gaps[0].best_site]  # the heaviest cluster's best single site, read from the gap search itself
    at = app_test("pages/decisions.py", writable_demo_url, monkeypatch)
    at.run()
    assert_clean(at)
    at.selectbox(key="decision.measure").set_value("station").run()
    at.selectbox(key="decision.gap").set_value(0).run()
    at.text_input[0].input("缺口1新建站点")
    at.button[0].click().run()
    assert_clean(at)
    (item,) = decisions.items(ref, None)
    assert item.row["title"] == "缺口1新建站点" and item.row["measure"] == "station"
    assert (item.row["lon"], item.row["lat"]) == pytest.approx(best, abs=1e-5)
    assert item.row["radius_m"] == 300
    assert "已登记督办事项" in at.success[0].value
