"""Streamlit AppTest smoke tests: every page runs on the demo database."""

from pathlib import Path

import pytest

from dashboard.state import COV_KINDS, COV_MINUTES, COV_MODE, COV_SPEED, LANG, MAP_LAYERS, MAP_TOWNSHIP
from tests.conftest import PAGE_ROLE, app_test, assert_clean

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))


@pytest.fixture
def app(demo_db_url, monkeypatch):
    return app_test("app.py", demo_db_url, monkeypatch, timeout=120)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs(demo_db_url, monkeypatch, page):
    app = app_test("app.py", demo_db_url, monkeypatch, timeout=120, role=PAGE_ROLE.get(page, "planner"))
    app.run()
    app.switch_page(page).run()
    assert_clean(app)
    if page in ("pages/accounts.py", "pages/audit_log.py"):  # no district data on these pages
        assert app.title[0].value in ("账号管理", "审计日志")
        return
    city_titles = {"pages/city.py": "全市总览", "pages/city_map.py": "全市一张图", "pages/city_circle.py": "全市15分钟养老服务圈"}
    if page in city_titles:  # one district in the demo database: no city to show, and it says so
        assert app.title[0].value == city_titles[page] and "没有全市视图" in app.info[0].value
        return
    captions = " ".join(c.value for c in app.caption)
    assert "演示数据（合成）" in captions
    assert "数据版本：区界 v" in captions and "设施 v" in captions and "（2026-06-30）" in captions  # the versions read


def test_landing_page_is_the_scorecard(app):
    app.run()
    assert_clean(app)
    assert app.title[0].value == "联席会议总览"


def test_map_page_kpis_and_township_filter(app):
    app.run()
    app.switch_page("pages/map.py").run()
    assert_clean(app)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["60岁以上老人"] == "150,000"
    app.session_state[MAP_TOWNSHIP] = "120118102000"  # 独流镇
    app.run()
    assert_clean(app)
    town = {m.label: m.value for m in app.metric}
    assert int(town["60岁以上老人"].replace(",", "")) < 150_000
    app.session_state[MAP_LAYERS] = []
    app.run()
    assert_clean(app)


@pytest.mark.postgres
def test_map_page_on_postgis(pg_demo_url, monkeypatch):
    at = app_test("app.py", pg_demo_url, monkeypatch, timeout=120)
    at.run()
    assert_clean(at)
    scorecard = at.dataframe[0].value  # the landing page, computed on PostGIS
    from tests.test_scorecard_pages import beds_per_1000

    assert scorecard.loc["beds_per_1000", "实际值"] == beds_per_1000(pg_demo_url)  # SQL on the same PostGIS
    from tests.test_scorecard_pages import four_sync_page_counts

    assert scorecard.loc["four_sync_rate", "分子"] == f"全部合规 {four_sync_page_counts(pg_demo_url)[0]}"
    at.switch_page("pages/map.py").run()
    assert_clean(at)
    assert {m.label: m.value for m in at.metric}["60岁以上老人"] == "150,000"


def test_no_half_english_interface_is_offered(app):
    """Issue 27: menu, kind names, tables, legends and captions stayed Chinese in "English", and switching left
    15分钟服务圈's radio groups without a selection: the toggle is withdrawn until English is complete."""
    app.run()
    for script in ("pages/map.py", "pages/service_circle.py"):
        app.switch_page(script).run()
        assert_clean(app)
        assert not any("English" in (r.options or []) for r in app.radio)
        assert LANG not in app.session_state or app.session_state[LANG] == "zh"
        assert all(r.value is not None for r in app.radio)  # every radio group shows its choice


def test_empty_database_says_what_to_do(tmp_path, monkeypatch):
    at = app_test("app.py", f"sqlite:///{tmp_path / 'empty.db'}", monkeypatch, timeout=60)
    at.run()
    assert not at.exception
    assert any("python cli.py demo" in e.value for e in at.error)


def _pct(at, label_start):
    value = next(m.value for m in at.metric if m.label.startswith(label_start))
    return float(value.rstrip("%"))


def test_coverage_page_recomputes_on_every_change(app):
    app.run()
    app.switch_page("pages/service_circle.py").run()
    assert_clean(app)
    base = _pct(app, "15 分钟步行覆盖率")
    straight = _pct(app, "直线 1 km")
    assert 0 < base < 100 and straight >= base  # the straight line overstates
    app.session_state[COV_MINUTES] = 5
    app.run()
    assert_clean(app)
    assert _pct(app, "5 分钟步行覆盖率") < base
    app.session_state[COV_MINUTES] = 15
    app.session_state[COV_SPEED] = 0.6
    app.run()
    assert _pct(app, "15 分钟步行覆盖率") < base
    app.session_state[COV_SPEED] = 1.0
    app.session_state[COV_MODE] = "areas"
    app.session_state[MAP_TOWNSHIP] = "120118100000"
    app.run()
    assert_clean(app)
    table = app.dataframe[0].value
    gaps = table["未覆盖（缺口）"].tolist()
    assert gaps == sorted(gaps, reverse=True) and len(table) == 23
    app.session_state[COV_KINDS] = []
    app.run()
    assert_clean(app)
    assert _pct(app, "15 分钟步行覆盖率") == 0.0
