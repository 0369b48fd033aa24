"""AppTest for 联席会议总览 and 乡镇视图: figures from the database, equal to other pages' figures."""

import io

import pandas as pd
import pytest
import sqlalchemy as sa

from config import load_config
from dashboard.state import MAP_TOWNSHIP
from tests.conftest import app_test, assert_clean
from tests.test_scorecard import AS_OF, tiny_frames

TOWNSHIP = "120118100000"
# The current facility list (the demo also keeps earlier, dated lists)
FACILITY = "facility f JOIN data_version fv ON fv.id = f.version_id AND fv.is_current"


def figures(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def sql(url: str, query: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).one()
    finally:
        engine.dispose()


CARE_KINDS = ("'township_centre','community_station','rural_mutual_aid','day_care','meal_point','institution',"
              "'embedded_complex','rehab_nursing'")


def four_sync_page_counts(url: str) -> tuple[int, int]:
    """Compliant projects and projects fully evaluated, as the 四同步检查 page's service counts them."""
    from services import base, four_sync

    checks, _ = four_sync.checks(base.current_ref(url, "120118"))
    return sum(c.status == "compliant" for c in checks), sum(c.status != "incomplete" for c in checks)


def beds_per_1000(url: str, date: str | None = None) -> str:
    """Beds of the operating care facilities per 1,000 elders, by SQL: of the current list, or of the list dated
    ``date``."""
    which = "v.is_current" if date is None else f"v.data_date = '{date}'"
    beds, = sql(url, f"SELECT SUM(beds_total) FROM facility f JOIN data_version v ON v.id = f.version_id "
                     f"WHERE v.kind = 'facilities' AND {which} AND f.status = 'operating' AND f.kind_id IN ({CARE_KINDS})")
    elders, = sql(url, "SELECT SUM(age_60_69 + age_70_79 + age_80_plus) FROM elder_group e JOIN data_version v "
                       "ON v.id = e.version_id AND v.is_current")
    return f"{beds / elders * 1000:.1f}"


@pytest.fixture(scope="module")
def scorecard_page(demo_db_url):
    with pytest.MonkeyPatch.context() as mp:
        at = app_test("pages/scorecard.py", demo_db_url, mp)
        at.run()
        assert_clean(at)
        yield at


def district_rows(at) -> pd.DataFrame:
    return at.dataframe[0].value


def test_district_figures_equal_independent_counts(scorecard_page, demo_db_url):
    rows = district_rows(scorecard_page)
    partner, stations = sql(demo_db_url, f"SELECT SUM(medical_partner), COUNT(*) FROM {FACILITY} WHERE status = 'operating' "
                                         "AND kind_id IN ('township_centre', 'community_station')")
    row = rows.loc["medical_partner_rate"]
    assert row["实际值"] == f"{partner / stations * 100:.1f}%"
    assert row["分子"] == f"已签约 {partner}" and row["分母"] == f"运营中的中心（站） {stations}"
    villages, with_site = sql(demo_db_url, f"""
        SELECT COUNT(*), SUM(EXISTS (SELECT 1 FROM {FACILITY} WHERE f.community_code = c.code AND f.status = 'operating'
                                     AND f.kind_id IN ('rural_mutual_aid', 'community_station', 'day_care')))
        FROM community c WHERE committee_type = '村委会'""")
    assert rows.loc["rural_village_coverage", "实际值"] == f"{with_site / villages * 100:.1f}%"
    assert rows.loc["beds_per_1000", "实际值"] == beds_per_1000(demo_db_url)
    compliant, evaluated = four_sync_page_counts(demo_db_url)  # as on the 四同步检查 page
    assert rows.loc["four_sync_rate", "分子"] == f"全部合规 {compliant}"
    assert rows.loc["four_sync_rate", "分母"] == f"可完整评估的项目 {evaluated}"


def test_walking_coverage_equals_the_service_circle_page(scorecard_page, demo_db_url, monkeypatch):
    circle = app_test("pages/service_circle.py", demo_db_url, monkeypatch)
    circle.run()
    assert_clean(circle)
    assert figures(circle)["15 分钟步行覆盖率"] == district_rows(scorecard_page).loc["walk15_coverage", "实际值"]


def test_light_counts_and_unsupported(scorecard_page):
    rows = district_rows(scorecard_page)
    m = figures(scorecard_page)
    assert m["达标"] == f"{(rows['状态'] == '达标').sum()} / 14"
    assert int(m["未达标"]) == (rows["状态"] == "未达标").sum()
    unsupported = scorecard_page.dataframe[-1].value
    assert len(unsupported) == int(m["数据暂不支持"]) == 4
    assert unsupported["为何无法计算"].str.len().min() > 0


def test_map_target_changes_the_ranking(scorecard_page, demo_db_url):
    target = next(sb for sb in scorecard_page.selectbox if sb.label == "地图显示指标")
    assert target.value == "walk15_coverage"
    target.set_value("beds_per_1000").run()
    assert_clean(scorecard_page)
    ranking = next(d.value for d in scorecard_page.dataframe if "text" in d.value.columns)
    values = ranking["text"].astype(float)  # beds per 1,000: every township has elders
    assert values.is_monotonic_decreasing and len(values) == 23
    assert any(f"**全区 {beds_per_1000(demo_db_url)}**" in md.value for md in scorecard_page.markdown)


def test_since_a_baseline_shows_then_and_now(scorecard_page, demo_db_url):
    """The demo keeps dated facility lists: the comparison reads the one of the chosen date."""
    import datetime as dt

    since = next(sb for sb in scorecard_page.selectbox if sb.label == "基期（较早的数据日期）")
    assert since.value == dt.date(2025, 6, 30) and len(since.options) == 2  # the newest earlier date first
    def row():
        table = next(d.value for d in scorecard_page.dataframe if "基期状态" in d.value.columns)
        return table[table["指标"] == "每千名老年人养老床位数"].iloc[0]

    assert row()["基期"] == beds_per_1000(demo_db_url, "2025-06-30") and row()["现在"] == beds_per_1000(demo_db_url)
    assert any("设施 2025-06-30" in c.value and "老年人口" in c.value for c in scorecard_page.caption)
    since.set_value(dt.date(2020, 12, 31)).run()
    assert_clean(scorecard_page)
    assert row()["基期"] == beds_per_1000(demo_db_url, "2020-12-31")


def test_csv_download_has_every_cell(scorecard_page):
    from dashboard.scorecard_views import scorecard_csv
    from planning.scorecard import compute_scorecard

    assert scorecard_page.get("download_button")[0].proto.url.endswith(".csv")
    cfg = load_config()
    card = compute_scorecard(cfg.targets, tiny_frames(), township_codes=["T1", "T2", "T3"], as_of=AS_OF,
                             amber_share=0.8)
    hostile = '=HYPERLINK("http://example.invalid","点击")'  # a township name as a bureau's file might carry it
    df = pd.read_csv(io.BytesIO(scorecard_csv(card, {"T1": "甲镇", "T3": hostile})))
    assert len(df) == 14 * 4  # the computable targets × (district + three townships)
    assert {"numerator", "denominator", "value", "light_zh", "target", "label_zh"} <= set(df.columns)
    assert set(df["area_name"]) == {"全区", "甲镇", "T2", "'" + hostile}


@pytest.fixture
def township_page(demo_db_url, monkeypatch):
    at = app_test("pages/township.py", demo_db_url, monkeypatch)
    at.query_params["township"] = TOWNSHIP
    at.run()
    assert_clean(at)
    return at


def test_township_from_the_link_with_its_scorecard_row(township_page, scorecard_page, demo_db_url):
    assert township_page.session_state[MAP_TOWNSHIP] == TOWNSHIP
    rows = township_page.dataframe[0].value
    district = district_rows(scorecard_page)
    assert (rows["全区"] == district["实际值"]).all()  # the district column is the scorecard page's figure
    n_care, = sql(demo_db_url, f"SELECT COUNT(*) FROM {FACILITY} WHERE township_code = '{TOWNSHIP}' AND "
                               "status = 'operating' AND kind_id NOT IN ('dispatch_centre', 'health_centre', "
                               "'village_clinic')")
    assert figures(township_page)["运营中的养老服务设施"] == f"{n_care:,}"
    elders, = sql(demo_db_url, f"SELECT SUM(age_60_69 + age_70_79 + age_80_plus) FROM elder_group "
                               f"WHERE township_code = '{TOWNSHIP}'")
    assert figures(township_page)["60岁以上老人"] == f"{elders:,}"
    assert rows.loc["walk15_coverage", "分母"] == f"60岁以上老人 {elders:,}"


def test_township_tabs(township_page, demo_db_url):
    n_sites, = sql(demo_db_url, f"SELECT COUNT(*) FROM {FACILITY} WHERE township_code = '{TOWNSHIP}'")
    stations = next(d.value for d in township_page.dataframe if "签约医疗机构" in d.value.columns)
    assert len(stations) == n_sites
    n_projects, = sql(demo_db_url, f"SELECT COUNT(*) FROM residential_project WHERE township_code = '{TOWNSHIP}'")
    assert figures(township_page)["四同步不合规项目"].endswith(f"/ {n_projects}")


def test_switching_township_updates_figures_and_link(township_page, demo_db_url):
    before = figures(township_page)["60岁以上老人"]
    code, = sql(demo_db_url, f"SELECT MIN(code) FROM township WHERE code != '{TOWNSHIP}'")
    picker = next(sb for sb in township_page.selectbox if sb.label == "乡镇（街道）")
    picker.set_value(code).run()
    assert_clean(township_page)
    assert township_page.session_state[MAP_TOWNSHIP] == code
    assert figures(township_page)["60岁以上老人"] != before
    assert township_page.query_params["township"] == code  # the link names the township shown


def test_the_township_map_can_show_the_change_since_the_baseline(scorecard_page):
    from dashboard.state import SC_MAP_CHANGE

    scorecard_page.radio(key=SC_MAP_CHANGE).set_value(True).run()
    assert_clean(scorecard_page)
    assert any("较基期" in o for o in scorecard_page.radio(key=SC_MAP_CHANGE).options)
    scorecard_page.radio(key=SC_MAP_CHANGE).set_value(False).run()
    assert_clean(scorecard_page)


def test_township_change_colours_by_the_targets_direction():
    """Hand example: T1 rises 10 → 20, T2 falls 20 → 10, T3 stays; better is up for at_least, down for at_most."""
    from types import SimpleNamespace

    from services.scorecard import township_change

    def card(values):
        frame = pd.DataFrame({"value": values}, index=pd.Index(["T1", "T2", "T3"], name="area"))
        return SimpleNamespace(townships=lambda _tid: frame)

    now, then = card([20.0, 10.0, 15.0]), card([10.0, 20.0, 15.0])
    up = township_change(now, then, SimpleNamespace(id="x", direction="at_least", unit="%"))
    assert up["light"].tolist() == ["green", "red", "none"] and up["value"].tolist() == [10.0, -10.0, 0.0]
    assert up["text"].tolist() == ["+10.0 个百分点", "-10.0 个百分点", "+0.0 个百分点"]
    down = township_change(now, then, SimpleNamespace(id="x", direction="at_most", unit="count"))
    assert down["light"].tolist() == ["red", "green", "none"] and down["text"].tolist() == ["+10", "-10", "+0"]


def test_township_stations_mark_what_is_new_since_a_year_back(township_page, demo_db_url):
    """The demo keeps the facility list of 2025-06-30: the stations opened since are marked 新增 (checked by SQL)."""
    from dashboard.state import MARK_SINCE

    assert str(township_page.session_state[MARK_SINCE]) == "2025-06-30"  # a year before the data date
    stations = next(d.value for d in township_page.dataframe if "签约医疗机构" in d.value.columns)
    new, = sql(demo_db_url, f"""
        SELECT COUNT(*) FROM {FACILITY} WHERE f.township_code = '{TOWNSHIP}' AND f.code NOT IN (
            SELECT o.code FROM facility o JOIN data_version ov ON ov.id = o.version_id
            WHERE ov.kind = 'facilities' AND ov.data_date = '2025-06-30')""")
    assert (stations["较基期"] == "新增").sum() == new and new > 0
    assert (stations["较基期"].iloc[:new] == "新增").all()  # listed first


def test_the_csv_download_is_in_the_audit_trail(demo_db_url, tmp_path, monkeypatch):
    """A table leaving the system through a download button is a row of the audit trail."""
    import json

    from tests.conftest import DEMO, copy_sqlite

    url = copy_sqlite(demo_db_url, tmp_path / "download.db")
    at = app_test("pages/scorecard.py", url, monkeypatch)
    at.run()
    (button,) = [b for b in at.download_button if b.label.startswith("下载考核表 CSV")]
    button.click().run()
    assert not at.exception
    obj, detail = sql(url, "SELECT object, detail FROM audit_entry WHERE action = 'download'")
    assert obj == f"{DEMO} scorecard_2026-06-30.csv" and json.loads(detail) == {"what": "scorecard"}


def test_served_within_capacity_never_exceeds_reach_or_capacity(demo_db_url, monkeypatch):
    """15分钟服务圈 on the capacity basis: per township served ≤ within the walk, and the district's served elders
    no more than the operating care facilities can take (capacities summed by hand from raw SQL and the config)."""
    import sqlalchemy as sa

    from config import load_config
    from dashboard.state import COV_BASIS

    circle = app_test("pages/service_circle.py", demo_db_url, monkeypatch)
    circle.run()
    circle.session_state[COV_BASIS] = "served"
    circle.run()
    assert_clean(circle)
    m = figures(circle)
    served_share = float(m["15 分钟容量内服务率"].rstrip("%"))
    table = circle.dataframe[0].value
    assert (table["容量内服务"] <= table["步行可达"]).all() and table["容量内服务"].sum() > 0
    kinds = {k.id: k for k in load_config().facility_kinds}
    with sa.create_engine(demo_db_url).connect() as c:
        rows = c.execute(sa.text("SELECT kind_id, beds_total, service_capacity FROM facility f "
                                 "JOIN data_version v ON v.id = f.version_id AND v.is_current "
                                 "WHERE f.status = 'operating'")).all()
    capacity = 0.0
    for kind_id, beds, own in rows:
        k = kinds[kind_id]
        if not k.care_service:
            continue
        capacity += own if own is not None else beds if k.capacity_from_beds else (k.capacity or float("inf"))
    assert table["容量内服务"].sum() <= capacity + len(table)  # rounding per township
    assert served_share <= float(m["15 分钟步行覆盖率"].rstrip("%")) if "15 分钟步行覆盖率" in m else served_share < 100
