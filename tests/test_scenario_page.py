"""AppTest for the 情景规划 page: edit, optimise and save, gaps, compare; the base data never changes.

The page is run directly (not through app.py): AppTest only delivers button
clicks to the page it was started on.
"""


import pytest
from sqlalchemy import select

from dashboard.state import MAP_TOWNSHIP, SCN_ID, SCN_VIEW
from data.db import make_engine, session_factory
from data.models import Facility, Scenario, ScenarioChange
from tests.conftest import DEMO, app_test, assert_clean
from tests.test_scenarios import base_fingerprint


@pytest.fixture
def page(writable_demo_url, monkeypatch):
    at = app_test("pages/scenarios.py", writable_demo_url, monkeypatch)
    at.run()
    assert_clean(at)
    return at


@pytest.fixture
def db(writable_demo_url):
    return session_factory(make_engine(writable_demo_url))


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def number(text: str) -> float:
    return float(text.replace(",", "").rstrip("%").split()[0])


def button(at, label):
    return next(b for b in at.button if b.label == label)


def stored_changes(db) -> list[tuple]:
    with db() as s:
        return s.execute(select(ScenarioChange.scenario_id, ScenarioChange.action, ScenarioChange.facility_code)
                         .order_by(ScenarioChange.scenario_id, ScenarioChange.seq)).all()


def test_every_view_runs_on_the_current_situation(page):
    m = metrics(page)
    assert 0 < number(m["覆盖率"]) < 100
    assert sorted(x.delta for x in page.metric) == ["+0", "+0", "+0.0", "+0.0 pp"]  # nothing changed yet
    for view in ("optimise", "gaps", "compare", "edit"):
        page.session_state[SCN_VIEW] = view
        page.run()
        assert_clean(page)
    page.session_state[MAP_TOWNSHIP] = "120118102000"  # 独流镇
    page.run()
    assert_clean(page)
    assert number(metrics(page)["情景覆盖老人"]) < 150_000


def test_closing_a_station_makes_a_scenario_and_lowers_coverage(page, db):
    before_fp = base_fingerprint(db)
    base = metrics(page)
    with db() as s:  # a village station with elders near it
        code = s.scalars(select(Facility.code).where(Facility.kind_id == "community_station",
                                                     Facility.status == "operating").order_by(Facility.code)).first()
    next(sb for sb in page.selectbox if sb.label.startswith("设施")).set_value(code)
    next(r for r in page.radio if r.label == "操作").set_value("close")
    button(page, "应用到情景").click().run()
    assert_clean(page)
    assert page.session_state[SCN_ID] != 0  # a scenario was made for the change and selected
    after = metrics(page)
    assert number(after["计入站点"]) == number(base["计入站点"]) - 1
    assert number(after["情景覆盖老人"]) <= number(base["情景覆盖老人"])
    assert [(a, c) for _, a, c in stored_changes(db)] == [("close", code)]
    button(page, "撤销最后一项变更").click().run()
    assert_clean(page)
    assert stored_changes(db) == []
    assert metrics(page)["情景覆盖老人"] == base["情景覆盖老人"]
    assert base_fingerprint(db) == before_fp


def test_optimise_then_save_as_scenario_and_compare(page, db):
    before_fp = base_fingerprint(db)
    base_covered = number(metrics(page)["情景覆盖老人"])
    page.session_state[SCN_VIEW] = "optimise"
    page.run()
    next(n for n in page.number_input if n.label == "新增站点数 k").set_value(5)
    button(page, "开始优化").click().run()
    assert_clean(page)
    m = metrics(page)
    assert m["新增站点"] == "5" and m["与上界差距"] == "0.00%"  # exact: proven optimal
    assert number(m["情景覆盖老人"]) > base_covered
    button(page, "保存").click().run()
    assert_clean(page)
    sid = page.session_state[SCN_ID]
    with db() as s:
        assert s.scalar(select(Scenario.name).where(Scenario.id == sid)).startswith("优化选址 5 站")
    assert [a for _, a, _ in stored_changes(db)] == ["open"] * 5
    page.session_state[SCN_VIEW] = "edit"
    page.run()
    saved = number(metrics(page)["情景覆盖老人"])
    assert saved == number(m["情景覆盖老人"])  # the saved scenario gives what the proposal showed
    page.session_state[SCN_VIEW] = "compare"  # default pair: current situation vs the newest scenario
    page.run()
    assert_clean(page)
    cmp = {x.label: x for x in page.metric}
    assert number(cmp["情景覆盖老人"].value) == saved
    assert number(cmp["情景覆盖老人"].delta) == saved - base_covered
    assert base_fingerprint(db) == before_fp


def test_gap_finder_opens_the_best_site(page, db):
    page.session_state[SCN_VIEW] = "gaps"
    page.run()
    assert_clean(page)
    table = page.dataframe[0].value
    weights = table["加权缺口"].tolist()
    assert len(table) >= 5 and weights == sorted(weights, reverse=True)
    assert table["最佳单点"].iloc[0] != "—"
    button(page, "在最佳位置新增站点").click().run()
    assert_clean(page)
    assert [a for _, a, _ in stored_changes(db)] == ["open"]
    page.session_state[SCN_VIEW] = "edit"
    page.run()
    m = {x.label: x for x in page.metric}
    assert number(m["情景覆盖老人"].delta) > 0  # the gap's best site covers elders nobody reached
    assert number(m["计入站点"].delta) == 1


class _Upload:
    """What st.file_uploader hands over: a name and the bytes."""

    def __init__(self, name: str, text: str) -> None:
        self.name, self._data = name, text.encode("utf-8")

    def getvalue(self) -> bytes:
        return self._data


def test_imported_candidate_file(monkeypatch):
    from dashboard import siting_views

    shown = []
    monkeypatch.setattr(siting_views.st, "error", shown.append)
    good = siting_views.uploaded_candidates(_Upload("空置用房.csv", "id,lon,lat\nK1,116.93,38.93\nK2,116.95,38.94\n"))
    assert good.source == "imported" and list(good.ids) == ["K1", "K2"] and shown == []
    bad = siting_views.uploaded_candidates(_Upload("空置用房.csv", "id,lon,lat\nK1,116.93,north\n"))
    assert bad is None
    assert len(shown) == 1 and "空置用房.csv" in shown[0] and "lat" in shown[0]  # names the file and the column


def test_opened_sites_belong_to_the_township_they_stand_in(demo_db_url):
    from shapely.geometry import Point

    from config import load_config
    from data.repository import Repository
    from planning.scenario import Change, apply_changes
    from services.scenarios import with_townships

    with session_factory(make_engine(demo_db_url))() as s:
        repo = Repository(s, DEMO)
        facilities, townships = repo.facilities(), repo.townships()
    inside = townships.iloc[3]
    where = inside.geometry.representative_point()
    levels = {k.id: k.level for k in load_config().facility_kinds}
    changes = [Change("open", kind_id="day_care", point=where), Change("open", kind_id="day_care", point=Point(0, 0))]
    out = with_townships(apply_changes(facilities, changes, kind_levels=levels), townships)
    assert out["township_code"].tolist()[-2:] == [inside["code"], None]  # (0, 0) lies outside the district
    assert out["township_code"].iloc[:-2].tolist() == facilities["township_code"].tolist()


def test_open_at_a_generated_candidate(page, db):
    base = number(metrics(page)["情景覆盖老人"])
    first = next(sb for sb in page.selectbox if sb.label == "候选点")
    assert first.value == 0 and "G0001" in first.options[0]  # the most under-served first
    button(page, "新增").click().run()
    assert_clean(page)
    with db() as s:
        assert s.scalars(select(ScenarioChange.candidate_id)).all() == ["G0001"]
    assert number(metrics(page)["情景覆盖老人"]) > base


def test_beds_per_1000_do_not_follow_the_category(page):
    page.session_state[MAP_TOWNSHIP] = "120118102000"
    page.run()
    beds = metrics(page)["每千名老人床位"]
    page.session_state["scn.category"] = "age_80_plus"
    page.run()
    assert_clean(page)
    assert metrics(page)["每千名老人床位"] == beds  # always per 1,000 elders 60+


@pytest.mark.parametrize("model", ["capacitated", "pmedian", "equity", "budget", "lscp"])
def test_every_siting_model_answers_on_the_page(page, model):
    from dashboard.state import SCN_MODEL

    page.session_state[SCN_VIEW] = "optimise"
    page.session_state[SCN_MODEL] = model
    page.run()
    if model in ("capacitated", "pmedian", "equity"):
        next(n for n in page.number_input if n.label == "新增站点数 k").set_value(4)
    button(page, "开始优化").click().run()
    if model == "equity" and page.error:  # four sites cannot lift every township: the page says which
        floors = page.dataframe[0].value
        short = floors["范围"][floors["达标"] == "✗"]
        assert "无解" in page.error[0].value and any(n in page.error[0].value for n in short)
        next(c for c in page.checkbox if c.label.startswith("不设下限")).check()
        button(page, "开始优化").click().run()
    assert_clean(page)
    m = metrics(page)
    label = {"capacitated": "容量内服务", "pmedian": "人均步行距离", "budget": "花费"}.get(model, "加权覆盖率")
    assert label in m, sorted(m)
    if model == "pmedian":
        assert 0 < number(m["人均步行距离"]) <= 900  # capped at the 15-minute walk
    if model == "budget":
        assert number(m["花费"].replace(",", "")) <= 1000  # within the form's default budget
    if model == "equity":  # every township and the villages, each at its floor or the instance said why not
        floors = page.dataframe[0].value
        assert "农村（村委会）" in set(floors["范围"]) and len(floors) >= 10


def test_curve_shows_the_elbow_and_hands_its_k_to_the_exact_model(page):
    from dashboard.state import SCN_K, SCN_MODEL

    page.session_state[SCN_VIEW] = "optimise"
    page.session_state[SCN_MODEL] = "curve"
    page.run()
    next(n for n in page.number_input if n.label == "曲线最多到 k =").set_value(12)
    button(page, "开始优化").click().run()
    assert_clean(page)
    assert any("拐点 k =" in c.value for c in page.caption)
    chosen = next(n for n in page.number_input if n.label == "选定新增站点数")
    chosen.set_value(3).run()
    next(b for b in page.button if b.label.startswith("用 3 个站点")).click().run()
    assert page.session_state[SCN_MODEL] == "mclp" and page.session_state[SCN_K] == 3


def test_every_queued_click_is_applied_once_and_a_refused_one_says_why(page, db, underserved_point):
    """The map sends its recent clicks numbered (maps.live.ClickQueue); each is applied once, whatever was
    missed while the page was busy; a click far from every street opens nothing and the map says why."""
    from dashboard.state import SCN_MAP, SCN_REFUSED

    lon, lat = underserved_point
    clicks = [["m1", 1, lat, lon], ["m1", 2, lat + 0.0005, lon]]  # two clicks arrived during one busy run
    page.session_state[SCN_MAP] = {"selected_tags": clicks}
    page.run()
    assert page.session_state[SCN_ID] != 0  # the first click made a scenario
    page.run()
    assert_clean(page)
    assert [a for _, a, _ in stored_changes(db)] == ["open", "open"]
    page.session_state[SCN_MAP] = {"selected_tags": clicks + [["m1", 3, lat, lon + 0.0005]]}
    page.run()
    page.run()  # the same list again: nothing new
    assert [a for _, a, _ in stored_changes(db)] == ["open"] * 3
    page.session_state[SCN_MAP] = {"selected_tags": [*clicks, ["m1", 3, lat, lon + 0.0005], ["m1", 4, 30.0, 100.0]]}
    page.run()
    assert_clean(page)
    assert len(stored_changes(db)) == 3  # far from every street of the district
    assert "距道路超过 300 米" in page.session_state[SCN_REFUSED][0][2]
    assert "本情景的变更（3 项）" in "".join(m.value for m in page.markdown)


def test_the_tables_by_township_and_category_are_shown_when_asked_for(page, db):
    """Off by default (a map click redraws all that is shown); on, the tables list every township of the
    database and every category, and the township rows add up to the figure above them."""
    from dashboard.state import SCN_DETAILS
    from data.repository import Repository
    from services.coverage import CATEGORIES

    assert [s.value for s in page.subheader] == []
    page.toggle(key=SCN_DETAILS).set_value(True).run()
    assert_clean(page)
    assert [s.value for s in page.subheader] == ["各乡镇覆盖变化", "各类老人覆盖变化"]
    townships, categories = page.dataframe[-2].value, page.dataframe[-1].value
    with db() as s:
        assert len(townships) == len(Repository(s, DEMO).townships())
    assert len(categories) == len(CATEGORIES)
    assert townships["情景覆盖"].sum() == pytest.approx(number(metrics(page)["情景覆盖老人"]), abs=18)  # whole people


def test_a_change_the_current_data_no_longer_takes_says_so_in_chinese(page, db):
    """A scenario that closes a facility the district's data no longer has (it was re-imported without it):
    the page says which change and what to do, in Chinese, and still lets the planner undo it."""
    from planning.scenario import Change
    from services.scenarios import ScenarioRepository

    with db.begin() as s:
        sid = ScenarioRepository(s, DEMO).create("旧数据上的方案", shared=True)
        ScenarioRepository(s, DEMO).add_change(sid, Change("close", facility_code="GONE-1"))
    page.run()  # the picker lists it
    page.selectbox(key=SCN_ID).set_value(sid).run()
    assert not page.exception
    [err] = [e.value for e in page.error]
    assert err.startswith("情景无法应用到现状数据：第 1 项变更（关闭）：本情景中没有编码为“GONE-1”的设施"), err
    assert "请撤销该变更" in err
    button(page, "撤销最后一项变更").click().run()
    assert_clean(page)
    assert [c for c in stored_changes(db) if c[0] == sid] == []
